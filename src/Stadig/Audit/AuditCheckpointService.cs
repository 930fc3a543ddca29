namespace Stadig.Audit;

/// <summary>
/// Takes the audit log's checkpoint every Stadig:Audit:CheckpointMinutes. Every node runs the
/// timer; the checkpoint itself skips when another node took one within the interval.
/// </summary>
public sealed class AuditCheckpointService(AuditSettings settings, AuditCheckpoints checkpoints, ILogger<AuditCheckpointService> logger,
    Stadig.Hosting.DatabaseReadiness readiness) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (settings.CheckpointMinutes <= 0) return;
        await readiness.WhenReady.WaitAsync(stoppingToken);
        var interval = TimeSpan.FromMinutes(settings.CheckpointMinutes);
        using var timer = new PeriodicTimer(interval);
        do
        {
            try
            {
                // A little under the interval, so two nodes' timers drifting apart still give one checkpoint per interval.
                await checkpoints.TakeAsync(interval * 0.9, stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The log stays protected by its chains; the next tick tries again.
                logger.LogError(e, "Audit checkpoint failed");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
