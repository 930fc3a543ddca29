using Stadig.Fhir.Profiles;
using Stadig.Hosting;

namespace Stadig.Fhir;

/// <summary>
/// Compiles the profile validator's schemas (SEBasePatient and the R4 base it builds on) in the
/// background right after start, so the first client that sends a resource claiming a profile does
/// not wait tens of seconds for it. Off with the rest of the warm-up (Stadig:WarmUp:Enabled).
/// </summary>
/// <remarks>
/// The compile is some 40 s of one core on a 2-core node and allocates heavily (the collections it
/// causes pause every thread), so it does not begin with the node's first requests: it waits for a
/// quiet moment (<see cref="WarmUpSettings.ProfileValidatorQuietSeconds"/> with no request arriving or being served, or at
/// the latest <see cref="WarmUpSettings.ProfileValidatorLatestSeconds"/> after start), on a thread of
/// its own. Issue 17: the first-request bench's steady search p95 was 29–31 ms while it ran from the
/// start, 22 ms without it.
/// </remarks>
public sealed class FhirProfileWarmUp(WarmUpSettings settings, AdmissionControl admission, ILogger<FhirProfileWarmUp> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!settings.Enabled) return;
        var latest = System.Diagnostics.Stopwatch.GetTimestamp();
        using (var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(250)))
            while (admission.Quiet.TotalSeconds < settings.ProfileValidatorQuietSeconds
                   && System.Diagnostics.Stopwatch.GetElapsedTime(latest).TotalSeconds < settings.ProfileValidatorLatestSeconds)
                if (!await tick.WaitForNextTickAsync(stoppingToken)) return;
        await CompileAsync();
    }

    private Task CompileAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Its own thread: tens of seconds of CPU work, not the pool's to lend. Not at a lowered priority (nice 19):
        // a starved thread in managed code holds up every garbage collection's suspension of the process, and so
        // every request (browser tests waited 90 s for a page on a saturated CI machine).
        var thread = new Thread(() =>
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
            finally { done.TrySetResult(); }
        }) { IsBackground = true, Name = "FHIR profile warm-up" };
        thread.Start();
        return done.Task;
    }
}
