using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Common;
using Stadig.Organisation;
using Stadig.Storage;
using Stadig.Tests.Infrastructure;

namespace Stadig.Tests.Fhir;

/// <summary>
/// $import: background work with progress, all or nothing, references in any line order, failing
/// lines named. The 100,000-line run is the bench's (Stadig.Bench fhir-import); here a few
/// thousand lines go the same way.
/// </summary>
public class FhirImportTests
{
    private static string Line(JsonObject resource) => resource.ToJsonString();

    private static JsonObject Patient(string id, int serial)
    {
        var patient = FhirCalls.Patient(TestNumbers.Personnummer(1980, 1 + serial / 28 % 12, 1 + serial % 28, 980 + serial % 20).Replace("-", "", StringComparison.Ordinal), "Import", "Test");
        patient["id"] = id;
        return patient;
    }

    private static JsonObject Observation(string id, string patientId, double value)
    {
        var observation = FhirCalls.Observation($"Patient/{patientId}", "2345-7", value, "2026-03-01T08:00:00+01:00");
        observation["id"] = id;
        return observation;
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_import_runs_as_background_work_with_progress_and_resolves_references_in_any_line_order(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine, Role.Administrator);
        // The records come before their patients, and each first observation points at the patient's last one.
        var lines = new List<string>();
        var patients = Enumerable.Range(0, 20).Select(p => $"imp-{Guid.NewGuid():N}").ToList();
        foreach (var (patientId, p) in patients.Select((id, p) => (id, p)))
        {
            for (var o = 0; o < 99; o++)
            {
                var observation = Observation($"{patientId}-o{o}", patientId, 4 + o % 30 / 10.0);
                if (o == 0) observation["hasMember"] = new JsonArray(new JsonObject { ["reference"] = $"Observation/{patientId}-o98" });
                lines.Add(Line(observation));
            }
        }
        lines.AddRange(patients.Select((id, p) => Line(Patient(id, p))));

        // The background slot is taken (another job runs): the import waits its turn, and its status says so.
        var background = fhir.Server.Services.GetRequiredService<BackgroundWork>();
        var release = new TaskCompletionSource();
        var occupied = new TaskCompletionSource();
        var other = background.RunAsync(async _ => { occupied.SetResult(); await release.Task; }, TestContext.Current.CancellationToken);
        await occupied.Task;
        var (status, outcome) = await FhirBulkDataTests.ImportAsync(fhir, string.Join('\n', lines), async (importer, statusUrl) =>
        {
            var (running, _, response) = await importer.GetFhirAsync(statusUrl);
            Assert.Equal(HttpStatusCode.Accepted, running);
            Assert.Equal($"read 0 of {lines.Count} lines", response.Headers.GetValues("X-Progress").Single());
            release.SetResult();
            await other;
        });

        Assert.True(status == HttpStatusCode.OK, FhirCalls.Issues(outcome));
        Assert.Contains("1980 Observation, 20 Patient", FhirCalls.Issues(outcome));
        await using var connection = await fhir.Server.Database.OpenUnscopedAsync(TestContext.Current.CancellationToken);
        if (engine == DatabaseEngine.Postgres)
        {
            // The planner's statistics are taken before the job says done (a fresh test database has none before).
            Assert.Equal(2L, await connection.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM pg_stat_user_tables WHERE relname IN ('fhir_resource', 'fhir_search') AND analyze_count + autoanalyze_count > 0"));
        }
        Assert.Equal(1980L, await connection.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM fhir_resource WHERE resource_type = 'Observation' AND id LIKE 'imp-%'"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_import_with_failing_lines_names_each_line_and_stores_nothing(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine, Role.Administrator);
        var patientId = $"imp-{Guid.NewGuid():N}";

        // Lines that cannot be read: 400, each by number, nothing stored.
        var unreadable = string.Join('\n', Line(Patient(patientId, 1)), "{\"resourceType\": \"Observation\",", "", Line(new JsonObject { ["resourceType"] = "Basic", ["id"] = "b" }),
            Line(Observation("o-1", patientId, 5)), Line(Observation("o-1", patientId, 6)));
        var (status, outcome) = await FhirBulkDataTests.ImportAsync(fhir, unreadable);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var issues = FhirCalls.Issues(outcome);
        Assert.Contains("Line 2: The body is not valid JSON", issues);
        Assert.Contains("Line 4: Stadig does not import Basic resources", issues);
        Assert.Contains("Line 6: Observation/o-1 is on line 5 too", issues);
        Assert.DoesNotContain("Line 1:", issues);

        // Lines that break a rule: 422, each by number, and the good lines are not kept either.
        var broken = Observation("o-2", patientId, 5);
        broken["performer"] = new JsonArray(new JsonObject { ["reference"] = "Practitioner/nobody" });
        var orphan = Observation("o-3", "nobody-at-all", 5);
        var (refused, why) = await FhirBulkDataTests.ImportAsync(fhir, string.Join('\n', Line(broken), Line(Patient(patientId, 1)), Line(Observation("o-4", patientId, 5)), Line(orphan)));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused);
        Assert.Contains("Line 1: The reference Practitioner/nobody leads to no resource", FhirCalls.Issues(why));
        Assert.Contains("Line 4:", FhirCalls.Issues(why));
        await using var connection = await fhir.Server.Database.OpenUnscopedAsync(TestContext.Current.CancellationToken);
        Assert.Equal(0L, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM fhir_resource WHERE id = @patientId OR id LIKE 'o-%'", new { patientId }));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_import_is_asynchronous_ndjson_and_for_administrators(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine, Role.Physician, Role.Administrator);
        var body = Line(Patient($"imp-{Guid.NewGuid():N}", 2));
        async Task<(HttpStatusCode, JsonObject)> PostAsync(HttpClient client, string contentType, bool async)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/fhir/$import") { Content = new StringContent(body, Encoding.UTF8, contentType) };
            if (async) request.Headers.Add("Prefer", "respond-async");
            using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
            var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
            return (response.StatusCode, text.StartsWith('{') ? (JsonObject)JsonNode.Parse(text)! : []);
        }
        var admin = fhir.Client("system/*.*", assignment: (await fhir.Server.Staff.AssignmentsOfAsync(fhir.Member.Id, TestContext.Current.CancellationToken)).First(a => a.Role == Role.Administrator));

        var (clinician, _) = await PostAsync(fhir.Client("system/*.*"), "application/fhir+ndjson", async: true);
        Assert.Equal(HttpStatusCode.Forbidden, clinician);
        var (noPrefer, said) = await PostAsync(admin, "application/fhir+ndjson", async: false);
        Assert.Equal(HttpStatusCode.BadRequest, noPrefer);
        Assert.Contains("respond-async", FhirCalls.Issues(said));
        var (json, format) = await PostAsync(admin, "application/fhir+json", async: true);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, json);
        Assert.Contains("NDJSON", FhirCalls.Issues(format));
        var (empty, nothing) = await FhirBulkDataTests.ImportAsync(fhir, "\n\n");
        Assert.Equal(HttpStatusCode.BadRequest, empty);
        Assert.Contains("no resources", FhirCalls.Issues(nothing));
    }
}
