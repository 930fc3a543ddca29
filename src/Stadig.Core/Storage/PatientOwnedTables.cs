namespace Stadig.Storage;

/// <summary>What a patient-owned table holds, which decides what a merge, the FHIR backfill and export do with its rows.</summary>
public enum PatientRowRole
{
    /// <summary>The record itself (notes, results, warnings, …): moves to the target in a merge.</summary>
    ClinicalRecord,
    /// <summary>Who may see the patient (care relations, consents, blocks, emergency access): moves in a merge.</summary>
    AccessDecision,
    /// <summary>The FHIR store and its search index: moves in a merge, and its resources are republished.</summary>
    FhirStore,
    /// <summary>Lab messages and quarantine decisions: move in a merge so the message trail stays with the record.</summary>
    LabMessage,
    /// <summary>The audit log: never moves — it records what was done to whom at the time, and its chain is per patient.</summary>
    Audit,
    /// <summary>The merge record itself, naming both patients.</summary>
    Merge,
}

/// <summary>A table whose rows belong to a patient through <paramref name="PatientColumn"/>.</summary>
public sealed record PatientOwnedTable(string Name, string PatientColumn, PatientRowRole Role)
{
    public bool MovesInMerge => Role is not (PatientRowRole.Audit or PatientRowRole.Merge);
}

/// <summary>
/// The one list of patient-owned tables. Merge, backfill, export and the access architecture read it;
/// a schema test fails when a migration adds a column referring to a patient that is not listed here,
/// so a new clinical table cannot be forgotten by any of them.
/// </summary>
public static class PatientOwnedTables
{
    public static readonly IReadOnlyList<PatientOwnedTable> All =
    [
        new("encounter", "patient_id", PatientRowRole.ClinicalRecord),
        new("note", "patient_id", PatientRowRole.ClinicalRecord),
        new("note_keyword", "patient_id", PatientRowRole.ClinicalRecord),
        new("diagnostic_report", "patient_id", PatientRowRole.ClinicalRecord),
        new("lab_result", "patient_id", PatientRowRole.ClinicalRecord),
        new("lab_order", "patient_id", PatientRowRole.ClinicalRecord),
        new("lab_order_item", "patient_id", PatientRowRole.ClinicalRecord),
        new("warning", "patient_id", PatientRowRole.ClinicalRecord),
        new("problem", "patient_id", PatientRowRole.ClinicalRecord),
        new("result_view", "patient_id", PatientRowRole.ClinicalRecord),
        new("care_relation", "patient_id", PatientRowRole.AccessDecision),
        new("consent", "patient_id", PatientRowRole.AccessDecision),
        new("patient_block", "patient_id", PatientRowRole.AccessDecision),
        new("emergency_access", "patient_id", PatientRowRole.AccessDecision),
        new("fhir_resource", "patient_id", PatientRowRole.FhirStore),
        new("fhir_resource_version", "patient_id", PatientRowRole.FhirStore),
        new("fhir_search", "patient_id", PatientRowRole.FhirStore),
        new("hl7_message", "patient_id", PatientRowRole.LabMessage),
        new("result_quarantine", "resolved_patient_id", PatientRowRole.LabMessage),
        new("audit_event", "patient_id", PatientRowRole.Audit),
        new("patient_merge", "source_patient_id", PatientRowRole.Merge),
        new("patient_merge", "target_patient_id", PatientRowRole.Merge),
    ];

    public static IEnumerable<PatientOwnedTable> WithRole(PatientRowRole role) => All.Where(t => t.Role == role);
}
