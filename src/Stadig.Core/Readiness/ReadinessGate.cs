using System.Globalization;
using System.Text.Json;
using Stadig.Regulatory;

namespace Stadig.Readiness;

/// <summary>What the gate reads. A null path or value is evidence that was not given: NO-GO "evidence missing" (full form).</summary>
public sealed record ReadinessInputs
{
    public bool ShortForm { get; init; }
    public string? RehearsalReport { get; init; }
    public string? EvidenceFolder { get; init; }
    public string? RegulatoryFile { get; init; }
    /// <summary>`stadig verify` run in-process on the region's database; null when no database was given.</summary>
    public (bool Intact, string Summary)? AuditVerification { get; init; }
    /// <summary>Register entries and configured certificates and keys; null when no database was given.</summary>
    public IReadOnlyList<ExpiryEntry>? Expiries { get; init; }
}

public sealed record ReadinessReport(
    string Version, string Commit, DateTimeOffset GeneratedAt, DateOnly GoLive, bool ShortForm, IReadOnlyList<Criterion> Criteria)
{
    public bool Go => Criteria.All(c => c.Verdict != Verdict.NoGo);
    public string Answer => Go ? ShortForm ? "GO (short form)" : "GO" : "NO-GO";
}

/// <summary>
/// `stadig readiness`: answers GO only when every criterion's evidence is present, fresh, on this release
/// and within its threshold. Missing or unreadable evidence is NO-GO, never assumed.
/// </summary>
public sealed class ReadinessGate(ReadinessSettings settings, ReleaseInfo release, DateTimeOffset now, DateOnly today)
{
    public const string Performance = "performance";
    public const string Reliability = "reliability";
    public const string Integrity = "integrity";
    public const string Training = "training";
    public const string Licences = "licences, certificates and keys";
    public const string Regulatory = "regulatory file";
    public const string Incidents = "open incidents";

    /// <summary>The lab identity-injection test that the integrity criterion needs passed on this release.</summary>
    public const string IdentityInjectionTest =
        "Stadig.Tests.Results.IdentityInjectionTests.Ten_thousand_results_with_identity_defects_file_none_wrongly_lose_none_and_quarantine_each_defect_for_its_reason";

    private static readonly string[] Severities = ["low", "medium", "high", "critical"];

    public DateOnly GoLive => settings.GoLive ?? today;

    public ReadinessReport Evaluate(ReadinessInputs inputs)
    {
        inputs = inputs with { RegulatoryFile = ReleaseFolder(inputs.RegulatoryFile) };
        var regulatory = TryRead(() => inputs.RegulatoryFile is { } p && (File.Exists(p) || Directory.Exists(p)) ? RegulatoryFile.ReadJson(p) : null, out var regulatoryError);
        var criteria = new List<Criterion>
        {
            inputs.ShortForm ? Criterion.NotInShortForm(Performance, PerformanceThreshold) : Guard(Performance, () => PerformanceCriterion(inputs.RehearsalReport)),
            inputs.ShortForm ? Criterion.NotInShortForm(Reliability, ReliabilityThreshold) : Guard(Reliability, () => ReliabilityCriterion(inputs.EvidenceFolder)),
            Guard(Integrity, () => IntegrityCriterion(inputs, regulatory, regulatoryError)),
            inputs.ShortForm ? Criterion.NotInShortForm(Training, TrainingThreshold) : Guard(Training, () => TrainingCriterion(inputs.EvidenceFolder)),
            Guard(Licences, () => LicenceCriterion(inputs)),
            Guard(Regulatory, () => RegulatoryCriterion(inputs, regulatory, regulatoryError)),
            inputs.ShortForm ? Criterion.NotInShortForm(Incidents, IncidentThreshold) : Guard(Incidents, () => IncidentCriterion(inputs.EvidenceFolder)),
        };
        return new ReadinessReport(release.Version, release.Commit, now, GoLive, inputs.ShortForm, criteria);
    }

    /// <summary>The output folder of `stadig regulatory-file` holds one folder per release: take this release's.</summary>
    private string? ReleaseFolder(string? path) =>
        path is not null && Directory.Exists(path) && !File.Exists(Path.Combine(path, RegulatoryFile.JsonFileName))
        && Directory.Exists(Path.Combine(path, release.FolderName))
            ? Path.Combine(path, release.FolderName)
            : path;

