using Microsoft.Extensions.Diagnostics.HealthChecks;
using Stadig.Downtime;
using Stadig.Storage;

namespace Stadig.Hosting;

/// <summary>
/// Read-only mode at the door: while this node cannot write, a request that would write is refused
/// with 503 and Retry-After before it touches anything (so nothing is half written), and a write the
/// database refuses on its own becomes the same answer instead of a 500. Reads go on.
/// </summary>
public static class ReadOnlyGate
{
    /// <summary>Posts that write nothing but what read-only mode keeps (audit events, the session) or that switch the mode itself.</summary>
    private static readonly string[] AllowedPosts = ["/login", "/logout", "/assignment", "/signin-oidc", "/operations/read-only",
        // Snapshots only read the record (their audit events wait in the spool like every read's).
        "/operations/snapshots"];

    public static void UseReadOnlyGate(this WebApplication app)
    {
        var database = app.Services.GetRequiredService<Database>();
        var clock = app.Services.GetRequiredService<TimeProvider>();
        var writes = database.Writes;
        app.Use(async (http, next) =>
        {
            // Every 503 of a read-only node says when to try again (the error page's re-execution clears headers, not this).
            http.Response.OnStarting(() =>
            {
                if (http.Response.StatusCode == StatusCodes.Status503ServiceUnavailable && !writes.CanWrite)
                    http.Response.Headers.RetryAfter = writes.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                return Task.CompletedTask;
            });
            if (!writes.CanWrite && Writes(http.Request)) throw new ReadOnlyException();
            try
            {
                await next(http);
            }
            catch (Exception e) when (e is not ReadOnlyException && WriteAvailability.IsRefusal(e))
            {
                // Learnt from the failure itself; the probe learns when it is over.
                if (!writes.DatabaseRefusing) database.ClearPool();
                writes.DatabaseRefused(clock.GetUtcNow());
                throw new ReadOnlyException();
            }
        });
    }

    private static bool Writes(HttpRequest request)
    {
        if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method)) return false;
        var path = request.Path.Value ?? "";
        if (AllowedPosts.Any(p => path.Equals(p, StringComparison.OrdinalIgnoreCase) || path.StartsWith(p + "/", StringComparison.OrdinalIgnoreCase))) return false;
        // A print is a read (audited as one); a FHIR search or validation by POST writes nothing.
        return !(path.EndsWith("/printouts", StringComparison.Ordinal) || path.EndsWith("/_search", StringComparison.Ordinal)
            || path.EndsWith("/$validate", StringComparison.Ordinal));
    }
}

/// <summary>Probes the database on a timer, so the banner shows before anyone's write fails and goes when writes are back.</summary>
public sealed class ReadOnlyProbeService(ReadOnlyMode mode, DowntimeSettings settings, DatabaseReadiness readiness, ILogger<ReadOnlyProbeService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Not before the database is reached and migrated at start.
        await readiness.WhenReady.WaitAsync(stoppingToken);
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Max(1, settings.ProbeSeconds)));
        do
        {
            try
            {
                await mode.ProbeAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // An unreachable database is the readiness check's to report; the next tick tries again.
                logger.LogWarning("Read-only probe failed: {Error}", e.GetType().Name);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}

/// <summary>
/// Whether the node can write. A read-only node is Degraded, not Unhealthy: it still serves every
/// read, and all nodes share one database, so a load balancer should keep sending it traffic
/// (docs/operations.md, "Read-only mode").
/// </summary>
public sealed class WritesHealthCheck(Database database) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var writes = database.Writes;
        if (writes.CanWrite) return Task.FromResult(HealthCheckResult.Healthy("writable"));
        var since = writes.ReadOnlySince?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var why = writes.Cause == ReadOnlyCause.Database ? "the database refuses writes" : "switched on by an operator";
        return Task.FromResult(HealthCheckResult.Degraded($"read-only since {since} ({why})"));
    }
}
