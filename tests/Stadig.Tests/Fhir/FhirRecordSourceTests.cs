using System.Net;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Fhir.Records;
using Stadig.Storage;

namespace Stadig.Tests.Fhir;

/// <summary>
/// The chart leaves out of its views what names Stadig's record-source system (its published
/// copies), so a client may not use that system anywhere: otherwise a record another system wrote
/// could vanish from the chart.
/// </summary>
public class FhirRecordSourceTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_resource_naming_the_record_source_system_anywhere_is_refused_and_nothing_is_stored(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var client = fhir.Client();
        var (created, patient, _) = await client.PostFhirAsync("/fhir/Patient", FhirCalls.Patient("191212121212", "Öström", "Anna"));
        Assert.Equal(HttpStatusCode.Created, created);
        var observation = FhirCalls.Observation($"Patient/{patient["id"]!.GetValue<string>()}", "2345-7", 5.1, "2026-03-01");
        observation["category"] = new JsonArray(new JsonObject
            { ["coding"] = new JsonArray(new JsonObject { ["system"] = FhirRecordPublisher.SourceSystem, ["code"] = "anything" }) });

        var (status, outcome, _) = await client.PostFhirAsync("/fhir/Observation", observation);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Contains(FhirRecordPublisher.SourceSystem, FhirCalls.Issues(outcome));
        await using var c = await fhir.Server.Database.OpenUnscopedAsync(TestContext.Current.CancellationToken);
        Assert.Equal(0, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM fhir_resource WHERE resource_type = 'Observation'"));
    }
}
