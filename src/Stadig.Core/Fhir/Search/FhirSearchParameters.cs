namespace Stadig.Fhir.Search;

public enum FhirSearchParamType { Token, String, Reference, Date, Number, Quantity, Uri }

/// <summary>
/// One R4 search parameter of one resource type. <see cref="Expression"/> is the official FHIRPath
/// (for the CapabilityStatement and for readers); <see cref="Paths"/> is how the indexer really
/// finds the values: dotted JSON property names, "x[A|B]" for a choice element x[x] limited to the
/// types A and B ("x[x]" for any). <see cref="Targets"/> are the allowed reference target types
/// (empty: any); <see cref="OnlyTargets"/> stands for FHIRPath's where(resolve() is T): only
/// references to those types are indexed.
/// </summary>
public sealed record FhirSearchParameter(string ResourceType, string Name, FhirSearchParamType Type, string Expression,
    IReadOnlyList<string> Paths, IReadOnlyList<string> Targets, bool OnlyTargets)
{
    /// <summary>A reference parameter that also takes :identifier (system|value of the reference's identifier).</summary>
    public bool ByIdentifier { get; init; }

    /// <summary>_id and _lastUpdated are columns of fhir_resource, not rows of the index.</summary>
    public bool IsResourceColumn => Paths.Count == 0;
}

/// <summary>
/// The search parameters this server supports, taken from the R4 definitions
/// (search-parameters.json) with the extraction paths written out by hand: no FHIRPath engine.
/// </summary>
public static class FhirSearchParameters
{
    private static readonly string[] Group = ["Group", "Patient"];
    private static readonly string[] EncounterTargets = ["Encounter", "EpisodeOfCare"];

    private static readonly Dictionary<string, Dictionary<string, FhirSearchParameter>> ByType = Build();

    public static IReadOnlyCollection<string> ResourceTypes => ByType.Keys;

    public static IReadOnlyCollection<FhirSearchParameter> For(string resourceType) =>
        ByType.TryGetValue(resourceType, out var parameters) ? parameters.Values : [];

    public static FhirSearchParameter? Find(string resourceType, string name) =>
        ByType.TryGetValue(resourceType, out var parameters) && parameters.TryGetValue(name, out var parameter) ? parameter : null;

    private delegate void Adder(string types, string name, FhirSearchParamType type, string paths, string[]? targets = null, bool onlyTargets = false,
        string? expression = null, bool byIdentifier = false);

    /// <summary>
    /// MedicationStatement, MedicationAdministration and Medication (issue #18), and MedicationRequest's
    /// medication reference. <c>code</c> also finds a contained product (<c>medicationReference: #product</c>,
    /// as Stadig publishes its ordinations), which R4's expression reaches only through the reference.
    /// </summary>
    private static void AddMedication(Adder add)
    {
        const FhirSearchParamType Token = FhirSearchParamType.Token, Ref = FhirSearchParamType.Reference, Date = FhirSearchParamType.Date;
        string[] patient = ["Patient"];
        add("MedicationStatement MedicationAdministration Medication", "identifier", Token, "identifier");
        add("MedicationStatement MedicationAdministration", "patient", Ref, "subject", patient, onlyTargets: true);
        add("MedicationStatement MedicationAdministration", "subject", Ref, "subject", ["Group", "Patient"]);
        add("MedicationStatement MedicationAdministration Medication", "status", Token, "status");
        add("MedicationStatement MedicationAdministration", "code", Token, "medication[CodeableConcept] | contained.code",
            expression: "(MedicationStatement.medication as CodeableConcept) | (MedicationAdministration.medication as CodeableConcept)");
        add("MedicationRequest MedicationStatement MedicationAdministration", "medication", Ref, "medication[Reference]", ["Medication"]);
        add("MedicationStatement", "category", Token, "category");
        add("MedicationStatement", "effective", Date, "effective[DateTime|Period]", expression: "MedicationStatement.effective");
        add("MedicationStatement", "context", Ref, "context", ["Encounter", "EpisodeOfCare"]);
        add("MedicationStatement", "source", Ref, "informationSource", ["Practitioner", "Organization", "Patient", "PractitionerRole", "RelatedPerson"]);
        add("MedicationAdministration", "effective-time", Date, "effective[DateTime|Period]", expression: "MedicationAdministration.effective");
        add("MedicationAdministration", "context", Ref, "context", ["Encounter", "EpisodeOfCare"]);
        add("MedicationAdministration", "request", Ref, "request", ["MedicationRequest"]);
        add("MedicationAdministration", "performer", Ref, "performer.actor", ["Practitioner", "Patient", "PractitionerRole", "RelatedPerson", "Device"]);
        add("MedicationRequest", "requester", Ref, "requester", ["Practitioner", "Organization", "Patient", "PractitionerRole", "RelatedPerson", "Device"]);
        add("MedicationRequest", "intent", Token, "intent");
        add("Medication", "code", Token, "code");
        add("Medication", "form", Token, "form");
        add("Medication", "ingredient-code", Token, "ingredient.item[CodeableConcept]", expression: "(Medication.ingredient.item as CodeableConcept)");
    }

