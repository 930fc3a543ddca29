using System.Net;
using System.Text.Json.Nodes;
using Stadig.Fhir.Validation;
using Stadig.Organisation;
using Stadig.Storage;
using Stadig.Tests.Fhir.Validation;

namespace Stadig.Tests.Fhir;

/// <summary>
/// Every official R4 example of the types Stadig keeps, sent to a real server with its own id (PUT):
/// what fits Stadig's model is stored and reads back equal; what does not is refused with an
/// OperationOutcome naming why. Both counts are asserted, so a change in either is seen.
/// </summary>
public class OfficialExamplesRoundTripTests
{
    // Of the 343 examples: the ones that fit (patients Stadig can register, nameless ones included, records
    // whose references all lead to resources among the examples) and the ones refused (a reference to an
    // example of a type Stadig does not keep, a record without a patient…).
    private const int Accepted = 155;

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Examples_that_fit_are_kept_and_read_back_equal_and_the_rest_are_refused_with_a_reason(DatabaseEngine engine)
    {
        // The profile validator's first use compiles its schemas: done here, not inside a request's deadline.
        Stadig.Fhir.Profiles.FhirProfileValidator.WarmUp();
        await using var fhir = await FhirTestServer.StartAsync(engine, Role.Physician);
        var client = fhir.Client();
        var pending = Directory.EnumerateFiles(OfficialExamplesTests.ExamplesFolder, "*.json").Order(StringComparer.Ordinal)
            .Select(f => (File: Path.GetFileName(f), Resource: (JsonObject)JsonNode.Parse(File.ReadAllText(f))!)).ToList();
        var total = pending.Count;
        var accepted = new List<(string File, JsonObject Sent)>();
        var refusals = new Dictionary<string, string>();
        // Examples point at each other in no particular order: send again what was refused for a
        // missing reference until a round stores nothing new.
        while (true)
        {
            var progress = false;
            foreach (var (file, resource) in pending.ToList())
            {
                var type = resource["resourceType"]!.GetValue<string>();
                var id = resource["id"]!.GetValue<string>();
                var (status, body, _) = await client.PutFhirAsync($"/fhir/{type}/{id}", resource.DeepClone());
                if (status is HttpStatusCode.OK or HttpStatusCode.Created)
                {
                    accepted.Add((file, resource));
                    pending.RemoveAll(p => p.File == file);
                    refusals.Remove(file);
                    progress = true;
                    continue;
                }
                Assert.True((int)status is >= 400 and < 500, $"{file}: {status}");
                Assert.Equal("OperationOutcome", body["resourceType"]?.GetValue<string>());
                refusals[file] = body["issue"]![0]!["diagnostics"]!.GetValue<string>();
            }
            if (!progress) break;
        }

        foreach (var (file, sent) in accepted)
        {
            var type = sent["resourceType"]!.GetValue<string>();
            var (status, read, _) = await client.GetFhirAsync($"/fhir/{type}/{sent["id"]!.GetValue<string>()}");
            Assert.True(status == HttpStatusCode.OK, $"{file}: {status} {read.ToJsonString()}");
            foreach (var (name, value) in sent)
            {
                if (name == "meta") continue;
                // A Patient's registry facts are written in Stadig's form (the official name, the identity number first).
                if (type == "Patient" && name is "identifier" or "name" or "address" or "telecom" or "gender" or "birthDate" or "deceasedDateTime" or "deceasedBoolean" or "link" or "active") continue;
                Assert.True(JsonNode.DeepEquals(value, read[name]), $"{file}: {name} came back as {read[name]?.ToJsonString()}");
            }
        }

        Assert.Equal(total, accepted.Count + refusals.Count);
        Assert.True(accepted.Count == Accepted, $"{accepted.Count} accepted, {refusals.Count} refused:\n" + string.Join("\n", refusals.Select(r => $"{r.Key}: {r.Value}")));
    }
}
