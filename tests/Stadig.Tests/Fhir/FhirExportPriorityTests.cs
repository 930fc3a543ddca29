using System.Net;
using Stadig.Common;
using Stadig.Hosting;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Tests.Fhir;

/// <summary>Background work (bulk export) steps aside for clinicians; integrations shed before clinicians' screens do.</summary>
public class FhirExportPriorityTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_export_waits_while_clinicians_keep_the_node_busy_and_finishes_when_they_leave_room(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine, ["--Stadig:Admission:MaxConcurrent=4"], Role.Physician, Role.Administrator);
        var clinician = fhir.Client();
        Assert.Equal(HttpStatusCode.Created, (await clinician.PostFhirAsync("/fhir/Patient", FhirCalls.Patient("191212121212", "Öström", "Anna"))).Status);
        var admin = fhir.Client("system/*.read", assignment: (await fhir.Server.Staff.AssignmentsOfAsync(fhir.Member.Id, TestContext.Current.CancellationToken))
            .First(a => a.Role == Role.Administrator));

        // Clinicians hold three of the four interactive slots: the node is busy.
        var admission = fhir.Server.Services.GetRequiredService<AdmissionControl>();
        var held = new List<IDisposable>();
        for (var i = 0; i < 3; i++) held.Add((await admission.TryEnterAsync(RequestClass.Interactive, CancellationToken.None))!);
        Assert.True(admission.CliniciansBusy);

        var (kickOff, _, response) = await admin.SendAsync(HttpMethod.Get, "/fhir/$export", configure: r => r.Headers.Add("Prefer", "respond-async"));
        Assert.Equal(HttpStatusCode.Accepted, kickOff);
        var status = response.Content.Headers.ContentLocation?.ToString() ?? response.Headers.GetValues("Content-Location").Single();
        // However often the client polls, the export does not take the clinicians' capacity.
        for (var poll = 0; poll < 20; poll++) Assert.Equal(HttpStatusCode.Accepted, (await admin.GetFhirAsync(status)).Status);

        held.ForEach(h => h.Dispose());
        Assert.False(admission.CliniciansBusy);
        for (var poll = 0; poll < 100_000; poll++)
        {
            var (state, manifest, _) = await admin.GetFhirAsync(status);
            if (state == HttpStatusCode.Accepted) continue;
            Assert.Equal(HttpStatusCode.OK, state);
            Assert.NotEmpty(manifest["output"]!.AsArray());
            return;
        }
        Assert.Fail("The export never finished after the load dropped.");
    }

    [Fact]
    public async Task When_the_integration_pool_is_full_FHIR_gets_503_with_an_OperationOutcome_while_clinicians_are_served()
    {
        await using var fhir = await FhirTestServer.StartAsync(DatabaseEngine.Sqlite, ["--Stadig:Admission:MaxConcurrentIntegration=1"]);
        var admission = fhir.Server.Services.GetRequiredService<AdmissionControl>();
        using (var held = await admission.TryEnterAsync(RequestClass.Integration, CancellationToken.None))
        {
            var (status, outcome, response) = await fhir.Client().GetFhirAsync("/fhir/metadata");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
            Assert.NotNull(response.Headers.RetryAfter);
            Assert.Equal("OperationOutcome", outcome["resourceType"]!.GetValue<string>());
            Assert.Equal("transient", outcome["issue"]![0]!["code"]!.GetValue<string>());
            Assert.Equal(HttpStatusCode.OK, (await fhir.Server.CreateClient().GetAsync("/health/live", TestContext.Current.CancellationToken)).StatusCode);
            Assert.False(admission.CliniciansBusy);
        }
        Assert.Equal(HttpStatusCode.OK, (await fhir.Client().GetFhirAsync("/fhir/metadata")).Status);
    }

    [Fact]
    public async Task Background_jobs_run_one_at_a_time_and_wait_in_YieldAsync_while_clinicians_are_busy()
    {
        var busy = true;
        var consulted = new TaskCompletionSource();
        var checks = 0;
        var work = new BackgroundWork(() =>
        {
            if (Interlocked.Increment(ref checks) == 3) consulted.TrySetResult();
            return Volatile.Read(ref busy);
        }, TimeProvider.System);
        var order = new List<string>();
        var first = work.RunAsync(async ct => { await work.YieldAsync(ct); lock (order) order.Add("first"); }, CancellationToken.None);
        var second = work.RunAsync(ct => { lock (order) order.Add("second"); return Task.CompletedTask; }, CancellationToken.None);

        await consulted.Task;
        lock (order) Assert.Empty(order); // the first waits for clinicians; the second waits for the first
        Volatile.Write(ref busy, false);
        await Task.WhenAll(first, second);
        Assert.Equal(["first", "second"], order);
    }

    [Fact]
    public async Task While_clinicians_are_at_work_a_job_rests_four_times_as_long_as_each_unit_of_work_took_and_not_when_the_node_is_quiet()
    {
        var clock = new SteppedClock();
        var quiet = TimeSpan.Zero;
        var work = new BackgroundWork(() => false, clock, () => quiet);
        var ct = TestContext.Current.CancellationToken;

        await work.RunAsync(async token =>
        {
            await work.YieldAsync(token); // before the first unit: nothing to rest for
            clock.Advance(TimeSpan.FromMilliseconds(10)); // a unit of work (one patient) took 10 ms
            await work.YieldAsync(token);
            clock.Advance(TimeSpan.FromSeconds(2)); // a unit that took long rests at most a second
            await work.YieldAsync(token);
            quiet = TimeSpan.FromSeconds(5); // nobody at work: full speed
            clock.Advance(TimeSpan.FromMilliseconds(10));
            await work.YieldAsync(token);
        }, ct);

        Assert.Equal([TimeSpan.FromMilliseconds(40), BackgroundWork.MaxRest], clock.Delays);
    }

    /// <summary>A clock that moves only when told, and records the delays asked of it (each then ends at once).</summary>
    private sealed class SteppedClock : TimeProvider
    {
        private long _now;
        public List<TimeSpan> Delays { get; } = [];
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public override long GetTimestamp() => Interlocked.Read(ref _now);
        public void Advance(TimeSpan by) => Interlocked.Add(ref _now, by.Ticks);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            lock (Delays) Delays.Add(dueTime);
            return System.CreateTimer(callback, state, TimeSpan.Zero, period);
        }
    }
}