    private static Dictionary<string, Dictionary<string, FhirSearchParameter>> Build()
    {
        var table = new Dictionary<string, Dictionary<string, FhirSearchParameter>>(StringComparer.Ordinal);

        void Add(string types, string name, FhirSearchParamType type, string paths, string[]? targets = null, bool onlyTargets = false, string? expression = null,
            bool byIdentifier = false)
        {
            foreach (var resourceType in types.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                var pathList = paths.Split(" | ", StringSplitOptions.RemoveEmptyEntries);
                var fhirPath = expression ?? string.Join(" | ", pathList.Select(p => $"{resourceType}.{p}"));
                if (!table.TryGetValue(resourceType, out var parameters)) table[resourceType] = parameters = new(StringComparer.Ordinal);
                parameters[name] = new FhirSearchParameter(resourceType, name, type, fhirPath, pathList, targets ?? [], onlyTargets) { ByIdentifier = byIdentifier };
            }
        }

        const FhirSearchParamType Token = FhirSearchParamType.Token, Str = FhirSearchParamType.String,
            Ref = FhirSearchParamType.Reference, Date = FhirSearchParamType.Date, Quantity = FhirSearchParamType.Quantity;
        string[] patient = ["Patient"];

        Add("AllergyIntolerance CarePlan Claim Composition Condition Consent DiagnosticReport DocumentReference Encounter ExplanationOfBenefit "
            + "Flag Goal ImagingStudy Immunization MedicationRequest Observation Organization Patient Practitioner PractitionerRole Procedure ServiceRequest",
            "identifier", Token, "identifier");
        Add("DocumentReference", "identifier", Token, "masterIdentifier | identifier");
        AddMedication(Add);

        Add("Patient Practitioner", "name", Str, "name");
        Add("Organization", "name", Str, "name | alias");
        Add("Patient Practitioner", "family", Str, "name.family");
        Add("Patient Practitioner", "given", Str, "name.given");
        Add("Patient Practitioner", "gender", Token, "gender");
        Add("Patient", "birthdate", Date, "birthDate");
        Add("Patient", "active", Token, "active");
        Add("Patient", "organization", Ref, "managingOrganization", ["Organization"]);
        Add("Patient", "general-practitioner", Ref, "generalPractitioner", ["Practitioner", "Organization", "PractitionerRole"]);
        Add("Organization", "type", Token, "type");

        Add("CarePlan Composition Condition DiagnosticReport DocumentReference Encounter Flag Goal ImagingStudy MedicationRequest Observation Procedure ServiceRequest",
            "patient", Ref, "subject", patient, onlyTargets: true);
        Add("AllergyIntolerance Claim Consent ExplanationOfBenefit Immunization", "patient", Ref, "patient", patient);
        Add("AuditEvent", "patient", Ref, "agent.who | entity.what", patient, onlyTargets: true);
        Add("Provenance", "patient", Ref, "target", patient, onlyTargets: true);
        Add("Provenance", "target", Ref, "target");

        Add("CarePlan Condition Encounter MedicationRequest Procedure", "subject", Ref, "subject", Group);
        Add("DiagnosticReport Observation ServiceRequest", "subject", Ref, "subject", ["Group", "Device", "Patient", "Location"]);
        Add("ImagingStudy", "subject", Ref, "subject", ["Group", "Device", "Patient"]);
        Add("DocumentReference", "subject", Ref, "subject", ["Practitioner", "Group", "Device", "Patient"]);
        Add("Goal", "subject", Ref, "subject", ["Group", "Organization", "Patient"]);
        Add("Flag", "subject", Ref, "subject", ["Practitioner", "Group", "Organization", "Medication", "Patient", "PlanDefinition", "Procedure", "Location"]);
        Add("Composition", "subject", Ref, "subject");

        Add("CarePlan Condition ImagingStudy MedicationRequest", "encounter", Ref, "encounter", ["Encounter"]);
        Add("Composition DiagnosticReport Flag Observation Procedure ServiceRequest", "encounter", Ref, "encounter", EncounterTargets);
        Add("DocumentReference", "encounter", Ref, "context.encounter", EncounterTargets);
        Add("Claim ExplanationOfBenefit", "encounter", Ref, "item.encounter", ["Encounter"]);

        Add("Condition DiagnosticReport Observation Procedure ServiceRequest", "code", Token, "code");
        Add("AllergyIntolerance", "code", Token, "code | reaction.substance");
        Add("MedicationRequest", "code", Token, "medication[CodeableConcept] | contained.code", expression: "(MedicationRequest.medication as CodeableConcept)");
        Add("Immunization", "vaccine-code", Token, "vaccineCode");
        Add("AllergyIntolerance Composition DocumentReference Encounter", "type", Token, "type");
        // AuditEvent is searched on Stadig's audit log itself (FhirAuditEventSearch), not on this index.
        Add("AuditEvent", "type", Token, "type");
        Add("AuditEvent", "subtype", Token, "subtype");
        Add("AuditEvent", "action", Token, "action");
        Add("AuditEvent", "outcome", Token, "outcome");
        Add("Encounter", "class", Token, "class");
        Add("PractitionerRole", "role", Token, "code");

        Add("AllergyIntolerance", "date", Date, "recordedDate");
        Add("CarePlan Encounter Flag PractitionerRole", "date", Date, "period");
        Add("Composition DocumentReference", "date", Date, "date");
        Add("Consent", "date", Date, "dateTime");
        Add("AuditEvent", "date", Date, "recorded");
        Add("DiagnosticReport", "date", Date, "effective[DateTime|Period]", expression: "DiagnosticReport.effective");
        Add("Observation", "date", Date, "effective[DateTime|Period|Instant|Timing]", expression: "Observation.effective");
        Add("Procedure", "date", Date, "performed[DateTime|Period]", expression: "Procedure.performed");
        Add("Immunization", "date", Date, "occurrence[DateTime]", expression: "Immunization.occurrence");
        Add("MedicationRequest", "date", Date, "dosageInstruction.timing.event");
        Add("MedicationRequest", "authoredon", Date, "authoredOn");
        Add("ServiceRequest", "authored", Date, "authoredOn");
        Add("DiagnosticReport", "issued", Date, "issued");
        Add("Claim ExplanationOfBenefit", "created", Date, "created");
        Add("Condition", "onset-date", Date, "onset[DateTime|Period]", expression: "Condition.onset.as(dateTime) | Condition.onset.as(Period)");
        Add("Condition", "abatement-date", Date, "abatement[DateTime|Period]", expression: "Condition.abatement.as(dateTime) | Condition.abatement.as(Period)");
        Add("Condition", "recorded-date", Date, "recordedDate");

        Add("CarePlan Claim Composition Consent DiagnosticReport DocumentReference Encounter ExplanationOfBenefit ImagingStudy Immunization "
            + "MedicationRequest Observation Procedure ServiceRequest", "status", Token, "status");
        Add("Goal", "lifecycle-status", Token, "lifecycleStatus");
        Add("AllergyIntolerance CarePlan Composition Condition Consent DiagnosticReport DocumentReference Goal MedicationRequest Observation Procedure ServiceRequest",
            "category", Token, "category");
        Add("AllergyIntolerance Condition", "clinical-status", Token, "clinicalStatus");
        Add("AllergyIntolerance Condition", "verification-status", Token, "verificationStatus");

        Add("DiagnosticReport", "result", Ref, "result", ["Observation"]);
        Add("CarePlan", "based-on", Ref, "basedOn", ["CarePlan"]);
        Add("DiagnosticReport", "based-on", Ref, "basedOn", ["CarePlan", "MedicationRequest", "NutritionOrder", "ServiceRequest", "ImmunizationRecommendation"]);
        Add("Encounter", "based-on", Ref, "basedOn", ["ServiceRequest"]);
        Add("Observation", "based-on", Ref, "basedOn", ["CarePlan", "MedicationRequest", "NutritionOrder", "DeviceRequest", "ServiceRequest", "ImmunizationRecommendation"]);
        Add("Procedure", "based-on", Ref, "basedOn", ["CarePlan", "ServiceRequest"]);
        Add("ServiceRequest", "based-on", Ref, "basedOn", ["CarePlan", "MedicationRequest", "ServiceRequest"]);

        string[] people = ["Practitioner", "Organization", "CareTeam", "Device", "Patient", "HealthcareService", "PractitionerRole", "RelatedPerson"];
        Add("CarePlan", "performer", Ref, "activity.detail.performer", people);
        Add("DiagnosticReport", "performer", Ref, "performer", ["Practitioner", "Organization", "CareTeam", "PractitionerRole"]);
        Add("ImagingStudy", "performer", Ref, "series.performer.actor", people);
        Add("Immunization", "performer", Ref, "performer.actor", ["Practitioner", "Organization", "PractitionerRole"]);
        Add("Observation", "performer", Ref, "performer", ["Practitioner", "Organization", "CareTeam", "Patient", "PractitionerRole", "RelatedPerson"]);
        Add("Procedure", "performer", Ref, "performer.actor", people);
        Add("ServiceRequest", "performer", Ref, "performer", people);
        Add("AuditEvent", "agent", Ref, "agent.who", ["Practitioner", "Organization", "Device", "Patient", "PractitionerRole", "RelatedPerson"], byIdentifier: true);
        Add("AuditEvent", "entity", Ref, "entity.what");

        Add("Consent PractitionerRole", "organization", Ref, "organization", ["Organization"]);
        Add("Encounter", "service-provider", Ref, "serviceProvider", ["Organization"]);
        Add("Encounter", "practitioner", Ref, "participant.individual", ["Practitioner"], onlyTargets: true);
        Add("PractitionerRole", "practitioner", Ref, "practitioner", ["Practitioner"]);

        Add("Observation", "value-quantity", Quantity, "value[Quantity]", expression: "(Observation.value as Quantity)");

        foreach (var (resourceType, parameters) in table)
        {
            parameters["_id"] = new(resourceType, "_id", Token, "Resource.id", [], [], false);
            parameters["_lastUpdated"] = new(resourceType, "_lastUpdated", Date, "Resource.meta.lastUpdated", [], [], false);
        }
        return table;
    }
}
