using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Stadig.Hosting;

/// <summary>
/// CPU work that may only take a core the clinicians' requests leave idle: a login's deliberately
/// slow password hash (~70 ms of a core). It runs on threads of their own at the lowest CPU priority
/// (Linux niceness 19: the scheduler gives such a thread about 1.5 % of a core that a normal one
/// wants, and all of an idle one). At a shift's start the go-live rehearsal's overload sent 110
/// logins in 15 s; at normal priority their hashes took a core from the screens and saves of those
/// already at work, which then missed their budgets (docs/benchmarks.md, eleventh run).
/// </summary>
/// <remarks>
/// A thread may lower its own priority without privileges but not raise it again, so the threads are
/// this class's own and stay low. Elsewhere than on Linux they run at normal priority (<see cref="Lowered"/> false).
/// </remarks>
public sealed class LowPriorityCpu : IDisposable
{
    private const int Niceness = 19;
    private readonly BlockingCollection<Action> _work = new();
    private readonly Thread[] _threads;
    private int _lowered;

    /// <param name="threads">Work items run at once: each one a core's worth while it runs.</param>
    public LowPriorityCpu(int threads)
    {
        _threads = new Thread[Math.Max(1, threads)];
        for (var i = 0; i < _threads.Length; i++)
        {
            _threads[i] = new Thread(Work) { IsBackground = true, Name = $"stadig-low-priority-{i + 1}" };
            _threads[i].Start();
        }
    }

    /// <summary>Whether the operating system took the lowest priority for every thread.</summary>
    public bool Lowered => Volatile.Read(ref _lowered) == _threads.Length;

    /// <summary>Runs <paramref name="work"/> on a low-priority thread; its result or its exception is the task's.</summary>
    public Task<T> RunAsync<T>(Func<T> work, CancellationToken cancellationToken = default)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var registration = cancellationToken.Register(() => done.TrySetCanceled(cancellationToken));
        _work.Add(() =>
        {
            using (registration)
            {
                if (done.Task.IsCompleted) return; // cancelled while it waited: not worth a core
                try { done.TrySetResult(work()); }
                catch (Exception e) { done.TrySetException(e); }
            }
        }, CancellationToken.None);
        return done.Task;
    }

    private void Work()
    {
        if (Lower()) Interlocked.Increment(ref _lowered);
        foreach (var item in _work.GetConsumingEnumerable()) item();
    }

    private static bool Lower()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            // On Linux a thread is a task of its own: PRIO_PROCESS with the thread's id sets that thread's niceness.
            return SetPriority(PrioProcess, GetThreadId(), Niceness) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    /// <summary>The calling thread's niceness on Linux (for tests); null elsewhere.</summary>
    public static int? CurrentThreadNiceness() => OperatingSystem.IsLinux() ? GetPriority(PrioProcess, GetThreadId()) : null;

    private const int PrioProcess = 0;

    [DllImport("libc", EntryPoint = "setpriority")]
    private static extern int SetPriority(int which, int who, int priority);

    [DllImport("libc", EntryPoint = "getpriority")]
    private static extern int GetPriority(int which, int who);

    [DllImport("libc", EntryPoint = "gettid")]
    private static extern int GetThreadId();

    public void Dispose() => _work.CompleteAdding();
}
