using System.Net;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Storage;
using Stadig.Tests.Infrastructure;

namespace Stadig.Tests.Fhir;

/// <summary>
/// References between the entries of one transaction: to a resource it creates by PUT, mutual ones,
/// bundle-local ones inside contained resources, whatever the entry order; and a transaction of
/// thousands of entries that outlasts the interactive deadline.
/// </summary>
public class FhirTransactionReferenceTests
{
    private static JsonObject Put(JsonObject resource) => new()
    {
        ["resource"] = resource,
        ["request"] = new JsonObject { ["method"] = "PUT", ["url"] = $"{resource["resourceType"]}/{resource["id"]}" },
    };

    private static JsonObject Post(string fullUrl, JsonObject resource) => new()
    {
        ["fullUrl"] = fullUrl,
        ["resource"] = resource,
        ["request"] = new JsonObject { ["method"] = "POST", ["url"] = resource["resourceType"]!.GetValue<string>() },
    };

    private static JsonObject Transaction(params JsonObject[] entries) =>
        new() { ["resourceType"] = "Bundle", ["type"] = "transaction", ["entry"] = new JsonArray(entries.Select(e => (JsonNode)e).ToArray()) };

    private static JsonObject PatientWithId(string id, string personnummer, string family)
    {
        var patient = FhirCalls.Patient(personnummer, family, "Test");
        patient["id"] = id;
        return patient;
    }

    private static string Unique() => Guid.NewGuid().ToString("N")[..12];

    private static string Personnummer(int serial) => TestNumbers.Personnummer(1975, 4, 1 + serial % 28, 980 + serial % 20).Replace("-", "", StringComparison.Ordinal);

