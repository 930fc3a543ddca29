using Stadig.Fhir.Records;

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
    /// <summary>A training installation's own bookkeeping (which exercise patients are whose): never moves, the checks read it as set up.</summary>
    Training,
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

/// <summary>
/// How a table's rows reach the FHIR store: the chart publishes them as <see cref="Kind"/> (the backfill
/// runs <see cref="Batch"/> over the table), or <see cref="WhyNot"/> says why they are not published by
/// themselves. Every table says one or the other, so a new clinical table cannot be left out of FHIR unnoticed.
/// </summary>
public sealed record FhirPublication(string? Kind, FhirRecordBackfill.Batch? Batch, string? WhyNot);

/// <summary>A table whose rows belong to a patient through <paramref name="PatientColumn"/>.</summary>
/// <param name="CareUnitColumn">Where a row makes the patient one of a care unit's patients (an encounter, a recorded care relation): the unit's column.</param>
public sealed record PatientOwnedTable(string Name, string PatientColumn, PatientRowRole Role, FhirPublication Publication, string? CareUnitColumn = null)
{
    /// <summary>What "move" means for this table, decided by its role.</summary>
    public PatientMergeAction MergeAction => Role switch
    {
        PatientRowRole.ClinicalRecord or PatientRowRole.AccessDecision or PatientRowRole.LabMessage => PatientMergeAction.RePoint,
        PatientRowRole.FhirStore => PatientMergeAction.RewriteFhir,
        PatientRowRole.Audit or PatientRowRole.Training => PatientMergeAction.KeepWithLink,
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
    private static FhirPublication As(string kind, FhirRecordBackfill.Batch batch) => new(kind, batch, null);
    private static FhirPublication Within(string table) => new(null, null, $"published with its {table}");
    private static FhirPublication NotPublished(string why) => new(null, null, why);

    /// <summary>In the order the backfill walks the published ones (a lab order before the results that answer it).</summary>
    public static readonly IReadOnlyList<PatientOwnedTable> All =
    [
        new("lab_order", "patient_id", PatientRowRole.ClinicalRecord,
            As("Lab order", FhirRecordBackfill.Keyset(LabOrderAsFhir.BackfillBatchAsync, "ServiceRequest"))),
        new("lab_order_item", "patient_id", PatientRowRole.ClinicalRecord, Within("lab_order")),
        new("diagnostic_report", "patient_id", PatientRowRole.ClinicalRecord,
            As("Lab report", FhirRecordBackfill.Keyset(LabResultAsFhir.BackfillBatchAsync, "DiagnosticReport", "Observation", "ServiceRequest"))),
        new("lab_result", "patient_id", PatientRowRole.ClinicalRecord,
            As("Lab result without report", FhirRecordBackfill.Keyset(LabResultAsFhir.BackfillUnreportedBatchAsync, "Observation"))),
        new("encounter", "patient_id", PatientRowRole.ClinicalRecord, As("Encounter", EncounterAsFhir.Instance.PublishBatchAsync), CareUnitColumn: "unit_id"),
        new("warning", "patient_id", PatientRowRole.ClinicalRecord, As("Warning", WarningAsFhir.Instance.PublishBatchAsync)),
        new("problem", "patient_id", PatientRowRole.ClinicalRecord, As("Problem", ProblemAsFhir.Instance.PublishBatchAsync)),
        new("note", "patient_id", PatientRowRole.ClinicalRecord, As("Note", NoteAsFhir.Instance.PublishBatchAsync)),
        new("medication_order", "patient_id", PatientRowRole.ClinicalRecord, As("Medication order", MedicationOrderAsFhir.Instance.PublishBatchAsync)),
        new("medication_order_version", "patient_id", PatientRowRole.ClinicalRecord, Within("medication_order")),
        new("medication_administration", "patient_id", PatientRowRole.ClinicalRecord,
            As("Medication administration", MedicationAdministrationAsFhir.Instance.PublishBatchAsync)),
        new("discharge_external_medication", "patient_id", PatientRowRole.ClinicalRecord,
            NotPublished("the discharge's decision on another system's medication: printed with the discharge summary, the resource stays its sender's")),
        new("note_keyword", "patient_id", PatientRowRole.ClinicalRecord, Within("note")),
        new("vital_sign", "patient_id", PatientRowRole.ClinicalRecord,
            NotPublished("not yet: vital signs as FHIR Observation (vital-signs profile); the chart's timeline and record show them")),
        new("back_entry", "patient_id", PatientRowRole.ClinicalRecord, NotPublished("the back-entry mark of a record (efterregistrering), shown with the record")),
        new("result_view", "patient_id", PatientRowRole.ClinicalRecord, NotPublished("who opened which report: Stadig's reading trail, not part of the record")),
        new("care_relation", "patient_id", PatientRowRole.AccessDecision, NotPublished("Stadig's access decision, not a record"), CareUnitColumn: "unit_id"),
        new("consent", "patient_id", PatientRowRole.AccessDecision, As("Consent", ConsentAsFhir.Instance.PublishBatchAsync)),
        new("patient_block", "patient_id", PatientRowRole.AccessDecision, NotPublished("Stadig's access decision, not a record")),
        new("emergency_access", "patient_id", PatientRowRole.AccessDecision, NotPublished("Stadig's access decision; audited and served as AuditEvent")),
        new("fhir_resource", "patient_id", PatientRowRole.FhirStore, NotPublished("the FHIR store itself")),
        new("fhir_resource_version", "patient_id", PatientRowRole.FhirStore, NotPublished("the FHIR store itself")),
        new("fhir_search", "patient_id", PatientRowRole.FhirStore, NotPublished("the FHIR store itself")),
        new("hl7_message", "patient_id", PatientRowRole.LabMessage, NotPublished("the message as received; what it filed is published as lab reports")),
        new("result_quarantine", "resolved_patient_id", PatientRowRole.LabMessage, NotPublished("the lab's worklist, not a record")),
        new("training_patient", "patient_id", PatientRowRole.Training, NotPublished("a trainee's exercise set-up, not a record")),
        new("audit_event", "patient_id", PatientRowRole.Audit, NotPublished("served as AuditEvent from the log itself")),
        new("patient_merge", "source_patient_id", PatientRowRole.Merge, NotPublished("served as Patient.link")),
        new("patient_merge", "target_patient_id", PatientRowRole.Merge, NotPublished("served as Patient.link")),
    ];

    public static IEnumerable<PatientOwnedTable> WithRole(PatientRowRole role) => All.Where(t => t.Role == role);

    /// <summary>The tables the FHIR backfill publishes, in its order.</summary>
    public static IEnumerable<PatientOwnedTable> Published => All.Where(t => t.Publication.Batch is not null);

    /// <summary>
    /// The patients of a care unit (a Group in a bulk export): those with a row at the unit in a table that
    /// names one (<see cref="PatientOwnedTable.CareUnitColumn"/>), as one UNION with the parameter <c>@unit</c>.
    /// </summary>
    public static string UnitPatientsSql =>
        string.Join(" UNION ", All.Where(t => t.CareUnitColumn is not null)
            .Select(t => $"SELECT {t.PatientColumn} FROM {t.Name} WHERE {t.CareUnitColumn} = @unit"));
}
