using System.Data.Common;
using System.Text.Json.Nodes;
using Stadig.Encounters;
using static Stadig.Fhir.Records.FhirRecordParts;

namespace Stadig.Fhir.Records;

/// <summary>
/// An encounter (vårdkontakt) as a FHIR <c>Encounter</c>: class AMB for an outpatient visit, IMP for an
/// admission; status in-progress while it has no end, finished when it has one (a discharge, or the
/// admission a transfer ended); the period; the ward and bed as the location; the unit as the service
/// provider. A transfer ends one Encounter and starts the next; R4 has no element for "follows that
/// encounter" (partOf is a containing encounter, hospitalization.origin a place), so the next one carries
/// the previous one's id as an identifier in <see cref="TransferredFromSystem"/>.
/// </summary>
public sealed class EncounterAsFhir : FhirRecordMapping<EncounterAsFhir.Row>
{
    public const string ActCodeSystem = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
    public const string TransferredFromSystem = "https://stadig.se/fhir/NamingSystem/transferred-from-encounter";

    public static readonly EncounterAsFhir Instance = new();

    public static Task<bool> PublishAsync(DbConnection connection, DbTransaction transaction, Guid encounterId, DateTimeOffset now) =>
        Instance.PublishOneAsync(connection, transaction, encounterId, now);

    public sealed class Row
    {
        public Guid Id { get; init; }
        public Guid PatientId { get; init; }
        public Guid UnitId { get; init; }
        public string UnitHsaId { get; init; } = "";
        public string UnitName { get; init; } = "";
        public string Kind { get; init; } = "";
        public string? Bed { get; init; }
        public DateTimeOffset StartedAt { get; init; }
        public DateTimeOffset? EndedAt { get; init; }
        public Guid? TransferredFromId { get; init; }
    }

    protected override string Select =>
        """
        SELECT r.id AS Id, r.patient_id AS PatientId, r.unit_id AS UnitId, u.hsa_id AS UnitHsaId, u.name AS UnitName, r.kind AS Kind,
               r.bed AS Bed, r.started_at AS StartedAt, r.ended_at AS EndedAt, r.transferred_from_id AS TransferredFromId
        FROM encounter r JOIN care_unit u ON u.id = r.unit_id
        """;

    protected override Guid IdOf(Row row) => row.Id;
    protected override Guid PatientOf(Row row) => row.PatientId;
    protected override Guid UnitOf(Row row) => row.UnitId;

    public override async Task<JsonObject> ToFhirAsync(DbConnection connection, DbTransaction? transaction, Row row, string patientReference)
    {
        var inpatient = row.Kind == EncounterKinds.Inpatient;
        var resource = new JsonObject { ["resourceType"] = "Encounter" };
        if (row.TransferredFromId is { } from)
            resource["identifier"] = new JsonArray(new JsonObject { ["use"] = "secondary", ["system"] = TransferredFromSystem, ["value"] = from.ToString() });
        resource["status"] = row.EndedAt is null ? "in-progress" : "finished";
        resource["class"] = inpatient
            ? Coding(ActCodeSystem, "IMP", "inpatient encounter")
            : Coding(ActCodeSystem, "AMB", "ambulatory");
        resource["type"] = new JsonArray(Concept(inpatient ? (row.TransferredFromId is null ? "Inskrivning" : "Flytt") : "Besök"));
        resource["subject"] = Reference(patientReference);
        var period = new JsonObject { ["start"] = Instant(row.StartedAt) };
        if (row.EndedAt is { } ended) period["end"] = Instant(ended);
        resource["period"] = period;
        if (row.Bed is { } bed)
            resource["location"] = new JsonArray(new JsonObject
            {
                ["location"] = new JsonObject { ["display"] = $"{row.UnitName}, säng {bed}" },
                ["status"] = row.EndedAt is null ? "active" : "completed",
            });
        resource["serviceProvider"] = await UnitAsync(connection, transaction, row.UnitId, row.UnitHsaId, row.UnitName);
        return resource;
    }
}
