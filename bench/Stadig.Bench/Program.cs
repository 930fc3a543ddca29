using System.Diagnostics;
using System.Globalization;
using Dapper;
using Stadig.Access;
using Stadig.Patients;
using Stadig.Patients.Identifiers;
using Stadig.Seeding;
using Stadig.Storage;

// Stadig benchmarks. Verbs:
//   seed   --connection "<conn>" --patients N [--seed S]   migrate, then build a synthetic region
//   search --connection "<conn>" [--iterations N]          patient search latency percentiles
//   migrate --connection "<conn>"                          apply new migrations to a seeded database
//   audit  --connection "<conn>" [--seconds N] [--threads T]  audit append throughput and latency
//   notes  --connection "<conn>" [--iterations N]          note autosave and sign latency percentiles
//   ingest --connection "<conn>" [--messages N] [--connections C] [--observations O] [--large L]
//                                                          ORU^R01 over MLLP on loopback: results/s, ACK latency; with
//                                                          --large, one more connection sends one message of L OBX
//                                                          and the ACKs of the others during it are reported apart
//   chart  --connection "<conn>" [--iterations N]          chart overview latency with auditing on
//   timeline --connection "<conn>" [--entries N] [--iterations N] [--analyze false]
//                                                          journal timeline pages for one patient with N entries, audited
//   ceiling --connection "<conn>" [--concurrency C] [--seconds S] [--scale K]
//                                                          chart overviews/s against pgbench -S on the same server
//   fhir   --connection "<conn>" [--creates N] [--iterations N] [--concurrency C] [--patients P] [--profiled true]
//          (--profiled: the created Observations claim the R4 Observation profile, so every create also runs the Firely profile validator)
//                                                          FHIR create/read/search latency and throughput, audited
//   fhir-transaction --connection "<conn>" [--bundle FILE] [--repeat N] [--target-mb M]   (M: grow the bundle to M MB, deterministically)
//                                                          a transaction bundle (default: the largest Synthea bundle) N times: entries/s
//   fhir-import --connection "<conn>" [--lines N]          $import of N generated NDJSON lines (records before patients): lines/s
//   fhir-http --connection "<conn>" --url U --server-pid P --signing-key K [--requests N] [--warm-up W] [--concurrency C] [--only read,search,create] [--warm-up-seconds S]
//                                                          issue 23 over HTTP against a running server (bench/fhir-cost.sh):
//                                                          FHIR read, search by identifier, create; one keep-alive connection,
//                                                          then C; p50/p95/p99 and requests per server CPU-second
//   medication --connection "<conn>" [--beds N] [--iterations N] [--patients P]
//                                                          issue 18: medication list, prescribe, administer and the ward's
//                                                          medication round for an N-bed ward (default 30), audited
//   snapshot-ward --connection "<conn>" [--beds N]         a ward with N admitted patients for bench/snapshot.sh (issue 19)
// Times are measured in-process around the use case (server time, no HTTP), but for fhir-http.

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

if (args.Length == 0 || args[0] is not ("seed" or "search" or "migrate" or "audit" or "chart" or "notes" or "ingest" or "ceiling" or "fhir" or "timeline" or "fhir-transaction" or "fhir-import" or "fhir-http" or "medication" or "snapshot-ward"))
{
    Console.Error.WriteLine("usage: Stadig.Bench seed --connection <conn> --patients N [--seed S] [--batch B]");
    Console.Error.WriteLine("       Stadig.Bench search --connection <conn> [--iterations N] [--seed S]");
    Console.Error.WriteLine("       Stadig.Bench migrate --connection <conn>");
    Console.Error.WriteLine("       Stadig.Bench audit --connection <conn> [--seconds N] [--threads T]");
    Console.Error.WriteLine("       Stadig.Bench chart --connection <conn> [--iterations N]");
    Console.Error.WriteLine("       Stadig.Bench notes --connection <conn> [--iterations N]");
    Console.Error.WriteLine("       Stadig.Bench ceiling --connection <conn> [--concurrency C] [--seconds S] [--scale K]");
    Console.Error.WriteLine("       Stadig.Bench ingest --connection <conn> [--messages N] [--connections C] [--observations O] [--large L]");
    Console.Error.WriteLine("       Stadig.Bench fhir --connection <conn> [--creates N] [--iterations N] [--concurrency C] [--patients P] [--profiled true]");
    Console.Error.WriteLine("       Stadig.Bench timeline --connection <conn> [--entries N] [--iterations N]");
    Console.Error.WriteLine("       Stadig.Bench fhir-transaction --connection <conn> [--bundle FILE] [--repeat N] [--target-mb M]");
    Console.Error.WriteLine("       Stadig.Bench fhir-import --connection <conn> [--lines N]");
    Console.Error.WriteLine("       Stadig.Bench medication --connection <conn> [--beds N] [--iterations N] [--patients P]");
    Console.Error.WriteLine("       Stadig.Bench snapshot-ward --connection <conn> [--beds N]");
    Console.Error.WriteLine("       Stadig.Bench fhir-http --connection <conn> --url U --server-pid P --signing-key K [--requests N] [--warm-up W] [--concurrency C] [--only read,search,create] [--warm-up-seconds S]");
    return 2;
}

var options = new Dictionary<string, string>(StringComparer.Ordinal);
for (var i = 1; i + 1 < args.Length; i += 2) options[args[i].TrimStart('-')] = args[i + 1];
string Option(string name, string? fallback = null) =>
    options.TryGetValue(name, out var v) ? v : fallback ?? throw new ArgumentException($"--{name} is required");

