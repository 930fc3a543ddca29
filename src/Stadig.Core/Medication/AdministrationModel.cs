using Stadig.Chart;
using Stadig.Patients;

namespace Stadig.Medication;

/// <summary>What became of a dose, as stored in <c>medication_administration.outcome</c>.</summary>
public enum AdministrationOutcome
{
    Given,
    /// <summary>Given after its time and the dose window (<see cref="MedicationOptions.DoseWindowMinutes"/>).</summary>
    GivenLate,
    NotGiven,
}

/// <summary>Where a scheduled dose stands on the ward list.</summary>
public enum DoseState
{
    /// <summary>Within the dose window around its time, not yet recorded.</summary>
    Due,
    /// <summary>Past its time and the window, not recorded: highlighted.</summary>
    Overdue,
    /// <summary>Recorded (given, given late or not given): see <see cref="DueDose.Record"/>.</summary>
    Recorded,
}

/// <summary>
/// What the nurse records for a dose. <see cref="ScheduledAt"/> is the scheduled time the dose answers
/// (null for an as-needed dose); <see cref="DoseValue"/> null is the ordered dose, <see cref="GivenAt"/> null
/// is now; <see cref="Reason"/> is why not given, or why an as-needed dose was given. <see cref="CheckedBy"/>
/// is the second nurse who checked a high-risk dose, authenticated by the caller (the web form asks for
/// their sign-in) before it reaches the use case.
/// </summary>
public sealed record DoseInput
{
    public DateTimeOffset? ScheduledAt { get; init; }
    public bool Given { get; init; } = true;
    public double? DoseValue { get; init; }
    public DateTimeOffset? GivenAt { get; init; }
    public string? Reason { get; init; }
    public Guid? CheckedBy { get; init; }

    /// <summary>
    /// A dose documented on paper during a downtime and entered afterwards (docs/operations.md, "Back-entry
    /// after downtime"): given at the paper's time, which must lie in a registered downtime period, and
    /// marked back-entered in the same transaction.
    /// </summary>
    public Downtime.BackEntryClaim? BackEntry { get; init; }
}

/// <summary>One row of the administration record (append-only): a dose given, given late or not given, or a correction of one.</summary>
public sealed record AdministrationEntry
{
    public Guid Id { get; init; }
    public Guid PatientId { get; init; }
    public Guid OrderId { get; init; }
    public int OrderVersion { get; init; }
    public Guid UnitId { get; init; }
    public DateTimeOffset? ScheduledAt { get; init; }
    public string Outcome { get; init; } = "";
    public double? DoseValue { get; init; }
    public string? DoseUnit { get; init; }
    public DateTimeOffset? GivenAt { get; init; }
    public string? Reason { get; init; }
    public Guid GivenBy { get; init; }
    public string GivenByName { get; init; } = "";
    public Guid? CheckedBy { get; init; }
    public string? CheckedByName { get; init; }
    public DateTimeOffset? CheckedAt { get; init; }
    public Guid? CorrectsId { get; init; }
    public string? CorrectionReason { get; init; }
    public DateTimeOffset RecordedAt { get; init; }
    /// <summary>The row that corrects this one, if any: then this one no longer stands.</summary>
    public Guid? CorrectedById { get; init; }

    public bool Stands => CorrectedById is null;
    public bool WasGiven => Outcome is nameof(AdministrationOutcome.Given) or nameof(AdministrationOutcome.GivenLate);
    public string DoseText => DoseValue is { } d ? $"{d.ToString("0.###", System.Globalization.CultureInfo.GetCultureInfo("sv-SE"))} {DoseUnit}".Trim() : "";
}

/// <summary>An active ordination as the ward list and the administration form need it: its current version and whether its product needs a second nurse's check.</summary>
public sealed record DoseOrder
{
    public Guid Id { get; init; }
    public Guid PatientId { get; init; }
    public Guid UnitId { get; init; }
    public string Origin { get; init; } = "";
    public string Status { get; init; } = "";
    public int Version { get; init; }
    public string ProductText { get; init; } = "";
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
    public DateTimeOffset RecordedAt { get; init; }
    public bool HighRisk { get; init; }

    public string DosageText => MedicationText.Dosage(DoseValue, DoseUnit, TimesOfDay, IntervalHours, AsNeeded, MaxDosesPer24h);

    /// <summary>"2 tablett": one dose as ordered.</summary>
    public string DoseText => MedicationText.Dosage(DoseValue, DoseUnit, null, null, false, null);
}

/// <summary>A scheduled dose of an ordination: its time, where it stands, and the record that stands for it.</summary>
public sealed record DueDose(DoseOrder Order, DateTimeOffset ScheduledAt, DoseState State, AdministrationEntry? Record);

/// <summary>An as-needed ordination with the doses given in the last 24 hours.</summary>
public sealed record AsNeededDose(DoseOrder Order, IReadOnlyList<AdministrationEntry> GivenLast24h)
{
    public bool AtMaximum => Order.MaxDosesPer24h is { } max && GivenLast24h.Count >= max;
}

/// <summary>One bed of the ward's medication round: the patient, the scheduled doses due, overdue or just recorded, and the as-needed ordinations.</summary>
public sealed record WardDoses(Encounters.WardPatient Bed, IReadOnlyList<DueDose> Doses, IReadOnlyList<AsNeededDose> AsNeeded)
{
    public int Overdue => Doses.Count(d => d.State == DoseState.Overdue);
    public int Due => Doses.Count(d => d.State == DoseState.Due);
}

/// <summary>The administration form: the patient for the banner, the ordination, the dose it answers (or as needed) and what stands recorded.</summary>
public sealed record DoseView(Patient Patient, IReadOnlyList<RecordEntry> Signals, DoseOrder Order, DueDose? Scheduled, AsNeededDose? AsNeeded,
    AdministrationEntry? Correcting);
