using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dapper;
using Stadig.Patients.Identifiers;
using Stadig.Storage;

namespace Stadig.Bench;

/// <summary>
/// Issue 23's workload as an integrator sees it, over HTTP against a running server: FHIR Patient
/// read, Patient search by identifier and Patient create, each first on one keep-alive connection
/// with one request at a time, then on 16 connections at once. Prints p50/p95/p99 (client-side,
/// request sent to body read) and requests per CPU-second of the server process (utime + stime from
/// /proc/&lt;pid&gt;/stat over the measured requests). The caller is a physician on the unit with the
/// most recent encounters, with a bearer token signed with the server's Stadig:Jwt:SigningKey.
/// </summary>
public static class FhirHttpBench
{
    private const string PersonnummerSystem = "http://electronichealth.se/identifier/personnummer";

    public static async Task<int> RunAsync(Database database, Uri url, int serverPid, string signingKey, int requests, int warmUp, int concurrency,
        IReadOnlyCollection<string>? only = null, double warmUpSeconds = 0)
    {
        if (database.Engine == DatabaseEngine.Postgres)
        {
            // The tables a create writes, vacuumed and analysed first: a run's creates (or an earlier
            // server's, measured just before) otherwise set off autovacuum in the middle of the next reads.
            var vacuum = Stopwatch.StartNew();
            await using var connection = await database.OpenUnscopedAsync();
            await connection.ExecuteAsync("VACUUM (ANALYZE) patient, care_relation, fhir_resource, fhir_resource_version, fhir_search, audit_event, audit_chain_head",
                commandTimeout: 0);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"vacuumed the tables a create writes in {vacuum.Elapsed.TotalSeconds:0.0} s"));
        }
        var (hsaId, unitHsaId, patients) = await CallerAndPatientsAsync(database);
        if (patients.Count == 0) throw new InvalidOperationException("No unit has recent encounters with a physician of its own: seed the database first.");
        var token = Token(signingKey, hsaId, unitHsaId);
        Console.WriteLine($"server pid {serverPid}, {patients.Count} patients in the caller's unit, {requests} measured requests per row ({warmUp} before, untimed{(warmUpSeconds > 0 ? $", for reads and searches at least {warmUpSeconds:0} s" : "")})");
        // rt/stmt: the server's database round trips and statements per request (Server-Timing, median);
        // alloc KB: what the server process allocated per request (Server-Timing's alloc, when the server
        // counts it: Stadig:Admission:CountAllocations), exact on one connection only; srv ms / acc ms: the
        // server's own time (Server-Timing total) and its checkpoint's batch within it (access), median.
        Console.WriteLine($"{"request",-24} {"conns",5} {"n",6} {"p50 ms",8} {"p95 ms",8} {"p99 ms",8} {"req/s",8} {"req/CPU-s",10} {"errors",6} {"rt",3} {"stmt",4} {"alloc KB",8} {"srv ms",6} {"acc ms",6}");
        var numbers = await FreshNumbers.LoadAsync(database);
        foreach (var connections in new[] { 1, concurrency })
        {
            using var http = new HttpClient(new SocketsHttpHandler
            {
                MaxConnectionsPerServer = connections, PooledConnectionLifetime = Timeout.InfiniteTimeSpan, AllowAutoRedirect = false,
            }) { BaseAddress = url };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            var kinds = new (string Name, Func<int, HttpRequestMessage> Make)[]
            {
                ("read Patient", i => new HttpRequestMessage(HttpMethod.Get, $"/fhir/Patient/{patients[i % patients.Count].Id}")),
                ("search Patient by id", i => new HttpRequestMessage(HttpMethod.Get,
                    "/fhir/Patient?identifier=" + Uri.EscapeDataString($"{PersonnummerSystem}|{patients[i % patients.Count].Identifier}"))),
                ("create Patient", _ => new HttpRequestMessage(HttpMethod.Post, "/fhir/Patient") { Content = NewPatient(numbers) }),
            };
            foreach (var (name, make) in kinds)
            {
                if (only is not null && !only.Contains(name.Split(' ')[0])) continue;
                // A server reaches its steady state (methods re-compiled with their profile, the heap's size)
                // only after some seconds of a kind of request: reads and searches warm for at least
                // warmUpSeconds, creates by count only (each adds a patient to the database).
                await RunRowAsync(http, make, warmUp, connections, null,
                    warmFor: name.StartsWith("create", StringComparison.Ordinal) ? TimeSpan.Zero : TimeSpan.FromSeconds(warmUpSeconds));
                var cpuBefore = CpuSeconds(serverPid);
                var watch = Stopwatch.StartNew();
                var costs = new List<(int RoundTrips, int Statements, long Allocated, double ServerMs, double DatabaseMs)>();
                var (times, errors) = await RunRowAsync(http, make, requests, connections, new List<double>(), costs);
                var elapsed = watch.Elapsed.TotalSeconds;
                var cpu = CpuSeconds(serverPid) - cpuBefore;
                times.Sort();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{name,-24} {connections,5} {times.Count,6} {Percentile(times, 0.50),8:0.00} {Percentile(times, 0.95),8:0.00} {Percentile(times, 0.99),8:0.00} {times.Count / elapsed,8:0} {(cpu > 0 ? times.Count / cpu : double.NaN),10:0} {errors,6} {Median(costs, c => c.RoundTrips),3:0} {Median(costs, c => c.Statements),4:0} {(connections == 1 ? Median(costs, c => c.Allocated) / 1024.0 : double.NaN),8:0.0} {Median(costs, c => c.ServerMs),6:0.00} {Median(costs, c => c.DatabaseMs),6:0.00}"));
            }
        }
        return 0;
    }

    private static async Task<(List<double> Times, int Errors)> RunRowAsync(HttpClient http, Func<int, HttpRequestMessage> make, int count, int workers,
        List<double>? times, List<(int, int, long, double, double)>? costs = null, TimeSpan warmFor = default)
    {
        var rowWatch = Stopwatch.StartNew();
        var next = -1;
        var errors = 0;
        var all = times ?? [];
        var gate = new Lock();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count || rowWatch.Elapsed < warmFor)
            {
                using var request = make(i);
                var started = Stopwatch.GetTimestamp();
                using var response = await http.SendAsync(request);
                var body = await response.Content.ReadAsByteArrayAsync();
                var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                if (response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Created)
                {
                    var cost = CostOf(response);
                    lock (gate)
                    {
                        all.Add(ms);
                        costs?.Add(cost);
                    }
                }
                else if (Interlocked.Increment(ref errors) == 1)
                {
                    // The first refusal, so a row of errors says why (the body is an OperationOutcome, never patient data of a real region).
                    var text = System.Text.Encoding.UTF8.GetString(body);
                    Console.Error.WriteLine($"first error: {(int)response.StatusCode} {text[..Math.Min(text.Length, 400)]}");
                }
            }
        })));
        return (all, errors);
    }

    /// <summary>
    /// The server's counts and times from Server-Timing: db-round-trips, db-statements, alloc, total (the
    /// server's time from arrival to the answer's headers) and access (the checkpoint's batch: the database
    /// round trip that decides, reads and audits, with its thread hops); -1 where absent.
    /// </summary>
    private static (int, int, long, double, double) CostOf(HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("Server-Timing", out var values)) return (-1, -1, -1, -1, -1);
        int roundTrips = -1, statements = -1;
        long allocated = -1;
        double serverMs = -1, accessMs = -1;
        foreach (var metric in values.SelectMany(v => v.Split(',')))
        {
            var parts = metric.Trim().Split(';');
            var equals = parts.Length == 2 ? parts[1].IndexOf('=') : -1;
            if (equals < 0 || !double.TryParse(parts[1][(equals + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var number)) continue;
            var key = parts[1][..equals];
            switch (parts[0], key)
            {
                case ("db-round-trips", "desc"): roundTrips = (int)number; break;
                case ("db-statements", "desc"): statements = (int)number; break;
                case ("alloc", "desc"): allocated = (long)number; break;
                case ("total", "dur"): serverMs = number; break;
                case ("access", "dur"): accessMs = number; break;
            }
        }
        return (roundTrips, statements, allocated, serverMs, accessMs);
    }

    private static double Median<T>(List<T> items, Func<T, double> of)
    {
        var values = items.Select(of).Where(v => v >= 0).Order().ToList();
        return values.Count == 0 ? double.NaN : values[values.Count / 2];
    }

    private static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

    /// <summary>The server process's user and system CPU time so far, from /proc (clock ticks of 1/100 s on Linux).</summary>
    private static double CpuSeconds(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // Fields after the command name (which may hold spaces) start after the last ')'; utime and stime are fields 14 and 15.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }

    private static async Task<(string HsaId, string UnitHsaId, List<(Guid Id, string Identifier)> Patients)> CallerAndPatientsAsync(Database database)
    {
        await using var connection = await database.OpenUnscopedAsync();
        // Patients with a care relation by encounter (Access:CareRelationDays, 90 by default), with a margin.
        var since = DateTimeOffset.UtcNow.AddDays(-80);
        var (unitId, unitHsaId, staffHsaId) = await connection.QuerySingleAsync<(Guid, string, string)>(
            """
            SELECT u.id, u.hsa_id, s.hsa_id FROM assignment a JOIN care_unit u ON u.id = a.unit_id JOIN staff s ON s.id = a.staff_id
            WHERE a.role = 'Physician'
              AND (SELECT COUNT(*) FROM assignment b WHERE b.staff_id = a.staff_id AND b.unit_id = a.unit_id) = 1
            ORDER BY (SELECT COUNT(*) FROM encounter e WHERE e.unit_id = a.unit_id AND (e.ended_at IS NULL OR e.ended_at >= @since)) DESC, s.hsa_id
            LIMIT 1
            """, new { since });
        var patients = (await connection.QueryAsync<(Guid, string)>(
            """
            SELECT p.id, p.identifier FROM encounter e JOIN patient p ON p.id = e.patient_id
            WHERE e.unit_id = @unitId AND (e.ended_at IS NULL OR e.ended_at >= @since) AND p.identifier_kind = 'Personnummer' AND p.protected_identity = 'None'
            GROUP BY p.id, p.identifier ORDER BY p.id LIMIT 2000
            """, new { unitId, since })).ToList();
        return (staffHsaId, unitHsaId, patients);
    }

    /// <summary>
    /// Personnummer (serial 980–999, a random day) that no patient has and no earlier create of this
    /// run used: every run on the same database creates patients, and a taken number answers 409,
    /// which was 3–15 % of the create rows as the databases filled.
    /// </summary>
    private sealed class FreshNumbers
    {
        private readonly HashSet<string> _taken;
        private readonly Lock _gate = new();

        private FreshNumbers(HashSet<string> taken) => _taken = taken;

        public static async Task<FreshNumbers> LoadAsync(Database database)
        {
            await using var connection = await database.OpenUnscopedAsync();
            var taken = await connection.QueryAsync<string>(
                "SELECT identifier FROM patient WHERE identifier_kind = 'Personnummer' AND length(identifier) = 12 AND substr(identifier, 9, 3) >= '980'");
            return new FreshNumbers(taken.ToHashSet(StringComparer.Ordinal));
        }

        public string Next()
        {
            while (true)
            {
                var born = new DateOnly(1930, 1, 1).AddDays(Random.Shared.Next(0, 365 * 90));
                var nine = $"{born.Year % 100:D2}{born.Month:D2}{born.Day:D2}{Random.Shared.Next(980, 1000):D3}";
                var number = $"{born.Year / 100:D2}{nine}{Luhn.CheckDigit(nine)}";
                lock (_gate)
                    if (_taken.Add(number)) return number;
            }
        }
    }

    /// <summary>A new patient with a personnummer no patient has (<see cref="FreshNumbers"/>).</summary>
    private static StringContent NewPatient(FreshNumbers numbers)
    {
        var number = numbers.Next();
        var body = $$"""
            {"resourceType":"Patient","identifier":[{"system":"{{PersonnummerSystem}}","value":"{{number}}"}],
             "name":[{"use":"official","family":"Bench","given":["Fhir"]}]}
            """;
        return new StringContent(body, Encoding.UTF8, "application/fhir+json");
    }

    private static string Token(string signingKey, string hsaId, string unitHsaId)
    {
        static string B64(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var claims = new Dictionary<string, object>
        {
            ["hsa_id"] = hsaId, ["unit_hsa_id"] = unitHsaId, ["role"] = "Physician", ["scope"] = "user/*.*",
            ["iat"] = now, ["nbf"] = now, ["exp"] = now + 6 * 3600,
        };
        var unsigned = B64(Encoding.UTF8.GetBytes("{\"alg\":\"HS256\",\"typ\":\"JWT\"}")) + "." + B64(JsonSerializer.SerializeToUtf8Bytes(claims));
        return unsigned + "." + B64(HMACSHA256.HashData(Encoding.UTF8.GetBytes(signingKey), Encoding.ASCII.GetBytes(unsigned)));
    }
}
