using Stadig.Storage;

namespace Stadig.Tests.Reliability;

/// <summary>
/// The crash-point harness's short form (issue 20, item 3): the server killed at random points under
/// the mixed write load on each engine (20 each), and PostgreSQL's processes killed too (10): 50 kill
/// points in all, issue 20's CI floor; after each, every acknowledged write is there and intact and
/// nothing is half written.
/// bench/crash.sh runs the full count (STADIG_CRASH_SERVER_KILLS, STADIG_CRASH_POSTGRES_KILLS,
/// STADIG_CRASH_SEED, STADIG_CRASH_REPORT for the report folder).
/// </summary>
public class CrashPointTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Killed_at_random_points_under_write_load_no_acknowledged_write_is_lost_and_none_is_half_written(DatabaseEngine engine)
    {
        var serverKills = Setting("STADIG_CRASH_SERVER_KILLS", 20);
        var postgresKills = engine == DatabaseEngine.Postgres ? Setting("STADIG_CRASH_POSTGRES_KILLS", 10) : 0;
        var seed = Setting("STADIG_CRASH_SEED", engine == DatabaseEngine.Sqlite ? 20261205 : 20261206);
        var output = TestContext.Current.TestOutputHelper;
        var report = await CrashHarness.RunAsync(new CrashRunOptions(engine, serverKills, postgresKills, seed), line => output?.WriteLine(line),
            TestContext.Current.CancellationToken);
        if (Environment.GetEnvironmentVariable("STADIG_CRASH_REPORT") is { Length: > 0 } folder) await report.WriteAsync(folder);
        output?.WriteLine(report.ToText());

        Assert.True(report.Passed, report.ToText());
        Assert.Equal(serverKills + postgresKills, report.KillPoints);
        // The load was the mixed one: every kind of write was acknowledged somewhere in the run.
        foreach (var kind in new[] { "create", "autosave", "sign", "hl7", "fhir-transaction" })
            Assert.True(report.Acknowledged.GetValueOrDefault(kind) > 0, $"no {kind} acknowledged\n{report.ToText()}");
    }

    private static int Setting(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), out var value) ? value : fallback;
}