var database = Database.FromConnectionString(Option("connection"));
return args[0] switch
{
    "seed" => await SeedAsync(), "migrate" => await MigrateAsync(), "audit" => await AuditAsync(), "chart" => await ChartAsync(), "notes" => await NotesAsync(), "ingest" => await IngestAsync(), "fhir" => await FhirAsync(), "timeline" => await TimelineAsync(),
    "fhir-transaction" => await Stadig.Bench.FhirBulkBench.TransactionAsync(database, BenchCallerAsync, Option("bundle", LargestSyntheaBundle()),
        int.Parse(Option("repeat", "5"), CultureInfo.InvariantCulture), double.Parse(Option("target-mb", "0"), CultureInfo.InvariantCulture)),
    "medication" => await Stadig.Bench.MedicationBench.RunAsync(database, int.Parse(Option("beds", "30"), CultureInfo.InvariantCulture),
        int.Parse(Option("iterations", "500"), CultureInfo.InvariantCulture), int.Parse(Option("patients", "200"), CultureInfo.InvariantCulture)),
    "snapshot-ward" => await Stadig.Bench.SnapshotWardBench.RunAsync(database, int.Parse(Option("beds", "30"), CultureInfo.InvariantCulture)),
    "fhir-import" => await Stadig.Bench.FhirBulkBench.ImportAsync(database, BenchCallerAsync, int.Parse(Option("lines", "100000"), CultureInfo.InvariantCulture)),
    "fhir-http" => await Stadig.Bench.FhirHttpBench.RunAsync(database, new Uri(Option("url")), int.Parse(Option("server-pid"), CultureInfo.InvariantCulture),
        Option("signing-key"), int.Parse(Option("requests", "2000"), CultureInfo.InvariantCulture), int.Parse(Option("warm-up", "300"), CultureInfo.InvariantCulture),
        int.Parse(Option("concurrency", "16"), CultureInfo.InvariantCulture), Option("only", "read,search,create").Split(',', StringSplitOptions.RemoveEmptyEntries),
        double.Parse(Option("warm-up-seconds", "0"), CultureInfo.InvariantCulture)),
    "ceiling" => await Stadig.Bench.CeilingBench.RunAsync(database, Option("connection"), BenchCallerAsync,
        int.Parse(Option("concurrency", "4"), CultureInfo.InvariantCulture), double.Parse(Option("seconds", "30"), CultureInfo.InvariantCulture),
        int.Parse(Option("scale", "50"), CultureInfo.InvariantCulture)), _ => await SearchAsync(),
};

// The largest Synthea transaction bundle among the samples (../shared, or the test copy), from the repository root.
static string LargestSyntheaBundle() =>
    new[] { "../shared/samples/fhir/synthea", "tests/Stadig.Tests/Fhir/Synthea" }.Where(Directory.Exists)
        .SelectMany(d => Directory.GetFiles(d, "*.json")).Where(f => !Path.GetFileName(f).StartsWith("hospital", StringComparison.Ordinal) && !Path.GetFileName(f).StartsWith("practitioner", StringComparison.Ordinal))
        .OrderByDescending(f => new FileInfo(f).Length).FirstOrDefault() ?? throw new ArgumentException("--bundle is required (no Synthea samples found)");

// A physician on a seeded ward, found or created once: the caller the benchmarks act as.
async Task<Caller> BenchCallerAsync(Stadig.CoreServices services)
{
    const string hsaId = "SE2321000016-BENCH1";
    var unit = (await services.Staff.UnitsAsync()).FirstOrDefault(u => u.Kind == Stadig.Organisation.UnitKind.Ward)
        ?? throw new InvalidOperationException("no ward: run the seed verb first");
    var member = await services.Staff.FindByHsaIdAsync(hsaId)
        ?? await services.Staff.AddStaffAsync(hsaId, "bench1", "Bänk Mätare", "Läkare", null, isDemo: false);
    if (!(await services.Staff.AssignmentsOfAsync(member.Id)).Any(a => a.UnitId == unit.Id && a.Role == Stadig.Organisation.Role.Physician))
        await services.Staff.AddAssignmentAsync(member.Id, unit.Id, Stadig.Organisation.Role.Physician, Stadig.Organisation.Purpose.CareAndTreatment);
    return new Caller(member.Id, member.HsaId, member.DisplayName, Stadig.Organisation.Role.Physician, unit.Id, unit.HsaId,
        Stadig.Organisation.Purpose.CareAndTreatment);
}

async Task<List<Guid>> SamplePatientsAsync(int count)
{
    await using var connection = await database.OpenUnscopedAsync();
    return (await connection.QueryAsync<Guid>($"SELECT id FROM patient ORDER BY random() LIMIT {count}")).ToList();
}

async Task<int> AuditAsync()
{
    var seconds = double.Parse(Option("seconds", "20"), CultureInfo.InvariantCulture);
    var threads = int.Parse(Option("threads", "8"), CultureInfo.InvariantCulture);
    var services = Stadig.CoreServices.Create(database, TimeProvider.System);
    var caller = await BenchCallerAsync(services);
    var patients = await SamplePatientsAsync(100_000);
    if (patients.Count == 0) { Console.Error.WriteLine("no patients: run the seed verb first"); return 1; }

    Console.WriteLine($"audit append, {threads} concurrent writers, {seconds:F0} s per scenario");
    Console.WriteLine($"{"scenario",-32} {"n",6} {"p50 ms",8} {"p95 ms",8} {"p99 ms",8} {"max ms",8} {"events/s",9}");
    // Warm-up: JIT and the connection pool.
    await RunAsync(TimeSpan.FromSeconds(2), i => patients[i % patients.Count]);
    var (randomTimes, randomRate) = await RunAsync(TimeSpan.FromSeconds(seconds), i => patients[Random.Shared.Next(patients.Count)]);
    Print("random patients (many chains)", randomTimes, randomRate);
    var one = patients[0];
    var (oneTimes, oneRate) = await RunAsync(TimeSpan.FromSeconds(seconds), _ => one);
    Print("one patient (one chain)", oneTimes, oneRate);
    return 0;

    async Task<(List<double> Times, double Rate)> RunAsync(TimeSpan duration, Func<int, Guid> patientFor)
    {
        var all = new List<double>();
        var total = Stopwatch.StartNew();
        var deadline = total.Elapsed + duration;
        var workers = Enumerable.Range(0, threads).Select(t => Task.Run(async () =>
        {
            var times = new List<double>();
            for (var i = t; total.Elapsed < deadline; i += threads)
            {
                var entry = new Stadig.Audit.AuditEntry(caller, patientFor(i), Stadig.Audit.AuditActivity.Read, "Bench");
                var watch = Stopwatch.StartNew();
                await services.Audit.AppendAsync(entry);
                times.Add(watch.Elapsed.TotalMilliseconds);
            }
            return times;
        })).ToList();
        foreach (var times in await Task.WhenAll(workers)) all.AddRange(times);
        return (all, all.Count / total.Elapsed.TotalSeconds);
    }
}

