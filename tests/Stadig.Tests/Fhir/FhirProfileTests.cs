using System.Net;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Storage;
using Stadig.Tests.Fhir.Validation;

namespace Stadig.Tests.Fhir;

/// <summary>
/// A resource that claims a profile Stadig has (the HL7 Sweden base profiles, the R4 core ones) is
/// held to it on create, update and $validate, invariants and slices included; one that claims none
/// is held to R4 alone, and a profile Stadig does not have is the sender's business.
/// </summary>
public class FhirProfileTests
{
    private const string SEBasePatient = "http://hl7.se/fhir/ig/base/StructureDefinition/SEBasePatient";

    private static bool Says(JsonObject outcome, string text) =>
        outcome["issue"] is JsonArray issues && issues.Any(i => i?["diagnostics"]?.GetValue<string>().Contains(text, StringComparison.Ordinal) == true);

    private static JsonObject SwedishExample(string file)
    {
        var patient = JsonNode.Parse(File.ReadAllText(Path.Combine(ValidatorDifferentialTests.SwedenFolder, file)))!.AsObject();
        patient.Remove("id");
        return patient;
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_patient_claiming_SEBasePatient_is_held_to_its_rules(DatabaseEngine engine)
    {
        // The profile validator's first use compiles its schemas: done here, not inside a request's deadline.
        Stadig.Fhir.Profiles.FhirProfileValidator.WarmUp();
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var client = fhir.Client();

        var (status, created, _) = await client.PostFhirAsync("/fhir/Patient", SwedishExample("Patient-PatientExample196101182803.json"));
        Assert.True(status == HttpStatusCode.Created, FhirCalls.Issues(created));
        Assert.Equal(SEBasePatient, created["meta"]!["profile"]![0]!.GetValue<string>());

        // SEBasePatient: at most one personnummer (the identifier slice), at most one name.
        var twoNumbers = SwedishExample("Patient-PatientExample199002222397.json");
        twoNumbers["identifier"]!.AsArray().Add(new JsonObject { ["system"] = "http://electronichealth.se/identifier/personnummer", ["value"] = "191212121212" });
        var (sliceStatus, sliceOutcome, _) = await client.PostFhirAsync("/fhir/Patient", twoNumbers);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, sliceStatus);
        Assert.Contains("personnummer", FhirCalls.Issues(sliceOutcome));

        var twoNames = SwedishExample("Patient-PatientExample199002222397.json");
        twoNames["name"]!.AsArray().Add(new JsonObject { ["use"] = "nickname", ["given"] = new JsonArray("Kalle") });
        var (nameStatus, nameOutcome, _) = await client.PostFhirAsync("/fhir/Patient", twoNames.DeepClone());
        Assert.Equal(HttpStatusCode.UnprocessableEntity, nameStatus);
        Assert.True(Says(nameOutcome, "element 'name' is 2"), FhirCalls.Issues(nameOutcome));

        // An R4 invariant the profile inherits (pat-1: a contact has details or an organization).
        var emptyContact = SwedishExample("Patient-PatientExample200302022389.json");
        emptyContact["contact"] = new JsonArray(new JsonObject { ["gender"] = "female" });
        var (contactStatus, contactOutcome, _) = await client.PostFhirAsync("/fhir/Patient", emptyContact.DeepClone());
        Assert.Equal(HttpStatusCode.UnprocessableEntity, contactStatus);
        Assert.Contains("pat-1", FhirCalls.Issues(contactOutcome));

        // Without the claim, the two names are plain R4 and welcome.
        twoNames.Remove("meta");
        var (plainStatus, plain, _) = await client.PostFhirAsync("/fhir/Patient", twoNames.DeepClone());
        Assert.True(plainStatus == HttpStatusCode.Created, FhirCalls.Issues(plain));

        // On update too.
        var updated = plain.DeepClone().AsObject();
        updated["meta"] = new JsonObject { ["profile"] = new JsonArray(SEBasePatient) };
        var (updateStatus, updateOutcome, _) = await client.PutFhirAsync($"/fhir/Patient/{plain["id"]!.GetValue<string>()}", updated);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, updateStatus);
        Assert.True(Says(updateOutcome, "element 'name' is 2"), FhirCalls.Issues(updateOutcome));

        // A profile Stadig does not have is not checked.
        var unknownProfile = SwedishExample("Patient-PatientExample1.json");
        unknownProfile["meta"] = new JsonObject { ["profile"] = new JsonArray("http://example.org/fhir/StructureDefinition/OurPatient") };
        var (unknownStatus, unknown, _) = await client.PostFhirAsync("/fhir/Patient", unknownProfile);
        Assert.True(unknownStatus == HttpStatusCode.Created, FhirCalls.Issues(unknown));

        await using var connection = await fhir.Server.Database.OpenUnscopedAsync(TestContext.Current.CancellationToken);
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM patient WHERE identifier = '200302022389'"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Validate_checks_a_named_profile(DatabaseEngine engine)
    {
        // The profile validator's first use compiles its schemas: done here, not inside a request's deadline.
        Stadig.Fhir.Profiles.FhirProfileValidator.WarmUp();
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var client = fhir.Client();
        var twoNames = SwedishExample("Patient-PatientExample199002222397.json");
        twoNames.Remove("meta");
        twoNames["name"]!.AsArray().Add(new JsonObject { ["use"] = "nickname", ["given"] = new JsonArray("Kalle") });

        var (plainStatus, plain, _) = await client.PostFhirAsync("/fhir/Patient/$validate", twoNames);
        Assert.Equal(HttpStatusCode.OK, plainStatus);
        Assert.DoesNotContain(plain["issue"]!.AsArray(), i => i!["severity"]!.GetValue<string>() == "error");

        var (status, outcome, _) = await client.PostFhirAsync($"/fhir/Patient/$validate?profile={Uri.EscapeDataString(SEBasePatient)}", twoNames);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains(outcome["issue"]!.AsArray(), i => i!["severity"]!.GetValue<string>() == "error" && i["diagnostics"]!.GetValue<string>().Contains("element 'name' is 2", StringComparison.Ordinal));

        var (unknown, _, _) = await client.PostFhirAsync("/fhir/Patient/$validate?profile=http://example.org/none", twoNames);
        Assert.Equal(HttpStatusCode.BadRequest, unknown);
    }
}
