using Stadig.Patients;
using Stadig.Patients.Identifiers;

namespace Stadig.Components.Shared;

/// <summary>The fields of the register and edit forms, as posted.</summary>
public sealed class PatientInput
{
    public string? Identifier { get; set; }
    public string? FamilyName { get; set; }
    public string? GivenNames { get; set; }
    public string? AddressLine { get; set; }
    public string? PostalCode { get; set; }
    public string? City { get; set; }
    public string? Phone { get; set; }
    public string? Email { get; set; }
    public ProtectedIdentity ProtectedIdentity { get; set; }
    public DateOnly? DeceasedDate { get; set; }
    public DateOnly? BirthDate { get; set; }
    public Sex Sex { get; set; }
    public int Version { get; set; }

    public PatientDetails ToDetails() => new(FamilyName ?? "", GivenNames ?? "", AddressLine, PostalCode, City, Phone, Email,
        ProtectedIdentity, DeceasedDate, BirthDate, Sex);

    public static PatientInput From(Patient p) => new()
    {
        Identifier = p.IdentifierDisplay, FamilyName = p.FamilyName, GivenNames = p.GivenNames, AddressLine = p.AddressLine,
        PostalCode = p.PostalCode, City = p.City, Phone = p.Phone, Email = p.Email, ProtectedIdentity = p.ProtectedIdentity,
        DeceasedDate = p.DeceasedDate, BirthDate = p.BirthDate, Sex = p.Sex, Version = p.Version,
    };
}
