using Stadig.Common;
using Stadig.Patients;
using Stadig.Patients.Identifiers;
using Stadig.Storage;

namespace Stadig.Tests.Patients;

public class PatientRegistryTests
{
    private static PatientDetails Details(string family = "Öström", string given = "Anna Maria") =>
        new(family, given, "Storgatan 1", "123 45", "Ankeborg", "070-123 45 67", "anna@example.se");

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Registering_a_valid_personnummer_stores_the_patient_with_birth_date_and_sex(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        var result = await region.Patients.RegisterAsync(region.Physician, "19121212-1212", Details());

        Assert.True(result.Created);
        var patient = await region.Patients.GetAsync(region.Physician, result.Patient.Id);
        Assert.Equal("191212121212", patient.Identifier);
        Assert.Equal(IdentifierKind.Personnummer, patient.IdentifierKind);
        Assert.Equal(new DateOnly(1912, 12, 12), patient.BirthDate);
        Assert.Equal(Sex.Male, patient.Sex);
        Assert.Equal("Öström", patient.FamilyName);
        Assert.Equal("12345", patient.PostalCode);
        Assert.Equal(1, patient.Version);
        Assert.Equal(result.Patient.CreatedAt, patient.CreatedAt);
    }
}
