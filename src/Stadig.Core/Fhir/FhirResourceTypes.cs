namespace Stadig.Fhir;

/// <summary>
/// The resource types Stadig's FHIR API keeps, and for each clinical type the element that names
/// its patient: that puts the resource in the patient's compartment, so the access checkpoint
/// decides on it like on any other part of the record. The directory types (organisations, staff,
/// places, medicines) belong to no patient.
/// </summary>
public static class FhirResourceTypes
{
    /// <summary>Clinical types and the element holding their patient reference.</summary>
    public static readonly IReadOnlyDictionary<string, string> PatientElement = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["Encounter"] = "subject",
        ["Condition"] = "subject",
        ["AllergyIntolerance"] = "patient",
        ["Flag"] = "subject",
        ["ServiceRequest"] = "subject",
        ["DiagnosticReport"] = "subject",
        ["Observation"] = "subject",
        ["DocumentReference"] = "subject",
        ["Composition"] = "subject",
        ["Consent"] = "patient",
        ["Immunization"] = "patient",
        ["Procedure"] = "subject",
        ["MedicationRequest"] = "subject",
        ["MedicationStatement"] = "subject",
        ["MedicationAdministration"] = "subject",
        ["CarePlan"] = "subject",
        ["Goal"] = "subject",
        ["Claim"] = "patient",
        ["ExplanationOfBenefit"] = "patient",
        ["ImagingStudy"] = "subject",
        ["Specimen"] = "subject",
        ["CareTeam"] = "subject",
    };

    /// <summary>Types that belong to no patient.</summary>
    public static readonly IReadOnlySet<string> Directory = new HashSet<string>(StringComparer.Ordinal)
    {
        "Organization", "Practitioner", "PractitionerRole", "Location", "Medication",
    };

    /// <summary>Read-only: the audit log is written by Stadig itself, never through the API.</summary>
    public const string AuditEvent = "AuditEvent";

    public static bool IsSupported(string type) =>
        type == "Patient" || type == AuditEvent || PatientElement.ContainsKey(type) || Directory.Contains(type);

    public static IEnumerable<string> All =>
        new[] { "Patient", AuditEvent }.Concat(PatientElement.Keys).Concat(Directory).Order(StringComparer.Ordinal);
}
