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

/// <summary>What a merge does with a table's rows of the merged (source) patient.</summary>
public enum PatientMergeAction
{
    /// <summary>The patient column is set to the target: the row is the same fact, now in the identified patient's record.</summary>
    RePoint,
    /// <summary>
    /// The FHIR store: every resource in the source's compartment, and every resource whose search index
    /// references the source, gets a new version whose <c>Patient/…</c> references name the target, is
    /// re-indexed and moves to the target's compartment; older versions stay as written (history), only
    /// their compartment column follows. The source's own Patient resource stays the source's (it is served
    /// with <c>link: replaced-by</c>).
    /// </summary>
    RewriteFhir,
    /// <summary>Stays as written, with the source; <c>patient_merge</c> links the two and the merge itself is audited on both chains.</summary>
    KeepWithLink,
    /// <summary>Written by the merge itself (the merge record).</summary>
    WrittenByMerge,
}

/// <summary>A table whose rows belong to a patient through <paramref name="PatientColumn"/>.</summary>
public sealed record PatientOwnedTable(string Name, string PatientColumn, PatientRowRole Role)
{
    /// <summary>What "move" means for this table, decided by its role.</summary>
    public PatientMergeAction MergeAction => Role switch
    {
        PatientRowRole.ClinicalRecord or PatientRowRole.AccessDecision or PatientRowRole.LabMessage => PatientMergeAction.RePoint,
        PatientRowRole.FhirStore => PatientMergeAction.RewriteFhir,
        PatientRowRole.Audit => PatientMergeAction.KeepWithLink,
        PatientRowRole.Merge => PatientMergeAction.WrittenByMerge,
        _ => throw new InvalidOperationException($"No merge action for the role {Role} of {Name}."),
    };

    public bool MovesInMerge => MergeAction is PatientMergeAction.RePoint or PatientMergeAction.RewriteFhir;
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