    private static Criterion Guard(string name, Func<Criterion> evaluate)
    {
        try { return evaluate(); }
        catch (EvidenceException e) { return new Criterion(name, Verdict.NoGo, "—", "—", "—", null, "evidence unreadable: " + e.Message); }
    }

    private static T? TryRead<T>(Func<T?> read, out string? error) where T : class
    {
        try { error = null; return read(); }
        catch (EvidenceException e) { error = e.Message; return null; }
    }

    // ---- performance

    private string PerformanceThreshold =>
        $"every budget met (server p99), no errors, overload criteria passed; ≥ {settings.RegionPatients:N0} patients; ≤ {settings.RehearsalMaxAgeDays} days old; on this release";

    private Criterion PerformanceCriterion(string? path)
    {
        var file = path is null ? null : Directory.Exists(path) ? LatestReport(path) : File.Exists(path) ? path : null;
        if (file is null) return Criterion.Missing(Performance, path ?? "bench/results/<run>/report.json", PerformanceThreshold);
        JsonElement root;
        try { root = JsonDocument.Parse(File.ReadAllText(file)).RootElement; }
        catch (JsonException e) { throw new EvidenceException($"{file} is not a rehearsal report: {e.Message}"); }
        if (!root.TryGetProperty("startedAt", out var startedAtJson) || !root.TryGetProperty("actions", out var actions) || !root.TryGetProperty("run", out var run))
            throw new EvidenceException($"{file} is not a rehearsal report (startedAt, run and actions are required).");
        var startedAt = startedAtJson.GetDateTimeOffset();
        var patients = run.TryGetProperty("patients", out var p) && p.ValueKind == JsonValueKind.Number ? p.GetInt32() : 0;
        var commit = run.TryGetProperty("commit", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
        var errors = root.TryGetProperty("totalErrors", out var te) ? te.GetInt32() : 0;
        var overloadFailed = root.TryGetProperty("overload", out var o) && o.ValueKind == JsonValueKind.Object && o.TryGetProperty("pass", out var pass) && !pass.GetBoolean();
        var bars = new List<PlotBar>();
        var over = new List<string>();
        foreach (var a in actions.EnumerateArray())
        {
            if (!a.TryGetProperty("budgetP99", out var budget) || budget.ValueKind != JsonValueKind.Number) continue;
            var measured = a.TryGetProperty("serverP99", out var s) && s.ValueKind == JsonValueKind.Number ? s.GetDouble()
                : a.TryGetProperty("p99", out var p99) && p99.ValueKind == JsonValueKind.Number ? p99.GetDouble() : double.NaN;
            var name = a.GetProperty("action").GetString() ?? "?";
            if (double.IsNaN(measured)) { over.Add($"{name}: not measured"); continue; }
            bars.Add(new PlotBar(name, measured, budget.GetDouble()));
            if (measured > budget.GetDouble()) over.Add($"{name} p99 {measured:0.#} ms > {budget.GetDouble():0.#} ms");
        }
        var reasons = new List<string>();
        if (bars.Count == 0) reasons.Add("the report measures no action with a budget");
        reasons.AddRange(over);
        if (errors > 0) reasons.Add($"{errors} errors");
        if (overloadFailed) reasons.Add("an overload criterion failed");
        if (patients < settings.RegionPatients) reasons.Add($"run at {patients:N0} patients, below the region's {settings.RegionPatients:N0}");
        if ((now - startedAt).TotalDays > settings.RehearsalMaxAgeDays) reasons.Add($"stale: {(now - startedAt).TotalDays:0.#} days old");
        if (!release.Matches(commit)) reasons.Add(commit is null ? "the report does not name its commit" : $"from another release ({Short(commit)})");
        var measuredText = $"{bars.Count(b => b.Value <= b.Limit)} of {bars.Count} budgets met, {errors} errors, {patients:N0} patients, commit {Short(commit)}";
        return new Criterion(Performance, reasons.Count == 0 ? Verdict.Go : Verdict.NoGo, file, measuredText, PerformanceThreshold, startedAt,
            reasons.Count == 0 ? "every budget met" : string.Join("; ", reasons), bars);
    }

    private static string? LatestReport(string folder) =>
        Directory.GetFiles(folder, "report.json", SearchOption.AllDirectories)
            .Select(f => (File: f, At: StartedAt(f))).Where(r => r.At is not null).OrderByDescending(r => r.At).Select(r => r.File).FirstOrDefault();

    private static DateTimeOffset? StartedAt(string file)
    {
        try { return JsonDocument.Parse(File.ReadAllText(file)).RootElement.GetProperty("startedAt").GetDateTimeOffset(); }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException) { return null; }
    }

