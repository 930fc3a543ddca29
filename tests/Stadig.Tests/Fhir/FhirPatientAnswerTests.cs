using System.Net;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Access;
using Stadig.Fhir;
using Stadig.Fhir.Patients;
using Stadig.Patients;
using Stadig.Patients.Identifiers;
using Stadig.Storage;

namespace Stadig.Tests.Fhir;

/// <summary>
/// A Patient read without the work of a merge (issue 23): a patient registered in Stadig is written
/// straight from its registry row, one stored through the API is answered with the merge kept when
/// it was written (migration 0032). Each must give the same bytes as the merge made on the spot, or
/// a client would see a Patient change with how it was read; a kept merge the registry has moved
/// past is never answered.
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

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_Patient_stored_through_the_API_is_read_as_the_merge_kept_with_it_until_the_registry_changes(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var client = fhir.Client();
        var sent = FhirCalls.Patient(TestNumbers.Personnummer(1950, 3, 4).Replace("-", ""), "Lind", "Eva");
        sent["maritalStatus"] = new JsonObject { ["text"] = "Gift" };
        ((JsonArray)sent["identifier"]!).Add(new JsonObject { ["system"] = "urn:oid:1.2.3.4", ["value"] = "local-7" });
        sent["telecom"] = new JsonArray(new JsonObject { ["system"] = "phone", ["value"] = "08-123 45" });
        var created = await client.PostAsync("/fhir/Patient", FhirCalls.Json(sent), Cancel);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = JsonNode.Parse(await created.Content.ReadAsStringAsync(Cancel))!["id"]!.GetValue<string>();

        var kept = await client.GetStringAsync($"/fhir/Patient/{id}", Cancel);
        await using (var connection = await fhir.Server.Database.OpenUnscopedAsync(Cancel))
        {
            Assert.Equal(kept, await connection.ExecuteScalarAsync<string>(
                "SELECT answer FROM fhir_resource WHERE resource_type = 'Patient' AND id = @id", new { id }));
            await connection.ExecuteAsync("UPDATE fhir_resource SET answer = NULL WHERE resource_type = 'Patient' AND id = @id", new { id });
        }
        var merged = await client.GetStringAsync($"/fhir/Patient/{id}", Cancel);
        Assert.Equal(merged, kept);
        Assert.Contains("Gift", kept, StringComparison.Ordinal);
        Assert.Contains("local-7", kept, StringComparison.Ordinal);

        var created2 = await client.PostAsync("/fhir/Patient", FhirCalls.Json(FhirCalls.Patient(TestNumbers.Personnummer(1951, 3, 4).Replace("-", ""), "Berg", "Ola")), Cancel);
        var id2 = JsonNode.Parse(await created2.Content.ReadAsStringAsync(Cancel))!["id"]!.GetValue<string>();
        await client.GetStringAsync($"/fhir/Patient/{id2}", Cancel);
        var caller = StadigServer.CallerFor(fhir.Member, fhir.Assignment);
        var patientId = Guid.Parse(id2);
        var before = await fhir.Server.Patients.GetAsync(caller, patientId, Cancel);
        await fhir.Server.Patients.UpdateAsync(caller, patientId, before.Version, new PatientDetails("Bergström", "Ola"), Cancel);

        var after = await client.GetAsync($"/fhir/Patient/{id2}", Cancel);
        var text = await after.Content.ReadAsStringAsync(Cancel);
        Assert.Contains("Bergström", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\"Berg\"", text, StringComparison.Ordinal);
        Assert.Equal($"W/\"{before.Version + 1}\"", after.Headers.ETag?.ToString());
    }
}
