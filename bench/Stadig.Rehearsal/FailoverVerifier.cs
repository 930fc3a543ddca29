using System.Globalization;
using System.Text;
using System.Text.Json;
using Dapper;
using Npgsql;

namespace Stadig.Rehearsal;

/// <summary>
/// bench/failover.sh's judgement after the failovers: every write the server acknowledged during the
/// run (<see cref="AcknowledgedWrites"/>) is on the database now (the new primary) — notes at least at
/// the acknowledged version, signatures with their hash, attestations, lab messages — with its audit
/// event (the audit event commits with the change, so a missing one is a lost write too); the audit
/// chain is intact (`stadig verify`, run by the script); and after each kill, how long writes were
/// refused: from the kill until the first write sent after it was acknowledged.
/// </summary>
public static class FailoverVerifier
{
    public sealed record KindResult(string Kind, int Acknowledged, int Present, IReadOnlyList<string> Missing);

    public sealed record Outage(string Event, DateTimeOffset At, double? SecondsUntilFirstWrite, DateTimeOffset? LastWriteBefore);

    /// <summary>
    /// failover.json: the readiness gate's reliability evidence (docs/readiness.md, "Reliability evidence":
    /// kind, ranAt, commit, passed, lost, summary, checks), with the figures behind it.
    /// </summary>
    public sealed record FailoverReport(string Kind, DateTimeOffset RanAt, string? Version, string? Commit, bool Passed, int Lost, string Summary,
        IReadOnlyList<Stadig.Readiness.DrillCheck> Checks, IReadOnlyList<KindResult> Writes, IReadOnlyList<Outage> Outages, int? AuditVerifyExitCode);

    public static async Task<int> RunAsync(string ledgerFile, string connectionString, string? eventsFile, string outFolder, int? auditVerifyExit, string? commit = null)
    {
        var entries = File.ReadLines(ledgerFile).Select(l => l.Split('\t')).Where(f => f.Length >= 3)
            .Select(f => (At: Ms(f[0]), Kind: f[1], Id: f[2], Extra: f.Length > 3 ? f[3] : "", SentAt: f.Length > 4 ? Ms(f[4]) : Ms(f[0])))
            .ToList();
        var events = eventsFile is not null && File.Exists(eventsFile)
            ? File.ReadLines(eventsFile).Select(l => l.Split('\t', 2)).Where(f => f.Length == 2)
                .Select(f => (At: DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(f[0], CultureInfo.InvariantCulture)), What: f[1].Trim())).ToList()
            : [];

        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var results = new List<KindResult>();

        Guid[] Ids(string kind) => entries.Where(e => e.Kind == kind).Select(e => Guid.Parse(e.Id)).Distinct().ToArray();

        var created = Ids("note-create");
        var notes = (await connection.QueryAsync<(Guid Id, Guid PatientId, int Version, DateTime? SignedAt, string? Hash)>(
            "SELECT id, patient_id, version, signed_at, content_sha256 FROM note WHERE id = ANY(@ids)",
            new { ids = created.Concat(Ids("autosave")).Concat(Ids("sign")).Distinct().ToArray() })).ToDictionary(n => n.Id);
        var writeAudited = (await connection.QueryAsync<Guid>(
            "SELECT DISTINCT patient_id FROM audit_event WHERE activity = 'Write' AND resource = 'Note' AND patient_id = ANY(@patients)",
            new { patients = notes.Values.Select(n => n.PatientId).Distinct().ToArray() })).ToHashSet();
        var signAudited = (await connection.QueryAsync<Guid>(
            "SELECT DISTINCT patient_id FROM audit_event WHERE activity = 'Sign' AND resource = 'Note' AND patient_id = ANY(@patients)",
            new { patients = notes.Values.Select(n => n.PatientId).Distinct().ToArray() })).ToHashSet();
        results.Add(Judge("note-create", created.Select(id => id.ToString()),
            id => notes.TryGetValue(Guid.Parse(id), out var n) && writeAudited.Contains(n.PatientId)));

        var savedVersions = entries.Where(e => e.Kind == "autosave").GroupBy(e => Guid.Parse(e.Id))
            .ToDictionary(g => g.Key, g => g.Max(e => int.Parse(e.Extra, CultureInfo.InvariantCulture)));
        results.Add(Judge("autosave", savedVersions.Keys.Select(id => id.ToString()),
            id => notes.TryGetValue(Guid.Parse(id), out var n) && n.Version >= savedVersions[Guid.Parse(id)] && writeAudited.Contains(n.PatientId)));
        results.Add(Judge("sign", Ids("sign").Select(id => id.ToString()),
            id => notes.TryGetValue(Guid.Parse(id), out var n) && n.SignedAt is not null && !string.IsNullOrEmpty(n.Hash) && signAudited.Contains(n.PatientId)));

        var attested = Ids("attest");
        var reports = (await connection.QueryAsync<(Guid Id, Guid PatientId)>(
            "SELECT id, patient_id FROM diagnostic_report WHERE id = ANY(@ids) AND attested_at IS NOT NULL", new { ids = attested })).ToDictionary(r => r.Id);
        var attestAudited = (await connection.QueryAsync<Guid>(
            "SELECT DISTINCT patient_id FROM audit_event WHERE activity = 'Attest' AND resource = 'DiagnosticReport' AND patient_id = ANY(@patients)",
            new { patients = reports.Values.Select(r => r.PatientId).Distinct().ToArray() })).ToHashSet();
        results.Add(Judge("attest", attested.Select(id => id.ToString()), id => reports.TryGetValue(Guid.Parse(id), out var r) && attestAudited.Contains(r.PatientId)));