// Autosave and sign as a physician writing notes: each iteration saves a draft (a new version with
// the text so far) and every tenth signs, all through the checkpoint with auditing.
async Task<int> NotesAsync()
{
    var iterations = int.Parse(Option("iterations", "1000"), CultureInfo.InvariantCulture);
    var services = Stadig.CoreServices.Create(database, TimeProvider.System);
    var caller = await BenchCallerAsync(services);
    var patients = await SamplePatientsAsync(iterations / 10 + 20);
    if (patients.Count == 0) { Console.Error.WriteLine("no patients: run the seed verb first"); return 1; }
    foreach (var id in patients) await services.Access.RecordCareRelationAsync(caller, id, "Prestandamätning");
    var notes = new List<Stadig.Notes.Note>();
    foreach (var id in patients) notes.Add(await services.Notes.CreateDraftAsync(caller, id, "Daganteckning"));
    Console.WriteLine($"{notes.Count} drafts ready (not timed)");

    var saves = new List<double>();
    var signs = new List<double>();
    var text = "Patienten mår bättre. Inga bröstsmärtor, ingen feber. ";
    for (var i = 0; i < iterations + 50; i++)
    {
        var index = i % notes.Count;
        var note = notes[index];
        var watch = Stopwatch.StartNew();
        note = await services.Notes.SaveDraftAsync(caller, note.Id, note.Version, [new("Aktuellt", string.Concat(Enumerable.Repeat(text, 1 + i % 8)))]);
        watch.Stop();
        if (i >= 50) saves.Add(watch.Elapsed.TotalMilliseconds);
        if (i >= 50 && i % 10 == 0)
        {
            watch.Restart();
            await services.Notes.SignAsync(caller, note.Id, note.Version);
            watch.Stop();
            signs.Add(watch.Elapsed.TotalMilliseconds);
            note = await services.Notes.CreateDraftAsync(caller, note.PatientId, "Daganteckning");
        }
        notes[index] = note;
    }
    Console.WriteLine($"{"action",-32} {"n",6} {"p50 ms",8} {"p95 ms",8} {"p99 ms",8} {"max ms",8}");
    Print("note autosave (save draft)", saves, null);
    Print("sign note", signs, null);
    return 0;
}

