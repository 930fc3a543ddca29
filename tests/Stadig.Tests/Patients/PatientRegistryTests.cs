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
        var patient = await region.Patients.GetAsync(region.Physician, result.PatientId);
        Assert.Equal("191212121212", patient.Identifier);
        Assert.Equal(IdentifierKind.Personnummer, patient.IdentifierKind);
        Assert.Equal(new DateOnly(1912, 12, 12), patient.BirthDate);
        Assert.Equal(Sex.Male, patient.Sex);
        Assert.Equal("Öström", patient.FamilyName);
        Assert.Equal("12345", patient.PostalCode);
        Assert.Equal(1, patient.Version);
        Assert.Equal(result.Patient!.CreatedAt, patient.CreatedAt);
    }
}

public class PatientRegistryRulesTests
{
    private static PatientDetails Details(string family = "Öström", string given = "Anna Maria") =>
        new(family, given, "Storgatan 1", "123 45", "Ankeborg", "070-123 45 67", "anna@example.se");

    private static async Task<long> CountAsync(TestRegion region, string table)
    {
        await using var connection = await region.Database.OpenAsync();
        return await Dapper.SqlMapper.ExecuteScalarAsync<long>(connection, $"SELECT COUNT(*) FROM {table}");
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Registering_a_number_that_exists_leads_to_the_existing_patient(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        var first = await region.Patients.RegisterAsync(region.Physician, "19121212-1212", Details());
        var second = await region.Patients.RegisterAsync(region.Physician, "121212+1212", Details("Annat", "Namn"));

        Assert.False(second.Created);
        Assert.Equal(first.PatientId, second.PatientId);
        Assert.Null(second.Patient); // the caller learns the id, and reads the rest through the checkpoint
        Assert.Equal("Öström", (await region.Patients.GetAsync(region.Physician, second.PatientId)).FamilyName);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Concurrent_registrations_of_one_number_create_exactly_one_patient(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        var attempts = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ =>
            Task.Run(() => region.Patients.RegisterAsync(region.Physician, "19121212-1212", Details()))));

        Assert.Single(attempts, a => a.Created);
        Assert.Single(attempts.Select(a => a.PatientId).Distinct());
        Assert.Equal(1, await CountAsync(region, "patient"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_invalid_number_names_the_field_and_stores_nothing(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        var error = await Assert.ThrowsAsync<InvalidInputException>(() => region.Patients.RegisterAsync(region.Physician, "19121212-1213", Details()));
        Assert.Equal("identifier", error.Field);
        var missingName = await Assert.ThrowsAsync<InvalidInputException>(() => region.Patients.RegisterAsync(region.Physician, "19121212-1212", Details(family: " ")));
        Assert.Equal("familyName", missingName.Field);
        var badPostalCode = await Assert.ThrowsAsync<InvalidInputException>(() =>
            region.Patients.RegisterAsync(region.Physician, "19121212-1212", Details() with { PostalCode = "12" }));
        Assert.Equal("postalCode", badPostalCode.Field);
        Assert.Equal(0, await CountAsync(region, "patient"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Search_finds_by_name_without_diacritics_and_by_full_or_partial_number(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        var anna = (await region.Patients.RegisterAsync(region.Physician, "19121212-1212", Details())).Patient!;
        var double_ = (await region.Patients.RegisterAsync(region.Physician, TestNumbers.Personnummer(1950, 1, 1), Details("Lind-Åkesson", "Eva"))).Patient!;
        await region.Patients.RegisterAsync(region.Physician, TestNumbers.Personnummer(1980, 1, 1), Details("Berg", "Olle"));

        async Task<Guid[]> Find(string q) => (await region.Patients.SearchAsync(region.Physician, q)).Patients.Select(p => p.Id).ToArray();

        Assert.Equal([anna.Id], await Find("ostrom"));
        Assert.Equal([anna.Id], await Find("ÖSTRÖM"));
        Assert.Equal([anna.Id], await Find("maria ostr"));
        Assert.Equal([anna.Id], await Find("anna öström"));
        Assert.Equal([double_.Id], await Find("akesson"));
        Assert.Equal([double_.Id], await Find("lind eva"));
        Assert.Equal([anna.Id], await Find("19121212-1212"));
        Assert.Empty(await Find("121212-1212")); // with "-" that is a child born 2012
        Assert.Equal([anna.Id], await Find("121212+1212"));
        Assert.Equal([anna.Id], await Find("191212"));
        Assert.Equal([anna.Id], await Find("1212"));
        Assert.Empty(await Find("nobody"));
        Assert.Empty(await Find("50%"));
        Assert.NotNull((await region.Patients.SearchAsync(region.Physician, "19")).Hint);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Search_stops_at_the_limit_and_says_more_exist(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        foreach (var n in new[] { "19121212-1212", TestNumbers.Personnummer(1950, 1, 1), TestNumbers.Personnummer(1980, 1, 1) })
            await region.Patients.RegisterAsync(region.Physician, n, Details("Berg", "Olle"));
        var result = await region.Patients.SearchAsync(region.Physician, "berg", limit: 2);
        Assert.Equal(2, result.Patients.Count);
        Assert.True(result.MoreExist);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_update_from_a_stale_version_is_a_conflict_and_changes_nothing(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        var patient = (await region.Patients.RegisterAsync(region.Physician, "19121212-1212", Details())).Patient!;
        var updated = await region.Patients.UpdateAsync(region.Physician, patient.Id, 1, Details() with { City = "Mora" });
        Assert.Equal(2, updated.Version);
        Assert.Equal("Mora", updated.City);

        await Assert.ThrowsAsync<ConflictException>(() => region.Patients.UpdateAsync(region.Physician, patient.Id, 1, Details() with { City = "Rättvik" }));
        Assert.Equal("Mora", (await region.Patients.GetAsync(region.Physician, patient.Id)).City);
        // The name search follows an update.
        await region.Patients.UpdateAsync(region.Physician, patient.Id, 2, Details("Ek", "Anna"));
        Assert.Single((await region.Patients.SearchAsync(region.Physician, "ek anna")).Patients);
        Assert.Empty((await region.Patients.SearchAsync(region.Physician, "ostrom")).Patients);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Protected_identity_and_deceased_date_are_kept_and_checked(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        var patient = (await region.Patients.RegisterAsync(region.Physician, "19121212-1212",
            Details() with { ProtectedIdentity = ProtectedIdentity.SkyddadFolkbokforing, DeceasedDate = new DateOnly(2001, 5, 6) })).Patient!;
        Assert.Equal(ProtectedIdentity.SkyddadFolkbokforing, patient.ProtectedIdentity);
        Assert.Equal(new DateOnly(2001, 5, 6), patient.DeceasedDate);
        Assert.Equal(88, patient.AgeOn(new DateOnly(2026, 1, 1)));

        var early = await Assert.ThrowsAsync<InvalidInputException>(() =>
            region.Patients.UpdateAsync(region.Physician, patient.Id, 1, Details() with { DeceasedDate = new DateOnly(1900, 1, 1) }));
        Assert.Equal("deceasedDate", early.Field);
    }
}
