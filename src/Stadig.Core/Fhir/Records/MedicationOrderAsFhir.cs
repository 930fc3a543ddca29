using System.Data.Common;
using System.Text.Json.Nodes;
using Stadig.Medication;
using static Stadig.Fhir.Records.FhirRecordParts;

namespace Stadig.Fhir.Records;

/// <summary>
/// An ordination of the medication list as FHIR, as it stands now (its current version): what is
/// prescribed here is a <c>MedicationRequest</c> (intent order, the prescriber as requester); what was
/// recorded from another system or as the patient's own is a <c>MedicationStatement</c> (the patient's
/// medication as told, the recorder as information source). An ordination never changes origin, so its
/// resource type is fixed. The product is a contained <c>Medication</c> (ATC code, NPL id, form,
/// substances as the catalogue had them when prescribed), referenced as <c>#product</c>; search by
/// <c>code</c> finds it there.
/// </summary>
public sealed class MedicationOrderAsFhir : FhirRecordMapping<MedicationOrderAsFhir.Row>
{
    public const string AtcSystem = "http://www.whocc.no/atc";
    /// <summary>NPL-id, the national medicinal product register's id of a product.</summary>
    public const string NplSystem = "urn:oid:1.2.752.129.2.1.5.1";
    public const string StatementCategorySystem = "http://terminology.hl7.org/CodeSystem/medication-statement-category";
    public const string UcumSystem = "http://unitsofmeasure.org";

    public static readonly MedicationOrderAsFhir Instance = new();

    protected override string? TypeOf(Row row) => TypeOf(row.Origin);

    public static Task<bool> PublishAsync(DbConnection connection, DbTransaction transaction, Guid orderId, DateTimeOffset now) =>
        Instance.PublishOneAsync(connection, transaction, orderId, now);

    /// <summary>The resource type an ordination of <paramref name="origin"/> is published as.</summary>
    public static string TypeOf(string origin) => origin == nameof(MedicationOrigin.Prescribed) ? "MedicationRequest" : "MedicationStatement";

    public sealed class Row
    {
        public Guid Id { get; init; }
        public Guid PatientId { get; init; }
        public Guid UnitId { get; init; }
        public string UnitHsaId { get; init; } = "";
        public string UnitName { get; init; } = "";
        public string Origin { get; init; } = "";
        public string Status { get; init; } = "";
        public DateTimeOffset CreatedAt { get; init; }
        public int Version { get; init; }
        public string Action { get; init; } = "";
        public string ProductText { get; init; } = "";
        public string? AtcCode { get; init; }
        public string? NplId { get; init; }
        public string? DoseForm { get; init; }
        public string? Substances { get; init; }
        public string? Indication { get; init; }
        public double? DoseValue { get; init; }
        public string? DoseUnit { get; init; }
        public string? Route { get; init; }
        public string? TimesOfDay { get; init; }
        public int? IntervalHours { get; init; }
        public bool AsNeeded { get; init; }
        public double? MaxDosesPer24h { get; init; }
        public string? Instructions { get; init; }
        public DateTimeOffset StartsAt { get; init; }
        public DateTimeOffset? EndsAt { get; init; }
        public Guid? PrescriberId { get; init; }
        public string? PrescriberHsaId { get; init; }
        public string? PrescriberName { get; init; }
        public string? PrescriberText { get; init; }
        public string? Reason { get; init; }
        public DateTimeOffset RecordedAt { get; init; }
        public Guid RecordedBy { get; init; }
        public string RecordedByHsaId { get; init; } = "";
        public string RecordedByName { get; init; } = "";
    }

