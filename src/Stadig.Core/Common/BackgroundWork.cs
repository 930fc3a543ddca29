namespace Stadig.Common;

/// <summary>
/// Work nobody waits for at a screen — bulk exports today, snapshots later — runs one job at a
/// time and steps aside while clinicians' requests keep the node busy, so a region-wide export
/// started at ten in the morning cannot slow autosave, signing or the chart. The job calls
/// <see cref="YieldAsync"/> between its units of work (one patient of an export).
/// </summary>
public sealed class BackgroundWork(Func<bool> cliniciansBusy, TimeProvider clock)
{
    /// <summary>How long a job waits before it looks again whether clinicians still need the node.</summary>
    public static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(100);

    private readonly SemaphoreSlim _slot = new(1, 1);

    /// <summary>For the command line and tests: never busy.</summary>
    public static BackgroundWork Unthrottled(TimeProvider clock) => new(() => false, clock);

    /// <summary>Runs <paramref name="job"/> when no other background job runs.</summary>
    public async Task RunAsync(Func<CancellationToken, Task> job, CancellationToken cancellationToken)
    {
        await _slot.WaitAsync(cancellationToken);
        try
        {
            await job(cancellationToken);
        }
        finally
        {
            _slot.Release();
        }
    }

    /// <summary>Returns when clinicians' requests leave room; waits in short pauses while they don't.</summary>
    public async Task YieldAsync(CancellationToken cancellationToken)
    {
        while (cliniciansBusy()) await Task.Delay(Pause, clock, cancellationToken);
    }
}
