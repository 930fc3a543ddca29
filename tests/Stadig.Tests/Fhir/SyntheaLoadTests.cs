using System.Net;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Storage;

namespace Stadig.Tests.Fhir;

/// <summary>Third-party FHIR data: Synthea's transaction bundles load whole, and their patients are in the UI.</summary>
public class SyntheaLoadTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_synthea_bundles_load_as_transactions_and_their_patients_show_in_the_ui(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var client = fhir.Client();
        var entries = 0;
        var families = new List<string>();
        foreach (var file in FhirSamples.SyntheaBundles())
        {
            var bundle = JsonNode.Parse(await File.ReadAllTextAsync(file, TestContext.Current.CancellationToken))!;
            var (status, response, _) = await client.PostFhirAsync("/fhir", bundle);
            Assert.True(status == HttpStatusCode.OK, $"{Path.GetFileName(file)}: {(int)status} {FhirCalls.Issues(response)}");
            Assert.Equal(bundle["entry"]!.AsArray().Count, response["entry"]!.AsArray().Count);
            entries += bundle["entry"]!.AsArray().Count;
            families.AddRange(bundle["entry"]!.AsArray().Select(e => e!["resource"]!).Where(r => r["resourceType"]!.GetValue<string>() == "Patient")
                .Select(r => r["name"]![0]!["family"]!.GetValue<string>()));
        }
        Assert.Equal(11, families.Count);

        await using (var connection = await fhir.Server.Database.OpenUnscopedAsync(TestContext.Current.CancellationToken))
        {
            Assert.Equal(entries - families.Count, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM fhir_resource WHERE resource_type <> 'Patient' AND content NOT LIKE '%record-source%'"));
            Assert.Equal(families.Count, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM patient WHERE identifier_kind = 'Reservnummer'"));
        }

        // The same person signs in to the UI and finds each of them by name.
        var browser = fhir.Server.CreateClient();
        await fhir.Server.PostLoginAsync(browser, "fhir", "x");
        foreach (var family in families)
        {
            var page = await browser.GetStringAsync($"/?q={Uri.EscapeDataString(family)}", TestContext.Current.CancellationToken);
            Assert.Contains(family, page);
        }
    }
}
