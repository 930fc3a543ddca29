using Stadig.Fhir.Profiles;
using Stadig.Hosting;

namespace Stadig.Fhir;

/// <summary>
/// Compiles the profile validator's schemas (SEBasePatient and the R4 base it builds on) in the
/// background right after start, so the first client that sends a resource claiming a profile does
/// not wait tens of seconds for it. Off with the rest of the warm-up (Stadig:WarmUp:Enabled).
/// </summary>
public sealed class FhirProfileWarmUp(WarmUpSettings settings, ILogger<FhirProfileWarmUp> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!settings.Enabled) return Task.CompletedTask;
        // Its own thread: the compile is CPU work, and start-up should not wait for it.
        return Task.Run(() =>
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                FhirProfileValidator.WarmUp();
                logger.LogInformation("FHIR profile validator warmed in {Milliseconds:0} ms.", System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
            catch (Exception e)
            {
                // Only slower at first without it: the validator compiles on first use instead.
                logger.LogWarning("FHIR profile validator warm-up failed ({Reason}).", e.GetType().Name);
            }
        }, stoppingToken);
    }
}
