using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.NetworkInformation;
using System.Text.Json.Nodes;
using Dapper;
using Npgsql;
using Stadig.Audit;
using Stadig.Storage;

namespace Stadig.Tests.Downtime;

/// <summary>
/// The short form of bench/failover.sh (issue 20, items 1 and 2): the loopback Patroni layout
/// (bench/ha/loopback.sh: etcd, three PostgreSQL nodes with synchronous replication, HAProxy), a
/// small write load through Stadig over HTTP, the primary's postmaster killed with -9. Judged on
/// behaviour, not seconds: no acknowledged write lost, writes resume by themselves, audit chain intact.
/// Needs Debian's patroni, etcd-server and haproxy, which ./test.sh installs.
/// </summary>
public class PatroniFailoverTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Killing_the_primary_under_write_load_loses_no_acknowledged_write_writes_resume_by_themselves_and_the_audit_chain_is_intact()
    {
        await using var cluster = await LoopbackCluster.StartAsync();
        await using var fhir = await Fhir.FhirTestServer.StartOnAsync(cluster.Primary,
            [$"--Stadig:ReplicaDatabase={cluster.Replicas}", $"--Stadig:Downtime:AuditSpoolFolder={Directory.CreateTempSubdirectory("stadig-spool-").FullName}"]);
        var server = fhir.Server;
        var eva = StadigServer.CallerFor(fhir.Member, fhir.Assignment);
        var notes = server.Services.GetRequiredService<Stadig.Notes.ClinicalNotes>();

        // Acknowledged: a patient registered (201), a draft saved at a version (200).
        var registered = new ConcurrentBag<Guid>();
        var saved = new ConcurrentDictionary<Guid, int>();
        var acknowledgedAt = new ConcurrentQueue<long>();
        var unexpected = new ConcurrentQueue<string>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        const int workers = 3;
        var tasks = new List<Task>();
        for (var w = 0; w < workers; w++)
        {
            var client = server.CreateClient();
            await server.PostLoginAsync(client, "fhir", "x");
            var patient = (await server.Patients.RegisterAsync(eva, TestNumbers.Personnummer(1931 + w, 1, 1), new("Ek", "Per"))).PatientId;
            var note = await notes.CreateDraftAsync(eva, patient, "Daganteckning", cancellationToken: Cancel);
            var worker = w;
            tasks.Add(Task.Run(() => WriteAsync(client, worker, note.Id, note.Version, registered, saved, acknowledgedAt, unexpected, stop.Token)));
        }

        // Writes are acknowledged; then the primary's postmaster dies as in a crash.
        await UntilAsync(() => acknowledgedAt.Count >= 6 * workers);
        var killedAt = Stopwatch.GetTimestamp();
        var victim = await cluster.RunAsync("kill-postgres");

        // Writes resume by themselves: each worker is acknowledged again after the kill, on the new primary.
        await UntilAsync(() => acknowledgedAt.Count(t => t > killedAt) >= 4 * workers);
        await stop.CancelAsync();
        await Task.WhenAll(tasks);
        Assert.NotEqual(victim, await cluster.RunAsync("primary"));
        // While the primary was away a write was refused as not saved (503), never answered 500.
        Assert.Empty(unexpected);

        // Every acknowledged write is on the new primary, with its audit event, and the chain holds.
        await using var connection = new NpgsqlConnection(cluster.Primary);
        var ids = registered.ToArray();
        Assert.Equal(ids.Length, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM patient WHERE id = ANY(@ids)", new { ids }));
        Assert.Equal(ids.Length, await connection.ExecuteScalarAsync<long>(
            "SELECT COUNT(DISTINCT patient_id) FROM audit_event WHERE activity = 'Write' AND patient_id = ANY(@ids)", new { ids }));
        foreach (var (noteId, version) in saved)
            Assert.True(await connection.ExecuteScalarAsync<int>("SELECT version FROM note WHERE id = @noteId", new { noteId }) >= version,
                $"note {noteId} is at least at its acknowledged version {version}");
        var verified = await new AuditVerifier(new Database(DatabaseEngine.Postgres, cluster.Primary)).VerifyAsync(Cancel);
        Assert.True(verified.Intact, string.Join("; ", verified.Findings.Select(f => f.Explanation)));
    }

    private static async Task WriteAsync(HttpClient client, int worker, Guid noteId, int version, ConcurrentBag<Guid> registered,
        ConcurrentDictionary<Guid, int> saved, ConcurrentQueue<long> acknowledgedAt, ConcurrentQueue<string> unexpected, CancellationToken stop)
    {
        var text = "";
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            try
            {
                var number = TestNumbers.Personnummer(1940 + worker * 10 + i / 6720, 1 + i / 560 % 12, 1 + i / 20 % 28, 980 + i % 20);
                using var register = await client.PostAsJsonAsync("/api/patients", new { identifier = number, familyName = "Lind", givenNames = "Eva" }, stop);
                if (register.StatusCode == HttpStatusCode.Created)
                {
                    registered.Add(Guid.Parse((await register.Content.ReadFromJsonAsync<JsonObject>(stop))!["id"]!.GetValue<string>()));
                    acknowledgedAt.Enqueue(Stopwatch.GetTimestamp());
                }
                else if (register.StatusCode != HttpStatusCode.ServiceUnavailable) unexpected.Enqueue($"register: {(int)register.StatusCode}");

                text += " Mår bättre.";
                using var draft = await client.PutAsJsonAsync($"/api/notes/{noteId}/draft",
                    new { version, keywords = new[] { new { keyword = "Aktuellt", text } } }, stop);
                if (draft.StatusCode == HttpStatusCode.OK)
                {
                    version = (await draft.Content.ReadFromJsonAsync<JsonObject>(stop))!["version"]!.GetValue<int>();
                    saved[noteId] = version;
                    acknowledgedAt.Enqueue(Stopwatch.GetTimestamp());
                }
                // Refused while the primary is away (never a 500); a save whose answer was lost may have
                // moved the version on: the editor's conflict answer (409) tells, and it reloads.
                else if (draft.StatusCode == HttpStatusCode.Conflict) version = await CurrentVersionAsync(client, noteId, version, stop);
                else if (draft.StatusCode != HttpStatusCode.ServiceUnavailable) unexpected.Enqueue($"autosave: {(int)draft.StatusCode}");
                if (register.StatusCode == HttpStatusCode.ServiceUnavailable) await Task.Delay(100, stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private static async Task<int> CurrentVersionAsync(HttpClient client, Guid noteId, int known, CancellationToken stop)
    {
        using var response = await client.GetAsync($"/api/notes/{noteId}", stop);
        return response.IsSuccessStatusCode ? (await response.Content.ReadFromJsonAsync<JsonObject>(stop))!["version"]!.GetValue<int>() : known;
    }

    private static async Task UntilAsync(Func<bool> condition)
    {
        while (!condition()) await Task.Delay(100, Cancel);
    }

    /// <summary>bench/ha/loopback.sh in a folder and on ports of this test's own; stopped (every process it started) at the end.</summary>
    private sealed class LoopbackCluster : IAsyncDisposable
    {
        private readonly string _script;
        private readonly string _folder;

        private LoopbackCluster(string script, string folder) => (_script, _folder) = (script, folder);

        public string Primary { get; private set; } = "";
        public string Replicas { get; private set; } = "";

        public static async Task<LoopbackCluster> StartAsync()
        {
            var root = AppContext.BaseDirectory;
            while (!File.Exists(Path.Combine(root, "Stadig.slnx"))) root = Path.GetDirectoryName(root)!;
            foreach (var tool in new[] { "patroni", "etcd", "haproxy" })
                if (!(Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, tool))))
                    throw new InvalidOperationException($"{tool} is not installed. Run ./test.sh, which installs patroni, etcd-server and haproxy.");
            var cluster = new LoopbackCluster(Path.Combine(root, "bench", "ha", "loopback.sh"), Path.Combine(Path.GetTempPath(), "stadig-ha-" + Guid.NewGuid().ToString("N")[..12]));
            try
            {
                await cluster.RunAsync("start", "--base-port", FreeBase().ToString(System.Globalization.CultureInfo.InvariantCulture), "--fast");
            }
            catch
            {
                // Whatever did start is stopped (each process by the id it was started with).
                await cluster.DisposeAsync();
                throw;
            }
            foreach (var line in File.ReadLines(Path.Combine(cluster._folder, "env")))
            {
                if (line.StartsWith("PRIMARY=", StringComparison.Ordinal)) cluster.Primary = line["PRIMARY=".Length..].Trim('"') + ";Timeout=5";
                if (line.StartsWith("REPLICAS=", StringComparison.Ordinal)) cluster.Replicas = line["REPLICAS=".Length..].Trim('"') + ";Timeout=5";
            }
            return cluster;
        }

        /// <summary>A base port whose layout's ports (base … base+33) are all free now.</summary>
        private static int FreeBase()
        {
            var used = IPGlobalProperties.GetIPGlobalProperties().GetActiveTcpListeners().Select(e => e.Port).ToHashSet();
            for (var tries = 0; ; tries++)
            {
                var candidate = Random.Shared.Next(20000, 40000);
                if (Enumerable.Range(candidate, 34).All(p => !used.Contains(p)) || tries > 100) return candidate;
            }
        }

        public async Task<string> RunAsync(params string[] arguments)
        {
            var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add(_script);
            foreach (var a in arguments) start.ArgumentList.Add(a);
            start.ArgumentList.Add("--dir");
            start.ArgumentList.Add(_folder);
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync(Cancel);
            var stderr = process.StandardError.ReadToEndAsync(Cancel);
            await process.WaitForExitAsync(Cancel);
            if (process.ExitCode != 0)
                throw new InvalidOperationException($"loopback.sh {string.Join(' ', arguments)} failed ({process.ExitCode}): {await stderr}{await stdout}{Logs()}");
            return (await stdout).Trim();
        }

        private string Logs()
        {
            // The layout's own logs say why it did not come up (they hold no patient data: the test's are synthetic).
            try
            {
                return string.Concat(Directory.EnumerateFiles(_folder, "*.log", SearchOption.AllDirectories)
                    .Select(f => $"\n--- {Path.GetFileName(Path.GetDirectoryName(f))}/{Path.GetFileName(f)}\n" + string.Join('\n', File.ReadLines(f).TakeLast(15))));
            }
            catch (IOException) { return ""; }
            catch (UnauthorizedAccessException) { return ""; }
        }

        public async ValueTask DisposeAsync()
        {
            try { await RunAsync("stop"); }
            catch (InvalidOperationException) { }
        }
    }
}
