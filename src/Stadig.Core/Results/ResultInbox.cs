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
    public string PatientName { get; init; } = "";
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
/// with, critical ones first, overdue ones marked. Physicians attest one or many; who and when is
/// recorded and audited (Vidimera).
/// </summary>
public sealed class ResultInbox(Database database, PatientCheckpoint checkpoint, TimeProvider clock)
{
    public static bool MayAttest(Role role) => role == Role.Physician;

    public async Task<IReadOnlyList<InboxItem>> UnattestedAsync(Caller caller, TimeSpan overdueAfter, CancellationToken cancellationToken = default)
    {
        if (!RolePermissions.WorksWithRecords(caller.Role)) throw new ForbiddenException("Din roll har ingen svarsinkorg.");
        var now = clock.GetUtcNow();
        await using var connection = await database.OpenAsync(cancellationToken);
        // The unit's patients (index-only scans, migration 0015) and the oldest 500 of their
        // unattested reports before any patient lookup or line count. Checking each unattested
        // report in the region against the unit grew with the region's backlog; as a join the
        // planner probes each patient's reports when the unit is small against the backlog and
        // hashes the unit's patients when it is not (docs/benchmarks.md, hot spots). Open and
        // recently ended encounters are two branches so that each is one range of the index.
        var rows = (await connection.QueryAsync<InboxItem>(
            """
            SELECT r.id AS ReportId, r.patient_id AS PatientId, p.family_name || ', ' || p.given_names AS PatientName, p.identifier AS Identifier,
                   r.service_name AS ServiceName, r.status AS Status, r.created_at AS CreatedAt,
                   (SELECT COUNT(*) FROM lab_result o WHERE o.report_id = r.id AND o.superseded_by IS NULL AND o.abnormal_flag IS NOT NULL AND o.abnormal_flag NOT IN ('N', '')) AS Abnormal,
                   (SELECT COUNT(*) FROM lab_result o WHERE o.report_id = r.id AND o.superseded_by IS NULL AND o.abnormal_flag IN ('HH', 'LL', 'AA', '>', '<')) AS Critical,
                   CASE WHEN p.protected_identity <> 'None' THEN 1 ELSE 0 END AS ProtectedIdentity, r.comment AS Comment
            FROM (SELECT r.id, r.patient_id, r.service_name, r.status, r.created_at, r.comment
                  FROM diagnostic_report r
                  WHERE r.attested_at IS NULL
                    AND r.patient_id IN (SELECT e.patient_id FROM encounter e WHERE e.unit_id = @unitId AND e.ended_at IS NULL
                                         UNION SELECT e.patient_id FROM encounter e WHERE e.unit_id = @unitId AND e.ended_at >= @since
                                         UNION SELECT c.patient_id FROM care_relation c WHERE c.unit_id = @unitId AND c.ends_at > @now)
                  ORDER BY r.created_at
                  LIMIT 500) r
            JOIN patient p ON p.id = r.patient_id
            ORDER BY r.created_at
            """, new { unitId = caller.UnitId, since = now.AddDays(-checkpoint.Options.CareRelationDays), now })).ToList();
        // Comments and documents of the listed reports' lines, on the report_id index (migration 0013): one query, not one per report.
        var ids = new DynamicParameters();
        database.AddIds(ids, "reportIds", rows.Select(r => r.ReportId));
        var lines = (rows.Count == 0 ? [] : await connection.QueryAsync<ResultLineContent>(
            $"""
            SELECT id AS ResultId, report_id AS ReportId, analysis_name AS AnalysisName, comment AS Comment, attachment_type AS AttachmentType
            FROM lab_result WHERE {database.AnyOf("report_id", "reportIds")} AND superseded_by IS NULL AND (comment IS NOT NULL OR attachment_type IS NOT NULL)
            ORDER BY id
            """, ids)).ToLookup(l => l.ReportId);
        await checkpoint.AuditRegistryAsync(caller, "ResultInbox", $"{rows.Count} osignerade svar", cancellationToken: cancellationToken);
        return rows
            .Select(r => r with { Overdue = now - r.CreatedAt > overdueAfter, Lines = lines[r.ReportId].ToList() })
            .OrderByDescending(r => r.Critical > 0).ThenByDescending(r => r.Overdue).ThenBy(r => r.CreatedAt)
            .ToList();
    }

    /// <summary>Attests the reports, each through the checkpoint (one audited write per report). Already attested ones are left as they are.</summary>
    public async Task<int> AttestAsync(Caller caller, IReadOnlyCollection<Guid> reportIds, CancellationToken cancellationToken = default)
    {
        if (!MayAttest(caller.Role)) throw new ForbiddenException("Bara läkare vidimerar provsvar.");
        if (reportIds.Count == 0) throw new InvalidInputException("reportIds", "Välj minst ett svar att vidimera.");
        var attested = 0;
        foreach (var reportId in reportIds.Distinct())
        {
            (Guid PatientId, DateTimeOffset? AttestedAt) report;
            await using (var connection = await database.OpenAsync(cancellationToken))
                report = await connection.QuerySingleOrDefaultAsync<(Guid, DateTimeOffset?)?>(
                    "SELECT patient_id, attested_at FROM diagnostic_report WHERE id = @reportId", new { reportId })
                    ?? throw new NotFoundException("Svaret finns inte.");
            if (report.AttestedAt is not null) continue;
            var patientId = report.PatientId;
            attested += await checkpoint.WriteAsync(caller, patientId, "DiagnosticReport", AuditActivity.Attest, (c, t, _) =>
                c.ExecuteAsync("UPDATE diagnostic_report SET attested_by = @staffId, attested_at = @now WHERE id = @reportId AND attested_at IS NULL",
                    new { staffId = caller.StaffId, now = clock.GetUtcNow(), reportId }, t), cancellationToken);
        }
        return attested;
    }
}