    protected override string Select =>
        """
        SELECT r.id AS Id, r.patient_id AS PatientId, r.unit_id AS UnitId, u.hsa_id AS UnitHsaId, u.name AS UnitName, r.origin AS Origin,
               r.status AS Status, r.created_at AS CreatedAt, v.version AS Version, v.action AS Action, v.product_text AS ProductText,
               v.atc_code AS AtcCode, p.npl_id AS NplId, p.dose_form AS DoseForm, p.substances AS Substances,
               v.indication AS Indication, v.dose_value AS DoseValue, v.dose_unit AS DoseUnit, v.route AS Route, v.times_of_day AS TimesOfDay,
               v.interval_hours AS IntervalHours, v.as_needed AS AsNeeded, v.max_doses_per_24h AS MaxDosesPer24h, v.instructions AS Instructions,
               v.starts_at AS StartsAt, v.ends_at AS EndsAt, v.prescriber_id AS PrescriberId, ps.hsa_id AS PrescriberHsaId,
               ps.display_name AS PrescriberName, v.prescriber_text AS PrescriberText, v.reason AS Reason, v.recorded_at AS RecordedAt,
               v.recorded_by AS RecordedBy, rs.hsa_id AS RecordedByHsaId, rs.display_name AS RecordedByName
        FROM medication_order r JOIN care_unit u ON u.id = r.unit_id
        JOIN medication_order_version v ON v.order_id = r.id AND v.version = r.current_version
        JOIN staff rs ON rs.id = v.recorded_by LEFT JOIN staff ps ON ps.id = v.prescriber_id
        LEFT JOIN medication_product p ON p.id = v.product_id
        """;

    protected override Guid IdOf(Row row) => row.Id;
    protected override Guid PatientOf(Row row) => row.PatientId;
    protected override Guid UnitOf(Row row) => row.UnitId;

    public override async Task<JsonObject> ToFhirAsync(DbConnection connection, DbTransaction? transaction, Row row, string patientReference)
    {
        var request = row.Origin == nameof(MedicationOrigin.Prescribed);
        // A stop is "stopped"; an ordination whose duration ran out ended as planned.
        var status = row.Status switch
        {
            nameof(MedicationStatus.Active) => "active",
            nameof(MedicationStatus.Paused) => "on-hold",
            _ => row.Action == nameof(MedicationAction.Stop) ? "stopped" : "completed",
        };
        var resource = new JsonObject
        {
            ["resourceType"] = TypeOf(row.Origin),
            ["contained"] = new JsonArray(Product(row.ProductText, row.AtcCode, row.NplId, row.DoseForm, row.Substances)),
            ["status"] = status,
        };
        if (row.Reason is not null && row.Action is nameof(MedicationAction.Pause) or nameof(MedicationAction.Stop))
            resource["statusReason"] = request ? Concept(row.Reason) : (JsonNode)new JsonArray(Concept(row.Reason));
        if (request)
        {
            resource["intent"] = "order";
        }
        else
        {
            var code = row.Origin == nameof(MedicationOrigin.PatientOwn) ? "patientspecified" : "community";
            resource["category"] = Concept(null, Coding(StatementCategorySystem, code));
        }
        resource["medicationReference"] = new JsonObject { ["reference"] = "#product", ["display"] = row.ProductText };
        resource["subject"] = Reference(patientReference);
        var recorder = await StaffAsync(connection, transaction, row.RecordedBy, row.RecordedByHsaId, row.RecordedByName);
        if (request)
        {
            resource["authoredOn"] = Instant(row.CreatedAt);
            // Most often the prescriber recorded it: the same staff row (HSA-id, name), looked up once.
            resource["requester"] = row.PrescriberId is { } prescriber && prescriber != row.RecordedBy
                ? await StaffAsync(connection, transaction, prescriber, row.PrescriberHsaId ?? "", row.PrescriberName)
                : recorder.DeepClone();
            resource["recorder"] = recorder;
        }
        else
        {
            var period = new JsonObject { ["start"] = Instant(row.StartsAt) };
            if (row.EndsAt is { } end) period["end"] = Instant(end);
            resource["effectivePeriod"] = period;
            resource["dateAsserted"] = Instant(row.CreatedAt);
            resource["informationSource"] = row.Origin == nameof(MedicationOrigin.PatientOwn) ? Reference(patientReference) : recorder;
        }
        if (row.Indication is not null) resource["reasonCode"] = new JsonArray(Concept(row.Indication));
        if (!request && row.PrescriberText is not null) resource["note"] = new JsonArray(new JsonObject { ["text"] = $"Förskrivare: {row.PrescriberText}" });
        resource[request ? "dosageInstruction" : "dosage"] = new JsonArray(Dosage(row));
        if (request)
        {
            var validity = new JsonObject { ["start"] = Instant(row.StartsAt) };
            if (row.EndsAt is { } end) validity["end"] = Instant(end);
            resource["dispenseRequest"] = new JsonObject { ["validityPeriod"] = validity };
        }
        return resource;
    }

