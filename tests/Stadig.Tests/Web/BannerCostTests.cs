using AngleSharp.Html.Parser;
using Dapper;
using Stadig.Fhir;
using Stadig.Fhir.Store;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Tests.Web;

/// <summary>
/// The banner's attention signals stand on every patient page; pages that read the record read them in
/// their own decision and audit event, so the page is one audited read, and the signals another system
/// sent over FHIR are in the banner all the same.
/// </summary>
public class BannerCostTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    [Hazard("H-02")]
    public async Task Patient_pages_are_one_audit_event_each_with_the_external_allergy_in_the_banner(DatabaseEngine engine)
    {
        await using var server = await StadigServer.StartAsync(engine);
        var (member, assignments) = await server.AddUserAsync("eva", "lösen", false, Role.Physician);
        var user = StadigServer.CallerFor(member, assignments[0]);
        var client = server.CreateClient();
        await server.PostLoginAsync(client, "eva", "lösen");
        var patient = (await server.Patients.RegisterAsync(user, "19121212-1212", new("Öström", "Anna"))).PatientId;
        foreach (var json in new[]
        {
            $$$"""
            {"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/{{{patient}}}"},
             "clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical","code":"active"}]},
             "code":{"text":"Bigift"},"meta":{"source":"urn:system:primarvarden"}}
            """,
            $$$"""
            {"resourceType":"Observation","status":"final","subject":{"reference":"Patient/{{{patient}}}"},
             "code":{"coding":[{"system":"http://loinc.org","code":"29463-7","display":"Body Weight"}],"text":"Body Weight"},
             "effectiveDateTime":"2026-01-02T10:00:00Z","valueQuantity":{"value":72,"unit":"kg"}}
            """,
        })
        {
            var resource = FhirJson.Parse(json);
            var id = Guid.NewGuid().ToString();
            await server.Database.InUnscopedTransactionAsync(async (c, tx) => await FhirResourceStore.PutAsync(c, tx, resource, id, patient, user.UnitId, DateTimeOffset.UtcNow));
        }
        var note = await server.Services.GetRequiredService<Stadig.Notes.ClinicalNotes>().CreateDraftAsync(user, patient, "Daganteckning");
        async Task<long> AuditEventsAsync()
        {
            await using var c = await server.Database.OpenUnscopedAsync();
            return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM audit_event WHERE patient_id = @patient", new { patient });
        }

        foreach (var page in new[] { $"/patients/{patient}/record", $"/patients/{patient}/timeline", $"/patients/{patient}/trends/29463-7", $"/patients/{patient}/warnings", $"/patients/{patient}/problems",
                     $"/patients/{patient}/orders", $"/notes/{note.Id}", $"/notes/{note.Id}/history" })
        {
            var before = await AuditEventsAsync();
            var response = await client.GetAsync(page);
            Assert.True(response.IsSuccessStatusCode, $"{page}: {response.StatusCode}");
            var document = new HtmlParser().ParseDocument(await response.Content.ReadAsStringAsync());
            Assert.Equal((page, before + 1), (page, await AuditEventsAsync()));
            Assert.Contains("Bigift", document.QuerySelector("#attention-signals")?.TextContent ?? $"{page}: no signals in the banner");
        }
    }
}
