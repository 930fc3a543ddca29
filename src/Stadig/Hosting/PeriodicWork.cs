namespace Stadig.Hosting;

/// <summary>
/// Work a node does once its database is ready and then every <see cref="Interval"/>. A round that
/// fails with an exception the work rides out (<see cref="RidesOut"/>) is left to <see cref="OnFailed"/>
/// and the next tick tries again, so one failure never ends the work; any other ends it.
/// </summary>
public abstract class PeriodicWork(DatabaseReadiness readiness) : BackgroundService
{
    /// <summary>How often; zero or less: this node does not do the work at all.</summary>
    protected abstract TimeSpan Interval { get; }

    protected abstract Task RunOnceAsync(CancellationToken cancellationToken);

    /// <summary>Whether a round's failure is one to wait out until the next tick (any, unless overridden).</summary>
    protected virtual bool RidesOut(Exception exception) => true;

    /// <summary>What a failed round leaves behind (a log line; nothing when a gauge keeps its last value).</summary>
    protected abstract void OnFailed(Exception exception);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = Interval;
        if (interval <= TimeSpan.Zero) return;
        await readiness.WhenReady.WaitAsync(stoppingToken);
        using var timer = new PeriodicTimer(interval);
        do
        {
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException && RidesOut(e))
            {
                OnFailed(e);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