    /// <summary>A catalogue product as a (contained) Medication: ATC code and NPL id when known, the form and the substances with the product's strength.</summary>
    public static JsonObject Product(string text, string? atc, string? npl, string? form, string? substances, string id = "product")
    {
        var codings = new List<JsonObject>();
        if (npl is not null) codings.Add(Coding(NplSystem, npl));
        if (atc is not null) codings.Add(Coding(AtcSystem, atc));
        var medication = new JsonObject { ["resourceType"] = "Medication", ["id"] = id, ["code"] = Concept(text, codings.ToArray()) };
        if (!string.IsNullOrEmpty(form)) medication["form"] = Concept(form);
        if (!string.IsNullOrEmpty(substances))
        {
            // "Levodopa + Karbidopa": each substance an ingredient; the strength stays in the code's text.
            medication["ingredient"] = new JsonArray(substances.Split('+', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(s => (JsonNode)new JsonObject { ["itemCodeableConcept"] = Concept(s), ["isActive"] = true }).ToArray());
        }
        return medication;
    }

    private static JsonObject Dosage(Row row)
    {
        var text = MedicationText.Dosage(row.DoseValue, row.DoseUnit, row.TimesOfDay, row.IntervalHours, row.AsNeeded, row.MaxDosesPer24h);
        var dosage = new JsonObject { ["text"] = text };
        if (row.Instructions is not null) dosage["patientInstruction"] = row.Instructions;
        var repeat = new JsonObject();
        var bounds = new JsonObject { ["start"] = Instant(row.StartsAt) };
        if (row.EndsAt is { } end) bounds["end"] = Instant(end);
        repeat["boundsPeriod"] = bounds;
        if (!string.IsNullOrEmpty(row.TimesOfDay))
        {
            repeat["timeOfDay"] = new JsonArray(row.TimesOfDay.Split(',').Select(t => (JsonNode?)JsonValue.Create(t.Trim() + ":00")).ToArray());
        }
        else if (row.IntervalHours is { } hours)
        {
            repeat["frequency"] = 1;
            repeat["period"] = hours;
            repeat["periodUnit"] = "h";
        }
        dosage["timing"] = new JsonObject { ["repeat"] = repeat };
        dosage["asNeededBoolean"] = row.AsNeeded;
        if (row.Route is not null) dosage["route"] = Concept(row.Route);
        if (row.DoseValue is { } dose)
        {
            var quantity = new JsonObject { ["value"] = dose };
            if (row.DoseUnit is not null) quantity["unit"] = row.DoseUnit;
            dosage["doseAndRate"] = new JsonArray(new JsonObject { ["doseQuantity"] = quantity });
        }
        if (row.AsNeeded && row.MaxDosesPer24h is { } max)
        {
            dosage["maxDosePerPeriod"] = new JsonObject
            {
                ["numerator"] = new JsonObject { ["value"] = max, ["unit"] = "dos" },
                ["denominator"] = new JsonObject { ["value"] = 24, ["unit"] = "h", ["system"] = UcumSystem, ["code"] = "h" },
            };
        }
        return dosage;
    }
}