// Lab results over real TCP: an in-process MLLP listener on loopback, C lab connections each sending
// ORU^R01 messages (O observations each) for random seeded patients, one at a time per connection
// (as labs do: wait for the ACK, then send the next).
async Task<int> IngestAsync()
{
    var messages = int.Parse(Option("messages", "10000"), CultureInfo.InvariantCulture);
    var connections = int.Parse(Option("connections", "4"), CultureInfo.InvariantCulture);
    var observations = int.Parse(Option("observations", "5"), CultureInfo.InvariantCulture);
    var large = int.Parse(Option("large", "0"), CultureInfo.InvariantCulture);
    var services = Stadig.CoreServices.Create(database, TimeProvider.System);
    var labUnit = await Stadig.LabResults.LabIntegration.UnitAsync(services.Staff, null);
    var lab = await Stadig.LabResults.LabIntegration.CallerAsync(services.Staff, labUnit);
    // The longest filing transaction and the longest gap between two staged batches of the large message: the
    // spans in which SQLite's one write lock can keep the other connections waiting.
    var filingStarted = new AsyncLocal<long>();
    long longestFiling = 0, lastBatch = 0, longestBatch = 0;
    void Longest(ref long longest, long span) { long seen; while (span > (seen = Interlocked.Read(ref longest)) && Interlocked.CompareExchange(ref longest, span, seen) != seen) { } }
    var ingest = new Stadig.LabResults.IngestOruMessage(database, services.Audit,
        new Stadig.LabResults.PatientMatcher(new PatientIdentifierRules(TimeProvider.System)), lab, TimeProvider.System, new Stadig.LabResults.IngestOptions
        {
            FilingStarted = _ => filingStarted.Value = Stopwatch.GetTimestamp(),
            FilingFinishing = _ => Longest(ref longestFiling, Stopwatch.GetTimestamp() - filingStarted.Value),
            BatchStaged = (_, batch, _) =>
            {
                var now = Stopwatch.GetTimestamp();
                if (batch > 1) Longest(ref longestBatch, now - Interlocked.Read(ref lastBatch));
                Interlocked.Exchange(ref lastBatch, now);
                return Task.CompletedTask;
            },
        });
    await using var listener = new Stadig.Hl7.Mllp.MllpListener(ingest, new Stadig.Hl7.Mllp.MllpOptions { Port = 0, Address = System.Net.IPAddress.Loopback });
    listener.Start();

    List<(string Identifier, string Family, string Given, DateOnly? Born)> people;
    await using (var connection = await database.OpenUnscopedAsync())
        people = (await connection.QueryAsync<(string, string, string, DateOnly?)>(
            "SELECT identifier, family_name, given_names, birth_date FROM patient WHERE identifier_kind = 'Personnummer' AND merged_into_id IS NULL ORDER BY random() LIMIT 20000")).ToList();
    if (people.Count == 0) { Console.Error.WriteLine("no patients: run the seed verb first"); return 1; }
    var run = Guid.NewGuid().ToString("N")[..8];
    string Message(int n, int observations)
    {
        var p = people[n % people.Count];
        var obx = string.Concat(Enumerable.Range(1, observations).Select(o => $"OBX|{o}|NM|A{o}^Analys {o}^L||{4 + o % 3}.{n % 10}|mmol/L|3.5-5.0|N|||F\r"));
        return $"MSH|^~\\&|LABSYS|BENCHLAB|STADIG|REGION|20261123075500+0100||ORU^R01|{run}-{n}|P|2.5\r" +
               $"PID|1||{p.Identifier}^^^^PN||{p.Family}^{p.Given.Split(' ')[0]}||{p.Born:yyyyMMdd}\r" +
               $"OBR|1|P{n}|{run}F{n}|PAKET^Provpaket^L\r" + obx;
    }

    var latencies = new System.Collections.Concurrent.ConcurrentBag<double>();
    var duringLarge = new System.Collections.Concurrent.ConcurrentBag<double>();
    var accepted = 0;
    var next = -1;
    var total = Stopwatch.StartNew();
    // The large message's span on the run's clock (ticks; 0 = not sent or not answered yet).
    long largeFrom = 0, largeTo = 0;
    var largeAck = "";
    var unanswered = 0;
    var senders = Enumerable.Range(0, connections).Select(async _ =>
    {
        var client = await Stadig.Hl7.Mllp.MllpClient.ConnectAsync("127.0.0.1", listener.Port);
        int n;
        while ((n = Interlocked.Increment(ref next)) < messages)
        {
            var sent = total.ElapsedTicks;
            string ack;
            try
            {
                ack = await client.SendAsync(Message(n, observations));
            }
            catch (IOException)
            {
                // No ACK (the listener closes the connection when ingest fails): a lab would resend on a new connection.
                Interlocked.Increment(ref unanswered);
                await client.DisposeAsync();
                client = await Stadig.Hl7.Mllp.MllpClient.ConnectAsync("127.0.0.1", listener.Port);
                continue;
            }
            var answered = total.ElapsedTicks;
            var ms = (answered - sent) * 1000.0 / Stopwatch.Frequency;
            latencies.Add(ms);
            // A message sent or answered while the large one was being taken in.
            var (from, to) = (Interlocked.Read(ref largeFrom), Interlocked.Read(ref largeTo));
            if (from > 0 && answered >= from && (to == 0 || sent <= to)) duringLarge.Add(ms);
            if (ack.Contains("MSA|AA", StringComparison.Ordinal)) Interlocked.Increment(ref accepted);
        }
        await client.DisposeAsync();
    }).ToList();
    if (large > 0)
    {
        senders.Add(Task.Run(async () =>
        {
            // After a tenth of the normal messages, so the others are in full flow when it arrives.
            while (Volatile.Read(ref next) < messages / 10) await Task.Delay(10);
            await using var client = await Stadig.Hl7.Mllp.MllpClient.ConnectAsync("127.0.0.1", listener.Port);
            var text = Message(messages + 1, large);
            Interlocked.Exchange(ref largeFrom, total.ElapsedTicks);
            largeAck = await client.SendAsync(text, new CancellationTokenSource(TimeSpan.FromMinutes(10)).Token);
            Interlocked.Exchange(ref largeTo, total.ElapsedTicks);
        }));
    }
    await Task.WhenAll(senders);
    total.Stop();
    var seconds = total.Elapsed.TotalSeconds;
    Console.WriteLine($"{messages} ORU^R01 messages x {observations} OBX over {connections} MLLP connections in {seconds:F1} s");
    Console.WriteLine($"accepted (AA): {accepted}; no ACK: {unanswered}; messages/s {messages / seconds:F0}; results (OBX)/s {messages * observations / seconds:F0}");
    Console.WriteLine($"{"ACK latency",-32} {"n",6} {"p50 ms",8} {"p95 ms",8} {"p99 ms",8} {"max ms",8}");
    Print("ack", latencies.ToList(), null);
    if (large > 0)
    {
        var span = (largeTo - largeFrom) * 1000.0 / Stopwatch.Frequency;
        Console.WriteLine($"one message of {large} OBX on its own connection: ACK {(largeAck.Contains("MSA|AA", StringComparison.Ordinal) ? "AA" : "not AA")} after {span:F0} ms");
        Print("ack while it was taken in", duringLarge.ToList(), null);
        Console.WriteLine($"longest staging batch of it: {longestBatch * 1000.0 / Stopwatch.Frequency:F0} ms");
    }
    Console.WriteLine($"longest filing transaction: {longestFiling * 1000.0 / Stopwatch.Frequency:F0} ms");
    return 0;
}

async Task<int> ChartAsync()
{
    var iterations = int.Parse(Option("iterations", "1000"), CultureInfo.InvariantCulture);
    var services = Stadig.CoreServices.Create(database, TimeProvider.System);
    var caller = await BenchCallerAsync(services);
    const int warmup = 100;
    var patients = await SamplePatientsAsync(iterations + warmup);
    if (patients.Count == 0) { Console.Error.WriteLine("no patients: run the seed verb first"); return 1; }
    // Outside the timed part: the bench physician gets a care relation with every sampled patient.
    var setup = Stopwatch.StartNew();
    foreach (var id in patients) await services.Access.RecordCareRelationAsync(caller, id, "Prestandamätning");
    Console.WriteLine($"care relations recorded for {patients.Count} patients ({setup.Elapsed.TotalSeconds:F1} s, not timed)");

    foreach (var id in patients.Take(warmup)) await services.Chart.OverviewAsync(caller, id);
    var times = new List<double>(iterations);
    long items = 0;
    foreach (var id in patients.Skip(warmup))
    {
        var watch = Stopwatch.StartNew();
        var overview = await services.Chart.OverviewAsync(caller, id);
        watch.Stop();
        times.Add(watch.Elapsed.TotalMilliseconds);
        items += overview.Notes.Count + overview.Results.Count + overview.Warnings.Count;
    }
    Console.WriteLine($"{"action",-32} {"n",6} {"p50 ms",8} {"p95 ms",8} {"p99 ms",8} {"max ms",8} {"avg items",9}");
    Print("chart overview (audited read)", times, (double)items / times.Count);
    return 0;
}

