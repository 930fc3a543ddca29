using Microsoft.Extensions.Diagnostics.HealthChecks;
using Stadig.Storage;

namespace Stadig.Hosting;

/// <summary>
/// Ready means the database was prepared at start and answers now. While the primary is lost (a
/// failover) the node is not ready, unless a replica serves its reads (it is then read-only, which
/// the writes check reports as Degraded).
/// </summary>
public sealed class DatabaseHealthCheck(Database database, DatabaseReadiness readiness) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!readiness.IsReady) return HealthCheckResult.Unhealthy($"database not yet reached and prepared ({readiness.Problem})");
        if (database.Connectivity.PrimaryLostSince is { } since && !database.HasReplica)
            return HealthCheckResult.Unhealthy($"primary unreachable since {since.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'} ({database.Connectivity.Problem}); reconnecting");
        try
        {
            await database.PingAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception e) when (e is System.Data.Common.DbException or TimeoutException or InvalidOperationException or DatabaseUnavailableException)
        {
            // The pool's idle connections went with the server (a restart, a failover): dropped, so
            // that the requests after the database is back get fresh ones instead of failing on them.
            if (!database.NoteFailure(e)) database.ClearPool();
            return HealthCheckResult.Unhealthy("database unreachable");
        }
    }
}

/// <summary>
/// After the primary is lost, tries a fresh connection with a growing pause (0.25 s doubling to 1 s:
/// a failover takes seconds, and a longer pause would add itself to the outage; one connection
/// attempt a second costs the database nothing) until it answers; then the pool starts afresh, a read-only node asks
/// whether it may write again (and chains the read events it held), and the node is ready.
/// </summary>
public sealed class DatabaseReconnectService(Database database, Stadig.Downtime.ReadOnlyMode readOnly, DatabaseReadiness readiness,
    ILogger<DatabaseReconnectService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Not waiting for the start's preparation: with a replica, a primary lost at start would send
        // the preparation itself to the replica until this loop finds the primary again.
        if (database.Engine != DatabaseEngine.Postgres) return;
        while (!stoppingToken.IsCancellationRequested)
        {
            await database.Connectivity.WhenPrimaryLostAsync(stoppingToken);
            var since = database.Connectivity.PrimaryLostSince ?? database.Clock.GetUtcNow();
            logger.LogWarning("The primary database is unreachable ({Problem}); {What}",
                database.Connectivity.Problem, database.HasReplica ? "reading from the replica, read-only until it is back" : "not ready until it is back");
            var pause = TimeSpan.FromMilliseconds(250);
            while (database.Connectivity.PrimaryLost)
            {
                await Task.Delay(pause, stoppingToken);
                if (await database.TryReachPrimaryAsync(stoppingToken)) break;
                pause = TimeSpan.FromMilliseconds(Math.Min(1000, pause.TotalMilliseconds * 2));
            }
            logger.LogWarning("The primary database answers again after {Seconds:0.0} s", (database.Clock.GetUtcNow() - since).TotalSeconds);
            if (!readiness.IsReady) continue;
            try
            {
                // Writes return at once rather than at the next timed probe.
                await readOnly.ProbeAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning("Read-only probe after reconnecting failed: {Error}", e.GetType().Name);
            }
        }
    }
}
