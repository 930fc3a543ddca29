using System.Globalization;
using System.Text.Json;

namespace Stadig.Rehearsal;

public sealed record ActionSummary(
    string Action, int Count, int Ok, int Errors, int Shed, double PerSecond,
    double? P50, double? P95, double? P99, double? Max, double? ShedP99, double? BudgetP99,
    IReadOnlyDictionary<string, int> ErrorStatuses,
    double? ServerP50 = null, double? ServerP99 = null, double? ServerMax = null, double? QueueP99 = null);

public sealed record TimelinePoint(double AtSeconds, int Count, double P50, double P95, double P99);

public sealed record ServerSummary(int? Pid, double? CpuAvgPercent, double? CpuMaxPercent, double? RssMaxMiB, double? RssEndMiB, double? MachineCpuAvgPercent);

public sealed record RunInfo(
    string BaseUrl, string? Engine, int? Patients, int Clinicians, double LabMessagesPerSecond, double FhirRequestsPerSecond,
    int ProcessorCount, string Machine, string? Command, double ThinkScale = 1, string? Commit = null);

public sealed record RehearsalReport(
    string Name, DateTimeOffset StartedAt, double DurationSeconds, RunInfo Run,
    IReadOnlyList<ActionSummary> Actions, int TotalErrors, int TotalShed,
    IReadOnlyDictionary<string, IReadOnlyList<TimelinePoint>> Timeline,
    ServerSummary Server, IReadOnlyList<ResourceSample> ServerSamples, RehearsalConfig Config, OverloadReport? Overload = null)
{
    /// <summary>DESIGN.md's p99 budgets (server time) for the actions that have one.</summary>
    public static readonly IReadOnlyDictionary<string, double> Budgets = new Dictionary<string, double>
    {
        [ClinicianSession.Actions.Search] = 20,
        [ClinicianSession.Actions.Chart] = 100,
        [ClinicianSession.Actions.Autosave] = 30,
        [ClinicianSession.Actions.Sign] = 50,
        [ClinicianSession.Actions.Attest] = 50,
        // Issue #18: the medication list and the ward's round (30 beds) 100 ms, prescribe and administer 50 ms.
        [ClinicianSession.Actions.MedicationList] = 100,
        [ClinicianSession.Actions.MedicationRound] = 100,
        [ClinicianSession.Actions.Prescribe] = 50,
        [ClinicianSession.Actions.Administer] = 50,
        [FhirIntegration.Read] = 10,
        [FhirIntegration.PatientSearch] = 20,
        [FhirIntegration.ObservationSearch] = 30,
    };

    /// <summary>Action kinds in the order the report lists them.</summary>
    public static readonly string[] Order = [.. ClinicianSession.Actions.All, LabFeed.Action, .. FhirIntegration.Actions];

    /// <summary>The overload run's own actions, listed after the others.</summary>
    public static readonly string[] OverloadActions = [HealthProbe.Action, BulkExport.KickOff, BulkExport.Poll];

    public static RehearsalReport Build(string name, DateTimeOffset startedAt, double duration, RunInfo run, IEnumerable<Sample> all,
        IReadOnlyList<ResourceSample> server, int? serverPid, RehearsalConfig config, OverloadRun? overload = null,
        IReadOnlyCollection<UnavailableResponse>? unavailable = null, IReadOnlyCollection<double>? cutOff = null)
    {
        var samples = all.ToList();
        var byAction = samples.GroupBy(s => s.Action).ToDictionary(g => g.Key, g => g.ToList());
        string[] order = [.. Order, .. OverloadActions];
        var actions = byAction.Keys.OrderBy(a => Array.IndexOf(order, a) is var i && i < 0 ? int.MaxValue : i).ThenBy(a => a, StringComparer.Ordinal)
            .Select(a => Summarise(a, byAction[a], duration)).ToList();
        var bucket = Math.Max(1, config.BucketSeconds);
        var timeline = byAction.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<TimelinePoint>)kv.Value.Where(s => s.Outcome == Outcome.Ok)
            .GroupBy(s => Math.Floor(s.AtSeconds / bucket))
            .OrderBy(g => g.Key)
            .Select(g =>
            {
                var ms = g.Select(s => s.Milliseconds).Order().ToArray();
                return new TimelinePoint(Math.Round((g.Key + 0.5) * bucket, 1), ms.Length, Round(Percentile(ms, 50)), Round(Percentile(ms, 95)), Round(Percentile(ms, 99)));
            }).ToList());
        var serverSummary = server.Count == 0
            ? new ServerSummary(serverPid, null, null, null, null, null)
            : new ServerSummary(serverPid, Round(server.Average(s => s.ServerCpuPercent)), Round(server.Max(s => s.ServerCpuPercent)),
                Round(server.Max(s => s.ServerRssMiB)), Round(server[^1].ServerRssMiB), Round(server.Average(s => s.MachineCpuPercent)));
        return new RehearsalReport(name, startedAt, Round(duration), run, actions, actions.Sum(a => a.Errors), actions.Sum(a => a.Shed), timeline,
            serverSummary, server, config, overload is null ? null : OverloadReport.Build(overload, config, samples, unavailable ?? [], cutOff ?? []));
    }

    private static ActionSummary Summarise(string action, List<Sample> samples, double duration)
    {
        var ok = samples.Where(s => s.Outcome == Outcome.Ok).Select(s => s.Milliseconds).Order().ToArray();
        var shed = samples.Where(s => s.Outcome == Outcome.Shed).Select(s => s.Milliseconds).Order().ToArray();
        var errors = samples.Where(s => s.Outcome == Outcome.Error).GroupBy(s => s.Status ?? "unknown").ToDictionary(g => g.Key, g => g.Count());
        var server = samples.Where(s => s.Outcome == Outcome.Ok && s.ServerMilliseconds is not null).Select(s => s.ServerMilliseconds!.Value).Order().ToArray();
        var queue = samples.Where(s => s.Outcome == Outcome.Ok && s.QueueMilliseconds is not null).Select(s => s.QueueMilliseconds!.Value).Order().ToArray();
        return new ActionSummary(action, samples.Count, ok.Length, errors.Values.Sum(), shed.Length, Round(samples.Count / Math.Max(duration, 0.001)),
            ok.Length == 0 ? null : Round(Percentile(ok, 50)), ok.Length == 0 ? null : Round(Percentile(ok, 95)),
            ok.Length == 0 ? null : Round(Percentile(ok, 99)), ok.Length == 0 ? null : Round(ok[^1]),
            shed.Length == 0 ? null : Round(Percentile(shed, 99)),
            Budgets.TryGetValue(action, out var budget) ? budget : null, errors,
            server.Length == 0 ? null : Round(Percentile(server, 50)), server.Length == 0 ? null : Round(Percentile(server, 99)), server.Length == 0 ? null : Round(server[^1]),
            queue.Length == 0 ? null : Round(Percentile(queue, 99)));
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    public static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];

    private static double Round(double value) => Math.Round(value, 2);

    public void Write(string directory)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "report.json"), JsonSerializer.Serialize(this, RehearsalConfig.Json));
        File.WriteAllText(Path.Combine(directory, "report.html"), ReportHtml.Render(this));
    }

    /// <summary>The summary as a fixed-width table for the console.</summary>
    public string ConsoleTable()
    {
        var lines = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture, $"{"action",-24} {"n",7} {"/s",7} {"p50 ms",8} {"p95 ms",8} {"p99 ms",8} {"max ms",8} {"srv p50",8} {"srv p99",8} {"wait p99",8} {"budget",7} {"errors",7} {"shed",6}"),
        };
        foreach (var a in Actions)
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"{a.Action,-24} {a.Count,7} {a.PerSecond,7:0.00} {F(a.P50),8} {F(a.P95),8} {F(a.P99),8} {F(a.Max),8} {F(a.ServerP50),8} {F(a.ServerP99),8} {F(a.QueueP99),8} {F(a.BudgetP99),7} {a.Errors,7} {a.Shed,6}"));
        foreach (var a in Actions.Where(a => a.Errors > 0))
            lines.Add($"  {a.Action} errors: " + string.Join(", ", a.ErrorStatuses.Select(kv => $"{kv.Key} × {kv.Value}")));
        if (Overload is { } o)
        {
            lines.Add($"overload ×{OverloadReport.F(o.Factor)} (think times ×{OverloadReport.F(o.ThinkScale)}): " + (o.Pass ? "PASS" : "FAIL"));
            foreach (var c in o.Verdict)
                lines.Add($"  [{(c.Informational ? "info" : c.Pass is null ? "n/a " : c.Pass.Value ? "pass" : "FAIL")}] {c.Name}: {c.Measured}");
        }
        lines.Add(string.Create(CultureInfo.InvariantCulture,
            $"server: CPU avg {F(Server.CpuAvgPercent)} % max {F(Server.CpuMaxPercent)} % (of one core), RSS max {F(Server.RssMaxMiB)} MiB; machine CPU avg {F(Server.MachineCpuAvgPercent)} %"));
        return string.Join('\n', lines);
    }

    private static string F(double? v) => v is { } x ? x.ToString(x >= 100 ? "0" : "0.0", CultureInfo.InvariantCulture) : "–";
}
