using Stadig.Hosting;

namespace Stadig.Tests.Hosting;

public class LowPriorityCpuTests
{
    [Fact]
    public async Task Work_runs_on_a_thread_at_the_lowest_cpu_priority_and_returns_its_result()
    {
        using var cpu = new LowPriorityCpu(1);
        var (niceness, thread) = await cpu.RunAsync(() => (LowPriorityCpu.CurrentThreadNiceness(), Environment.CurrentManagedThreadId), TestContext.Current.CancellationToken);

        Assert.NotEqual(Environment.CurrentManagedThreadId, thread);
        // The tests run on Linux (Debian 12): the scheduler took niceness 19 for the thread, and the caller's own is untouched.
        Assert.True(OperatingSystem.IsLinux());
        Assert.Equal(19, niceness);
        Assert.True(cpu.Lowered);
        Assert.NotEqual(19, LowPriorityCpu.CurrentThreadNiceness());
    }

    [Fact]
    public async Task A_failure_in_the_work_is_the_callers_and_the_thread_goes_on()
    {
        using var cpu = new LowPriorityCpu(1);
        var failure = await Record.ExceptionAsync(() => cpu.RunAsync<int>(() => throw new InvalidOperationException("hash"), TestContext.Current.CancellationToken));
        Assert.Equal("hash", Assert.IsType<InvalidOperationException>(failure).Message);
        Assert.Equal(2, await cpu.RunAsync(() => 1 + 1, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Work_cancelled_while_it_waits_for_the_thread_is_not_run()
    {
        using var cpu = new LowPriorityCpu(1);
        using var release = new ManualResetEventSlim();
        var blocking = cpu.RunAsync(() => { release.Wait(TestContext.Current.CancellationToken); return 0; }, TestContext.Current.CancellationToken);
        using var cancel = new CancellationTokenSource();
        var ran = false;
        var waiting = cpu.RunAsync(() => ran = true, cancel.Token);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        release.Set();
        await blocking;
        await cpu.RunAsync(() => 0, TestContext.Current.CancellationToken); // the queue has moved past the cancelled item
        Assert.False(ran);
    }
}
