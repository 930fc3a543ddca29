using Stadig.Fhir;
using Stadig.Fhir.Patients;
using Stadig.Patients;
using Stadig.Patients.Identifiers;

namespace Stadig.Tests.Fhir;

/// <summary>
/// A patient registered in Stadig is answered by writing its registry row straight to JSON, without
/// the tree the merge over a stored resource builds (issue 23): both must give the same bytes, or a
/// client would see a Patient change with how it was read.
/// </summary>
public class FhirPatientAnswerTests
{
    private static readonly Patient Plain = new()
    {
        Id = Guid.Parse("0190f3a2-0000-7000-8000-000000000001"), IdentifierKind = IdentifierKind.Personnummer, Identifier = "191212121212",
        FamilyName = "Ekvall-Sundin", GivenNames = "Per Olof", BirthDate = new DateOnly(1912, 12, 12), Sex = Sex.Male, Version = 3,
        CreatedAt = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero), UpdatedAt = new DateTimeOffset(2026, 12, 5, 6, 7, 8, 123, TimeSpan.Zero),
    };

    public static TheoryData<string, Patient> Shapes() => new()
    {
        { "plain", Plain },
        { "no name, sex unknown, no birth date", Plain with { FamilyName = "", GivenNames = "", Sex = Sex.Unknown, BirthDate = null } },
        { "family name only", Plain with { GivenNames = "", Sex = Sex.Female } },
        { "given names only, with extra spaces", Plain with { FamilyName = "", GivenNames = " Anna  Maria " } },
        { "reservnummer", Plain with { IdentifierKind = IdentifierKind.Reservnummer, Identifier = "99123456XY" } },
        { "samordningsnummer", Plain with { IdentifierKind = IdentifierKind.Samordningsnummer, Identifier = "191212721212" } },
        { "full address and contact", Plain with { AddressLine = "Storgatan 1, lgh 1102", PostalCode = "11122", City = "Stockholm", Phone = "+46 70-123 45 67", Email = "per@example.se" } },
        { "city only, e-mail only", Plain with { City = "Åre", Email = "å@ä.se" } },
        { "line only, phone only", Plain with { AddressLine = "Box \"7\" \\ <b>", Phone = "08-123" } },
        { "deceased", Plain with { DeceasedDate = new DateOnly(2026, 3, 4) } },
        { "sekretessmarkering", Plain with { ProtectedIdentity = ProtectedIdentity.Sekretessmarkering } },
        { "skyddad folkbokföring, merged", Plain with { ProtectedIdentity = ProtectedIdentity.SkyddadFolkbokforing, MergedIntoId = Guid.Parse("0190f3a2-0000-7000-8000-000000000002") } },
        { "merged, deceased, everything", Plain with { MergedIntoId = Guid.NewGuid(), DeceasedDate = new DateOnly(2020, 1, 1), AddressLine = "a", PostalCode = "12345", City = "b", Phone = "1", Email = "e@f" } },
    };

    [Theory, MemberData(nameof(Shapes))]
    public void A_registered_patient_written_straight_is_the_same_text_as_the_merged_tree(string shape, Patient patient)
    {
        var tree = FhirJson.Serialize(FhirPatientAnswer.Resource(patient, null));

        Assert.True(tree == FhirPatientAnswer.Registered(patient), $"{shape}:\n{tree}\n{FhirPatientAnswer.Registered(patient)}");
        Assert.Equal(tree, FhirPatientAnswer.Text(patient, null));
    }
}
