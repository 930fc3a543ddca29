using System.Data.Common;
using System.Text.Json.Nodes;
using static Stadig.Fhir.Records.FhirRecordParts;

namespace Stadig.Fhir.Records;

/// <summary>
/// A warning (uppmärksamhetsinformation) as FHIR. A hypersensitivity is what a FHIR client looks for in
/// <c>AllergyIntolerance</c> (substance, reaction, criticality, verification), so that category is published
/// as one; every other category (serious disease, treatment, communicable disease, restriction of care,
/// unstructured) is a <c>Flag</c>: a warning to show with the patient. Inactivated warnings stay, as an
/// inactive Flag or AllergyIntolerance. A warning never changes category, so its resource type is fixed.
/// </summary>
public sealed class WarningAsFhir : FhirRecordMapping<WarningAsFhir.Row>
{
    public const string CategorySystem = "https://stadig.se/fhir/CodeSystem/warning-category";
    public const string FlagCategorySystem = "http://terminology.hl7.org/CodeSystem/flag-category";
    public const string ClinicalStatusSystem = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical";
    public const string VerificationSystem = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification";

    public static readonly WarningAsFhir Instance = new();

    public static Task<bool> PublishAsync(DbConnection connection, DbTransaction transaction, Guid warningId, DateTimeOffset now) =>
        Instance.PublishOneAsync(connection, transaction, warningId, now);

    public sealed class Row
    {
        public Guid Id { get; init; }
        public Guid PatientId { get; init; }
        public Guid UnitId { get; init; }
        public string Category { get; init; } = "";
        public string Text { get; init; } = "";
        public string? Agent { get; init; }
        public string? Reaction { get; init; }
        public string? Severity { get; init; }
        public string? Certainty { get; init; }
        public DateTimeOffset CreatedAt { get; init; }
        public Guid CreatedBy { get; init; }
        public string CreatedByHsaId { get; init; } = "";
        public string CreatedByName { get; init; } = "";
        public DateTimeOffset? InactivatedAt { get; init; }
        public Guid? InactivatedBy { get; init; }
        public string? InactivatedByHsaId { get; init; }
        public string? InactivatedByName { get; init; }
        public string? InactivationReason { get; init; }
    }

    /// <summary>The national category in Swedish, and the nearest HL7 flag category (none for unstructured).</summary>
    public static (string Swedish, string? FlagCategory) CategoryOf(string category) => category switch
    {
        "Hypersensitivity" => ("Överkänslighet", null),
        "SeriousDisease" => ("Allvarlig sjukdom", "clinical"),
        "Treatment" => ("Behandling", "clinical"),
        "CommunicableDisease" => ("Smitta", "contact"),
        "RestrictionOfCare" => ("Vårdbegränsning", "advance-directive"),
        _ => ("Ostrukturerad uppmärksamhetsinformation", null),
    };

    protected override string Select =>
        """
        SELECT r.id AS Id, r.patient_id AS PatientId, r.unit_id AS UnitId, r.category AS Category, r.text AS Text, r.agent AS Agent,
               r.reaction AS Reaction, r.severity AS Severity, r.certainty AS Certainty, r.created_at AS CreatedAt, r.created_by AS CreatedBy,
               c.hsa_id AS CreatedByHsaId, c.display_name AS CreatedByName, r.inactivated_at AS InactivatedAt, r.inactivated_by AS InactivatedBy,
               i.hsa_id AS InactivatedByHsaId, i.display_name AS InactivatedByName, r.inactivation_reason AS InactivationReason
        FROM warning r JOIN staff c ON c.id = r.created_by LEFT JOIN staff i ON i.id = r.inactivated_by
        """;

    protected override Guid IdOf(Row row) => row.Id;
    protected override Guid PatientOf(Row row) => row.PatientId;
    protected override Guid UnitOf(Row row) => row.UnitId;

    public override async Task<JsonObject> ToFhirAsync(DbConnection connection, DbTransaction? transaction, Row row, string patientReference)
    {
        var author = await StaffAsync(connection, transaction, row.CreatedBy, row.CreatedByHsaId, row.CreatedByName);
        return row.Category == "Hypersensitivity"
            ? await AllergyAsync(connection, transaction, row, patientReference, author)
            : Flag(row, patientReference, author);
    }

    private static JsonObject Flag(Row row, string patientReference, JsonObject author)
    {
        var (swedish, flagCategory) = CategoryOf(row.Category);
        var codings = new List<JsonObject>();
        if (flagCategory is not null) codings.Add(Coding(FlagCategorySystem, flagCategory));
        codings.Add(Coding(CategorySystem, row.Category, swedish));
        var period = new JsonObject { ["start"] = Instant(row.CreatedAt) };
        if (row.InactivatedAt is { } ended) period["end"] = Instant(ended);
        return new JsonObject
        {
            ["resourceType"] = "Flag",
            ["status"] = row.InactivatedAt is null ? "active" : "inactive",
            ["category"] = new JsonArray(Concept(swedish, codings.ToArray())),
            ["code"] = Concept(row.Text),
            ["subject"] = Reference(patientReference),
            ["period"] = period,
            ["author"] = author,
        };
    }

    private static async Task<JsonObject> AllergyAsync(DbConnection connection, DbTransaction? transaction, Row row, string patientReference, JsonObject author)
    {
        var resource = new JsonObject
        {
            ["resourceType"] = "AllergyIntolerance",
            ["clinicalStatus"] = Concept(null, Coding(ClinicalStatusSystem, row.InactivatedAt is null ? "active" : "inactive")),
        };
        if (row.Certainty is { } certainty)
            resource["verificationStatus"] = Concept(null, Coding(VerificationSystem, certainty == "Confirmed" ? "confirmed" : "unconfirmed"));
        if (row.Severity is { } severity) resource["criticality"] = severity == "LifeThreatening" ? "high" : "low";
        resource["code"] = Concept(row.Agent ?? row.Text);
        resource["patient"] = Reference(patientReference);
        resource["recordedDate"] = Instant(row.CreatedAt);
        resource["recorder"] = author;
        if (row.Reaction is { } reaction)
        {
            var entry = new JsonObject { ["manifestation"] = new JsonArray(Concept(reaction)) };
            if (row.Severity is { } level) entry["severity"] = level switch { "LifeThreatening" => "severe", "Harmful" => "moderate", _ => "mild" };
            resource["reaction"] = new JsonArray(entry);
        }
        var notes = new JsonArray(new JsonObject { ["text"] = row.Text });
        if (row.InactivatedAt is { } inactivated)
        {
            var note = new JsonObject();
            if (row.InactivatedBy is { } by) note["authorReference"] = await StaffAsync(connection, transaction, by, row.InactivatedByHsaId ?? "", row.InactivatedByName);
            note["time"] = Instant(inactivated);
            note["text"] = $"Inaktiverad: {row.InactivationReason}";
            notes.Add(note);
        }
        resource["note"] = notes;
        return resource;
    }
}
