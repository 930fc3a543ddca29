using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.LabResults;

/// <summary>One unattested report as the inbox lists it.</summary>
public sealed record InboxItem
{
    public Guid ReportId { get; init; }
    public Guid PatientId { get; init; }
    /// <summary>The unit that filed the report (the lab): inner secrecy and blocks are decided by it.</summary>
    public Guid UnitId { get; init; }
    public string FamilyName { get; init; } = "";
    public string GivenNames { get; init; } = "";
    /// <summary>Null when the record holds no name (the page shows a placeholder).</summary>
    public string? PatientName => Patients.PatientNames.Sort(FamilyName, GivenNames);
    public string Identifier { get; init; } = "";
    public string ServiceName { get; init; } = "";
    public string Status { get; init; } = "";
    public DateTimeOffset CreatedAt { get; init; }
    /// <summary>Observations outside their reference range (flag H, L, A…).</summary>
    public long Abnormal { get; init; }
    /// <summary>Critical values (flag HH, LL, AA, or "critical"): shown first and prominent.</summary>
    public long Critical { get; init; }
    public bool Overdue { get; init; }
    public bool ProtectedIdentity { get; init; }
    /// <summary>The report's values in a line ("P-Kalium 4,1 mmol/L"), so a normal report is seen where it is attested.</summary>
    public string Summary { get; init; } = "";

    /// <summary>Only reports without abnormal values may be attested from the list; the others from their own view.</summary>
    public bool MayAttestFromList => Abnormal == 0 && Critical == 0;
    /// <summary>The lab's comment on the whole report (NTE after its OBR), exactly as sent; lines separated by \n.</summary>
    public string? Comment { get; init; }
    /// <summary>The report's current lines that carry a comment or a document (ED), in the order the lab listed them.</summary>
    public IReadOnlyList<ResultLineContent> Lines { get; init; } = [];
}

/// <summary>What a result line carries besides its value: the lab's comment (NTE after its OBX) and a document (ED) read at /results/{ResultId}/attachment.</summary>
public sealed record ResultLineContent
{
    public Guid ResultId { get; init; }
    public Guid ReportId { get; init; }
    public string AnalysisName { get; init; } = "";
    public string? Comment { get; init; }
    public string? AttachmentType { get; init; }
}

/// <summary>
/// The result inbox of a unit: reports not yet attested for patients the unit has a care relation
/// with, decided per patient by the checkpoint as the chart is (inner secrecy, blocks), critical
/// ones first, overdue ones marked, each patient listed audited. Physicians attest what they have
/// seen: a report with abnormal values only from its own view (<see cref="ResultReports"/>), and
/// normal ones also many at once from the list.
/// </summary>
public sealed class ResultInbox(Database database, PatientCheckpoint checkpoint, TimeProvider clock)
{
    public const string Resource = "ResultInbox";

    /// <summary>A report not attested within this is marked overdue (and comes before newer ones).</summary>
    public static readonly TimeSpan OverdueAfter = TimeSpan.FromHours(24);

    public static bool MayAttest(Role role) => role == Role.Physician;

    public async Task<IReadOnlyList<InboxItem>> UnattestedAsync(Caller caller, TimeSpan overdueAfter, CancellationToken cancellationToken = default)
    {
        var items = await CandidatesAsync(caller, overdueAfter, auditShown: true, cancellationToken);
        if (items.Count == 0) return items;
        var parameters = new DynamicParameters();
        database.AddIds(parameters, "reports", items.Select(i => i.ReportId));
        // Only the reports the checkpoint let through (CandidatesAsync), so in the caller's scope.
        await using var connection = await checkpoint.Scope(caller).OpenAsync(cancellationToken);
        var lines = (await connection.QueryAsync<LineRow>(
            $"""
            SELECT report_id AS ReportId, analysis_name AS Name, value_numeric AS Value, value_text AS ValueText, unit AS Unit, abnormal_flag AS Flag,
                   id AS Id, comment AS Comment, attachment_type AS AttachmentType
            FROM lab_result
            WHERE {database.AnyOf("report_id", "reports")} AND superseded_by IS NULL ORDER BY id
            """, parameters)).ToLookup(l => l.ReportId);
        return items.Select(i => i with
        {
            Summary = string.Join(" · ", lines[i.ReportId].Where(l => l.AttachmentType is null).Select(l =>
                $"{l.Name} {LabFormat.Value(l.Value, l.ValueText)} {LabFormat.Unit(l.Unit)}".TrimEnd() + (LabFormat.IsAbnormal(l.Flag) ? $" ({l.Flag})" : ""))),
            Lines = lines[i.ReportId].Where(l => l.Comment is not null || l.AttachmentType is not null)
                .Select(l => new ResultLineContent { ResultId = l.Id, ReportId = l.ReportId, AnalysisName = l.Name, Comment = l.Comment, AttachmentType = l.AttachmentType })
                .ToList(),
        }).ToList();
    }

