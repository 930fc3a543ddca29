using System.Runtime.InteropServices;
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
/// quiet moment (<see cref="WarmUpSettings.ProfileValidatorQuietSeconds"/> without a request, or at
/// the latest <see cref="WarmUpSettings.ProfileValidatorLatestSeconds"/> after start), and then runs
/// on a thread of its own at the lowest scheduling priority (nice 19). Issue 17: the first-request
/// bench's steady search p95 was 29–31 ms while it ran from the start, 22 ms without it.
/// </remarks>
public sealed class FhirProfileWarmUp(WarmUpSettings settings, AdmissionControl admission, ILogger<FhirProfileWarmUp> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!settings.Enabled) return;
        var latest = System.Diagnostics.Stopwatch.GetTimestamp();
        using (var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(250)))
            while (admission.SinceLastRequest.TotalSeconds < settings.ProfileValidatorQuietSeconds
                   && System.Diagnostics.Stopwatch.GetElapsedTime(latest).TotalSeconds < settings.ProfileValidatorLatestSeconds)
                if (!await tick.WaitForNextTickAsync(stoppingToken)) return;
        await CompileAsync();
    }

    private Task CompileAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Its own thread, not the pool's: its priority is lowered for good.
        var thread = new Thread(() =>
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                var lowered = LowerOwnPriority();
                FhirProfileValidator.WarmUp();
                logger.LogInformation("FHIR profile validator warmed in {Milliseconds:0} ms (lowest priority: {Lowered}).",
                    System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds, lowered);
            }
            catch (Exception e)
            {
                // Only slower at first without it: the validator compiles on first use instead.
                logger.LogWarning("FHIR profile validator warm-up failed ({Reason}).", e.GetType().Name);
            }
            finally { done.TrySetResult(); }
        }) { IsBackground = true, Name = "FHIR profile warm-up", Priority = ThreadPriority.Lowest };
        thread.Start();
        return done.Task;
    }

    /// <summary>
    /// nice 19 for the calling thread (a Linux thread is a task of its own for the scheduler). .NET
    /// does not apply <see cref="ThreadPriority"/> on Linux; lowering one's own priority needs no privilege.
    /// </summary>
    private static bool LowerOwnPriority()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try { return SetPriority(0, GetThreadId(), 19) == 0; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
    }

    [DllImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static extern int SetPriority(int which, int who, int priority);

    [DllImport("libc", EntryPoint = "gettid")]
    private static extern int GetThreadId();
}
