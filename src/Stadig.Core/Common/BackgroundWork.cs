namespace Stadig.Common;

/// <summary>
/// Work nobody waits for at a screen — bulk exports today, snapshots later — runs one job at a
/// time and steps aside while clinicians' requests keep the node busy, so a region-wide export
/// started at ten in the morning cannot slow autosave, signing or the chart. The job calls
/// <see cref="YieldAsync"/> between its units of work (one patient of an export).
/// </summary>
/// <param name="quiet">
/// How long the node has gone without a clinician's request (zero while one is served); null: never
/// paced. While clinicians are at work, a job also rests <see cref="RestFactor"/> times as long as each
/// unit of work took: "busy" is an instant's look at the slots, and at three times the rehearsal's load
/// the slots were seldom full at the instant an export looked, so it ran flat out beside them (~290
/// patients a second, about a core of the node's two between the server and PostgreSQL) and their
/// requests missed their budgets (docs/benchmarks.md, eleventh run).
/// </param>
public sealed class BackgroundWork(Func<bool> cliniciansBusy, TimeProvider clock, Func<TimeSpan>? quiet = null)
{
    /// <summary>How long a job waits before it looks again whether clinicians still need the node.</summary>
    public static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(100);

    /// <summary>While clinicians are at work, a job rests this many times as long as its last unit of work took: a fifth of the time at most is the job's.</summary>
    public const int RestFactor = 4;

    /// <summary>The longest rest after one unit of work.</summary>
    public static readonly TimeSpan MaxRest = TimeSpan.FromSeconds(1);

    /// <summary>Clinicians count as at work while a request of theirs arrived within this long.</summary>
    public static readonly TimeSpan AtWorkWithin = TimeSpan.FromSeconds(1);

    private readonly SemaphoreSlim _slot = new(1, 1);

    /// <summary>When the running job's current unit of work began (its last return from <see cref="YieldAsync"/>).</summary>
    private long? _unitStarted;

    /// <summary>For the command line and tests: never busy.</summary>
    public static BackgroundWork Unthrottled(TimeProvider clock) => new(() => false, clock);

    /// <summary>Runs <paramref name="job"/> when no other background job runs.</summary>
    public async Task RunAsync(Func<CancellationToken, Task> job, CancellationToken cancellationToken)
    {
        await _slot.WaitAsync(cancellationToken);
        try
        {
            _unitStarted = null;
            await job(cancellationToken);
        }
        finally
        {
            _slot.Release();
        }
    }

    /// <summary>
    /// Returns when clinicians' requests leave room; waits in short pauses while they don't. While they are
    /// at work at all, it first rests <see cref="RestFactor"/> times as long as the unit of work since the last call took.
    /// </summary>
    public async Task YieldAsync(CancellationToken cancellationToken)
    {
        if (_unitStarted is { } started && quiet is not null && quiet() < AtWorkWithin)
        {
            var rest = TimeSpan.FromTicks(Math.Min(clock.GetElapsedTime(started).Ticks * RestFactor, MaxRest.Ticks));
            if (rest > TimeSpan.Zero) await Task.Delay(rest, clock, cancellationToken);
        }
        while (cliniciansBusy()) await Task.Delay(Pause, clock, cancellationToken);
        _unitStarted = clock.GetTimestamp();
    }
}
