using System.Data.Common;
using System.Globalization;
using System.Text.Json.Nodes;
using Stadig.Problems;
using static Stadig.Fhir.Records.FhirRecordParts;

namespace Stadig.Fhir.Records;

/// <summary>
/// A problem or diagnosis as a FHIR <c>Condition</c> on the problem list: the ICD-10-SE code (with the
/// classification's title when the code is in Stadig's list) and the text the physician recorded,
/// clinicalStatus active or resolved (with the abatement time), verificationStatus confirmed (a physician
/// recorded it as a diagnosis), the onset date and who recorded it.
/// </summary>
public sealed class ProblemAsFhir : FhirRecordMapping<ProblemAsFhir.Row>
{
    public const string Icd10SeSystem = "http://hl7.org/fhir/sid/icd-10-se";
    public const string ClinicalStatusSystem = "http://terminology.hl7.org/CodeSystem/condition-clinical";
    public const string VerificationSystem = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
    public const string CategorySystem = "http://terminology.hl7.org/CodeSystem/condition-category";

    public static readonly ProblemAsFhir Instance = new();

    public static Task<bool> PublishAsync(DbConnection connection, DbTransaction transaction, Guid problemId, DateTimeOffset now) =>
        Instance.PublishOneAsync(connection, transaction, problemId, now);

    public sealed class Row
    {
        public Guid Id { get; init; }
        public Guid PatientId { get; init; }
        public Guid UnitId { get; init; }
        public string Code { get; init; } = "";
        public string Text { get; init; } = "";
        public string Status { get; init; } = "";
        public DateOnly? OnsetDate { get; init; }
        public DateTimeOffset RecordedAt { get; init; }
        public Guid RecordedBy { get; init; }
        public string RecordedByHsaId { get; init; } = "";
        public string RecordedByName { get; init; } = "";
        public DateTimeOffset? ResolvedAt { get; init; }
    }

    protected override string Select =>
        """
        SELECT r.id AS Id, r.patient_id AS PatientId, r.unit_id AS UnitId, r.code AS Code, r.text AS Text, r.status AS Status,
               r.onset_date AS OnsetDate, r.recorded_at AS RecordedAt, r.recorded_by AS RecordedBy, s.hsa_id AS RecordedByHsaId,
               s.display_name AS RecordedByName, r.resolved_at AS ResolvedAt
        FROM problem r JOIN staff s ON s.id = r.recorded_by
        """;

    protected override Guid IdOf(Row row) => row.Id;
    protected override Guid PatientOf(Row row) => row.PatientId;
    protected override Guid UnitOf(Row row) => row.UnitId;

    public override async Task<JsonObject> ToFhirAsync(DbConnection connection, DbTransaction? transaction, Row row, string patientReference)
    {
        var resolved = row.Status == PatientProblems.Resolved;
        var resource = new JsonObject
        {
            ["resourceType"] = "Condition",
            ["clinicalStatus"] = Concept(null, Coding(ClinicalStatusSystem, resolved ? "resolved" : "active")),
            ["verificationStatus"] = Concept(null, Coding(VerificationSystem, "confirmed")),
            ["category"] = new JsonArray(Concept(null, Coding(CategorySystem, "problem-list-item", "Problem List Item"))),
            ["code"] = Concept(row.Text, Coding(Icd10SeSystem, row.Code, Icd10Se.Find(row.Code)?.Title)),
            ["subject"] = Reference(patientReference),
        };
        if (row.OnsetDate is { } onset) resource["onsetDateTime"] = onset.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        if (resolved && row.ResolvedAt is { } at) resource["abatementDateTime"] = Instant(at);
        resource["recordedDate"] = Instant(row.RecordedAt);
        resource["recorder"] = await StaffAsync(connection, transaction, row.RecordedBy, row.RecordedByHsaId, row.RecordedByName);
        return resource;
    }
}
