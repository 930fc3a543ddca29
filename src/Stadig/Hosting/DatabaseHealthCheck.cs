using Microsoft.Extensions.Diagnostics.HealthChecks;
using Stadig.Storage;

namespace Stadig.Hosting;

/// <summary>Ready means the database was prepared at start and answers now.</summary>
public sealed class DatabaseHealthCheck(Database database, DatabaseReadiness readiness) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!readiness.IsReady) return HealthCheckResult.Unhealthy($"database not yet reached and prepared ({readiness.Problem})");
        try
        {
            await database.PingAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception e) when (e is System.Data.Common.DbException or TimeoutException or InvalidOperationException)
        {
            // The pool's idle connections went with the server (a restart, a failover): dropped, so
            // that the requests after the database is back get fresh ones instead of failing on them.
            database.ClearPool();
            return HealthCheckResult.Unhealthy("database unreachable");
        }
    }
}