    internal sealed record LineRow
    {
        public Guid ReportId { get; init; }
        public string Name { get; init; } = "";
        public double? Value { get; init; }
        public string? ValueText { get; init; }
        public string? Unit { get; init; }
        public string? Flag { get; init; }
        public Guid Id { get; init; }
        public string? Comment { get; init; }
        public string? AttachmentType { get; init; }
    }

    /// <summary>The report to open next: the first in the inbox's order after <paramref name="after"/> (or the first), null when none is left. Shows no patient data, so audits nothing.</summary>
    public async Task<Guid?> NextAsync(Caller caller, Guid? after = null, CancellationToken cancellationToken = default)
    {
        var items = await CandidatesAsync(caller, OverdueAfter, auditShown: false, cancellationToken);
        var at = after is { } current ? items.ToList().FindIndex(i => i.ReportId == current) : -1;
        return items.Skip(at + 1).FirstOrDefault(i => i.ReportId != after)?.ReportId ?? items.FirstOrDefault(i => i.ReportId != after)?.ReportId;
    }

    private async Task<IReadOnlyList<InboxItem>> CandidatesAsync(Caller caller, TimeSpan overdueAfter, bool auditShown, CancellationToken cancellationToken)
    {
        if (!RolePermissions.WorksWithRecords(caller.Role)) throw new ForbiddenException("Din roll har ingen svarsinkorg.");
        var now = clock.GetUtcNow();
        var scope = checkpoint.Scope(caller);
        var parameters = scope.Parameters();
        // The unit's patients (index-only scans, migration 0015) and the oldest 500 of their
        // unattested reports before any patient lookup or line count. Checking each unattested
        // report in the region against the unit grew with the region's backlog; as a join the
        // planner probes each patient's reports when the unit is small against the backlog and
        // hashes the unit's patients when it is not (docs/benchmarks.md, hot spots).
        List<InboxItem> rows;
        await using (var connection = await scope.OpenAsync(cancellationToken))
            rows = (await connection.QueryAsync<InboxItem>(
                $"""
                SELECT r.id AS ReportId, r.patient_id AS PatientId, r.unit_id AS UnitId, p.family_name AS FamilyName, p.given_names AS GivenNames, p.identifier AS Identifier,
                       r.service_name AS ServiceName, r.status AS Status, r.created_at AS CreatedAt,
                       (SELECT COUNT(*) FROM lab_result o WHERE o.report_id = r.id AND o.superseded_by IS NULL AND o.abnormal_flag IS NOT NULL AND o.abnormal_flag NOT IN ('N', '')) AS Abnormal,
                       (SELECT COUNT(*) FROM lab_result o WHERE o.report_id = r.id AND o.superseded_by IS NULL AND o.abnormal_flag IN ('HH', 'LL', 'AA', '>', '<')) AS Critical,
                       CASE WHEN p.protected_identity <> 'None' THEN 1 ELSE 0 END AS ProtectedIdentity, r.comment AS Comment
                FROM (SELECT r.id, r.patient_id, r.unit_id, r.service_name, r.status, r.created_at, r.comment
                      FROM diagnostic_report r
                      WHERE r.attested_at IS NULL
                        AND r.patient_id IN ({scope.CareRelationPatientsSql})
                        AND {scope.VisibleRowsSql("r.patient_id", "r.unit_id")}
                      ORDER BY r.created_at
                      LIMIT 500) r
                JOIN patient p ON p.id = r.patient_id
                ORDER BY r.created_at
                """, parameters)).ToList();
        // The candidates only come from the unit's care relations, and a report the caller may not see
        // is left out before the LIMIT, so older hidden reports cannot push visible ones off the list;
        // what is shown is still decided by the
        // checkpoint per patient, as the chart decides it: a blocked unit's or another unit's report
        // under inner secrecy is left out, and each patient shown is audited.
        var shown = await scope.VisibleAsync(rows, r => r.PatientId, r => r.UnitId, Resource, auditShown, cancellationToken);
        return shown
            .Select(r => r with { Overdue = now - r.CreatedAt > overdueAfter })
            .OrderByDescending(r => r.Critical > 0).ThenByDescending(r => r.Overdue).ThenBy(r => r.CreatedAt)
            .ToList();
    }