// The journal timeline of one seeded patient given N more entries (FHIR Observations and
// Encounters as another system writes them, and signed notes): the first page, a page deep in the
// record (after a cursor), and one kind between two dates. Every page passes the checkpoint and is
// audited, as in production.
async Task<int> TimelineAsync()
{
    var entries = int.Parse(Option("entries", "1000"), CultureInfo.InvariantCulture);
    var iterations = int.Parse(Option("iterations", "500"), CultureInfo.InvariantCulture);
    var services = Stadig.CoreServices.Create(database, TimeProvider.System);
    var caller = await BenchCallerAsync(services);
    var patientId = (await SamplePatientsAsync(1)).Single();
    await services.Access.RecordCareRelationAsync(caller, patientId, "Prestandamätning");
    var setup = Stopwatch.StartNew();
    var start = DateTimeOffset.UtcNow.AddDays(-entries);
    for (var i = 0; i < entries; i += 100)
    {
        await database.InUnscopedTransactionAsync(async (c, tx) =>
        {
            for (var j = i; j < Math.Min(entries, i + 100); j++)
            {
                var at = start.AddDays(j).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
                var id = $"bench-{patientId:N}-{j}";
                var json = j % 10 == 0
                    ? $$$"""{"resourceType":"Encounter","status":"finished","class":{"code":"AMB"},"type":[{"text":"Besök"}],"subject":{"reference":"Patient/{{{patientId}}}"},"period":{"start":"{{{at}}}"}}"""
                    : $$$"""{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}],"text":"Body Weight"},"subject":{"reference":"Patient/{{{patientId}}}"},"effectiveDateTime":"{{{at}}}","valueQuantity":{"value":{{{70 + j % 7}}},"unit":"kg"}}""";
                await Stadig.Fhir.Store.FhirResourceStore.PutAsync(c, tx, Stadig.Fhir.FhirJson.Parse(json), id, patientId, caller.UnitId, DateTimeOffset.UtcNow);
            }
            return 0;
        });
    }
    for (var n = 0; n < 20; n++)
    {
        var note = await services.Notes.CreateDraftAsync(caller, patientId, "Daganteckning");
        note = await services.Notes.SaveDraftAsync(caller, note.Id, note.Version, [new("Aktuellt", "Mätning.")]);
        await services.Notes.SignAsync(caller, note.Id, note.Version);
    }
    Console.WriteLine($"{entries} FHIR entries and 20 signed notes added ({setup.Elapsed.TotalSeconds:F1} s, not timed)");
    // The first-page p99 of 981 ms (docs/benchmarks.md) came with autoanalyze running on fhir_search and
    // fhir_resource right after the entries went in: measure with statistics that describe the rows
    // (--analyze false measures the minutes before autoanalyze instead, to compare the two).
    if (Option("analyze", "true") == "true" && database.Engine == DatabaseEngine.Postgres)
    {
        await using var c = await database.OpenUnscopedAsync();
        await Dapper.SqlMapper.ExecuteAsync(c, "ANALYZE fhir_resource; ANALYZE fhir_search; ANALYZE note; ANALYZE warning; ANALYZE encounter; ANALYZE problem;");
        Console.WriteLine("ANALYZE run on the timeline's tables");
    }

    var deep = await services.Record.TimelineAsync(caller, patientId, new Stadig.Chart.TimelineQuery(PageSize: Stadig.Chart.TimelineQuery.MaxPageSize));
    for (var k = 0; k < 3 && deep.Next is not null; k++)
        deep = await services.Record.TimelineAsync(caller, patientId, new Stadig.Chart.TimelineQuery(After: deep.Next, PageSize: Stadig.Chart.TimelineQuery.MaxPageSize));
    var cursor = deep.Next ?? throw new InvalidOperationException("fewer entries than expected");
    var queries = new (string Name, Stadig.Chart.TimelineQuery Query)[]
    {
        ("timeline first page (50)", new()),
        ("timeline page after 800", new(After: cursor)),
        ("timeline encounters, one year", new([Stadig.Chart.RecordKind.Encounter], start.AddDays(entries / 2), start.AddDays(entries / 2 + 365))),
    };
    Console.WriteLine($"{"action",-32} {"n",6} {"p50 ms",8} {"p95 ms",8} {"p99 ms",8} {"max ms",8} {"avg items",9}");
    foreach (var (name, query) in queries)
    {
        for (var w = 0; w < 20; w++) await services.Record.TimelineAsync(caller, patientId, query);
        var times = new List<double>(iterations);
        long items = 0;
        for (var n = 0; n < iterations; n++)
        {
            var watch = Stopwatch.StartNew();
            var page = await services.Record.TimelineAsync(caller, patientId, query);
            watch.Stop();
            times.Add(watch.Elapsed.TotalMilliseconds);
            items += page.Entries.Count;
        }
        Print(name, times, (double)items / times.Count);
    }
    return 0;
}

