using Stadig.Patients.Identifiers;

namespace Stadig.Patients;

/// <summary>Sekretessmarkering and skyddad folkbokföring both mean: show name and address only to those who need them.</summary>
public enum ProtectedIdentity
{
    None,
    Sekretessmarkering,
    SkyddadFolkbokforing,
}

public sealed record Patient
{
    public Guid Id { get; init; }
    public IdentifierKind IdentifierKind { get; init; }
    public string Identifier { get; init; } = "";
    public string FamilyName { get; init; } = "";
    public string GivenNames { get; init; } = "";
    public DateOnly? BirthDate { get; init; }
    public Sex Sex { get; init; }
    public string? AddressLine { get; init; }
    public string? PostalCode { get; init; }
    public string? City { get; init; }
    public string? Phone { get; init; }
    public string? Email { get; init; }
    public ProtectedIdentity ProtectedIdentity { get; init; }
    public DateOnly? DeceasedDate { get; init; }
    public Guid? MergedIntoId { get; init; }
    public int Version { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }

    public string FullName => $"{GivenNames} {FamilyName}";

    /// <summary>"Family, Given" as pages show a patient; null when the record holds no name (see <see cref="PatientNames.Sort"/>).</summary>
    public string? SortName => PatientNames.Sort(FamilyName, GivenNames);

    /// <summary>True when name, address and contact were withheld (protected identity, no care relation).</summary>
    public bool Masked { get; init; }

    /// <summary>The patient as a list may show them to someone without need for the protected details.</summary>
    public Patient AsMasked() => this with
    {
        FamilyName = "Skyddad identitet", GivenNames = "", AddressLine = null, PostalCode = null, City = null, Phone = null, Email = null, Masked = true,
    };

    public string IdentifierDisplay => IdentifierKind == IdentifierKind.Reservnummer ? Identifier : $"{Identifier[..8]}-{Identifier[8..]}";

    /// <summary>Whole years on <paramref name="today"/> (or on the day of death).</summary>
    public int? AgeOn(DateOnly today)
    {
        if (BirthDate is not { } born) return null;
        var end = DeceasedDate is { } died && died < today ? died : today;
        var age = end.Year - born.Year;
        if (end < born.AddYears(age)) age--;
        return age;
    }
}

/// <summary>How a patient's name is written on a page, one rule for every place that shows it.</summary>
public static class PatientNames
{
    /// <summary>
    /// "Family, Given", or the one part there is; null when there is no name at all (a newborn, an
    /// unknown patient, a FHIR Patient with only name.text or none): the page then shows a placeholder
    /// with the identifier, never a blank or a lone comma.
    /// </summary>
    public static string? Sort(string? family, string? given)
    {
        family = family?.Trim();
        given = given?.Trim();
        return (string.IsNullOrEmpty(family), string.IsNullOrEmpty(given)) switch
        {
            (true, true) => null,
            (false, true) => family,
            (true, false) => given,
            _ => $"{family}, {given}",
        };
    }
}

/// <summary>One merge: the reservnummer record (source) joined into the identified patient (target).</summary>
public sealed class PatientMerge
{
    public Guid Id { get; init; }
    public Guid SourcePatientId { get; init; }
    public string SourceIdentifier { get; init; } = "";
    public Guid TargetPatientId { get; init; }
    public string TargetIdentifier { get; init; } = "";
    public DateTimeOffset MergedAt { get; init; }
    public Guid MergedBy { get; init; }
    public string MergedByName { get; init; } = "";
    public string Reason { get; init; } = "";
}

/// <summary>
/// What a clinician types to register or update a patient. <see cref="NameUnknown"/>: the sender does
/// not know the name yet (a newborn, an unconscious patient, a FHIR Patient without one); the registry
/// then keeps what there is, possibly nothing.
/// </summary>
public sealed record PatientDetails(
    string FamilyName,
    string GivenNames,
    string? AddressLine = null,
    string? PostalCode = null,
    string? City = null,
    string? Phone = null,
    string? Email = null,
    ProtectedIdentity ProtectedIdentity = ProtectedIdentity.None,
    DateOnly? DeceasedDate = null,
    DateOnly? BirthDate = null,
    Sex? Sex = null,
    bool NameUnknown = false);

/// <param name="Signals">The banner's attention signals, read under the page's grant; null for roles that never read the record.</param>
public sealed record RegistryPage(Patient Patient, IReadOnlyList<PatientMerge> Merges, IReadOnlyList<Stadig.Chart.RecordEntry>? Signals);
