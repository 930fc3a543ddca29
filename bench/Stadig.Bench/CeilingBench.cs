using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Dapper;
using Stadig.Storage;

namespace Stadig.Bench;

/// <summary>
/// The ceiling ratio (issue #7): how close Stadig's chart overview comes to what the same
/// PostgreSQL server can do at all. It measures, in one run on one database server:
/// (1) chart overviews per second with C concurrent callers (in-process, audited as in production),
/// (2) the statements one chart overview sends (counted by the server: pg_stat_statements),
/// (3) `pgbench -S` (primary-key selects) with C clients on a pgbench database of the same server.
/// Ceiling = pgbench's selects/s divided by the commands per overview; ratio = (1) / ceiling.
/// </summary>
public static partial class CeilingBench
{
    public static async Task<int> RunAsync(Database database, string connectionString, Func<Stadig.CoreServices, Task<Stadig.Access.Caller>> benchCaller,
        int concurrency, double seconds, int pgbenchScale)
    {
        if (database.Engine != DatabaseEngine.Postgres) { Console.Error.WriteLine("the ceiling ratio is measured on PostgreSQL"); return 2; }
        var services = Stadig.CoreServices.Create(database, TimeProvider.System);
        var caller = await benchCaller(services);
        List<Guid> patients;
        await using (var connection = await database.OpenUnscopedAsync())
            patients = (await connection.QueryAsync<Guid>("SELECT id FROM patient WHERE merged_into_id IS NULL ORDER BY random() LIMIT 2000")).ToList();
        if (patients.Count == 0) { Console.Error.WriteLine("no patients: run the seed verb first"); return 1; }
        foreach (var id in patients) await services.Access.RecordCareRelationAsync(caller, id, "Prestandamätning");

        // Statements per overview, counted by the server itself (pg_stat_statements, in the
        // maintenance database so the counting does not count itself). DISCARD ALL, the pool's
        // reset when a connection is returned, is left out: it is pooling, not the chart's need.
        foreach (var id in patients.Take(50)) await services.Chart.OverviewAsync(caller, id); // warm-up: JIT, pool, plans
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
        var maintenance = Database.FromConnectionString(new Npgsql.NpgsqlConnectionStringBuilder(connectionString) { Database = "postgres" }.ConnectionString);
        const int sample = 200;
        double commandsPerOverview, resetsPerOverview;
        await using (var stats = await maintenance.OpenUnscopedAsync())
        {
            try
            {
                await stats.ExecuteAsync("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
                await stats.ExecuteScalarAsync("SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = @db), 0)", new { db = builder.Database });
            }
            catch (Npgsql.PostgresException missing)
            {
                Console.Error.WriteLine($"pg_stat_statements is needed to count statements: start the server with -c shared_preload_libraries=pg_stat_statements ({missing.MessageText})");
                return 2;
            }
            foreach (var id in patients.Skip(50).Take(sample)) await services.Chart.OverviewAsync(caller, id);
            const string calls = "SELECT COALESCE(SUM(calls), 0) FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = @db)";
            commandsPerOverview = await stats.ExecuteScalarAsync<double>(calls + " AND query NOT LIKE 'DISCARD%'", new { db = builder.Database }) / sample;
            resetsPerOverview = await stats.ExecuteScalarAsync<double>(calls + " AND query LIKE 'DISCARD%'", new { db = builder.Database }) / sample;
        }

        // Chart overview rate at the given concurrency.
        var done = 0;
        var watch = Stopwatch.StartNew();
        var deadline = TimeSpan.FromSeconds(seconds);
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(worker => Task.Run(async () =>
        {
            for (var i = worker; watch.Elapsed < deadline; i += concurrency)
            {
                await services.Chart.OverviewAsync(caller, patients[i % patients.Count]);
                Interlocked.Increment(ref done);
            }
        })));
        var chartRate = done / watch.Elapsed.TotalSeconds;

        // pgbench -S on the same server, its own database.
        await using (var connection = await database.OpenUnscopedAsync())
        {
            if (await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM pg_database WHERE datname = 'stadig_pgbench'") == 0)
                await connection.ExecuteAsync("CREATE DATABASE stadig_pgbench");
        }
        var pgArgs = $"-h {builder.Host} -p {builder.Port} -U {builder.Username}";
        Run("pgbench", $"-i -q -s {pgbenchScale} {pgArgs} stadig_pgbench");
        var output = Run("pgbench", $"-S -n -c {concurrency} -j {Math.Min(concurrency, Environment.ProcessorCount)} -T {seconds.ToString(CultureInfo.InvariantCulture)} {pgArgs} stadig_pgbench");
        var tps = double.Parse(Tps().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);

        var ceiling = tps / commandsPerOverview;
        Console.WriteLine($"concurrency {concurrency}, {seconds:F0} s per measurement, pgbench scale {pgbenchScale}");
        Console.WriteLine($"chart overviews/s (audited, in-process)      {chartRate,10:F1}");
        Console.WriteLine($"statements per chart overview                {commandsPerOverview,10:F1}   (+{resetsPerOverview:F1} DISCARD ALL of the pool, left out)");
        Console.WriteLine($"pgbench -S selects/s                         {tps,10:F0}");
        Console.WriteLine($"ceiling: selects/s / commands per overview   {ceiling,10:F1}");
        Console.WriteLine($"ratio: chart overviews/s / ceiling           {chartRate / ceiling,10:F2}");
        return 0;
    }

    private static string Run(string program, string arguments)
    {
        var start = new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{program} {arguments} failed: {error.Result}");
        return output.Result;
    }

    [GeneratedRegex(@"tps = ([0-9.]+)")]
    private static partial Regex Tps();

}
