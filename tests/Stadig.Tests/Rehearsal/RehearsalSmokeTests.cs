using System.Net;
using System.Net.Sockets;
using Stadig.Rehearsal;
using Stadig.Storage;

namespace Stadig.Tests.Rehearsal;

/// <summary>
/// Keeps the go-live rehearsal working: a real server with a small demo region, the rehearsal's engine
/// in-process with a few clinicians of both roles, the lab feed over MLLP and the FHIR integrations,
/// with think times cut to almost nothing. It asserts that nothing failed and that every kind of action
/// ran — never how fast (tests assert no times; the rehearsal itself reports them).
/// </summary>
public sealed class RehearsalSmokeTests
{
    private const string SigningKey = "rehearsal-smoke-signing-key-long-enough-for-hs256!";

    private static readonly string[] EveryAction = Stadig.Rehearsal.RehearsalReport.Order;

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_short_rehearsal_runs_every_kind_of_action_without_errors(DatabaseEngine engine)
    {
        var mllpPort = FreePort();
        await using var server = await StadigServer.StartAsync(engine,
            "--Stadig:SeedDemoAtStart=true", "--Stadig:DemoPatients=150", $"--Stadig:Mllp:Port={mllpPort}",
            $"--Stadig:Jwt:SigningKey={SigningKey}", "--Stadig:LoginAttemptsPerMinute=1000");
        var config = QuickConfig();
        var target = new RehearsalTarget(server.Address, "127.0.0.1", mllpPort, server.ConnectionString, new JwtSettings(SigningKey, null, null), null);
        var run = new RunInfo(server.Address.ToString(), engine.ToString(), 150, config.Clinicians, config.LabMessagesPerSecond, config.FhirRequestsPerSecond,
            Environment.ProcessorCount, "test", null);

        // Stops as soon as every kind has succeeded once; the duration is only the upper bound.
        var report = await RehearsalEngine.RunAsync(target, config, run, stopWhen: r => EveryAction.All(r.SucceededKinds.Contains),
            cancellationToken: TestContext.Current.CancellationToken);

        AssertNoErrors(report, server);
        // Shed requests (503 + Retry-After) are admission control working, not errors: a busy CI machine may see a few.
        Assert.Empty(EveryAction.Except(report.Actions.Where(a => a.Ok > 0).Select(a => a.Action)));

        // The report renders: both files, and a plot per action.
        var folder = Directory.CreateTempSubdirectory("stadig-rehearsal-").FullName;
        report.Write(folder);
        var html = await File.ReadAllTextAsync(Path.Combine(folder, "report.html"), TestContext.Current.CancellationToken);
        Assert.Contains("<svg", html, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(folder, "report.json")));
    }

    /// <summary>
    /// The overload run in miniature: a few seconds per phase, three clinicians tripled, and an
    /// admission pool of two (one for FHIR) that turns away at once instead of waiting, so that requests are really shed. It asserts behaviour only: every
    /// measurement of the verdict is there, every health probe answered, nothing hung, the 503s
    /// carried Retry-After, nothing failed other than being shed, and the export finished once the
    /// load was gone. Whether the criteria pass is the rehearsal's business, not a test's.
    /// </summary>
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    [Hazard("H-05")]
    public async Task A_short_overload_run_sheds_with_retry_after_and_measures_every_criterion(DatabaseEngine engine)
    {
        var mllpPort = FreePort();
        await using var server = await StadigServer.StartAsync(engine,
            "--Stadig:SeedDemoAtStart=true", "--Stadig:DemoPatients=150", $"--Stadig:Mllp:Port={mllpPort}",
            $"--Stadig:Jwt:SigningKey={SigningKey}", "--Stadig:LoginAttemptsPerMinute=1000",
            "--Stadig:Admission:MaxConcurrent=2", "--Stadig:Admission:MaxConcurrentIntegration=1", "--Stadig:Admission:QueueWaitMilliseconds=0");
        var config = QuickConfig();
        config.Name = "smoke-overload";
        config.Clinicians = 3;
        config.Lab = new LabFeedSettings { MessagesPerSecond = 4, Connections = 1 };
        config.Fhir = new FhirSettings { RequestsPerSecond = 10 };
        config.Overload = new OverloadSettings
        {
            Factor = 3, BaselineSeconds = 3, OverloadSeconds = 4, RecoverySeconds = 3, RampUpSeconds = 0.5, RecoveryWindowSeconds = 1,
            // An upper bound only (the run stops polling once the export is done): how soon it finishes is the rehearsal's measure, not the test's.
            ExportGraceSeconds = 300,
        };
        var target = new RehearsalTarget(server.Address, "127.0.0.1", mllpPort, server.ConnectionString, new JwtSettings(SigningKey, null, null), null);
        var run = new RunInfo(server.Address.ToString(), engine.ToString(), 150, config.Clinicians, config.LabMessagesPerSecond, config.FhirRequestsPerSecond,
            Environment.ProcessorCount, "test", null);

        var progress = new StringWriter();
        var report = await RehearsalEngine.RunAsync(target, config, run, progress: progress, cancellationToken: TestContext.Current.CancellationToken);
        TestContext.Current.TestOutputHelper?.WriteLine(progress + report.ConsoleTable());

        AssertNoErrors(report, server);
        var overload = Assert.IsType<OverloadReport>(report.Overload);
        Assert.Equal(["baseline", "overload", "recovery"], overload.Phases.Select(p => p.Name));
        Assert.Equal(9, overload.Phases[1].Clinicians);
        // Shed for real, every one with Retry-After and its own time.
        Assert.True(overload.Shed.Count > 0, "nothing was shed with an admission pool of two");
        Assert.Equal(0, overload.Shed.WithoutRetryAfter);
        Assert.NotNull(overload.Shed.Max);
        Assert.True(report.TotalShed > 0);
        // Every measurement is there.
        Assert.NotEmpty(overload.Budgets);
        Assert.Contains(overload.Budgets, b => b.WithinShare is not null);
        Assert.True(overload.Health.Probes > 0);
        Assert.Equal(0, overload.Health.Failures);
        Assert.NotNull(overload.Health.Max);
        Assert.Equal(0, overload.Hangs.ClientTimeouts);
        Assert.NotNull(overload.Recovery.BaselineP99);
        Assert.NotEmpty(overload.Recovery.Windows);
        Assert.True(overload.Priority.AutosaveOverload > 0);
        Assert.Equal("completed", overload.Export.Status);
        Assert.NotNull(overload.Export.FinishedAtSeconds);
        Assert.Equal(7, overload.Verdict.Count);
        Assert.Single(overload.Verdict, c => c.Informational);
        // The server's own time (Server-Timing) is read for every action over HTTP, the budgets' measure.
        Assert.All(report.Actions.Where(a => a.Ok > 0 && a.Action is ClinicianSession.Actions.Chart or ClinicianSession.Actions.Search or ClinicianSession.Actions.Autosave),
            a => Assert.True(a.ServerP99 > 0 && a.ServerP99 <= a.Max, $"{a.Action}: server p99 {a.ServerP99}, client max {a.Max}"));
        Assert.All(overload.Verdict, c => Assert.False(string.IsNullOrWhiteSpace(c.Measured)));

        var folder = Directory.CreateTempSubdirectory("stadig-rehearsal-").FullName;
        report.Write(folder);
        var html = await File.ReadAllTextAsync(Path.Combine(folder, "report.html"), TestContext.Current.CancellationToken);
        Assert.Contains("<h2>Overload</h2>", html, StringComparison.Ordinal);
        var json = await File.ReadAllTextAsync(Path.Combine(folder, "report.json"), TestContext.Current.CancellationToken);
        Assert.Contains("\"verdict\"", json, StringComparison.Ordinal);
    }

    /// <summary>The regional day's mix with think times of a few milliseconds, and the lab and integrations fast enough to show within a second.</summary>
    /// <summary>No action answered with an error; on a failure, what the server logged of it (exceptions carry no patient data: logs never do).</summary>
    private static void AssertNoErrors(RehearsalReport report, StadigServer server)
    {
        var errors = report.Actions.Where(a => a.Errors > 0).SelectMany(a => a.ErrorStatuses.Select(e => $"{a.Action}: {e.Key} × {e.Value}")).ToList();
        Assert.True(errors.Count == 0, string.Join(", ", errors) + Environment.NewLine
            + string.Join(Environment.NewLine, server.Log.Lines.Where(l => l.Contains("Exception", StringComparison.Ordinal) || l.Contains("fail", StringComparison.OrdinalIgnoreCase))));
    }

    private static RehearsalConfig QuickConfig()
    {
        var quick = new ThinkRange(0.005, 0.02);
        return new RehearsalConfig
        {
            // Upper bounds, not judgements: the short run stops once every kind has succeeded, and a request
            // slower than the production deadline on a busy CI machine is still an answer. A real hang still
            // shows (cut off at the end of the run, or the test run's own timeout); how fast is bench/rehearsal.sh's verdict.
            Name = "smoke", Clinicians = 6, PhysicianShare = 0.5, DurationSeconds = 300, RampUpSeconds = 0, RequestTimeoutSeconds = 600,
            NoteShare = 1, InboxShare = 1, SearchByNameShare = 0.5, BucketSeconds = 1, PrescribeShare = 1, AdministerShare = 1,
            Think = new ThinkTimes
            {
                AfterLogin = quick, AfterList = quick, AfterSearch = quick, ReadChart = quick, ReadNote = quick, ReadResults = quick,
                AfterInbox = quick, BetweenPatients = quick,
            },
            Notes = new NoteWriting { AutosaveSeconds = 0.02, AutosavesMin = 2, AutosavesMax = 3 },
            Lab = new LabFeedSettings { MessagesPerSecond = 10, Connections = 2 },
            Fhir = new FhirSettings { RequestsPerSecond = 20 },
        };
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