        var controls = entries.Where(e => e.Kind == "lab").Select(e => e.Id).Distinct().ToArray();
        var messages = (await connection.QueryAsync<(string ControlId, string State, Guid? PatientId)>(
            "SELECT control_id, state, patient_id FROM hl7_message WHERE direction = 'Inbound' AND control_id = ANY(@controls)", new { controls }))
            .GroupBy(m => m.ControlId).ToDictionary(g => g.Key, g => g.First());
        var filedAudited = (await connection.QueryAsync<Guid>(
            "SELECT DISTINCT patient_id FROM audit_event WHERE activity = 'Write' AND resource = 'DiagnosticReport' AND patient_id = ANY(@patients)",
            new { patients = messages.Values.Where(m => m.PatientId is not null).Select(m => m.PatientId!.Value).Distinct().ToArray() })).ToHashSet();
        // A message answered AA is stored; one filed to a patient has that patient's audit event.
        results.Add(Judge("lab", controls, c => messages.TryGetValue(c, out var m) && m.State != "Received"
            && (m.State != "Filed" || m.PatientId is { } p && filedAudited.Contains(p))));

        // Until the first write sent after the kill was acknowledged: one sent before it and answered after
        // it committed on the old primary.
        var outages = events.Select(e =>
        {
            var after = entries.Where(x => x.SentAt > e.At).Select(x => (DateTimeOffset?)x.At).Min();
            var before = entries.Where(x => x.At <= e.At).Select(x => (DateTimeOffset?)x.At).Max();
            return new Outage(e.What, e.At, after is { } a ? Math.Round((a - e.At).TotalSeconds, 2) : null, before);
        }).ToList();
        var lost = results.Sum(r => r.Acknowledged - r.Present);
        var checks = results.Select(r => new Stadig.Readiness.DrillCheck($"acknowledged writes present ({r.Kind})", r.Present == r.Acknowledged, $"{r.Present}/{r.Acknowledged}"))
            .Concat(outages.Select(o => new Stadig.Readiness.DrillCheck($"writes resumed after: {o.Event}", o.SecondsUntilFirstWrite is not null,
                o.SecondsUntilFirstWrite is { } s ? string.Create(CultureInfo.InvariantCulture, $"refused for {s:0.00} s") : "never resumed")))
            .Append(new Stadig.Readiness.DrillCheck("audit chain intact (stadig verify)", auditVerifyExit == 0, auditVerifyExit is null ? "not checked" : $"exit {auditVerifyExit}"))
            .Append(new Stadig.Readiness.DrillCheck("writes were acknowledged during the run", entries.Count > 0, $"{entries.Count} acknowledgements"))
            .ToList();
        var summary = string.Create(CultureInfo.InvariantCulture,
            $"{outages.Count} kill(s) of the primary; writes refused for {string.Join(" and ", outages.Select(o => o.SecondsUntilFirstWrite is { } s ? $"{s:0.0} s" : "ever"))}; {results.Sum(r => r.Acknowledged)} acknowledged writes, {lost} lost; audit chain {(auditVerifyExit == 0 ? "intact" : "NOT verified")}");
        var report = new FailoverReport("failover", DateTimeOffset.UtcNow, null, commit, checks.All(c => c.Passed) && lost == 0, lost, summary,
            checks, results, outages, auditVerifyExit);

        Directory.CreateDirectory(outFolder);
        await File.WriteAllTextAsync(Path.Combine(outFolder, "failover.json"), JsonSerializer.Serialize(report,
            new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true }));
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Failover drill: {(report.Passed ? "PASS" : "FAIL")}");
        foreach (var o in outages)
            text.AppendLine(CultureInfo.InvariantCulture, $"  {o.Event} at {o.At:HH:mm:ss.fff}Z: writes refused for {(o.SecondsUntilFirstWrite is { } s ? $"{s:0.00} s" : "the rest of the run (never resumed)")}");
        foreach (var r in results)
            text.AppendLine(CultureInfo.InvariantCulture, $"  {r.Kind,-12} acknowledged {r.Acknowledged,6}  present {r.Present,6}  lost {r.Acknowledged - r.Present}{(r.Missing.Count > 0 ? "  e.g. " + string.Join(", ", r.Missing) : "")}");
        text.AppendLine(CultureInfo.InvariantCulture, $"  acknowledged writes lost: {lost}");
        text.AppendLine(CultureInfo.InvariantCulture, $"  audit chain (stadig verify): {(auditVerifyExit is null ? "not checked" : auditVerifyExit == 0 ? "intact" : $"FAILED (exit {auditVerifyExit})")}");
        await File.WriteAllTextAsync(Path.Combine(outFolder, "failover.txt"), text.ToString());
        Console.Write(text);
        return report.Passed ? 0 : 5;
    }

    private static DateTimeOffset Ms(string unixMilliseconds) => DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(unixMilliseconds, CultureInfo.InvariantCulture));

    private static KindResult Judge(string kind, IEnumerable<string> ids, Func<string, bool> present)
    {
        var all = ids.ToList();
        var missing = all.Where(id => !present(id)).ToList();
        return new KindResult(kind, all.Count, all.Count - missing.Count, missing.Take(10).ToList());
    }
}
