using System.Net;
using System.Text.Json.Nodes;
using Stadig.Fhir.Records;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Tests.Fhir;

/// <summary>Bulk Data: what Stadig exports, an empty Stadig imports, and exports again the same.</summary>
public class FhirBulkDataTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Export_import_into_an_empty_database_and_export_again_gives_the_same_content(DatabaseEngine engine)
    {
        await using var source = await FhirTestServer.StartAsync(engine, Role.Physician, Role.Administrator);
        var clinician = source.Client();
        var bundle = JsonNode.Parse(await File.ReadAllTextAsync(FhirSamples.SyntheaBundles().First(f => f.Contains("Clemente", StringComparison.Ordinal)), TestContext.Current.CancellationToken))!;
        Assert.Equal(HttpStatusCode.OK, (await clinician.PostFhirAsync("/fhir", bundle)).Status);
        var (_, anna, _) = await clinician.PostFhirAsync("/fhir/Patient", FhirCalls.Patient("191212121212", "Öström", "Anna"));
        Assert.Equal(HttpStatusCode.Created, (await clinician.PostFhirAsync("/fhir/Observation", FhirCalls.Observation($"Patient/{anna["id"]}", "2345-7", 5.4, "2026-03-01"))).Status);

        var first = await ExportAsync(source, source.Server.Staff);
        Assert.Contains(first, line => line.Contains("\"Öström\"", StringComparison.Ordinal));
        Assert.Contains(first, line => line.StartsWith("{\"resourceType\":\"ExplanationOfBenefit\"", StringComparison.Ordinal));

        await using var target = await FhirTestServer.StartAsync(engine, Role.Administrator);
        var importer = target.Client("system/*.*");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/fhir/$import")
        {
            Content = new StringContent(string.Join('\n', first), System.Text.Encoding.UTF8, "application/fhir+ndjson"),
        };
        var imported = await importer.SendAsync(request, TestContext.Current.CancellationToken);
        Assert.True(imported.StatusCode == HttpStatusCode.OK, await imported.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));

        var second = await ExportAsync(target, target.Server.Staff);
        // Everything exported comes back, published directory and chart records included; the only
        // additions are the target's own directory (the administrator who imported, and their unit).
        var before = Normalised(first);
        var after = Normalised(second);
        Assert.Empty(before.Except(after));
        Assert.All(after.Except(before), extra =>
        {
            Assert.True(FhirRecordPublisher.IsPublished(extra), extra);
            Assert.Matches("^\\{\"resourceType\":\"(Organization|Practitioner|PractitionerRole)\"", extra);
        });
        Assert.Contains(before, line => FhirRecordPublisher.IsPublished(line));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Export_is_for_administrators_and_asks_for_the_async_pattern(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var clinician = fhir.Client("system/*.read");
        var (noPrefer, _, _) = await clinician.GetFhirAsync("/fhir/$export");
        Assert.Equal(HttpStatusCode.BadRequest, noPrefer);
        var (forbidden, _, _) = await clinician.SendAsync(HttpMethod.Get, "/fhir/$export", configure: r => r.Headers.Add("Prefer", "respond-async"));
        Assert.Equal(HttpStatusCode.Forbidden, forbidden);
    }

    /// <summary>Runs a system export to the end (polling the status URL, as a client does) and gives its NDJSON lines.</summary>
    private static async Task<List<string>> ExportAsync(FhirTestServer server, StaffDirectory _)
    {
        var admin = server.Client("system/*.read", assignment: (await server.Server.Staff.AssignmentsOfAsync(server.Member.Id, TestContext.Current.CancellationToken))
            .First(a => a.Role == Role.Administrator));
        var (kickOff, _, response) = await admin.SendAsync(HttpMethod.Get, "/fhir/$export", configure: r => r.Headers.Add("Prefer", "respond-async"));
        Assert.Equal(HttpStatusCode.Accepted, kickOff);
        var status = response.Content.Headers.ContentLocation?.ToString() ?? response.Headers.GetValues("Content-Location").Single();
        for (var poll = 0; poll < 100_000; poll++)
        {
            var (state, manifest, _) = await admin.GetFhirAsync(status);
            if (state == HttpStatusCode.Accepted) continue;
            Assert.Equal(HttpStatusCode.OK, state);
            var lines = new List<string>();
            foreach (var output in manifest["output"]!.AsArray())
            {
                var text = await admin.GetStringAsync(output!["url"]!.GetValue<string>(), TestContext.Current.CancellationToken);
                lines.AddRange(text.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            }
            return lines;
        }
        throw new InvalidOperationException("The export never finished.");
    }

    /// <summary>Each resource without the version and time its store gave it, sorted: the content, not the bookkeeping.</summary>
    private static List<string> Normalised(IEnumerable<string> lines) =>
        lines.Select(line =>
        {
            var resource = (JsonObject)JsonNode.Parse(line)!;
            if (resource["meta"] is JsonObject meta)
            {
                meta.Remove("versionId");
                meta.Remove("lastUpdated");
                if (meta.Count == 0) resource.Remove("meta");
            }
            return resource.ToJsonString();
        }).Order(StringComparer.Ordinal).ToList();
}
