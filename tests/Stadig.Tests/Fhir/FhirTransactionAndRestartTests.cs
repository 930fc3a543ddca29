using System.Net;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Tests.Fhir;

/// <summary>A big transaction for one patient (one access decision, every entry audited) and export jobs across a restart.</summary>
public class FhirTransactionAndRestartTests
{
    private static JsonObject Transaction(IEnumerable<JsonObject> resources) => new()
    {
        ["resourceType"] = "Bundle",
        ["type"] = "transaction",
        ["entry"] = new JsonArray(resources.Select(r => (JsonNode)new JsonObject
        {
            ["fullUrl"] = $"urn:uuid:{Guid.NewGuid()}",
            ["resource"] = r,
            ["request"] = new JsonObject { ["method"] = "POST", ["url"] = r["resourceType"]!.GetValue<string>() },
        }).ToArray()),
    };

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_50_entry_transaction_for_one_patient_audits_every_entry_and_is_all_or_nothing(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var client = fhir.Client();
        var (_, patient, _) = await client.PostFhirAsync("/fhir/Patient", FhirCalls.Patient("201212121212", "Lind", "Maja"));
        var patientId = patient["id"]!.GetValue<string>();
        var observations = Enumerable.Range(0, 50).Select(i => FhirCalls.Observation($"Patient/{patientId}", "2345-7", 4 + i / 10.0, "2026-03-01T08:00:00+01:00")).ToList();

        var (status, response, _) = await client.PostFhirAsync("/fhir", Transaction(observations));
        Assert.True(status == HttpStatusCode.OK, FhirCalls.Issues(response));
        Assert.Equal(50, response["entry"]!.AsArray().Count);

        await using var connection = await fhir.Server.Database.OpenUnscopedAsync(TestContext.Current.CancellationToken);
        var registryId = Guid.Parse(patientId);
        async Task<(long Audited, long Stored)> CountAsync() => (
            await connection.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM audit_event WHERE patient_id = @registryId AND resource = 'FHIR Observation' AND activity = 'Write' AND outcome = 'Allowed'",
                new { registryId }),
            await connection.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM fhir_resource WHERE resource_type = 'Observation' AND patient_id = @registryId", new { registryId }));
        Assert.Equal((50L, 50L), await CountAsync());

        // The fiftieth entry points at nobody: nothing of the other 49 is kept, nor their audit events.
        var failing = Enumerable.Range(0, 50).Select(i => FhirCalls.Observation($"Patient/{patientId}", "2345-7", 5, "2026-03-02T08:00:00+01:00")).ToList();
        failing[^1]["performer"] = new JsonArray(new JsonObject { ["reference"] = "Practitioner/nobody" });
        var (refused, outcome, _) = await client.PostFhirAsync("/fhir", Transaction(failing));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused);
        Assert.Contains("Bundle.entry[49]", FhirCalls.Issues(outcome));
        Assert.Equal((50L, 50L), await CountAsync());
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_export_left_running_by_a_stopped_server_answers_its_failure_after_the_restart(DatabaseEngine engine)
    {
        var before = await FhirTestServer.StartAsync(engine, Role.Administrator);
        var ours = Guid.NewGuid();
        var anotherNodes = Guid.NewGuid();
        await using (var connection = await before.Server.Database.OpenUnscopedAsync(TestContext.Current.CancellationToken))
        {
            // As a node that stopped in the middle of an export leaves its job; another node's job is still being run there.
            const string insert = "INSERT INTO fhir_export_job (id, requested_by, request_url, status, created_at, runner) VALUES (@id, @staff, '/fhir/$export', 'running', @now, @runner)";
            await connection.ExecuteAsync(insert, new { id = ours, staff = before.Member.Id, now = DateTimeOffset.UtcNow, runner = Environment.MachineName });
            await connection.ExecuteAsync(insert, new { id = anotherNodes, staff = before.Member.Id, now = DateTimeOffset.UtcNow, runner = "another-node" });
        }
        Assert.Equal(HttpStatusCode.Accepted, (await before.Client("system/*.read").GetFhirAsync($"/fhir/$export-status/{ours}")).Status);

        await using var after = await before.RestartAsync();
        var admin = after.Client("system/*.read");
        var (status, outcome, _) = await admin.GetFhirAsync($"/fhir/$export-status/{ours}");
        Assert.Equal(HttpStatusCode.InternalServerError, status);
        Assert.Equal("OperationOutcome", outcome["resourceType"]!.GetValue<string>());
        Assert.Contains("start the export again", FhirCalls.Issues(outcome));
        Assert.Equal(HttpStatusCode.Accepted, (await admin.GetFhirAsync($"/fhir/$export-status/{anotherNodes}")).Status);

        var (again, _, _) = await admin.SendAsync(HttpMethod.Get, "/fhir/$export", configure: r => r.Headers.Add("Prefer", "respond-async"));
        Assert.Equal(HttpStatusCode.Accepted, again);
    }
}