// The FHIR API in-process (FhirService, no HTTP): create, read and search-by-patient of lab
// Observations for seeded patients, and Patient read and search on the 1,000,000-row registry.
// Every call passes the checkpoint and writes its audit event, as in production. Each scenario
// runs once with one caller at a time (latency) and once with C concurrent callers (throughput).
async Task<int> FhirAsync()
{
    var creates = int.Parse(Option("creates", "20000"), CultureInfo.InvariantCulture);
    var iterations = int.Parse(Option("iterations", "1000"), CultureInfo.InvariantCulture);
    var concurrency = int.Parse(Option("concurrency", "8"), CultureInfo.InvariantCulture);
    var patientCount = int.Parse(Option("patients", "2000"), CultureInfo.InvariantCulture);
    var random = new Random(int.Parse(Option("seed", "7"), CultureInfo.InvariantCulture));
    // A create that claims a profile Stadig has is also checked by the profile validator (FhirProfileValidator).
    var profiled = Option("profiled", "false") == "true";
    const int warmup = 50;
    const string baseUrl = "https://stadig.bench.invalid/fhir";
    var services = Stadig.CoreServices.Create(database, TimeProvider.System);
    var fhir = new Stadig.Fhir.FhirService(database, services.Checkpoint, services.Patients, services.Audit, TimeProvider.System);
    var caller = new Stadig.Fhir.FhirCaller(await BenchCallerAsync(services), Stadig.Fhir.FhirScopes.Parse("user/*.read user/*.write", null));

    // The bench physician's patients: a random sample of live personnummer patients, each given a
    // care relation with the physician's ward (not timed) — the way a ward's patients are reached.
    List<(Guid Id, string Identifier, string Family)> patients;
    await using (var connection = await database.OpenUnscopedAsync())
        patients = (await connection.QueryAsync<(Guid, string, string)>(
            $"SELECT id, identifier, family_name FROM patient WHERE identifier_kind = 'Personnummer' AND merged_into_id IS NULL ORDER BY random() LIMIT {patientCount}")).ToList();
    if (patients.Count == 0) { Console.Error.WriteLine("no patients: run the seed verb first"); return 1; }
    var setup = Stopwatch.StartNew();
    foreach (var p in patients) await services.Access.RecordCareRelationAsync(caller.Caller, p.Id, "Prestandamätning");
    Console.WriteLine($"care relations recorded for {patients.Count} patients ({setup.Elapsed.TotalSeconds:F1} s, not timed)");

    // Common lab analyses: LOINC (searched by) and NPU codings, UCUM unit, reference range, typical mean and spread.
    var analyses = new (string Loinc, string Npu, string Text, string Unit, double Low, double High, double Mean, double Spread)[]
    {
        ("2823-3", "NPU03230", "P-Kalium", "mmol/L", 3.5, 4.6, 4.1, 0.4),
        ("2951-2", "NPU03429", "P-Natrium", "mmol/L", 137, 145, 140, 3),
        ("2160-0", "NPU04998", "P-Kreatinin", "umol/L", 60, 105, 85, 20),
        ("1988-5", "NPU19748", "P-CRP", "mg/L", 0, 5, 4, 6),
        ("718-7", "NPU28309", "B-Hemoglobin", "g/L", 117, 170, 138, 14),
    };
    var now = DateTimeOffset.UtcNow;
    System.Text.Json.Nodes.JsonObject Observation(Guid patient, int n)
    {
        var a = analyses[n % analyses.Length];
        var value = Math.Round(Math.Max(0, a.Mean + a.Spread * (Random.Shared.NextDouble() * 2 - 1)), 1);
        var effective = now.AddMinutes(-Random.Shared.Next(2 * 365 * 24 * 60));
        var observation = new System.Text.Json.Nodes.JsonObject
        {
            ["resourceType"] = "Observation",
            ["status"] = "final",
            ["category"] = new System.Text.Json.Nodes.JsonArray(new System.Text.Json.Nodes.JsonObject
            {
                ["coding"] = new System.Text.Json.Nodes.JsonArray(new System.Text.Json.Nodes.JsonObject { ["system"] = "http://terminology.hl7.org/CodeSystem/observation-category", ["code"] = "laboratory" }),
            }),
            ["code"] = new System.Text.Json.Nodes.JsonObject
            {
                ["coding"] = new System.Text.Json.Nodes.JsonArray(
                    new System.Text.Json.Nodes.JsonObject { ["system"] = "http://loinc.org", ["code"] = a.Loinc },
                    new System.Text.Json.Nodes.JsonObject { ["system"] = "urn:oid:1.2.208.176.2.1", ["code"] = a.Npu, ["display"] = a.Text }),
                ["text"] = a.Text,
            },
            ["subject"] = new System.Text.Json.Nodes.JsonObject { ["reference"] = $"Patient/{patient}" },
            ["effectiveDateTime"] = effective.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            ["issued"] = effective.AddHours(2).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            ["valueQuantity"] = new System.Text.Json.Nodes.JsonObject { ["value"] = value, ["unit"] = a.Unit, ["system"] = "http://unitsofmeasure.org", ["code"] = a.Unit },
            ["referenceRange"] = new System.Text.Json.Nodes.JsonArray(new System.Text.Json.Nodes.JsonObject
            {
                ["low"] = new System.Text.Json.Nodes.JsonObject { ["value"] = a.Low, ["unit"] = a.Unit, ["system"] = "http://unitsofmeasure.org", ["code"] = a.Unit },
                ["high"] = new System.Text.Json.Nodes.JsonObject { ["value"] = a.High, ["unit"] = a.Unit, ["system"] = "http://unitsofmeasure.org", ["code"] = a.Unit },
            }),
        };
        if (profiled)
            observation["meta"] = new System.Text.Json.Nodes.JsonObject { ["profile"] = new System.Text.Json.Nodes.JsonArray("http://hl7.org/fhir/StructureDefinition/Observation") };
        return observation;
    }

    var created = new System.Collections.Concurrent.ConcurrentBag<string>();
    var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
    var errorCount = 0;
    (Guid Id, string Identifier, string Family) Pick() { lock (random) return patients[random.Next(patients.Count)]; }
    List<string>? createdList = null;
    string PickCreated() { lock (random) return createdList![random.Next(createdList.Count)]; }
    async Task<int> Create(int n)
    {
        var outcome = await fhir.CreateAsync(caller, Observation(Pick().Id, n));
        created.Add(outcome.Id);
        return 1;
    }
    static int Entries(System.Text.Json.Nodes.JsonObject bundle) =>
        (bundle["entry"] as System.Text.Json.Nodes.JsonArray ?? []).Count(e => e?["search"]?["mode"]?.GetValue<string>() == "match");
    async Task<int> Search(string type, params (string Key, string Value)[] query) =>
        Entries(await fhir.SearchAsync(caller, type, query.Select(q => KeyValuePair.Create(q.Key, q.Value)).ToList(), strict: true, baseUrl));
    var sinceYear = now.AddYears(-1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
    var scenarios = new (string Name, Func<int, Task<int>> Run)[]
    {
        ("read Observation/{id}", async _ => { await fhir.ReadAsync(caller, "Observation", PickCreated()); return 1; }),
        ("read Patient/{id} (registry)", async _ => { await fhir.ReadAsync(caller, "Patient", Pick().Id.ToString()); return 1; }),
        ("search Observation?patient=", _ => Search("Observation", ("patient", $"Patient/{Pick().Id}"))),
        ("search Observation?patient=&code=", n => Search("Observation", ("patient", $"Patient/{Pick().Id}"), ("code", $"http://loinc.org|{analyses[n % analyses.Length].Loinc}"))),
        ("search Observation?patient=&date=ge", _ => Search("Observation", ("patient", $"Patient/{Pick().Id}"), ("date", $"ge{sinceYear}"))),
        ("search Patient?identifier=", _ => Search("Patient", ("identifier", $"{PatientIdentifier.PersonnummerSystem}|{Pick().Identifier}"))),
        ("search Patient?family=", _ => Search("Patient", ("family", Pick().Family))),
    };

    Console.WriteLine($"FHIR API in-process, {patients.Count} patients with a care relation, auditing on; c = concurrent callers");
    Console.WriteLine($"{"scenario",-38} {"c",3} {"n",6} {"p50 ms",8} {"p95 ms",8} {"p99 ms",8} {"max ms",8} {"ops/s",8} {"avg hits",9}");
    // Create: warm-up, then latency (one at a time), then throughput (C at a time); these are the Observations searched below.
    if (profiled)
    {
        var compile = Stopwatch.StartNew();
        Stadig.Fhir.Profiles.FhirProfileValidator.WarmUp();
        Console.WriteLine($"profile validator warmed ({compile.Elapsed.TotalSeconds:F1} s, not timed)");
    }
    var profileValidationsBefore = Stadig.Fhir.Profiles.FhirProfileValidator.Validations;
    await RunAsync(warmup, 1, Create);
    Report("create Observation", 1, await RunAsync(iterations, 1, Create), hits: false);
    Report("create Observation", concurrency, await RunAsync(creates, concurrency, Create), hits: false);
    createdList = [.. created];
    foreach (var (name, run) in scenarios)
    {
        await RunAsync(warmup, 1, run);
        Report(name, 1, await RunAsync(iterations, 1, run), hits: name.StartsWith("search", StringComparison.Ordinal));
        Report(name, concurrency, await RunAsync(iterations, concurrency, run), hits: name.StartsWith("search", StringComparison.Ordinal));
    }
    Console.WriteLine($"Observations created: {created.Count:N0} (over {patients.Count} patients, ~{(double)created.Count / patients.Count:F1} each); "
        + $"profile validations: {Stadig.Fhir.Profiles.FhirProfileValidator.Validations - profileValidationsBefore:N0}");
    if (errorCount > 0)
    {
        Console.Error.WriteLine($"FAILED: {errorCount} requests failed; first ones:");
        foreach (var error in errors.Take(20)) Console.Error.WriteLine("  " + error);
        return 1;
    }
    return 0;

    async Task<(List<double> Times, double Rate, long Hits)> RunAsync(int count, int callers, Func<int, Task<int>> operation)
    {
        var all = new System.Collections.Concurrent.ConcurrentBag<double>();
        long hits = 0;
        var next = -1;
        var total = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, callers).Select(_ => Task.Run(async () =>
        {
            int n;
            while ((n = Interlocked.Increment(ref next)) < count)
            {
                var watch = Stopwatch.StartNew();
                try
                {
                    Interlocked.Add(ref hits, await operation(n));
                    all.Add(watch.Elapsed.TotalMilliseconds);
                }
                catch (Exception e)
                {
                    Interlocked.Increment(ref errorCount);
                    if (errors.Count < 100) errors.Enqueue($"{e.GetType().Name}: {e.Message}");
                }
            }
        })));
        total.Stop();
        return ([.. all], all.Count / total.Elapsed.TotalSeconds, hits);
    }

    void Report(string name, int callers, (List<double> Times, double Rate, long Hits) result, bool hits)
    {
        var times = result.Times;
        if (times.Count == 0) { Console.WriteLine($"{name,-38} {callers,3} all failed"); return; }
        times.Sort();
        double P(double q) => times[Math.Min(times.Count - 1, (int)Math.Ceiling(q * times.Count) - 1)];
        Console.WriteLine($"{name,-38} {callers,3} {times.Count,6} {P(0.50),8:F2} {P(0.95),8:F2} {P(0.99),8:F2} {times[^1],8:F2} {result.Rate,8:F0} " +
                          $"{(hits ? ((double)result.Hits / times.Count).ToString("F1", CultureInfo.InvariantCulture) : ""),9}");
    }
}