    // ---- reliability

    private string ReliabilityThreshold => $"downtime drill, failover and crash-point runs passed with 0 lost; ≤ {settings.EvidenceMaxAgeDays} days old; on this release";

    private Criterion ReliabilityCriterion(string? folder)
    {
        var files = new[] { ("downtime-drill", EvidenceFiles.DowntimeDrill), ("failover", EvidenceFiles.Failover), ("crash-points", EvidenceFiles.CrashPoints) };
        var reasons = new List<string>();
        var measured = new List<string>();
        DateTimeOffset? oldest = null;
        foreach (var (kind, name) in files)
        {
            var path = folder is null ? null : Path.Combine(folder, name);
            var report = EvidenceFiles.Read<DrillReport>(path);
            if (report is null) { reasons.Add($"{kind}: evidence missing"); continue; }
            if (report.Kind != kind) reasons.Add($"{name} says kind '{report.Kind}', expected '{kind}'");
            var failedChecks = report.Checks?.Where(c => !c.Passed).Select(c => c.Name).ToList() ?? [];
            measured.Add($"{kind}: {(report.Passed ? "passed" : "FAILED")}, {report.Lost} lost");
            if (!report.Passed) reasons.Add($"{kind} failed");
            if (report.Lost != 0) reasons.Add($"{kind} lost {report.Lost}");
            if (failedChecks.Count > 0) reasons.Add($"{kind}: checks failed: {string.Join(", ", failedChecks)}");
            if ((now - report.RanAt).TotalDays > settings.EvidenceMaxAgeDays) reasons.Add($"{kind} stale: {(now - report.RanAt).TotalDays:0.#} days old");
            if (!release.Matches(report.Commit)) reasons.Add($"{kind} from another release ({Short(report.Commit)})");
            oldest = oldest is null || report.RanAt < oldest ? report.RanAt : oldest;
        }
        var verdict = reasons.Count == 0 ? Verdict.Go : Verdict.NoGo;
        if (measured.Count == 0) return Criterion.Missing(Reliability, folder ?? "evidence folder", ReliabilityThreshold) with { Reason = "evidence missing: " + string.Join("; ", reasons) };
        return new Criterion(Reliability, verdict, folder!, string.Join("; ", measured), ReliabilityThreshold, oldest, verdict == Verdict.Go ? "all passed, nothing lost" : string.Join("; ", reasons));
    }

    // ---- integrity

    private const string IntegrityThreshold = "audit log intact (stadig verify); the lab identity-injection test passed on this release";

    private Criterion IntegrityCriterion(ReadinessInputs inputs, RegulatoryFile? regulatory, string? regulatoryError)
    {
        var reasons = new List<string>();
        var measured = new List<string>();
        if (inputs.AuditVerification is { } v)
        {
            measured.Add(v.Summary);
            if (!v.Intact) reasons.Add("the audit log is not intact");
        }
        else if (!inputs.ShortForm) reasons.Add("stadig verify: evidence missing (no database given)");
        else measured.Add("audit log not checked (no database in the short form)");

        var test = regulatory?.Hazards.SelectMany(h => h.Controls).SelectMany(c => c.Tests).FirstOrDefault(t => t.Name == IdentityInjectionTest);
        if (regulatory is null) reasons.Add("identity-injection test: evidence missing (" + (regulatoryError ?? "no regulatory file") + ")");
        else if (!release.Matches(regulatory.Commit)) reasons.Add($"identity-injection test: regulatory file from another release ({Short(regulatory.Commit)})");
        else if (test is null) reasons.Add("identity-injection test: not in the regulatory file");
        else
        {
            measured.Add($"identity-injection test {test.Status}");
            if (test.Status != "passed") reasons.Add($"identity-injection test {test.Status}");
        }
        return new Criterion(Integrity, reasons.Count == 0 ? Verdict.Go : Verdict.NoGo, "stadig verify; " + (inputs.RegulatoryFile ?? "regulatory file"),
            string.Join("; ", measured), IntegrityThreshold, regulatory?.GeneratedAt, reasons.Count == 0 ? "intact; injection test passed" : string.Join("; ", reasons));
    }

    // ---- training

    private string TrainingThreshold => $"every unit and role ≥ {settings.TrainingThreshold:P0} completed; report ≤ {settings.EvidenceMaxAgeDays} days old";

