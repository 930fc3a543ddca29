using System.Security.Cryptography;
using System.Text;
using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Orders;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.LabResults;

/// <summary>An earlier value of the same analysis for the patient, for comparison on a report's view.</summary>
public sealed record EarlierValue(DateTimeOffset ObservedAt, double? Value, string? ValueText, string? Unit, string? AbnormalFlag);

/// <summary>One observation of a report as its view shows it.</summary>
public sealed record ReportLine
{
    public Guid Id { get; init; }
    public string Code { get; init; } = "";
    /// <summary>The code its trend is found under (the catalogue's NPU code when the code maps).</summary>
    public string TrendKey { get; init; } = "";
    public string Name { get; init; } = "";
    public double? Value { get; init; }
    public string? ValueText { get; init; }
    public string? Unit { get; init; }
    public double? ReferenceLow { get; init; }
    public double? ReferenceHigh { get; init; }
    /// <summary>The lab's OBX-7 as sent (e.g. "&lt;5", "neg"), when it is not a plain range.</summary>
    public string? ReferenceText { get; init; }
    /// <summary>True when the lab sent no range and the catalogue's interval for the patient's sex and age is shown.</summary>
    public bool ReferenceFromCatalogue { get; init; }
    public string? AbnormalFlag { get; init; }
    public string Status { get; init; } = "";
    public DateTimeOffset ObservedAt { get; init; }
    /// <summary>The lab's comment on this line (NTE after its OBX), exactly as sent.</summary>
    public string? Comment { get; init; }
    /// <summary>The content type of the line's document (ED), served by the audited attachment endpoint.</summary>
    public string? AttachmentType { get; init; }
    public IReadOnlyList<EarlierValue> Earlier { get; init; } = [];

    public bool Abnormal => LabFormat.IsAbnormal(AbnormalFlag);
    public bool Critical => LabFormat.IsCritical(AbnormalFlag);
    public string Reference => ReferenceLow is null && ReferenceHigh is null ? ReferenceText ?? "" : LabFormat.Range(ReferenceLow, ReferenceHigh);
}

/// <summary>A report as its own view shows it: what an attestation vouches for.</summary>
public sealed record ResultReport
{
    public Guid Id { get; init; }
    public Guid PatientId { get; init; }
    public Guid UnitId { get; init; }
    public string UnitName { get; init; } = "";
    public string ServiceName { get; init; } = "";
    public string Status { get; init; } = "";
    public string? ReportText { get; init; }
    /// <summary>The lab's comment on the whole report (NTE after its OBR).</summary>
    public string? ReportComment { get; init; }
    public DateTimeOffset? ObservedAt { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? AttestedAt { get; init; }
    public string? AttestedBy { get; init; }
    public IReadOnlyList<ReportLine> Lines { get; init; } = [];
    public Patient Patient { get; init; } = null!;
    /// <summary>The banner's attention signals, read under the report's grant and audit event.</summary>
    public IReadOnlyList<Stadig.Chart.RecordEntry>? Signals { get; init; }
    /// <summary>
    /// What the viewer saw, as a token the attest form sends back: the report's current lines. An
    /// attestation with another token (a correction came in since) is refused, so nobody attests
    /// values they were not shown.
    /// </summary>
    public string SeenVersion { get; init; } = "";
}

/// <summary>
/// One report's own view — values, units, reference ranges, flags, the report's text, earlier
/// values of the same analyses, the patient — and attestation from it. Opening it is an audited
/// read of the patient's record (inner secrecy and blocks by the filing unit) that also records
/// who opened it; a physician attests only a report they have opened, with the lines they saw.
/// </summary>
public sealed class ResultReports(Database database, PatientCheckpoint checkpoint, TimeProvider clock, RegionTime? regionTime = null)
{
    private const string Resource = "DiagnosticReport";
    private const string NotFound = "Svaret finns inte, eller så saknar du vårdrelation.";
    private const int EarlierPerAnalysis = 3;
    private readonly RegionTime _time = regionTime ?? RegionTime.Sweden;

    private sealed record Header(Guid Id, Guid PatientId, Guid UnitId, string UnitName, string ServiceName, string Status, string? ReportText,
        string? ReportComment, DateTimeOffset? ObservedAt, DateTimeOffset CreatedAt, DateTimeOffset? AttestedAt, string? AttestedBy);

