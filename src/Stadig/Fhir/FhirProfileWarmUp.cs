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
/// The compile is some 40 s of one core on a 2-core node, begun when the node is already ready: on a
/// thread of its own at the lowest scheduling priority (nice 19), so that the clinicians' requests
/// of those first minutes take the cores first (issue 17: the first-request bench's steady search
/// p95 was 29 ms while it ran, 8 ms without it).
/// </remarks>
public sealed class FhirProfileWarmUp(WarmUpSettings settings, ILogger<FhirProfileWarmUp> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!settings.Enabled) return Task.CompletedTask;
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