    private static async Task<string?> StoredReferenceAsync(FhirTestServer fhir, string type, string id, string path)
    {
        await using var connection = await fhir.Server.Database.OpenUnscopedAsync(TestContext.Current.CancellationToken);
        var content = await connection.ExecuteScalarAsync<string>("SELECT content FROM fhir_resource WHERE resource_type = @type AND id = @id", new { type, id });
        if (content is null) return null;
        JsonNode? node = JsonNode.Parse(content);
        foreach (var step in path.Split('.')) node = int.TryParse(step, out var index) ? node?[index] : node?[step];
        return node?["reference"]?.GetValue<string>();
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_entry_may_reference_a_patient_the_same_transaction_puts_before_or_after_it(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var client = fhir.Client();
        foreach (var (order, serial) in new[] { ("patient last", 1), ("patient first", 2) })
        {
            var patientId = $"p-{Unique()}";
            var observationId = $"o-{Unique()}";
            var observation = FhirCalls.Observation($"Patient/{patientId}", "2345-7", 5.1, "2026-03-01T08:00:00+01:00");
            observation["id"] = observationId;
            var entries = new[] { Put(observation), Put(PatientWithId(patientId, Personnummer(serial), "Ordning")) };
            if (order == "patient first") Array.Reverse(entries);

            var (status, response, _) = await client.PostFhirAsync("/fhir", Transaction(entries));

            Assert.True(status == HttpStatusCode.OK, $"{order}: {(int)status} {FhirCalls.Issues(response)}");
            Assert.Equal($"Patient/{patientId}", await StoredReferenceAsync(fhir, "Observation", observationId, "subject"));
            var (read, patient, _) = await client.GetFhirAsync($"/fhir/Patient/{patientId}");
            Assert.Equal(HttpStatusCode.OK, read);
            Assert.Equal("Ordning", patient["name"]![0]!["family"]!.GetValue<string>());
        }
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Mutual_references_between_entries_resolve_in_either_order(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var client = fhir.Client();
        var (_, patient, _) = await client.PostFhirAsync("/fhir/Patient", FhirCalls.Patient(Personnummer(3), "Ömsesidig", "Test"));
        var subject = $"Patient/{patient["id"]}";
        foreach (var reversed in new[] { false, true })
        {
            // By PUT ids: a panel and its member, each pointing at the other.
            var (a, b) = ($"a-{Unique()}", $"b-{Unique()}");
            var panel = FhirCalls.Observation(subject, "2345-7", 5, "2026-03-01T08:00:00+01:00");
            panel["id"] = a;
            panel["hasMember"] = new JsonArray(new JsonObject { ["reference"] = $"Observation/{b}" });
            var member = FhirCalls.Observation(subject, "2345-7", 6, "2026-03-01T08:00:00+01:00");
            member["id"] = b;
            member["derivedFrom"] = new JsonArray(new JsonObject { ["reference"] = $"Observation/{a}" });
            // By bundle-local fullUrls: two new patients linked to each other.
            var (first, second) = ($"urn:uuid:{Guid.NewGuid()}", $"urn:uuid:{Guid.NewGuid()}");
            var one = FhirCalls.Patient(Personnummer(reversed ? 4 : 5), "Länkad", "Ett");
            one["link"] = new JsonArray(new JsonObject { ["other"] = new JsonObject { ["reference"] = second }, ["type"] = "seealso" });
            var two = FhirCalls.Patient(Personnummer(reversed ? 6 : 7), "Länkad", "Två");
            two["link"] = new JsonArray(new JsonObject { ["other"] = new JsonObject { ["reference"] = first }, ["type"] = "seealso" });
            var entries = new[] { Put(panel), Put(member), Post(first, one), Post(second, two) };
            if (reversed) Array.Reverse(entries);

            var (status, response, _) = await client.PostFhirAsync("/fhir", Transaction(entries));

            Assert.True(status == HttpStatusCode.OK, $"reversed {reversed}: {(int)status} {FhirCalls.Issues(response)}");
            Assert.Equal($"Observation/{b}", await StoredReferenceAsync(fhir, "Observation", a, "hasMember.0"));
            Assert.Equal($"Observation/{a}", await StoredReferenceAsync(fhir, "Observation", b, "derivedFrom.0"));
            var ids = response["entry"]!.AsArray().Select(e => e!["response"]!["location"]!.GetValue<string>().Split('/')[1]).ToList();
            var (oneId, twoId) = reversed ? (ids[1], ids[0]) : (ids[2], ids[3]);
            Assert.Equal($"Patient/{twoId}", await StoredReferenceAsync(fhir, "Patient", oneId, "link.0.other"));
            Assert.Equal($"Patient/{oneId}", await StoredReferenceAsync(fhir, "Patient", twoId, "link.0.other"));
        }
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Bundle_local_references_inside_contained_resources_are_rewritten_in_either_order(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var client = fhir.Client();
        foreach (var reversed in new[] { false, true })
        {
            var patientUrl = $"urn:uuid:{Guid.NewGuid()}";
            var observation = FhirCalls.Observation(patientUrl, "2345-7", 5, "2026-03-01T08:00:00+01:00");
            observation["contained"] = new JsonArray(new JsonObject
            {
                ["resourceType"] = "Specimen", ["id"] = "prov", ["subject"] = new JsonObject { ["reference"] = patientUrl },
            });
            observation["specimen"] = new JsonObject { ["reference"] = "#prov" };
            var entries = new[] { Post($"urn:uuid:{Guid.NewGuid()}", observation), Post(patientUrl, FhirCalls.Patient(Personnummer(reversed ? 8 : 9), "Innesluten", "Test")) };
            if (reversed) Array.Reverse(entries);

            var (status, response, _) = await client.PostFhirAsync("/fhir", Transaction(entries));

            Assert.True(status == HttpStatusCode.OK, $"reversed {reversed}: {(int)status} {FhirCalls.Issues(response)}");
            var locations = response["entry"]!.AsArray().Select(e => e!["response"]!["location"]!.GetValue<string>().Split('/')).ToList();
            var patientId = locations.Single(l => l[0] == "Patient")[1];
            var observationId = locations.Single(l => l[0] == "Observation")[1];
            Assert.Equal($"Patient/{patientId}", await StoredReferenceAsync(fhir, "Observation", observationId, "contained.0.subject"));
            Assert.Equal($"Patient/{patientId}", await StoredReferenceAsync(fhir, "Observation", observationId, "subject"));
        }
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_contained_reference_to_no_entry_of_the_bundle_is_refused_and_nothing_is_written(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var client = fhir.Client();
        var patientId = $"p-{Unique()}";
        var observation = FhirCalls.Observation($"Patient/{patientId}", "2345-7", 5, "2026-03-01T08:00:00+01:00");
        observation["contained"] = new JsonArray(new JsonObject
        {
            ["resourceType"] = "Specimen", ["id"] = "prov", ["subject"] = new JsonObject { ["reference"] = $"urn:uuid:{Guid.NewGuid()}" },
        });
        observation["specimen"] = new JsonObject { ["reference"] = "#prov" };

        var (status, outcome, _) = await client.PostFhirAsync("/fhir", Transaction(Post($"urn:uuid:{Guid.NewGuid()}", observation), Put(PatientWithId(patientId, Personnummer(10), "Ingenstans"))));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Contains("Bundle.entry[0].resource.Observation.contained[0].subject.reference", FhirCalls.Issues(outcome));
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetFhirAsync($"/fhir/Patient/{patientId}")).Status);
    }

    /// <summary>
    /// Thousands of entries and 20 MB take longer than a screen's 10 s deadline on a busy machine:
    /// a transaction has the bulk deadline class, and it completes.
    /// </summary>
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_transaction_of_5000_entries_and_20_MB_completes(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var client = fhir.Client();
        var patientUrl = $"urn:uuid:{Guid.NewGuid()}";
        var padding = new string('x', 3_900);
        var entries = new List<JsonObject> { Post(patientUrl, FhirCalls.Patient(Personnummer(11), "Storlek", "Test")) };
        for (var i = 1; i < 5_000; i++)
        {
            var observation = FhirCalls.Observation(patientUrl, "2345-7", 4 + i % 30 / 10.0, "2026-03-01T08:00:00+01:00");
            observation["note"] = new JsonArray(new JsonObject { ["text"] = $"{i} {padding}" });
            entries.Add(Post($"urn:uuid:{Guid.NewGuid()}", observation));
        }
        var bundle = Transaction([.. entries]);
        Assert.True(bundle.ToJsonString().Length > 20_000_000);

        var (status, response, _) = await client.PostFhirAsync("/fhir", bundle);

        Assert.True(status == HttpStatusCode.OK, $"{(int)status} {FhirCalls.Issues(response)}");
        Assert.Equal(5_000, response["entry"]!.AsArray().Count);
        var patientId = Guid.Parse(response["entry"]![0]!["response"]!["location"]!.GetValue<string>().Split('/')[1]);
        await using var connection = await fhir.Server.Database.OpenUnscopedAsync(TestContext.Current.CancellationToken);
        Assert.Equal(4_999L, await connection.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM fhir_resource WHERE resource_type = 'Observation' AND patient_id = @patientId", new { patientId }));
    }
}