    private Criterion TrainingCriterion(string? folder)
    {
        var path = folder is null ? null : Path.Combine(folder, EvidenceFiles.Training);
        var report = TrainingEvidence.Read(path);
        if (report is null) return Criterion.Missing(Training, path ?? EvidenceFiles.Training, TrainingThreshold);
        var reasons = new List<string>();
        var bars = new List<PlotBar>();
        if (report.Units is not { Count: > 0 }) reasons.Add("the report lists no units");
        foreach (var unit in report.Units ?? [])
        {
            if (string.IsNullOrWhiteSpace(unit.Unit)) reasons.Add($"a unit ({unit.UnitName ?? "no name"}) without its id");
            foreach (var role in unit.Roles ?? [])
            {
                if (role.Required < 0 || role.Completed < 0 || role.Completed > role.Required)
                {
                    reasons.Add($"{unit.Unit} {role.Role}: completed {role.Completed} of {role.Required} is not a valid count");
                    continue;
                }
                if (role.Required == 0) continue;
                var rate = (double)role.Completed / role.Required;
                bars.Add(new PlotBar($"{unit.UnitName ?? unit.Unit} · {role.Role}", rate * 100, settings.TrainingThreshold * 100, AtLeast: true));
                if (rate < settings.TrainingThreshold)
                    reasons.Add($"{unit.UnitName ?? unit.Unit} ({unit.Unit}) {role.Role}: {role.Completed} of {role.Required} ({rate:P0})");
            }
        }
        // A report in which nobody must be trained says nothing (a file of another shape reads as all zeros).
        if (report.Units is { Count: > 0 } && bars.Count == 0 && reasons.Count == 0) reasons.Add("the report counts nobody who must be trained");
        if ((now - report.GeneratedAt).TotalDays > settings.EvidenceMaxAgeDays) reasons.Add($"stale: {(now - report.GeneratedAt).TotalDays:0.#} days old");
        var lowest = bars.Count == 0 ? "—" : $"lowest {bars.Min(b => b.Value):0.#} % ({bars.MinBy(b => b.Value)!.Label})";
        return new Criterion(Training, reasons.Count == 0 ? Verdict.Go : Verdict.NoGo, path!, $"{report.Units?.Count ?? 0} units; {lowest}", TrainingThreshold,
            report.GeneratedAt, reasons.Count == 0 ? "every unit above the threshold" : "below the threshold or invalid: " + string.Join("; ", reasons), bars);
    }

    // ---- licences, certificates and keys

    private string LicenceThreshold => $"every entry valid ≥ {settings.MarginDays} days after go-live {GoLive:yyyy-MM-dd} (until {GoLive.AddDays(settings.MarginDays):yyyy-MM-dd})";

    private Criterion LicenceCriterion(ReadinessInputs inputs)
    {
        if (inputs.Expiries is null)
            return inputs.ShortForm
                ? Criterion.NotInShortForm(Licences, LicenceThreshold)
                : Criterion.Missing(Licences, "expiry register (database) and configuration", LicenceThreshold);
        var until = GoLive.AddDays(settings.MarginDays);
        var reasons = new List<string>();
        foreach (var e in inputs.Expiries)
        {
            if (e.Problem is not null) reasons.Add($"{e.Name}: {e.Problem}");
            else if (e.ExpiresOn is null) reasons.Add($"{e.Name}: no expiry date");
            else if (e.ExpiresOn < until) reasons.Add($"{e.Kind} {e.Name} (owner {e.Owner}) expires {e.ExpiresOn:yyyy-MM-dd}, {e.DaysLeft(GoLive)} days after go-live");
        }
        var soonest = inputs.Expiries.Where(e => e.ExpiresOn is not null).MinBy(e => e.ExpiresOn);
        var measured = $"{inputs.Expiries.Count} entries" + (soonest is null ? "" : $"; soonest {soonest.Name} {soonest.ExpiresOn:yyyy-MM-dd}");
        return new Criterion(Licences, reasons.Count == 0 ? Verdict.Go : Verdict.NoGo, "expiry register and configuration", measured, LicenceThreshold, now,
            reasons.Count == 0 ? "every entry valid through the margin" : string.Join("; ", reasons));
    }

    // ---- regulatory file

    private string RegulatoryThreshold(bool shortForm) =>
        "complete (every hazard verified by passing tests, every package with a purpose) and from this release"
        + (shortForm ? "" : "; the SOUP list checked against the release's CycloneDX SBOM; no open control");

