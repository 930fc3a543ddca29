namespace Stadig.LabResults;

/// <summary>
/// One lab_result line as the result view and the FHIR mapping read it: one row type and one
/// SELECT (<see cref="ResultLineRows"/>), so that a column added to lab_result reaches both.
/// </summary>
public class ResultLineRow
{
    public Guid Id { get; init; }
    public Guid PatientId { get; init; }
    public Guid UnitId { get; init; }
    public string AnalysisCode { get; init; } = "";
    public string AnalysisName { get; init; } = "";
    public double? ValueNumeric { get; init; }
    public string? ValueText { get; init; }
    public string? Unit { get; init; }
    public double? ReferenceLow { get; init; }
    public double? ReferenceHigh { get; init; }
    public string? ReferenceRange { get; init; }
    public string? AbnormalFlag { get; init; }
    public string Status { get; init; } = "";
    public DateTimeOffset ObservedAt { get; init; }
    public Guid? ReportId { get; init; }
    public string? FillerOrderNumber { get; init; }
    public string? ValueType { get; init; }
    public Guid? SupersededBy { get; init; }
    public string? SendingFacility { get; init; }
    public string? Comment { get; init; }
    public string? ReportComment { get; init; }
    public string? AttachmentType { get; init; }
    public byte[]? AttachmentData { get; init; }
}

public static class ResultLineRows
{
    /// <summary>
    /// The lines (alias <c>r</c>) with the sending facility and their report's comment; add WHERE and
    /// ORDER BY. The document's bytes only <paramref name="withDocument"/>: pages that list lines never
    /// read them (PostgreSQL keeps them out of line).
    /// </summary>
    public static string Select(bool withDocument = false) => Select(withDocument, "", "");

    /// <summary>As above, with <paramref name="columns"/> (", x AS Y" …) and <paramref name="joins"/> added, for a row type that extends the line.</summary>
    public static string Select(bool withDocument, string columns, string joins) =>
        $"""
        SELECT r.id AS Id, r.patient_id AS PatientId, r.unit_id AS UnitId, r.analysis_code AS AnalysisCode, r.analysis_name AS AnalysisName,
               r.value_numeric AS ValueNumeric, r.value_text AS ValueText, r.unit AS Unit, r.reference_low AS ReferenceLow, r.reference_high AS ReferenceHigh,
               r.reference_range AS ReferenceRange, r.abnormal_flag AS AbnormalFlag, r.status AS Status, r.observed_at AS ObservedAt, r.report_id AS ReportId,
               r.filler_order_number AS FillerOrderNumber, r.value_type AS ValueType, r.superseded_by AS SupersededBy, m.sending_facility AS SendingFacility,
               r.comment AS Comment, d.comment AS ReportComment, r.attachment_type AS AttachmentType{(withDocument ? ", r.attachment_data AS AttachmentData" : "")}{columns}
        FROM lab_result r LEFT JOIN hl7_message m ON m.id = r.message_id LEFT JOIN diagnostic_report d ON d.id = r.report_id{joins}
        """;
}