    /// <summary>Opens a report: one audited read of the patient's record; a physician's opening is recorded for attestation.</summary>
    public async Task<ResultReport> OpenAsync(Caller caller, Guid reportId, CancellationToken cancellationToken = default)
    {
        Header? header;
        await using (var connection = await checkpoint.Scope(caller).OpenAsync(cancellationToken))
            header = await connection.QuerySingleOrDefaultAsync<Header>(
                """
                SELECT r.id AS Id, r.patient_id AS PatientId, r.unit_id AS UnitId, u.name AS UnitName, r.service_name AS ServiceName, r.status AS Status,
                       r.report_text AS ReportText, r.comment AS ReportComment, r.observed_at AS ObservedAt, r.created_at AS CreatedAt, r.attested_at AS AttestedAt, s.display_name AS AttestedBy
                FROM diagnostic_report r JOIN care_unit u ON u.id = r.unit_id LEFT JOIN staff s ON s.id = r.attested_by
                WHERE r.id = @reportId
                """, new { reportId });
        if (header is null) throw await checkpoint.RefuseAsync(caller, null, Resource, AuditActivity.Read, cancellationToken);
        var grant = await checkpoint.ReadAsync(caller, header.PatientId, Resource, cancellationToken);
        if (!grant.Context.MaySee(header.UnitId)) throw await checkpoint.RefuseAsync(caller, header.PatientId, Resource, AuditActivity.Read, cancellationToken);

        await using var c = await grant.OpenAsync(cancellationToken);
        var patient = await PatientRegistry.FindInAsync(grant, c, null) ?? throw new NotFoundException(NotFound);
        var own = (await c.QueryAsync<ResultLineRow>($"{ResultLineRows.Select()} WHERE r.report_id = @reportId AND r.patient_id = @patientId ORDER BY r.id",
            new { reportId, patientId = header.PatientId })).ToList();
        var current = own.Where(r => r.SupersededBy is null).ToList();
        var keys = current.Select(r => AnalysisCodes.TrendKey(r.AnalysisCode, r.Unit)).Distinct().ToList();
        var codes = keys.SelectMany(AnalysisCodes.Family).Distinct().ToArray();
        var earlier = codes.Length == 0 ? [] : (await c.QueryAsync<ResultLineRow>(
            $"""
            {ResultLineRows.Select()}
            WHERE r.patient_id = @patientId AND {database.AnyOf("r.analysis_code", "codes")} AND r.superseded_by IS NULL AND (r.report_id IS NULL OR r.report_id <> @reportId)
            ORDER BY r.observed_at DESC
            """, new { patientId = header.PatientId, codes, reportId })).Where(r => grant.Context.MaySee(r.UnitId)).ToList();

        var lines = current.Select(r =>
        {
            var key = AnalysisCodes.TrendKey(r.AnalysisCode, r.Unit);
            var (low, high, text, fromCatalogue) = ReferenceOf(r, patient);
            return new ReportLine
            {
                Id = r.Id, Code = r.AnalysisCode, TrendKey = key, Name = r.AnalysisName, Value = r.ValueNumeric, ValueText = r.ValueText, Unit = r.Unit,
                ReferenceLow = low, ReferenceHigh = high, ReferenceText = text, ReferenceFromCatalogue = fromCatalogue,
                AbnormalFlag = r.AbnormalFlag, Status = r.Status, ObservedAt = r.ObservedAt,
                Comment = r.Comment, AttachmentType = r.AttachmentType,
                Earlier = earlier.Where(e => e.ObservedAt <= r.ObservedAt && AnalysisCodes.TrendKey(e.AnalysisCode, e.Unit) == key)
                    .Take(EarlierPerAnalysis).Select(e => new EarlierValue(e.ObservedAt, e.ValueNumeric, e.ValueText, e.Unit, e.AbnormalFlag)).ToList(),
            };
        }).ToList();

        if (ResultInbox.MayAttest(caller.Role) && header.AttestedAt is null)
        {
            await c.ExecuteAsync(
                """
                INSERT INTO result_view (report_id, staff_id, patient_id, viewed_at) VALUES (@reportId, @staffId, @patientId, @now)
                ON CONFLICT (report_id, staff_id) DO UPDATE SET viewed_at = excluded.viewed_at
                """, new { reportId, staffId = caller.StaffId, patientId = header.PatientId, now = clock.GetUtcNow() });
        }
        return new ResultReport
        {
            Id = header.Id, PatientId = header.PatientId, UnitId = header.UnitId, UnitName = header.UnitName, ServiceName = header.ServiceName,
            Status = header.Status, ReportText = header.ReportText, ReportComment = header.ReportComment, ObservedAt = header.ObservedAt, CreatedAt = header.CreatedAt,
            AttestedAt = header.AttestedAt, AttestedBy = header.AttestedBy, Lines = lines, Patient = patient, SeenVersion = VersionOf(current.Select(r => r.Id)),
            Signals = await Stadig.Chart.PatientRecord.SignalsAsync(c, database.Engine, grant.Context),
        };
    }

