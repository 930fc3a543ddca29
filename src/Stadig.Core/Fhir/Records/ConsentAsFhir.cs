using System.Data.Common;
using System.Text.Json.Nodes;
using static Stadig.Fhir.Records.FhirRecordParts;

namespace Stadig.Fhir.Records;

/// <summary>
/// A patient's consent that one unit sees the records of another (or of all units) as a FHIR
/// <c>Consent</c>: scope patient-privacy, category LOINC 59284-0 (patient consent), policy rule OPTIN,
/// provision permit for the period from when it was recorded until it expires, with the viewer unit as the
/// information recipient (IRCP) and the source unit, when one is named, as the custodian (CST). Status is
/// active, or inactive once revoked; an expired consent stays active with its period ended, so the resource
/// does not change with the clock. The consent belongs to the viewer unit's record (it is recorded there).
/// </summary>
public sealed class ConsentAsFhir : FhirRecordMapping<ConsentAsFhir.Row>
{
    public const string ScopeSystem = "http://terminology.hl7.org/CodeSystem/consentscope";
    public const string ActCodeSystem = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
    public const string ParticipationSystem = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";

    public static readonly ConsentAsFhir Instance = new();

    public static Task<bool> PublishAsync(DbConnection connection, DbTransaction transaction, Guid consentId, DateTimeOffset now) =>
        Instance.PublishOneAsync(connection, transaction, consentId, now);

    public sealed class Row
    {
        public Guid Id { get; init; }
        public Guid PatientId { get; init; }
        public Guid ViewerUnitId { get; init; }
        public string ViewerHsaId { get; init; } = "";
        public string ViewerName { get; init; } = "";
        public Guid? SourceUnitId { get; init; }
        public string? SourceHsaId { get; init; }
        public string? SourceName { get; init; }
        public DateTimeOffset RecordedAt { get; init; }
        public DateTimeOffset ExpiresAt { get; init; }
        public DateTimeOffset? RevokedAt { get; init; }
    }

    protected override string Select =>
        """
        SELECT r.id AS Id, r.patient_id AS PatientId, r.viewer_unit_id AS ViewerUnitId, v.hsa_id AS ViewerHsaId, v.name AS ViewerName,
               r.source_unit_id AS SourceUnitId, s.hsa_id AS SourceHsaId, s.name AS SourceName, r.recorded_at AS RecordedAt,
               r.expires_at AS ExpiresAt, r.revoked_at AS RevokedAt
        FROM consent r JOIN care_unit v ON v.id = r.viewer_unit_id LEFT JOIN care_unit s ON s.id = r.source_unit_id
        """;

    protected override Guid IdOf(Row row) => row.Id;
    protected override Guid PatientOf(Row row) => row.PatientId;
    protected override Guid UnitOf(Row row) => row.ViewerUnitId;

    public override async Task<JsonObject> ToFhirAsync(DbConnection connection, DbTransaction? transaction, Row row, string patientReference)
    {
        var viewer = await UnitAsync(connection, transaction, row.ViewerUnitId, row.ViewerHsaId, row.ViewerName);
        var actors = new JsonArray(new JsonObject
        {
            ["role"] = Concept(null, Coding(ParticipationSystem, "IRCP", "information recipient")),
            ["reference"] = viewer.DeepClone(),
        });
        if (row.SourceUnitId is { } source)
            actors.Add(new JsonObject
            {
                ["role"] = Concept(null, Coding(ParticipationSystem, "CST", "custodian")),
                ["reference"] = await UnitAsync(connection, transaction, source, row.SourceHsaId ?? "", row.SourceName),
            });
        return new JsonObject
        {
            ["resourceType"] = "Consent",
            ["status"] = row.RevokedAt is null ? "active" : "inactive",
            ["scope"] = Concept(null, Coding(ScopeSystem, "patient-privacy", "Privacy Consent")),
            ["category"] = new JsonArray(Concept(row.SourceUnitId is null
                    ? "Samtycke till att ta del av patientens journaluppgifter från alla enheter"
                    : $"Samtycke till att ta del av patientens journaluppgifter från {row.SourceName}",
                Coding("http://loinc.org", "59284-0", "Patient Consent"))),
            ["patient"] = Reference(patientReference),
            ["dateTime"] = Instant(row.RecordedAt),
            ["performer"] = new JsonArray(Reference(patientReference)),
            ["organization"] = new JsonArray(viewer),
            ["policyRule"] = Concept("Patientdatalagen (2008:355)", Coding(ActCodeSystem, "OPTIN", "opt-in")),
            ["provision"] = new JsonObject
            {
                ["type"] = "permit",
                ["period"] = new JsonObject { ["start"] = Instant(row.RecordedAt), ["end"] = Instant(row.RevokedAt is { } revoked && revoked < row.ExpiresAt ? revoked : row.ExpiresAt) },
                ["actor"] = actors,
            },
        };
    }
}
