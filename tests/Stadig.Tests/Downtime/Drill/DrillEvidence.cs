using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Stadig.Readiness;

namespace Stadig.Tests.Downtime.Drill;

/// <summary>(a) The primary stopped under load: what the clinicians' reads and writes got meanwhile.</summary>
public sealed record PrimaryStopFigures(
    bool Replica, double StoppedSeconds, int ReadsServed, int ReadsRefused, double ReadsContinuedSeconds, double LongestReadGapSeconds,
    int WritesRefused, int UncleanAnswers, int Http500, double? WritesRefusedForSeconds, int Acknowledged, int Lost);

/// <summary>(b) One ward's newest snapshot, opened with no server and no network (counts only: no patient data in the report).</summary>
public sealed record SnapshotFigures(string Unit, string File, double AgeSeconds, int CurrentPatients, int Shown, int Missing, SnapshotPdfFigures? Pdf = null);

/// <summary>
/// (b) The same generation's PDF for printing: whether it was refused without the key and decrypted with
/// it, its pages, and how many of the ward's current patients it names.
/// </summary>
public sealed record SnapshotPdfFigures(string File, bool RefusedWithoutKey, bool Decrypted, int Pages, int Patients, int Missing);

/// <summary>(c) Backup and point-in-time restore with pgBackRest, and the check of the restored database.</summary>
public sealed record RestoreFigures(
    double FullBackupSeconds, double IncrementalBackupSeconds, int ArchiveTimeoutSeconds, double WalArchivedSeconds, DateTimeOffset Target,
    double RestoreSeconds, double RecoverySeconds, double RestoreCheckSeconds, long DatabaseBytes, int SchemaVersion, long AuditEvents, bool RestoreCheckPassed,
    int AcknowledgedBeforeTarget, int LostBeforeTarget)
{
    /// <summary>The recovery time: from the restore command to a checked database ready to serve.</summary>
    public double RecoveryTimeSeconds => RestoreSeconds + RecoverySeconds + RestoreCheckSeconds;
}

/// <summary>(d) One paper record entered after the downtime.</summary>
public sealed record BackEntryFigures(string Kind, DateTimeOffset ClinicalAt, bool ShownAsBackEntered);

