using System.Globalization;
using Stadig.Rehearsal;

// The go-live rehearsal's load generator: drives a RUNNING Stadig over HTTP and MLLP. Usually started
// by bench/rehearsal.sh, which seeds, starts the server, runs this and stops the server.
//
//   Stadig.Rehearsal --url http://127.0.0.1:5080 --mllp-port 2576 --database "<conn>" --jwt-key <key>
//       [--jwt-issuer I] [--jwt-audience A] [--config regional-day.json] [--clinicians N] [--seconds S]
//       [--lab-rate R] [--fhir-rate R] [--server-pid PID] [--out DIR] [--engine E] [--patients N] [--command "..."] [--commit SHA]
//       [--think-scale X] [--bucket-seconds S]
//       [--overload F --baseline-seconds S --overload-seconds S --recovery-seconds S]   (the overload run)
//       [--ledger FILE] [--stop-file FILE]   (bench/failover.sh: record every acknowledged write; stop when FILE exists)
//   Stadig.Rehearsal --render DIR     (report.html drawn again from DIR/report.json)
//   Stadig.Rehearsal --verify-ledger FILE --database "<conn>" --out DIR [--events FILE] [--audit-verify EXIT]
//       (bench/failover.sh: every acknowledged write present on the database now; failover.txt/json)

var options = new Dictionary<string, string>(StringComparer.Ordinal);
for (var i = 0; i < args.Length; i++)
{
    if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length) return Usage($"unexpected argument '{args[i]}'");
    options[args[i][2..]] = args[++i];
}
string? Opt(string name) => options.GetValueOrDefault(name);
string Need(string name) => Opt(name) ?? throw new ArgumentException($"--{name} is required");
double? Num(string name) => Opt(name) is { } v ? double.Parse(v, CultureInfo.InvariantCulture) : null;

try
{
    if (Opt("render") is { } folder)
    {
        // Draws report.html again from report.json (after a change to the report's layout), without a run.
        var saved = System.Text.Json.JsonSerializer.Deserialize<RehearsalReport>(File.ReadAllText(Path.Combine(folder, "report.json")), RehearsalConfig.Json)
            ?? throw new InvalidDataException("report.json is empty");
        File.WriteAllText(Path.Combine(folder, "report.html"), ReportHtml.Render(saved));
        Console.WriteLine($"report: {Path.Combine(folder, "report.html")}");
        return 0;
    }
    if (Opt("verify-ledger") is { } ledger)
        return await FailoverVerifier.RunAsync(ledger, Need("database"), Opt("events"), Need("out"), Opt("audit-verify") is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : null, Opt("commit"));
    if (Opt("ledger") is { } ledgerFile) AcknowledgedWrites.Open(ledgerFile);
    var config = RehearsalConfig.Load(Opt("config") ?? Path.Combine(AppContext.BaseDirectory, "regional-day.json"));
    if (Num("clinicians") is { } clinicians) config.Clinicians = (int)clinicians;
    if (Num("seconds") is { } seconds) config.DurationSeconds = seconds;
    if (Num("lab-rate") is { } labRate) config.Lab.MessagesPerSecond = labRate;
    if (Num("fhir-rate") is { } fhirRate) config.Fhir.RequestsPerSecond = fhirRate;
    if (Num("think-scale") is { } thinkScale) config.ThinkScale = thinkScale > 0 ? thinkScale : throw new ArgumentException("--think-scale must be above 0");
    if (Num("bucket-seconds") is { } bucket) config.BucketSeconds = bucket;
    if (Num("overload") is { } factor) config.Overload.Factor = factor;
    if (Num("baseline-seconds") is { } baseline) config.Overload.BaselineSeconds = baseline;
    if (Num("overload-seconds") is { } overloadSeconds) config.Overload.OverloadSeconds = overloadSeconds;
    if (Num("recovery-seconds") is { } recovery) config.Overload.RecoverySeconds = recovery;
    if (config.Overload.Enabled) config.DurationSeconds = config.TotalSeconds; // the report's config then says how long the run was
    var baseAddress = new Uri(Need("url"));
    var target = new RehearsalTarget(baseAddress, Opt("mllp-host") ?? "127.0.0.1", (int)(Num("mllp-port") ?? 2575), Need("database"),
        new JwtSettings(Need("jwt-key"), Opt("jwt-issuer"), Opt("jwt-audience")), Num("server-pid") is { } pid ? (int)pid : null);
    var run = new RunInfo(baseAddress.ToString(), Opt("engine"), Num("patients") is { } n ? (int)n : null, config.Clinicians,
        config.LabMessagesPerSecond, config.FhirRequestsPerSecond, Environment.ProcessorCount, Machine(), Opt("command"), config.ThinkScale,
        // The readiness gate accepts a rehearsal only as evidence for the release it ran.
        Opt("commit"));

    using var interrupt = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) => { e.Cancel = true; interrupt.Cancel(); };
    // bench/failover.sh ends the load when its drill is over, by creating this file.
    Func<Recorder, bool>? stopWhen = Opt("stop-file") is { } stopFile ? _ => File.Exists(stopFile) : null;
    IReadOnlyCollection<Sample> samples = [];
    var report = await RehearsalEngine.RunAsync(target, config, run, stopWhen, progress: Console.Out, keepSamples: kept => samples = kept,
        cancellationToken: interrupt.Token);
    var output = Opt("out") ?? Path.Combine("bench", "results", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
    AcknowledgedWrites.Close();
    report.Write(output);
    // Every action as measured, for questions the report does not answer (when the over-budget
    // requests came, what ran beside them): one line each, times in milliseconds.
    File.WriteAllLines(Path.Combine(output, "samples.csv"), samples.OrderBy(s => s.AtSeconds).Select(s => string.Create(CultureInfo.InvariantCulture,
        $"{s.AtSeconds:0.000},{s.Action},{s.Outcome},{s.Status},{s.Milliseconds:0.0},{s.ServerMilliseconds:0.0},{s.QueueMilliseconds:0.0},{s.DatabaseMilliseconds:0.0},{s.GcMilliseconds:0.0},{s.Jitted}"))
        .Prepend("at_s,action,outcome,status,client_ms,server_ms,queue_ms,db_ms,gc_ms,jit"));
    Console.WriteLine(report.ConsoleTable());
    Console.WriteLine($"report: {Path.Combine(output, "report.html")} and report.json");
    return report.TotalErrors > 0 ? 3 : report.Overload is { Pass: false } ? 4 : 0;
}
catch (Exception e) when (e is ArgumentException or FormatException or InvalidDataException or IOException or System.Text.Json.JsonException)
{
    return Usage(e.Message);
}

static int Usage(string problem)
{
    Console.Error.WriteLine("rehearsal: " + problem);
    Console.Error.WriteLine("usage: Stadig.Rehearsal --url URL --database CONN --jwt-key KEY [--mllp-port P] [--config FILE] [--clinicians N] [--seconds S] [--lab-rate R] [--fhir-rate R] [--server-pid PID] [--out DIR] [--think-scale X] [--bucket-seconds S] [--overload F --baseline-seconds S --overload-seconds S --recovery-seconds S]");
    return 2;
}

static string Machine()
{
    var memory = File.Exists("/proc/meminfo") ? File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal)) : null;
    var kib = memory?.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
    var os = File.Exists("/etc/os-release") ? File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))?[12..].Trim('"') : null;
    return $"{(kib is null ? "?" : $"{long.Parse(kib, CultureInfo.InvariantCulture) / 1024 / 1024} GiB")} RAM; {os ?? Environment.OSVersion.ToString()}; .NET {Environment.Version}";
}