async Task<int> MigrateAsync()
{
    var watch = Stopwatch.StartNew();
    var applied = await new Migrator(database).MigrateAsync();
    Console.WriteLine($"migrations applied: {(applied.Count == 0 ? "none" : string.Join(", ", applied.Select(m => m.Name)))} ({watch.Elapsed.TotalSeconds:F1} s)");
    // As after seeding: fresh statistics and visibility map, so that new indexes can be index-only.
    await using var connection = await database.OpenUnscopedAsync();
    await connection.ExecuteAsync(database.Engine == DatabaseEngine.Postgres ? "VACUUM (ANALYZE) patient" : "ANALYZE", commandTimeout: 3600);
    Console.WriteLine($"total with VACUUM ANALYZE: {watch.Elapsed.TotalSeconds:F1} s");
    return 0;
}

async Task<int> SeedAsync()
{
    var patients = int.Parse(Option("patients"), CultureInfo.InvariantCulture);
    var seed = int.Parse(Option("seed", "1"), CultureInfo.InvariantCulture);
    var batch = int.Parse(Option("batch", "50000"), CultureInfo.InvariantCulture);
    var total = Stopwatch.StartNew();
    var applied = await new Migrator(database).MigrateAsync();
    Console.WriteLine($"migrations applied: {applied.Count} ({total.Elapsed.TotalSeconds:F1} s)");
    var report = await new RegionSeeder(database, TimeProvider.System).SeedAsync(
        new SeedOptions { Patients = patients, Seed = seed, BatchSize = batch, Progress = new ConsoleProgress() }, CancellationToken.None);
    Console.WriteLine($"units {report.Units}, staff {report.Staff}, patients {report.Patients:N0}, encounters {report.Encounters:N0}, " +
                      $"notes {report.Notes:N0}, note keywords {report.NoteKeywords:N0}, lab results {report.Results:N0}, warnings {report.Warnings:N0}");
    Console.WriteLine($"seeding elapsed: {report.Elapsed.TotalSeconds:F1} s; total with migrations: {total.Elapsed.TotalSeconds:F1} s");
    return 0;
}

