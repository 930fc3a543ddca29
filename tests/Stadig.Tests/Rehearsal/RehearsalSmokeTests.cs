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

        var errors = report.Actions.Where(a => a.Errors > 0).SelectMany(a => a.ErrorStatuses.Select(e => $"{a.Action}: {e.Key} × {e.Value}")).ToList();
        Assert.Empty(errors);
        // Shed requests (503 + Retry-After) are admission control working, not errors: a busy CI machine may see a few.
        Assert.Empty(EveryAction.Except(report.Actions.Where(a => a.Ok > 0).Select(a => a.Action)));

        // The report renders: both files, and a plot per action.
        var folder = Directory.CreateTempSubdirectory("stadig-rehearsal-").FullName;
        report.Write(folder);
        var html = await File.ReadAllTextAsync(Path.Combine(folder, "report.html"), TestContext.Current.CancellationToken);
        Assert.Contains("<svg", html, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(folder, "report.json")));
    }

    /// <summary>The regional day's mix with think times of a few milliseconds, and the lab and integrations fast enough to show within a second.</summary>
    private static RehearsalConfig QuickConfig()
    {
        var quick = new ThinkRange(0.005, 0.02);
        return new RehearsalConfig
        {
            Name = "smoke", Clinicians = 6, PhysicianShare = 0.5, DurationSeconds = 25, RampUpSeconds = 0,
            NoteShare = 1, InboxShare = 1, SearchByNameShare = 0.5, BucketSeconds = 1,
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