    private Criterion RegulatoryCriterion(ReadinessInputs inputs, RegulatoryFile? file, string? error)
    {
        var threshold = RegulatoryThreshold(inputs.ShortForm);
        if (file is null)
            return error is null
                ? Criterion.Missing(Regulatory, inputs.RegulatoryFile ?? "regulatory-file.json", threshold)
                : new Criterion(Regulatory, Verdict.NoGo, inputs.RegulatoryFile!, "—", threshold, null, "evidence unreadable: " + error);
        var reasons = new List<string>();
        if (!release.Matches(file.Commit)) reasons.Add($"built for another release ({file.Version}, {Short(file.Commit)}; this is {release.Version}, {release.ShortCommit})");
        reasons.AddRange(file.Problems);
        if (!inputs.ShortForm && file.Soup.Sbom is null) reasons.Add("the SOUP list was not checked against a CycloneDX SBOM (regulatory-file --sbom)");
        if (!inputs.ShortForm && file.OpenControls > 0)
            reasons.Add($"{file.OpenControls} open control(s): " + string.Join(", ", file.Hazards.Where(h => h.Controls.Any(c => c.Status == "open")).Select(h => h.Id)));
        var measured = $"{file.Hazards.Count} hazards, {file.Hazards.Count(h => h.Verdict.StartsWith("verified", StringComparison.Ordinal))} verified, {file.OpenControls} open controls, " +
                       $"{file.Soup.Items.Count} SOUP packages ({file.Soup.MissingPurpose.Count} without purpose, "
                       + (file.Soup.Sbom is { } sbom ? $"{sbom.Differences.Count} differing from the SBOM" : "no SBOM") + $"), {file.Tests.Passed}/{file.Tests.Cases} test cases passed";
        return new Criterion(Regulatory, reasons.Count == 0 ? Verdict.Go : Verdict.NoGo, inputs.RegulatoryFile!, measured, threshold, file.GeneratedAt,
            reasons.Count == 0 ? "complete, this release" : string.Join("; ", reasons));
    }

    // ---- incidents

    private string IncidentThreshold => $"no open incident of severity {settings.BlockingSeverity} or worse; register export ≤ {settings.EvidenceMaxAgeDays} days old";

    private Criterion IncidentCriterion(string? folder)
    {
        var path = folder is null ? null : Path.Combine(folder, EvidenceFiles.Incidents);
        var report = EvidenceFiles.Read<IncidentReport>(path);
        if (report is null) return Criterion.Missing(Incidents, path ?? EvidenceFiles.Incidents, IncidentThreshold);
        var blocking = Array.IndexOf(Severities, settings.BlockingSeverity.ToLowerInvariant());
        if (blocking < 0) throw new EvidenceException($"Stadig:Readiness:BlockingSeverity '{settings.BlockingSeverity}' is not one of {string.Join(", ", Severities)}.");
        var reasons = new List<string>();
        var open = (report.Incidents ?? []).Where(i => !string.Equals(i.Status, "closed", StringComparison.OrdinalIgnoreCase)).ToList();
        foreach (var i in open)
        {
            var level = Array.IndexOf(Severities, (i.Severity ?? "").ToLowerInvariant());
            if (level < 0) reasons.Add($"{i.Id}: unknown severity '{i.Severity}'");
            else if (level >= blocking) reasons.Add($"{i.Id} ({i.Severity}): {i.Title}");
        }
        if ((now - report.GeneratedAt).TotalDays > settings.EvidenceMaxAgeDays) reasons.Add($"stale: {(now - report.GeneratedAt).TotalDays:0.#} days old");
        var bySeverity = string.Join(", ", Severities.Reverse().Select(s => $"{open.Count(i => string.Equals(i.Severity, s, StringComparison.OrdinalIgnoreCase))} {s}"));
        return new Criterion(Incidents, reasons.Count == 0 ? Verdict.Go : Verdict.NoGo, path!, $"{open.Count} open: {bySeverity}", IncidentThreshold, report.GeneratedAt,
            reasons.Count == 0 ? "none blocking" : "blocking: " + string.Join("; ", reasons));
    }

    private static string Short(string? commit) => commit is null ? "unknown" : commit.Length > 12 ? commit[..12] : commit;

    internal static string Number(double v) => v.ToString("0.#", CultureInfo.InvariantCulture);
}
