using Stadig.Hosting;
using Stadig.Orders;

namespace Stadig.LabResults;

/// <summary>
/// Delivers queued lab orders to the lab's MLLP endpoint (Stadig:LabOrders:Host/Port) every few
/// seconds. Port 0 (the default, as a demo has no lab) leaves orders queued, where the operations
/// page shows them waiting.
/// </summary>
public sealed class OrderOutboxService(StadigOptions options, OrderOutbox outbox, ILogger<OrderOutboxService> logger, DatabaseReadiness readiness)
    : PeriodicWork(readiness)
{
    protected override TimeSpan Interval =>
        options.LabOrders.Port == 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(Math.Max(1, options.LabOrders.IntervalSeconds));

    protected override async Task RunOnceAsync(CancellationToken cancellationToken)
    {
        var settings = options.LabOrders;
        var report = await outbox.DeliverDueAsync(settings.Host, settings.Port, TimeSpan.FromSeconds(30), cancellationToken);
        if (report.Failed + report.Rejected > 0)
            logger.LogWarning("Lab orders: {Acknowledged} delivered, {Failed} to retry, {Rejected} refused by the lab", report.Acknowledged, report.Failed, report.Rejected);
    }

    // The outbox keeps every order; the next tick tries again.
    protected override void OnFailed(Exception exception) => logger.LogError(exception, "Lab order delivery failed");
}
