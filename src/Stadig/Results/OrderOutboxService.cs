using Stadig.Hosting;
using Stadig.Orders;

namespace Stadig.LabResults;

/// <summary>
/// Delivers queued lab orders to the lab's MLLP endpoint (Stadig:LabOrders:Host/Port) every few
/// seconds. Port 0 (the default, as a demo has no lab) leaves orders queued, where the operations
/// page shows them waiting.
/// </summary>
public sealed class OrderOutboxService(StadigOptions options, OrderOutbox outbox, ILogger<OrderOutboxService> logger, DatabaseReadiness readiness) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.LabOrders;
        if (settings.Port == 0) return;
        await readiness.WhenReady.WaitAsync(stoppingToken);
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Max(1, settings.IntervalSeconds)));
        do
        {
            try
            {
                var report = await outbox.DeliverDueAsync(settings.Host, settings.Port, TimeSpan.FromSeconds(30), stoppingToken);
                if (report.Failed + report.Rejected > 0)
                    logger.LogWarning("Lab orders: {Acknowledged} delivered, {Failed} to retry, {Rejected} refused by the lab", report.Acknowledged, report.Failed, report.Rejected);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The outbox keeps every order; the next tick tries again.
                logger.LogError(e, "Lab order delivery failed");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