/// <summary>
/// downtime-drill.json: the readiness gate's reliability evidence (docs/readiness.md: kind, ranAt,
/// version, commit, passed, lost, summary, checks) with the drill's figures behind it.
/// </summary>
public sealed record DowntimeDrillReport(
    string Kind, DateTimeOffset RanAt, string? Version, string? Commit, bool Passed, int Lost, string Summary, IReadOnlyList<DrillCheck> Checks,
    string? Command, int Patients, int Clinicians, double LoadSeconds, string LoadAverage, int Cores,
    PrimaryStopFigures PrimaryStop, IReadOnlyList<SnapshotFigures> Snapshots, int SnapshotIntervalMinutes, double SnapshotAllowedAgeSeconds,
    RestoreFigures Restore, DowntimePeriodFigures? Period, IReadOnlyList<BackEntryFigures> BackEntries)
{
    public const string FileName = EvidenceFiles.DowntimeDrill;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>downtime-drill.json and downtime-drill.html in <paramref name="folder"/>.</summary>
    public async Task WriteAsync(string folder)
    {
        Directory.CreateDirectory(folder);
        await File.WriteAllTextAsync(Path.Combine(folder, FileName), ToJson());
        await File.WriteAllTextAsync(Path.Combine(folder, "downtime-drill.html"), ToHtml());
    }

    public string ToText()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"Downtime drill: {(Passed ? "PASS" : "FAIL")}, {Lost} acknowledged writes lost\n");
        foreach (var c in Checks) text.Append(CultureInfo.InvariantCulture, $"  {(c.Passed ? "ok  " : "FAIL")} {c.Name}: {c.Detail}\n");
        return text.ToString();
    }

    private static string E(object? value) => WebUtility.HtmlEncode(Convert.ToString(value, CultureInfo.InvariantCulture) ?? "");

    private static string S(double seconds) => seconds.ToString("0.0", CultureInfo.InvariantCulture) + " s";

    private string ToHtml()
    {
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Downtime drill</title><style>")
            .Append("body{font-family:sans-serif;margin:2rem;max-width:70rem}table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #999;padding:.3rem .6rem;text-align:left}")
            .Append(".pass{color:#05612a}.fail{color:#a00000;font-weight:bold}</style></head><body>");
        html.Append("<h1>Downtime drill: <span class=\"").Append(Passed ? "pass\">PASS" : "fail\">FAIL").Append("</span></h1>");
        html.Append("<p>").Append(E(Summary)).Append("</p>");
        html.Append(CultureInfo.InvariantCulture, $"<p>Ran {E(RanAt.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture))} on commit {E(Commit)}; {Patients:N0} patients, {Clinicians} clinicians, {S(LoadSeconds)} of load; {Cores} cores, load average {E(LoadAverage)}.</p>");
        if (Command is not null) html.Append("<p><code>").Append(E(Command)).Append("</code></p>");
        html.Append("<h2>Checks</h2><table><tr><th>check</th><th>result</th><th>detail</th></tr>");
        foreach (var c in Checks)
            html.Append("<tr><td>").Append(E(c.Name)).Append("</td><td class=\"").Append(c.Passed ? "pass\">passed" : "fail\">FAILED").Append("</td><td>").Append(E(c.Detail)).Append("</td></tr>");
        html.Append("</table>");
        var p = PrimaryStop;
        html.Append("<h2>(a) The database primary stopped</h2><table>")
            .Append(Row("primary stopped for", S(p.StoppedSeconds)))
            .Append(Row("reads", p.Replica ? "from the streaming replica (read-only mode)" : "no replica: refused with 503"))
            .Append(Row("reads served / refused meanwhile", $"{p.ReadsServed} / {p.ReadsRefused}"))
            .Append(Row("reads continued for", S(p.ReadsContinuedSeconds)))
            .Append(Row("longest wait between served reads", S(p.LongestReadGapSeconds)))
            .Append(Row("writes refused (503 or HL7 AR)", p.WritesRefused))
            .Append(Row("answers other than served or cleanly refused (whole drill); of them 500", $"{p.UncleanAnswers}; {p.Http500}"))
            .Append(Row("writes refused for (stop to first acknowledged write after it)", p.WritesRefusedForSeconds is { } w ? S(w) : "never resumed"))
            .Append(Row("acknowledged writes / lost", $"{p.Acknowledged} / {p.Lost}"))
            .Append("</table>");
        html.Append(CultureInfo.InvariantCulture, $"<h2>(b) Stadig stopped: the last snapshots, offline</h2><p>Schedule: every {SnapshotIntervalMinutes} min; allowed age {S(SnapshotAllowedAgeSeconds)}.</p>")
            .Append("<table><tr><th>unit</th><th>age</th><th>current patients</th><th>in the snapshot</th><th>missing</th><th>PDF: refused without the key / decrypted / pages / patients named</th></tr>");
        foreach (var s in Snapshots)
            html.Append(CultureInfo.InvariantCulture, $"<tr><td>{E(s.Unit)}</td><td>{S(s.AgeSeconds)}</td><td>{s.CurrentPatients}</td><td>{s.Shown}</td><td>{s.Missing}</td><td>")
                .Append(s.Pdf is { } pdf ? E($"{(pdf.RefusedWithoutKey ? "yes" : "NO")} / {(pdf.Decrypted ? "yes" : "NO")} / {pdf.Pages} / {pdf.Patients} of {s.CurrentPatients}") : "no PDF")
                .Append("</td></tr>");
        html.Append("</table>");
        var r = Restore;
        html.Append("<h2>(c) Point-in-time restore with pgBackRest</h2><table>")
            .Append(Row("full backup", S(r.FullBackupSeconds)))
            .Append(Row("incremental backup (under load)", S(r.IncrementalBackupSeconds)))
            .Append(Row("archive_timeout (the recovery point's bound with the WAL push)", S(r.ArchiveTimeoutSeconds)))
            .Append(Row("WAL segment switched and archived", S(r.WalArchivedSeconds)))
            .Append(Row("recovery target", r.Target.ToString("yyyy-MM-dd HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture)))
            .Append(Row("database size", $"{r.DatabaseBytes / 1024.0 / 1024.0:0.0} MiB"))
            .Append(Row("restore / recovery to the target / restore-check", $"{S(r.RestoreSeconds)} / {S(r.RecoverySeconds)} / {S(r.RestoreCheckSeconds)}"))
            .Append(Row("recovery time (sum)", S(r.RecoveryTimeSeconds)))
            .Append(Row("restore-check", r.RestoreCheckPassed ? $"passed: schema {r.SchemaVersion}, {r.AuditEvents} audit events, chain intact" : "FAILED"))
            .Append(Row("writes acknowledged before the target / missing after the restore", $"{r.AcknowledgedBeforeTarget} / {r.LostBeforeTarget}"))
            .Append("</table>");
        html.Append("<h2>(d) Back-entry of paper records</h2>");
        if (Period is { } period)
            html.Append(CultureInfo.InvariantCulture, $"<p>Downtime period {period.From:HH:mm:ss}–{period.To:HH:mm:ss}Z ({(period.Suggested ? "the node's suggestion, confirmed" : "registered by the administrator")}).</p>");
        html.Append("<table><tr><th>record</th><th>clinical time</th><th>shown as back-entered</th></tr>");
        foreach (var b in BackEntries)
            html.Append(CultureInfo.InvariantCulture, $"<tr><td>{E(b.Kind)}</td><td>{b.ClinicalAt:HH:mm:ss}Z</td><td>{(b.ShownAsBackEntered ? "yes" : "NO")}</td></tr>");
        html.Append("</table></body></html>");
        return html.ToString();
    }

    private static string Row(string name, object value) => $"<tr><th scope=\"row\">{E(name)}</th><td>{E(value)}</td></tr>";
}

/// <summary>The downtime period the paper records were entered for.</summary>
public sealed record DowntimePeriodFigures(DateTimeOffset From, DateTimeOffset To, bool Suggested);
