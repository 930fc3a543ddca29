using System.Data.Common;
using System.Text.Json.Nodes;
using Stadig.Medication;
using static Stadig.Fhir.Records.FhirRecordParts;

namespace Stadig.Fhir.Records;

/// <summary>
/// A row of <c>medication_administration</c> (eMAR, migration 0029) as a FHIR <c>MedicationAdministration</c>:
/// given or given late is completed, not given is not-done with the reason as statusReason (an as-needed
/// dose's reason is its reasonCode); the nurse who gave it is the performer and the second nurse's check
/// a verifier; the product is the one of the ordination version it followed (contained, as in
/// <see cref="MedicationOrderAsFhir"/>); a prescribed ordination is its request. The table is append-only:
/// a row that a later row corrects is published as entered-in-error, and the correction as itself.
/// </summary>
public sealed class MedicationAdministrationAsFhir : FhirRecordMapping<MedicationAdministrationAsFhir.Row>
{
    public const string PerformerFunctionSystem = "http://terminology.hl7.org/CodeSystem/med-admin-perform-function";

    public static readonly MedicationAdministrationAsFhir Instance = new();

    protected override string? TypeOf(Row row) => "MedicationAdministration";

    /// <summary>Publishes an administration and, for a correction, the row it corrects (now entered-in-error), on the recording transaction.</summary>
    public static async Task<bool> PublishAsync(DbConnection connection, DbTransaction transaction, Guid administrationId, DateTimeOffset now)
    {
        var row = await Instance.ReadAsync(connection, transaction, administrationId);
        if (row is null) return false;
        var published = await Instance.PublishOneAsync(connection, transaction, administrationId, now);
        if (row.CorrectsId is { } corrected) await Instance.PublishOneAsync(connection, transaction, corrected, now);
        return published;
    }

    public sealed class Row
    {
        public Guid Id { get; init; }
        public Guid PatientId { get; init; }
        public Guid UnitId { get; init; }
        public Guid OrderId { get; init; }
        public string Origin { get; init; } = "";
        public DateTimeOffset? ScheduledAt { get; init; }
        public string Outcome { get; init; } = "";
        public double? DoseValue { get; init; }
        public string? DoseUnit { get; init; }
        public DateTimeOffset? GivenAt { get; init; }
        public string? Reason { get; init; }
        public Guid GivenBy { get; init; }
        public string GivenByHsaId { get; init; } = "";
        public string GivenByName { get; init; } = "";
        public Guid? CheckedBy { get; init; }
        public string? CheckedByHsaId { get; init; }
        public string? CheckedByName { get; init; }
        public Guid? CorrectsId { get; init; }
        public bool Corrected { get; init; }
        public DateTimeOffset RecordedAt { get; init; }
        public string ProductText { get; init; } = "";
        public string? AtcCode { get; init; }
        public string? NplId { get; init; }
        public string? DoseForm { get; init; }
        public string? Substances { get; init; }
        public string? Route { get; init; }
        public bool AsNeeded { get; init; }
    }

    protected override string Select =>
        """
        SELECT r.id AS Id, r.patient_id AS PatientId, r.unit_id AS UnitId, r.order_id AS OrderId, o.origin AS Origin, r.scheduled_at AS ScheduledAt,
               r.outcome AS Outcome, r.dose_value AS DoseValue, r.dose_unit AS DoseUnit, r.given_at AS GivenAt, r.reason AS Reason,
               r.given_by AS GivenBy, gs.hsa_id AS GivenByHsaId, gs.display_name AS GivenByName, r.checked_by AS CheckedBy,
               cs.hsa_id AS CheckedByHsaId, cs.display_name AS CheckedByName, r.corrects_id AS CorrectsId,
               CASE WHEN EXISTS (SELECT 1 FROM medication_administration c WHERE c.corrects_id = r.id) THEN 1 ELSE 0 END AS Corrected,
               r.recorded_at AS RecordedAt, v.product_text AS ProductText, v.atc_code AS AtcCode, p.npl_id AS NplId, p.dose_form AS DoseForm,
               p.substances AS Substances, v.route AS Route, v.as_needed AS AsNeeded
        FROM medication_administration r JOIN medication_order o ON o.id = r.order_id
        JOIN medication_order_version v ON v.order_id = r.order_id AND v.version = r.order_version
        JOIN staff gs ON gs.id = r.given_by LEFT JOIN staff cs ON cs.id = r.checked_by
        LEFT JOIN medication_product p ON p.id = v.product_id
        """;

    protected override Guid IdOf(Row row) => row.Id;
    protected override Guid PatientOf(Row row) => row.PatientId;
    protected override Guid UnitOf(Row row) => row.UnitId;

    public override async Task<JsonObject> ToFhirAsync(DbConnection connection, DbTransaction? transaction, Row row, string patientReference)
    {
        var notGiven = row.Outcome == "NotGiven";
        var resource = new JsonObject
        {
            ["resourceType"] = "MedicationAdministration",
            ["contained"] = new JsonArray(MedicationOrderAsFhir.Product(row.ProductText, row.AtcCode, row.NplId, row.DoseForm, row.Substances)),
            ["status"] = row.Corrected ? "entered-in-error" : notGiven ? "not-done" : "completed",
        };
        if (notGiven && row.Reason is not null) resource["statusReason"] = new JsonArray(Concept(row.Reason));
        resource["medicationReference"] = new JsonObject { ["reference"] = "#product", ["display"] = row.ProductText };
        resource["subject"] = Reference(patientReference);
        // When it was given; a dose not given stands at the time it was due (or was recorded).
        resource["effectiveDateTime"] = Instant(row.GivenAt ?? row.ScheduledAt ?? row.RecordedAt);
        var performers = new JsonArray(new JsonObject
        {
            ["function"] = Concept(null, Coding(PerformerFunctionSystem, "performer", "Performer")),
            ["actor"] = await StaffAsync(connection, transaction, row.GivenBy, row.GivenByHsaId, row.GivenByName),
        });
        if (row.CheckedBy is { } checker)
        {
            performers.Add(new JsonObject
            {
                ["function"] = Concept(null, Coding(PerformerFunctionSystem, "verifier", "Verifier")),
                ["actor"] = await StaffAsync(connection, transaction, checker, row.CheckedByHsaId ?? "", row.CheckedByName),
            });
        }
        resource["performer"] = performers;
        if (!notGiven && row.Reason is not null) resource["reasonCode"] = new JsonArray(Concept(row.Reason));
        // The administration answers the ordination: a prescribed one is a MedicationRequest (published under the same id).
        if (row.Origin == nameof(MedicationOrigin.Prescribed)) resource["request"] = Reference($"MedicationRequest/{row.OrderId}");
        if (row.GivenAt is not null && row.Outcome == "GivenLate" && row.ScheduledAt is { } due)
            resource["note"] = new JsonArray(new JsonObject { ["text"] = $"Gavs sent; planerad tid {Instant(due)}" });
        // mad-1: a dosage holds a dose (or a rate), so a dose not given has none.
        if (row.DoseValue is { } dose)
        {
            var quantity = new JsonObject { ["value"] = dose };
            if (row.DoseUnit is not null) quantity["unit"] = row.DoseUnit;
            var dosage = new JsonObject();
            if (row.Route is not null) dosage["route"] = Concept(row.Route);
            dosage["dose"] = quantity;
            resource["dosage"] = dosage;
        }
        return resource;
    }
}