async Task<int> SearchAsync()
{
    var iterations = int.Parse(Option("iterations", "500"), CultureInfo.InvariantCulture);
    var random = new Random(int.Parse(Option("seed", "7"), CultureInfo.InvariantCulture));
    var clock = TimeProvider.System;
    var registry = Stadig.CoreServices.Create(database, clock).Patients;

    // Real patients to look for: a random sample of the seeded region (personnummer only, so
    // every number kind applies), plus some whose family names carry å, ä or ö.
    List<(string Identifier, string Family, string Given)> sample;
    List<(string Identifier, string Family, string Given)> doubles, plain;
    await using (var connection = await database.OpenUnscopedAsync())
    {
        var random1 = (await connection.QueryAsync<(string, string, string)>(
            "SELECT identifier, family_name, given_names FROM patient WHERE identifier_kind = 'Personnummer' ORDER BY random() LIMIT 2000")).ToList();
        var diacritic = (await connection.QueryAsync<(string, string, string)>(
            "SELECT identifier, family_name, given_names FROM patient WHERE identifier_kind = 'Personnummer' AND family_search <> lower(family_name) ORDER BY random() LIMIT 500")).ToList();
        plain = [.. random1];
        sample = random1;
        sample.AddRange(diacritic);
        doubles = (await connection.QueryAsync<(string, string, string)>(
            "SELECT identifier, family_name, given_names FROM patient WHERE family_last_search <> family_search ORDER BY random() LIMIT 500")).ToList();
    }
    if (sample.Count == 0) { Console.Error.WriteLine("no patients: run the seed verb first"); return 1; }
    var diacritics = sample.Skip(sample.Count - Math.Min(sample.Count, 500)).ToList();
    string FirstGiven(string given) => given.Split(' ')[0];
    // The five most common family names and first given names of the sample ("Andersson", "Anna"):
    // the most matches, so the queries that must stop early.
    var commonFamily = Common(plain.Select(p => p.Family));
    var commonGiven = Common(plain.Select(p => FirstGiven(p.Given)));
    if (doubles.Count == 0) doubles = sample;
    var twoGiven = sample.Where(p => p.Given.Contains(' ', StringComparison.Ordinal)).ToList();
    if (twoGiven.Count == 0) twoGiven = sample;
    // '+' for those who have turned 100, as people write it.
    string Separator(string id) =>
        DateOnly.ParseExact(id[..8], "yyyyMMdd", CultureInfo.InvariantCulture).AddYears(100) <= DateOnly.FromDateTime(DateTime.UtcNow) ? "+" : "-";

    var kinds = new (string Name, Func<string> Query)[]
    {
        ("full personnummer (12 digits)", () => Pick(sample).Identifier),
        ("10 digits with dash", () => { var id = Pick(sample).Identifier; return $"{id[2..8]}{Separator(id)}{id[8..]}"; }),
        ("partial number (8 digits)", () => Pick(sample).Identifier[2..10]),
        ("family name", () => Pick(sample).Family),
        ("family + given name", () => { var p = Pick(sample); return $"{p.Family} {FirstGiven(p.Given)}"; }),
        ("folded name without diacritics", () => { var p = Pick(diacritics); return $"{NameSearch.Fold(p.Family)} {NameSearch.Fold(FirstGiven(p.Given))}"; }),
        ("common family name alone", () => Pick(commonFamily)),
        ("common given name alone", () => Pick(commonGiven)),
        ("common given + common family", () => $"{Pick(commonGiven)} {Pick(commonFamily)}"),
        ("last part of double family name", () => Pick(doubles).Family.Split('-', ' ')[^1]),
        ("first + last given name", () => { var p = Pick(twoGiven); return $"{FirstGiven(p.Given)} {p.Given.Split(' ')[^1]}"; }),
    };

    // Warm-up: JIT, connection pool, plan caches, the hot parts of the indexes.
    foreach (var (_, query) in kinds)
        for (var i = 0; i < 50; i++) await registry.SearchAsync(Caller.System, query());

    var all = new List<double>();
    Console.WriteLine($"{"query kind",-32} {"n",6} {"p50 ms",8} {"p95 ms",8} {"p99 ms",8} {"max ms",8} {"avg hits",9}");
    foreach (var (name, query) in kinds)
    {
        var times = new List<double>(iterations);
        long hits = 0;
        for (var i = 0; i < iterations; i++)
        {
            var text = query();
            var watch = Stopwatch.StartNew();
            var result = await registry.SearchAsync(Caller.System, text);
            watch.Stop();
            times.Add(watch.Elapsed.TotalMilliseconds);
            hits += result.Patients.Count;
        }
        all.AddRange(times);
        Print(name, times, (double)hits / iterations);
    }
    Print("overall", all, null);
    return 0;

    T Pick<T>(List<T> items) => items[random.Next(items.Count)];

    static List<string> Common(IEnumerable<string> names) =>
        names.GroupBy(n => n, StringComparer.Ordinal).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).Take(5).Select(g => g.Key).ToList();
}

static void Print(string name, List<double> times, double? hits)
{
    times.Sort();
    double P(double q) => times[Math.Min(times.Count - 1, (int)Math.Ceiling(q * times.Count) - 1)];
    Console.WriteLine($"{name,-32} {times.Count,6} {P(0.50),8:F2} {P(0.95),8:F2} {P(0.99),8:F2} {times[^1],8:F2} {(hits is { } h ? h.ToString("F1", CultureInfo.InvariantCulture) : ""),9}");
}

/// <summary>Prints progress at once on the reporting thread (Progress&lt;T&gt; would post it later).</summary>
internal sealed class ConsoleProgress : IProgress<string>
{
    public void Report(string value) => Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss} {value}");
}
