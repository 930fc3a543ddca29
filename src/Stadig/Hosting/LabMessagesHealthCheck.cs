using Microsoft.Extensions.Diagnostics.HealthChecks;
using Stadig.LabResults;

namespace Stadig.Hosting;

/// <summary>
/// The HL7 watchdog in /health/ready: Degraded (still ready: the node serves, but someone must look)
/// while an inbound message has stayed Received past Stadig:Mllp:StuckAfterMinutes, i.e. was never answered.
/// </summary>
public sealed class LabMessagesHealthCheck(MessageTracking messages, StadigOptions options) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var minutes = options.Mllp.StuckAfterMinutes;
        try
        {
            var unanswered = await messages.UnansweredCountAsync(TimeSpan.FromMinutes(minutes), cancellationToken);
            var data = new Dictionary<string, object> { ["unansweredHl7Messages"] = unanswered };
            return unanswered == 0
                ? HealthCheckResult.Healthy(data: data)
                : HealthCheckResult.Degraded($"{unanswered} inbound HL7 message(s) received but not answered for over {minutes} min; see /operations", data: data);
        }
        catch (Exception e) when (e is System.Data.Common.DbException or TimeoutException or InvalidOperationException)
        {
            // The database check reports the database; this one only says it could not look.
            return HealthCheckResult.Degraded("HL7 message states could not be read");
        }
    }
}
