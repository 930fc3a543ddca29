namespace Stadig.Medication;

/// <summary>How an ordination came into the list.</summary>
public enum MedicationOrigin
{
    /// <summary>Prescribed here (ordination).</summary>
    Prescribed,
    /// <summary>Recorded from another system (another region's list, a FHIR sender).</summary>
    OtherSystem,
    /// <summary>Noted as what the patient takes on their own (egenvård, receptfritt).</summary>
    PatientOwn,
}

/// <summary>Where an ordination stands.</summary>
public enum MedicationStatus
{
    Active,
    Paused,
    Ended,
}

/// <summary>What a version did to the ordination.</summary>
public enum MedicationAction
{
    Prescribe,
    Record,
    Change,
    Pause,
    Resume,
    Stop,
    /// <summary>Reconciled at discharge: goes on as it is (a paused one resumes), with the reason.</summary>
    Continue,
}

/// <summary>
/// What the prescriber enters: the product, why, and the structured dosage. Scheduled doses are at
/// <see cref="TimesOfDay"/> (region clock, "08:00") or every <see cref="IntervalHours"/> hours; as-needed
/// doses have at most <see cref="MaxDosesPer24h"/> doses in any 24 hours.
/// </summary>
public sealed record MedicationDraft
{
    public Guid ProductId { get; init; }
    public string? Indication { get; init; }
    public double DoseValue { get; init; }
    public string DoseUnit { get; init; } = "";
    /// <summary>Empty: the product's route.</summary>
    public string? Route { get; init; }
    public IReadOnlyList<TimeOnly> TimesOfDay { get; init; } = [];
    public int? IntervalHours { get; init; }
    public bool AsNeeded { get; init; }
    public double? MaxDosesPer24h { get; init; }
    public int? DurationDays { get; init; }
    public string? Instructions { get; init; }
    /// <summary>Null: now.</summary>
    public DateTimeOffset? StartsAt { get; init; }
    /// <summary>For a recorded ordination (another system, the patient's own): who prescribed it, as they said.</summary>
    public string? PrescriberText { get; init; }
}

/// <summary>One prescribing check's finding, shown before signing: <see cref="Kind"/> is a <see cref="CheckKind"/> name.</summary>
public sealed record CheckFinding(string Kind, string Text)
{
    /// <summary>
    /// Names the finding as it was shown: a form posts the fingerprints of the findings it showed, and a
    /// reason to go on covers those only, so a finding that appears meanwhile (a hypersensitivity
    /// recorded, a dose above the maximum) is shown before anything is signed past it.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Fingerprint => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
        System.Text.Encoding.UTF8.GetBytes(Kind + "\n" + Text)))[..16];

    /// <summary>The fingerprints a form posted (comma-separated), as a set; none posted: an empty set.</summary>
    public static IReadOnlySet<string> Seen(string? posted) =>
        (posted ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);

    /// <summary>The fingerprints of <paramref name="findings"/>, as a form posts them back.</summary>
    public static string Fingerprints(IEnumerable<CheckFinding> findings) => string.Join(",", findings.Select(f => f.Fingerprint));
}

/// <summary>The prescribing checks (issue #18): each is shown before signing and needs a reason to go on.</summary>
public enum CheckKind
{
    /// <summary>A recorded hypersensitivity names a substance of the product.</summary>
    AllergySubstance,
    /// <summary>A recorded hypersensitivity names the product's ATC group (a code, a group name, or a substance in the same group).</summary>
    AllergyAtcGroup,
    /// <summary>Another current ordination in the same ATC group (chemical subgroup, 5 characters).</summary>
    DuplicateTherapy,
    /// <summary>The daily dose is above the product's maximum in the catalogue.</summary>
    MaxDose,
    /// <summary>
    /// A current medication another system sent could not be classified (no ATC code, no NPL id or substance the
    /// catalogue knows): duplicate therapy was not checked against it, and the prescriber is told so by its name.
    /// </summary>
    NotChecked,
}

/// <summary>One version of an ordination: the whole ordination as it stood from <see cref="RecordedAt"/>, with who and why.</summary>
public sealed record MedicationVersion
{
    public Guid OrderId { get; init; }
    public int Version { get; init; }
    public Guid PatientId { get; init; }
    public string Action { get; init; } = "";
    public string Status { get; init; } = "";
    public Guid? ProductId { get; init; }
    public string ProductText { get; init; } = "";
    public string? AtcCode { get; init; }
    public string? Indication { get; init; }
    public double? DoseValue { get; init; }
    public string? DoseUnit { get; init; }
    public string? Route { get; init; }
    public string? TimesOfDay { get; init; }
    public int? IntervalHours { get; init; }
    public bool AsNeeded { get; init; }
    public double? MaxDosesPer24h { get; init; }
    public int? DurationDays { get; init; }
    public string? Instructions { get; init; }
    public DateTimeOffset StartsAt { get; init; }
    public DateTimeOffset? EndsAt { get; init; }
    public Guid? PrescriberId { get; init; }
    public string? PrescriberName { get; init; }
    public string? Reason { get; init; }
    public string? CheckFindings { get; init; }
    public string? OverrideReason { get; init; }
    public DateTimeOffset RecordedAt { get; init; }
    public Guid RecordedBy { get; init; }
    public string RecordedByName { get; init; } = "";
    public string RecordedRole { get; init; } = "";
    /// <summary>The admission whose discharge this version reconciled the ordination for (continue, change, stop); null for every other change.</summary>
    public Guid? DischargeEncounterId { get; init; }

    /// <summary>The checks shown when this version was signed.</summary>
    public IReadOnlyList<CheckFinding> Findings => PrescribingChecks.ParseFindings(CheckFindings);

    /// <summary>"1 tablett 08:00, 20:00", "500 mg var 8:e timme", "1 tablett vid behov, högst 4 per dygn".</summary>
    public string DosageText => MedicationText.Dosage(DoseValue, DoseUnit, TimesOfDay, IntervalHours, AsNeeded, MaxDosesPer24h);
}

/// <summary>An ordination in the list: where it belongs and came from, and its current version.</summary>
public sealed record MedicationOrder
{
    public Guid Id { get; init; }
    public Guid PatientId { get; init; }
    public Guid UnitId { get; init; }
    public string UnitName { get; init; } = "";
    public string Origin { get; init; } = "";
    public string Status { get; init; } = "";
    public DateTimeOffset CreatedAt { get; init; }
    public MedicationVersion Current { get; init; } = new();

    public bool IsCurrent => Status != nameof(MedicationStatus.Ended);
}

/// <summary>The words a dosage is shown in; Swedish, as in the printed list.</summary>
public static class MedicationText
{
    public static string Dosage(double? dose, string? unit, string? times, int? interval, bool asNeeded, double? maxPer24h)
    {
        var amount = dose is { } d ? $"{d.ToString("0.###", System.Globalization.CultureInfo.GetCultureInfo("sv-SE"))} {unit}".Trim() : "";
        if (asNeeded)
            return maxPer24h is { } max ? $"{amount} vid behov, högst {max.ToString("0.##", System.Globalization.CultureInfo.GetCultureInfo("sv-SE"))} doser per dygn" : $"{amount} vid behov";
        if (!string.IsNullOrEmpty(times)) return $"{amount} kl. {times.Replace(",", ", ", StringComparison.Ordinal)}";
        if (interval is { } hours) return $"{amount} var {hours}:e timme";
        return amount;
    }
}
