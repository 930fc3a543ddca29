using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Stadig.Regulatory;

public sealed record TestStatus(string Name, string Status, int Passed, int Failed);

public sealed record ControlStatus(string Control, string Status, IReadOnlyList<TestStatus> Tests);

public sealed record HazardStatus(
    string Id, string Title, string Failure, string Harm, string Cause, string Severity,
    IReadOnlyList<ControlStatus> Controls, string Verdict);

public sealed record TestEvidence(IReadOnlyList<string> Sources, int Methods, int Cases, int Passed, int Failed, int NotRun);

/// <summary>
/// The regulatory file of one release, built from the repository (intended use, hazard log, SOUP purpose
/// map), the package graph and the run's test results. <see cref="Problems"/> lists what makes it
/// incomplete: a hazard whose tests did not all pass (or that has none), a package without a purpose.
/// </summary>
public sealed record RegulatoryFile(
    string Version, string Commit, DateTimeOffset GeneratedAt, string IntendedUse,
    IReadOnlyList<HazardStatus> Hazards, SoupList Soup, TestEvidence Tests, IReadOnlyList<string> Problems)
{
    public const string JsonFileName = "regulatory-file.json";
    public const string IntendedUseFileName = "intended-use.md";

    public bool Complete => Problems.Count == 0;
    public int OpenControls => Hazards.Sum(h => h.Controls.Count(c => c.Status == "open"));

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>Builds the file from docs/regulatory under <paramref name="repositoryRoot"/>.</summary>
    public static RegulatoryFile Build(string repositoryRoot, TestRun run, ReleaseInfo release, DateTimeOffset now, SoupList? soup = null)
    {
        var folder = Path.Combine(repositoryRoot, "docs", "regulatory");
        var intendedUse = Path.Combine(folder, IntendedUseFileName);
        if (!File.Exists(intendedUse)) throw new EvidenceException($"The intended use {intendedUse} does not exist.");
        return Build(File.ReadAllText(intendedUse), HazardLog.Read(Path.Combine(folder, HazardLog.FileName)),
            soup ?? SoupList.Read(repositoryRoot), run, release, now);
    }

    public static RegulatoryFile Build(string intendedUse, HazardLog log, SoupList soup, TestRun run, ReleaseInfo release, DateTimeOffset now)
    {
        var problems = new List<string>();
        var hazards = new List<HazardStatus>();
        foreach (var h in log.Hazards)
        {
            var controls = h.Controls.Select(c => new ControlStatus(c.Control, c.Status,
                c.Tests.Select(t => run.Outcome(t)).Select(o => new TestStatus(o.Name, o.Status, o.Passed, o.Failed)).ToList())).ToList();
            var tests = controls.Where(c => c.Status == "built").SelectMany(c => c.Tests).ToList();
            var notPassing = tests.Where(t => t.Status != "passed").ToList();
            string verdict;
            if (tests.Count == 0)
            {
                verdict = "no test";
                problems.Add($"{h.Id} ({h.Title}): no built control names a test.");
            }
            else if (notPassing.Count > 0)
            {
                verdict = "not verified";
                foreach (var t in notPassing) problems.Add($"{h.Id} ({h.Title}): {t.Name} {t.Status}.");
            }
            else verdict = controls.Any(c => c.Status == "open") ? "verified, controls open" : "verified";
            hazards.Add(new HazardStatus(h.Id, h.Title, h.Failure, h.Harm, h.Cause, h.Severity, controls, verdict));
        }
        foreach (var name in soup.MissingPurpose)
            problems.Add($"SOUP: package {name} has no stated purpose in docs/regulatory/{SoupList.PurposeFileName}.");
        foreach (var difference in soup.Sbom?.Differences ?? [])
            problems.Add("SOUP: " + difference);
        // A release is not verified while any of its test cases fails, whether or not it names a hazard.
        if (run.FailedCases > 0) problems.Add($"{run.FailedCases} test case(s) of this release's run failed.");
        var evidence = new TestEvidence(run.Sources, run.Methods, run.Cases, run.PassedCases, run.FailedCases, run.NotRunCases);
        return new RegulatoryFile(release.Version, release.Commit, now, intendedUse, hazards, soup, evidence, problems);
    }

    /// <summary>Writes out/&lt;version&gt;-&lt;commit&gt;/ (Markdown, HTML, JSON) and returns the folder.</summary>
    public string Write(string outputRoot)
    {
        var folder = Path.Combine(outputRoot, ReleaseInfo.From($"{Version}+{Commit}").FolderName);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, IntendedUseFileName), IntendedUse);
        File.WriteAllText(Path.Combine(folder, "regulatory-file.md"), ToMarkdown());
        File.WriteAllText(Path.Combine(folder, "regulatory-file.html"), ToHtml());
        File.WriteAllText(Path.Combine(folder, JsonFileName), JsonSerializer.Serialize(this, Json));
        return folder;
    }

    public static RegulatoryFile ReadJson(string path)
    {
        if (Directory.Exists(path)) path = Path.Combine(path, JsonFileName);
        if (!File.Exists(path)) throw new EvidenceException($"No regulatory file at {path}.");
        try { return JsonSerializer.Deserialize<RegulatoryFile>(File.ReadAllText(path), Json) ?? throw new EvidenceException($"{path} is empty."); }
        catch (JsonException e) { throw new EvidenceException($"{path} is not a regulatory file: {e.Message}"); }
    }

    public string ToMarkdown()
    {
        var s = new StringBuilder();
        s.AppendLine($"# Regulatory file — Stadig {Version} ({Commit})").AppendLine()
            .AppendLine($"Generated {GeneratedAt:yyyy-MM-dd HH:mm}Z. Status: **{(Complete ? "complete" : "INCOMPLETE")}**; {OpenControls} open control(s).").AppendLine();
        foreach (var p in Problems) s.AppendLine($"- PROBLEM: {p}");
        s.AppendLine().AppendLine("Intended use and classification: see intended-use.md in this folder.").AppendLine()
            .AppendLine("## Hazard log").AppendLine()
            .AppendLine("| Hazard | Severity | Cause | Control | Status | Verifying tests |").AppendLine("|---|---|---|---|---|---|");
        foreach (var h in Hazards)
            foreach (var c in h.Controls)
                s.AppendLine($"| {h.Id} {Cell(h.Title)} | {h.Severity} | {Cell(h.Cause)} | {Cell(c.Control)} | {c.Status} | " +
                             (c.Tests.Count == 0 ? "—" : string.Join("<br>", c.Tests.Select(t => $"{t.Status}: `{Short(t.Name)}`"))) + " |");
        s.AppendLine().AppendLine("## SOUP").AppendLine().AppendLine(SbomText).AppendLine().AppendLine(Soup.KnownIssuesNote).AppendLine()
            .AppendLine("| Package | Version | Direct | Licence | Purpose | Known issues |").AppendLine("|---|---|---|---|---|---|");
        foreach (var i in Soup.Items)
            s.AppendLine($"| {i.Name} | {i.Version} | {(i.Direct ? "yes" : "no")} | {Cell(i.Licence)} | {Cell(i.Purpose ?? "MISSING")} | {Cell(i.KnownIssues)} |");
        s.AppendLine().AppendLine("## Test evidence").AppendLine()
            .AppendLine($"{Tests.Methods} test methods, {Tests.Cases} cases: {Tests.Passed} passed, {Tests.Failed} failed, {Tests.NotRun} not run. Sources: {string.Join(", ", Tests.Sources)}.");
        return s.ToString();
    }

    public string ToHtml()
    {
        static string E(string? v) => WebUtility.HtmlEncode(v ?? "");
        var s = new StringBuilder();
        s.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Regulatory file — Stadig ").Append(E(Version))
            .Append("</title><style>body{font-family:sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse}td,th{border:1px solid #999;padding:.3em;vertical-align:top}.bad{color:#a00;font-weight:bold}.ok{color:#060}pre{white-space:pre-wrap}</style></head><body>")
            .Append("<h1>Regulatory file — Stadig ").Append(E(Version)).Append(" (").Append(E(Commit)).Append(")</h1><p>Generated ")
            .Append(GeneratedAt.ToString("yyyy-MM-dd HH:mm")).Append("Z. Status: <span class=\"").Append(Complete ? "ok\">complete" : "bad\">INCOMPLETE")
            .Append("</span>; ").Append(OpenControls).Append(" open control(s).</p>");
        if (Problems.Count > 0) s.Append("<ul>").Append(string.Concat(Problems.Select(p => $"<li class=\"bad\">{E(p)}</li>"))).Append("</ul>");
        s.Append("<h2>Intended use and classification</h2><pre>").Append(E(IntendedUse)).Append("</pre><h2>Hazard log</h2><table><tr><th>Hazard</th><th>Severity</th><th>Cause</th><th>Control</th><th>Status</th><th>Verifying tests</th></tr>");
        foreach (var h in Hazards)
            foreach (var c in h.Controls)
                s.Append("<tr><td>").Append(E(h.Id)).Append(' ').Append(E(h.Title)).Append("</td><td>").Append(E(h.Severity)).Append("</td><td>").Append(E(h.Cause))
                    .Append("</td><td>").Append(E(c.Control)).Append("</td><td").Append(c.Status == "open" ? " class=\"bad\"" : "").Append('>').Append(E(c.Status)).Append("</td><td>")
                    .Append(string.Join("<br>", c.Tests.Select(t => $"<span class=\"{(t.Status == "passed" ? "ok" : "bad")}\">{E(t.Status)}</span> {E(Short(t.Name))}"))).Append("</td></tr>");
        s.Append("</table><h2>SOUP</h2><p>").Append(E(SbomText)).Append("</p><p>").Append(E(Soup.KnownIssuesNote)).Append("</p><table><tr><th>Package</th><th>Version</th><th>Direct</th><th>Licence</th><th>Purpose</th><th>Known issues</th></tr>");
        foreach (var i in Soup.Items)
            s.Append("<tr><td>").Append(E(i.Name)).Append("</td><td>").Append(E(i.Version)).Append("</td><td>").Append(i.Direct ? "yes" : "no").Append("</td><td>").Append(E(i.Licence))
                .Append("</td><td").Append(i.Purpose is null ? " class=\"bad\">MISSING" : ">" + E(i.Purpose)).Append("</td><td>").Append(E(i.KnownIssues)).Append("</td></tr>");
        s.Append("</table><h2>Test evidence</h2><p>").Append(Tests.Methods).Append(" test methods, ").Append(Tests.Cases).Append(" cases: ").Append(Tests.Passed).Append(" passed, ")
            .Append(Tests.Failed).Append(" failed, ").Append(Tests.NotRun).Append(" not run.</p></body></html>");
        return s.ToString();
    }

    /// <summary>Whether the SOUP list was checked against the release's CycloneDX SBOM, and with what result.</summary>
    [JsonIgnore]
    public string SbomText => Soup.Sbom is not { } sbom
        ? "Not checked against a CycloneDX SBOM (built without --sbom)."
        : $"Checked against the CycloneDX {sbom.SpecVersion} SBOM {sbom.File} ({sbom.Components} NuGet packages): "
          + (sbom.Differences.Count == 0 ? "the same packages and versions." : $"{sbom.Differences.Count} difference(s), listed as problems above.");

    private static string Cell(string v) => v.Replace("|", "\\|").Replace("\n", " ");
    private static string Short(string test) => test.StartsWith("Stadig.Tests.", StringComparison.Ordinal) ? test["Stadig.Tests.".Length..] : test;
}
