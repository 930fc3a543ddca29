using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using Dapper;
using Stadig.Storage;

namespace Stadig.Tests.Reliability;

/// <summary>
/// Failover under write load (issue 20, items 1 and 2), the short form of bench/failover.sh: the real
/// server, in its own process, writes through HAProxy to the production layout of docs/operations.md
/// (three PostgreSQL nodes under Patroni, synchronous replication) while the crash-point load runs —
/// notes created, autosaved and signed, ORU^R01 over MLLP, FHIR transactions, attestations — and the
/// primary's postmaster is killed. Once Patroni has promoted a standby and writes are acknowledged
/// again, every acknowledged write must be on the new primary, nothing half written, the audit chain
/// intact, and no write refused otherwise than as "not saved, try again" (503). Every wait has a
/// deadline that fails the test with what the cluster, the server and the load were doing; every
/// process started is stopped when the test ends, however it ends. PostgreSQL only: the layout is
/// PostgreSQL's.
/// </summary>
public class PatroniFailoverTests
{
    private static readonly string[] KindsAfterFailover = ["create", "autosave", "sign", "hl7", "fhir-transaction"];

    [Fact]
    [Hazard("H-11")]
    public async Task Killing_the_primarys_postgres_under_write_load_fails_over_with_every_acknowledged_write_on_the_new_primary_and_the_audit_chain_intact()
    {
        var cancel = TestContext.Current.CancellationToken;
        var output = TestContext.Current.TestOutputHelper;
        var clock = Stopwatch.StartNew();
        void Log(string line) => output?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{clock.Elapsed.TotalSeconds,6:0.0} s  {line}"));

        await using var layout = await PatroniLayout.StartAsync(cancel);
        Log("layout started: three nodes, a synchronous standby, HAProxy");
        var number = 0;
        int Next() => Interlocked.Increment(ref number);
        var database = new Database(DatabaseEngine.Postgres, layout.Primary);
        await new Migrator(database).MigrateAsync();
        var region = await CrashHarness.PrepareAsync(database, 6, Next, cancel);
        var spool = Directory.CreateTempSubdirectory("stadig-failover-spool-").FullName;
        try
        {
            await using var server = await StadigProcess.StartAsync(layout.Primary + ";Timeout=3",
            [
                .. region.ServerSettings, $"--Stadig:ReplicaDatabase={layout.Replicas};Timeout=3", $"--Stadig:Downtime:AuditSpoolFolder={spool}",
                "--Stadig:Admission:RequestTimeoutSeconds=30",
            ], cancel);
            Log("server ready");

            var ledger = new CrashLedger();
            var acknowledged = 0;
            var firstWrites = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            void Acknowledged()
            {
                if (Interlocked.Increment(ref acknowledged) == 20) firstWrites.TrySetResult();
            }
            // The attestation worker looks its report up through the same layout: during the failover it finds none.
            async Task<Guid?> ReportOfAsync(string controlId, CancellationToken stop)
            {
                try
                {
                    await using var c = await database.OpenUnscopedAsync(stop);
                    return await c.QueryFirstOrDefaultAsync<Guid?>(
                        "SELECT r.id FROM diagnostic_report r JOIN hl7_message m ON m.id = r.message_id WHERE m.control_id = @controlId AND m.direction = 'Inbound'",
                        new { controlId });
                }
                catch (Exception e) when (e is DbException or DatabaseUnavailableException or InvalidOperationException or TimeoutException)
                {
                    return null;
                }
            }
            var load = new CrashLoad(server, region.Token, region.Username, CrashHarness.Password, region.Patients, null, ledger,
                Channel.CreateUnbounded<string>(), Next, ReportOfAsync, "fo", Acknowledged, new Random(20261205))
            {
                RetryPause = TimeSpan.FromMilliseconds(100),
            };

            async Task<string> Situation() =>
                $"acknowledged: {string.Join(", ", ledger.Acknowledged.OrderBy(k => k.Key).Select(k => $"{k.Key} {k.Value}"))}\n" +
                $"load errors ({load.Errors.Count}): {string.Join(" | ", LastErrors(load, 8))}\n" +
                $"cluster:\n{await layout.StatusAsync()}\n{layout.Logs()}\nserver:\n{server.Output}";

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            var running = load.RunAsync(stop.Token);
            string victim, leader;
            try
            {
                await WithinAsync(firstWrites.Task, TimeSpan.FromMinutes(2), async () => $"The load's first 20 writes were not acknowledged.\n{await Situation()}");
                victim = await layout.LeaderAsync(cancel) ?? throw new InvalidOperationException($"No primary before the kill.\n{await Situation()}");
                var killedAt = clock.Elapsed;
                await layout.KillPostgresAsync(victim, cancel);
                Log($"killed the postmaster of {victim} (the primary) after {acknowledged} acknowledged writes");

                string? now = null;
                await UntilAsync(async () => (now = await layout.LeaderAsync(cancel)) is { } l && l != victim, TimeSpan.FromMinutes(2),
                    async () => $"No standby became primary after the kill of {victim}'s postmaster.\n{await Situation()}");
                leader = now!;
                Log($"{leader} is the primary, {(clock.Elapsed - killedAt).TotalSeconds:0.0} s after the kill");

                // Writes of every kind acknowledged after the new primary took over: they can only have committed there.
                var before = KindsAfterFailover.ToDictionary(k => k, k => ledger.Acknowledged.GetValueOrDefault(k));
                await UntilAsync(() => Task.FromResult(KindsAfterFailover.All(k => ledger.Acknowledged.GetValueOrDefault(k) > before[k])), TimeSpan.FromMinutes(2),
                    async () => $"Writes of every kind ({string.Join(", ", KindsAfterFailover)}) were not acknowledged again after {leader} became primary.\n{await Situation()}");
                Log($"writes of every kind acknowledged again, {(clock.Elapsed - killedAt).TotalSeconds:0.0} s after the kill");
            }
            finally
            {
                stop.Cancel();
                await WithinAsync(running, TimeSpan.FromMinutes(1), async () => $"The load did not stop.\n{await Situation()}");
            }

            // Checked on the primary now, reached through HAProxy as the server reaches it: the node that took over.
            var check = new Database(DatabaseEngine.Postgres, layout.Primary);
            await using (var c = await check.OpenUnscopedAsync(cancel))
            {
                var (port, inRecovery) = await c.QuerySingleAsync<(int, bool)>("SELECT inet_server_port(), pg_is_in_recovery()");
                Assert.False(inRecovery, "HAProxy's primary port leads to a standby");
                Assert.NotEqual(layout.PostgresPort(victim), port);
            }
            var findings = await CrashHarness.CheckAsync(check, ledger, deep: true, cancel);
            Log($"{ledger.Total} acknowledged writes checked on the new primary: {findings.Count} findings");
            Assert.True(findings.Count == 0, $"After the failover from {victim} to {leader}:\n{string.Join("\n", findings.Take(20))}\n{await Situation()}");
            // During the failover a write is refused as not saved (503) or cut off, never answered as a server error.
            var serverErrors = LastErrors(load, int.MaxValue).Where(e => e.Contains(" answered 500", StringComparison.Ordinal)).ToList();
            Assert.True(serverErrors.Count == 0, $"Writes answered 500 during the failover:\n{string.Join("\n", serverErrors.Take(10))}");
        }
        finally
        {
            try { Directory.Delete(spool, recursive: true); } catch (IOException) { }
        }
    }

    private static List<string> LastErrors(CrashLoad load, int count)
    {
        lock (load.Errors) return load.Errors.TakeLast(count).ToList();
    }

    /// <summary>Waits for <paramref name="task"/>; past the deadline the test fails with <paramref name="what"/> instead of hanging.</summary>
    private static async Task WithinAsync(Task task, TimeSpan limit, Func<Task<string>> what)
    {
        if (await Task.WhenAny(task, Task.Delay(limit, TestContext.Current.CancellationToken)) != task)
            throw new TimeoutException($"Not within {limit.TotalSeconds:0} s: {await what()}");
        await task;
    }

    /// <summary>Until <paramref name="condition"/> holds (polling: the cluster is other processes); past the deadline the test fails with <paramref name="what"/>.</summary>
    private static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan limit, Func<Task<string>> what)
    {
        var guard = Stopwatch.StartNew();
        while (!await condition())
        {
            if (guard.Elapsed > limit) throw new TimeoutException($"Not within {limit.TotalSeconds:0} s: {await what()}");
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }
}
