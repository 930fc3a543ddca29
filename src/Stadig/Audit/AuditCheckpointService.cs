namespace Stadig.Audit;

/// <summary>
/// Takes the audit log's checkpoint every Stadig:Audit:CheckpointMinutes. Every node runs the
/// timer; the checkpoint itself skips when another node took one within the interval.
/// </summary>
public sealed class AuditCheckpointService(AuditSettings settings, AuditCheckpoints checkpoints, ILogger<AuditCheckpointService> logger,
    Stadig.Hosting.DatabaseReadiness readiness) : Stadig.Hosting.PeriodicWork(readiness)
{
    protected override TimeSpan Interval => TimeSpan.FromMinutes(settings.CheckpointMinutes);

    // A little under the interval, so two nodes' timers drifting apart still give one checkpoint per interval.
    protected override Task RunOnceAsync(CancellationToken cancellationToken) => checkpoints.TakeAsync(Interval * 0.9, cancellationToken);

    // The log stays protected by its chains; the next tick tries again.
    protected override void OnFailed(Exception exception) => logger.LogError(exception, "Audit checkpoint failed");
}
