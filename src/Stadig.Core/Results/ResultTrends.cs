using Dapper;
using Stadig.Access;
using Stadig.Common;
using Stadig.Orders;
using Stadig.Storage;

namespace Stadig.LabResults;

public sealed record TrendPoint
{
    public Guid Id { get; init; }
    /// <summary>The code the result came with (the trend may gather several for one analysis).</summary>
    public string AnalysisCode { get; init; } = "";
    public string AnalysisName { get; init; } = "";
    public DateTimeOffset ObservedAt { get; init; }
    public double? Value { get; init; }
    public string? ValueText { get; init; }
    public string? Unit { get; init; }
    public double? ReferenceLow { get; init; }
    public double? ReferenceHigh { get; init; }
    public string? AbnormalFlag { get; init; }
    public string Status { get; init; } = "";
    public Guid UnitId { get; init; }
    /// <summary>The lab's comment on this value (NTE after its OBX), exactly as sent; lines separated by \n.</summary>
    public string? Comment { get; init; }
    /// <summary>The lab's comment on the report the value came in (NTE after its OBR).</summary>
    public string? ReportComment { get; init; }
    /// <summary>The content type of the document the value carries (ED), read at /results/{Id}/attachment; null when none.</summary>
    public string? AttachmentType { get; init; }
    /// <summary>True when the lab sent no range and the catalogue's interval for the patient is shown.</summary>
    public bool ReferenceFromCatalogue { get; init; }
    /// <summary>Null for the lab's own result; else the system that wrote the Observation over FHIR.</summary>
    public string? Source { get; init; }
}

/// <param name="Signals">The banner's attention signals, read under the trend's grant and audit event.</param>
public sealed record Trend(string AnalysisCode, string AnalysisName, string? Unit, IReadOnlyList<TrendPoint> Points, Patients.Patient Patient,
    IReadOnlyList<Stadig.Chart.RecordEntry>? Signals = null)
{
    /// <summary>The reference range to draw as a band: the most recent one given.</summary>
    public (double? Low, double? High) ReferenceRange =>
        Points.LastOrDefault(p => p.ReferenceLow is not null || p.ReferenceHigh is not null) is { } p ? (p.ReferenceLow, p.ReferenceHigh) : (null, null);
}

/// <summary>
/// One analysis over time for one patient (with the patient, for the banner): current values only
/// (superseded ones are history), oldest first. A result sent with a LOINC or local code, or
/// another NPU code for the same property, joins its catalogue analysis's trend (when its unit
/// agrees, <see cref="AnalysisCodes.TrendKey"/>); a point without the lab's own range gets the
/// catalogue's interval for the patient's sex and age on the day.
/// </summary>
public sealed class ResultTrends(Database database, PatientCheckpoint checkpoint, RegionTime? regionTime = null)
{
    private readonly RegionTime _time = regionTime ?? RegionTime.Sweden;

    public async Task<Trend> TrendAsync(Caller caller, Guid patientId, string analysisCode, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(analysisCode) || analysisCode.Length > 64) throw new InvalidInputException("code", "Ange en analyskod.");
        var key = AnalysisCodes.Canonical(analysisCode);
        var grant = await checkpoint.ReadAsync(caller, patientId, "ResultTrend", cancellationToken);
        await using var connection = await grant.OpenAsync(cancellationToken);
        var rows = (await connection.QueryAsync<TrendPoint>(
            $"""
            SELECT r.id AS Id, r.analysis_code AS AnalysisCode, r.analysis_name AS AnalysisName, r.observed_at AS ObservedAt, r.value_numeric AS Value,
                   r.value_text AS ValueText, r.unit AS Unit, r.reference_low AS ReferenceLow, r.reference_high AS ReferenceHigh, r.abnormal_flag AS AbnormalFlag,
                   r.status AS Status, r.unit_id AS UnitId, r.comment AS Comment, d.comment AS ReportComment, r.attachment_type AS AttachmentType
            FROM lab_result r LEFT JOIN diagnostic_report d ON d.id = r.report_id
            WHERE r.patient_id = @patientId AND {database.AnyOf("r.analysis_code", "codes")} AND r.superseded_by IS NULL
            ORDER BY r.observed_at
            """, new { patientId = grant.PatientId, codes = AnalysisCodes.Family(key).Append(analysisCode).Distinct().ToArray() })).ToList();
        var inTrend = rows.Where(r => AnalysisCodes.TrendKey(r.AnalysisCode, r.Unit) == key).ToList();
        // A code asked for by itself whose results cannot join the catalogue's trend (another unit) still has its own.
        if (inTrend.Count == 0 && key != analysisCode) inTrend = rows.Where(r => r.AnalysisCode == analysisCode).ToList();
        var visible = inTrend.Where(p => grant.Context.MaySee(p.UnitId)).ToList();
        // Observations other systems wrote over FHIR (vital signs, outside labs) under the code they were sent with.
        var external = (await Stadig.Chart.PatientRecordQueries.ObservationsOfCodeAsync(connection, grant.PatientId, analysisCode))
            .Where(r => grant.Context.MaySee(r.UnitId ?? Guid.Empty)).Select(r => Stadig.Chart.FhirRecordReader.Read(r.Row, r.UnitName))
            .Where(e => e.Number is not null || e.Detail is not null)
            .Select(e => new TrendPoint
            {
                AnalysisCode = e.Code ?? analysisCode, AnalysisName = e.Title, ObservedAt = e.At, Value = e.Number, ValueText = e.Number is null ? e.Detail : null,
                Unit = e.NumberUnit, Status = e.Status ?? "", UnitId = e.UnitId ?? Guid.Empty, Source = e.Source,
            });
        visible = [.. visible.Concat(external).OrderBy(p => p.ObservedAt)];
        if (visible.Count == 0) throw new NotFoundException("Inga svar för den analysen.");
        // The patient for the banner under the same audited access: one read of the record, not two.
        var patient = await Patients.PatientRegistry.FindInAsync(grant, connection, null) ?? throw new NotFoundException("Patienten finns inte.");
        var analysis = AnalysisCatalogue.Find(key) is { } a && a.Code == key ? a : null;
        var points = visible.Select(p =>
        {
            if (p.ReferenceLow is not null || p.ReferenceHigh is not null || analysis is null) return p;
            var interval = analysis.IntervalFor(patient.Sex, AnalysisCatalogue.AgeOn(patient.BirthDate, _time.Day(p.ObservedAt)));
            return interval is null ? p : p with { ReferenceLow = interval.Low, ReferenceHigh = interval.High, ReferenceFromCatalogue = true };
        }).ToList();
        return new Trend(analysis?.Code ?? analysisCode, analysis?.Name ?? visible[^1].AnalysisName, LabFormat.Unit(analysis?.Unit ?? visible[^1].Unit), points, patient,
            await Stadig.Chart.PatientRecord.SignalsAsync(connection, database.Engine, grant.Context));
    }
}