    /// <summary>
    /// Attests a report from its view: only a physician who opened it, with the token of the lines
    /// they saw, through the checkpoint's write path (care relation, inner secrecy and blocks by the
    /// report's unit), audited as Vidimera. False when it was already attested.
    /// </summary>
    public async Task<bool> AttestAsync(Caller caller, Guid reportId, string? seenVersion, CancellationToken cancellationToken = default)
    {
        if (!ResultInbox.MayAttest(caller.Role)) throw new ForbiddenException("Bara läkare vidimerar provsvar.");
        (Guid PatientId, Guid UnitId, DateTimeOffset? AttestedAt)? report;
        await using (var connection = await checkpoint.Scope(caller).OpenAsync(cancellationToken))
            report = await connection.QuerySingleOrDefaultAsync<(Guid, Guid, DateTimeOffset?)?>(
                "SELECT patient_id, unit_id, attested_at FROM diagnostic_report WHERE id = @reportId", new { reportId });
        if (report is not { } r) throw await checkpoint.RefuseAsync(caller, null, Resource, AuditActivity.Attest, cancellationToken);
        if (r.AttestedAt is not null) return false;
        var attested = false;
        await checkpoint.WriteEntryAsync(caller, r.PatientId, r.UnitId, Resource, AuditActivity.Attest, NotFound, async (c, t) =>
        {
            var viewed = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM result_view WHERE report_id = @reportId AND staff_id = @staffId",
                new { reportId, staffId = caller.StaffId }, t);
            if (viewed == 0)
                throw new ForbiddenException("Öppna svaret och se värdena innan du vidimerar det.");
            var lines = await c.QueryAsync<Guid>("SELECT id FROM lab_result WHERE report_id = @reportId AND superseded_by IS NULL", new { reportId }, t);
            if (VersionOf(lines) != seenVersion)
                throw new ConflictException("Svaret har ändrats sedan du öppnade det (ett rättat värde har kommit). Se de nya värdena och vidimera igen.");
            attested = await c.ExecuteAsync(
                "UPDATE diagnostic_report SET attested_by = @staffId, attested_at = @now WHERE id = @reportId AND attested_at IS NULL",
                new { staffId = caller.StaffId, now = clock.GetUtcNow(), reportId }, t) == 1;
        }, cancellationToken);
        return attested;
    }

    /// <summary>The lab's range when it sent one (it knows its method); else the catalogue's for the patient's sex and age on the day.</summary>
    private (double? Low, double? High, string? Text, bool FromCatalogue) ReferenceOf(ResultLineRow row, Patient patient)
    {
        if (row.ReferenceLow is not null || row.ReferenceHigh is not null) return (row.ReferenceLow, row.ReferenceHigh, null, false);
        if (!string.IsNullOrWhiteSpace(row.ReferenceRange)) return (null, null, row.ReferenceRange, false);
        var key = AnalysisCodes.TrendKey(row.AnalysisCode, row.Unit);
        var interval = AnalysisCatalogue.Find(key) is { } analysis && analysis.Code == key
            ? analysis.IntervalFor(patient.Sex, AnalysisCatalogue.AgeOn(patient.BirthDate, _time.Day(row.ObservedAt)))
            : null;
        return interval is null ? (null, null, null, false) : (interval.Low, interval.High, null, true);
    }

    private static string VersionOf(IEnumerable<Guid> lineIds) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join(',', lineIds.Select(id => id.ToString()).Order(StringComparer.Ordinal)))))[..16];
}