    /// <summary>
    /// Attests reports from the list, all or none, each through the checkpoint's write path (care
    /// relation, inner secrecy and blocks by the report's unit; one audited Vidimera per report).
    /// Only reports without abnormal values: those are attested from their own view, where the
    /// values are seen. Already attested ones are left as they are.
    /// </summary>
    public async Task<int> AttestAsync(Caller caller, IReadOnlyCollection<Guid> reportIds, CancellationToken cancellationToken = default)
    {
        if (!MayAttest(caller.Role)) throw new ForbiddenException("Bara läkare vidimerar provsvar.");
        if (reportIds.Count == 0) throw new InvalidInputException("reportIds", "Välj minst ett svar att vidimera.");
        var ids = reportIds.Distinct().ToList();
        var parameters = new DynamicParameters();
        database.AddIds(parameters, "ids", ids);
        var scope = checkpoint.Scope(caller);
        List<(Guid Id, Guid PatientId, Guid UnitId, string ServiceName, DateTimeOffset? AttestedAt)> reports;
        await using (var connection = await scope.OpenAsync(cancellationToken))
            reports = (await connection.QueryAsync<(Guid, Guid, Guid, string, DateTimeOffset?)>(
                $"SELECT r.id, r.patient_id, r.unit_id, r.service_name, r.attested_at FROM diagnostic_report r WHERE {database.AnyOf("r.id", "ids")}",
                parameters)).ToList();
        if (reports.Count < ids.Count) throw new NotFoundException("Ett av svaren finns inte.");

        HiddenReport? hidden = null;
        try
        {
            return await scope.InTransactionAsync(async (c, t) =>
            {
                var decided = new TransactionAccess();
                var attested = 0;
                var abnormal = new List<string>();
                // In patient order, as every transaction that audits several patients locks their chain heads (no deadlock).
                foreach (var report in reports.Where(r => r.AttestedAt is null).OrderBy(r => r.PatientId).ThenBy(r => r.Id))
                {
                    // Access first, so that a report the caller may not see is never described to them, not even as abnormal.
                    var (grant, refusal) = await checkpoint.WriteInAsync(caller, report.PatientId, "DiagnosticReport", AuditActivity.Attest, c, t, decided);
                    if (grant is null || !grant.Context.MaySee(report.UnitId))
                        throw hidden = new HiddenReport(report.PatientId, refusal);
                    // Decided inside the transaction: a corrected, abnormal value may have come in since the list was read.
                    if (await c.ExecuteScalarAsync<long>($"SELECT ({AbnormalLines.Replace("r.id", "@id")})", new { id = report.Id }, t) > 0)
                    {
                        abnormal.Add(report.ServiceName);
                        continue;
                    }
                    attested += await c.ExecuteAsync(
                        "UPDATE diagnostic_report SET attested_by = @staffId, attested_at = @now WHERE id = @id AND attested_at IS NULL",
                        new { staffId = caller.StaffId, now = clock.GetUtcNow(), id = report.Id }, t);
                }
                // All or none: the transaction (the other attestations and their audit events) is rolled back.
                if (abnormal.Count > 0) throw AbnormalFromList(abnormal);
                return attested;
            }, cancellationToken);
        }
        catch (HiddenReport e) when (e == hidden)
        {
            // Rolled back; the refusal is logged now, on its own, and nothing was attested.
            if (e.Refusal is not null) throw await checkpoint.RecordAsync(e.Refusal, cancellationToken);
            throw await checkpoint.RefuseAsync(caller, e.PatientId, "DiagnosticReport", AuditActivity.Attest, cancellationToken);
        }
    }

    internal const string AbnormalLines =
        "SELECT COUNT(*) FROM lab_result o WHERE o.report_id = r.id AND o.superseded_by IS NULL AND o.abnormal_flag IS NOT NULL AND o.abnormal_flag NOT IN ('N', '')";

    private static InvalidInputException AbnormalFromList(IEnumerable<string> services) => new("reportIds",
        $"Svar med avvikande värden vidimeras ett i taget, när du har sett värdena: öppna {string.Join(", ", services.Distinct())}. Inget vidimerades.");

    private sealed class HiddenReport(Guid patientId, CheckpointRefusal? refusal) : Exception
    {
        public Guid PatientId { get; } = patientId;
        public CheckpointRefusal? Refusal { get; } = refusal;
    }
}
