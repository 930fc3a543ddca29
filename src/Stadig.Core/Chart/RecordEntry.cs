namespace Stadig.Chart;

/// <summary>The kinds of entry in a patient's record, as the journal timeline filters them.</summary>
public enum RecordKind
{
    Note,
    Result,
    Observation,
    Encounter,
    Problem,
    Allergy,
    Warning,
    Medication,
    Immunization,
    Procedure,
    Document,
    Other,
}

/// <summary>
/// One fact of the record as every view shows it, whichever door it came in by: a chart record
/// (note, result, encounter, problem, warning; <see cref="Source"/> null) or a resource another
/// system wrote over FHIR (<see cref="Source"/> names the system). Origin is always shown: the unit
/// that holds it, who wrote it when known, and when.
/// </summary>
public sealed record RecordEntry
{
    public RecordKind Kind { get; init; }
    /// <summary>The chart record's id, or "Type/id" of a FHIR resource: unique across the record.</summary>
    public string Key { get; init; } = "";
    /// <summary>When it happened (observed, started, recorded, signed), the timeline's order.</summary>
    public DateTimeOffset At { get; init; }
    public DateTimeOffset? EndedAt { get; init; }
    /// <summary>The clinical text in the sender's words (substance, diagnosis, analysis, vaccine …).</summary>
    public string Title { get; init; } = "";
    /// <summary>The code beside the title (ICD-10-SE, SNOMED CT, LOINC, NPU), when there is one.</summary>
    public string? Code { get; init; }
    /// <summary>The value, reaction, dose or kind, in a form that reads as it was sent.</summary>
    public string? Detail { get; init; }
    public double? Number { get; init; }
    public string? NumberUnit { get; init; }
    /// <summary>The record's own status as a code (active, resolved, finished, Signed, Final …).</summary>
    public string? Status { get; init; }
    public Guid? UnitId { get; init; }
    public string? UnitName { get; init; }
    public string? Author { get; init; }
    /// <summary>Null for a chart record; else the system that sent it (FHIR <c>meta.source</c>, or "FHIR").</summary>
    public string? Source { get; init; }
    /// <summary>A note's versions: the note and the signed amendments that replaced it (1 when never amended).</summary>
    public int Versions { get; init; } = 1;
    /// <summary>Hypersensitivity: reaction severity (mild/moderate/severe), criticality and verification status.</summary>
    public string? Severity { get; init; }
    public string? Criticality { get; init; }
    public string? Verification { get; init; }
    /// <summary>A chart warning's national category (<see cref="Warnings.WarningCategory"/>); null for FHIR resources.</summary>
    public string? Category { get; init; }
    /// <summary>A text document the resource carries (presentedForm, attachment), decoded when it is plain text.</summary>
    public string? DocumentText { get; init; }
    /// <summary>Set for a chart record documented on paper during a downtime and entered afterwards; <see cref="At"/> is then the time on the paper.</summary>
    public Downtime.BackEntryMark? BackEntry { get; init; }

    /// <summary>The chart record's id when it is one (for links to the note, result …).</summary>
    public Guid? RecordId => Source is null && Guid.TryParse(Key, out var id) ? id : null;
}
