using System.Net;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Tests.Fhir;

/// <summary>The FHIR R4 interactions through a real server, on both engines.</summary>
public class FhirApiTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Create_read_update_with_if_match_vread_and_history(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var client = fhir.Client();

        var (status, created, response) = await client.PostFhirAsync("/fhir/Patient", FhirCalls.Patient("191212121212", "Öström", "Anna"));
        Assert.True(status == HttpStatusCode.Created, FhirCalls.Issues(created));
        var id = created["id"]!.GetValue<string>();
        Assert.Equal("W/\"1\"", response.Headers.ETag?.ToString());
        Assert.EndsWith($"/fhir/Patient/{id}/_history/1", response.Headers.Location?.ToString());
        Assert.Equal("1912-12-12", created["birthDate"]!.GetValue<string>());
        Assert.Equal("male", created["gender"]!.GetValue<string>());

        var (_, read, _) = await client.GetFhirAsync($"/fhir/Patient/{id}");
        Assert.Equal("Öström", read["name"]![0]!["family"]!.GetValue<string>());
        Assert.Equal("191212121212", read["identifier"]![0]!["value"]!.GetValue<string>());

        read["name"]![0]!["family"] = "Öström-Lind";
        var (updatedStatus, updated, _) = await client.PutFhirAsync($"/fhir/Patient/{id}", read, r => r.Headers.TryAddWithoutValidation("If-Match", "W/\"1\""));
        Assert.True(updatedStatus == HttpStatusCode.OK, FhirCalls.Issues(updated));
        Assert.Equal("2", updated["meta"]!["versionId"]!.GetValue<string>());

        // The registry (and so the UI) has the new name.
        var registryName = await fhir.Server.Database.OpenUnscopedAsync(TestContext.Current.CancellationToken) is var connection
            ? await connection.ExecuteScalarAsync<string>("SELECT family_name FROM patient WHERE identifier = '191212121212'") : null;
        Assert.Equal("Öström-Lind", registryName);

        read["name"]![0]!["family"] = "Stale";
        var (stale, staleOutcome, _) = await client.PutFhirAsync($"/fhir/Patient/{id}", read, r => r.Headers.TryAddWithoutValidation("If-Match", "W/\"1\""));
        Assert.Equal(HttpStatusCode.PreconditionFailed, stale);
        Assert.Equal("OperationOutcome", staleOutcome["resourceType"]!.GetValue<string>());

        var (_, version1, _) = await client.GetFhirAsync($"/fhir/Patient/{id}/_history/1");
        Assert.Equal("Öström", version1["name"]![0]!["family"]!.GetValue<string>());
        var (_, history, _) = await client.GetFhirAsync($"/fhir/Patient/{id}/_history");
        Assert.Equal(2, history["entry"]!.AsArray().Count);

        // An Observation in the patient's record: created, read, updated with a stale version refused.
        var (obsStatus, observation, _) = await client.PostFhirAsync("/fhir/Observation", FhirCalls.Observation($"Patient/{id}", "2345-7", 5.4, "2026-03-01T08:00:00+01:00"));
        Assert.True(obsStatus == HttpStatusCode.Created, FhirCalls.Issues(observation));
        var observationId = observation["id"]!.GetValue<string>();
        observation["status"] = "amended";
        var (obsUpdate, _, _) = await client.PutFhirAsync($"/fhir/Observation/{observationId}", observation, r => r.Headers.TryAddWithoutValidation("If-Match", "W/\"1\""));
        Assert.Equal(HttpStatusCode.OK, obsUpdate);
        var (obsStale, _, _) = await client.PutFhirAsync($"/fhir/Observation/{observationId}", observation, r => r.Headers.TryAddWithoutValidation("If-Match", "W/\"1\""));
        Assert.Equal(HttpStatusCode.PreconditionFailed, obsStale);
        var (_, obsV1, _) = await client.GetFhirAsync($"/fhir/Observation/{observationId}/_history/1");
        Assert.Equal("final", obsV1["status"]!.GetValue<string>());
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Conditional_create_returns_the_existing_patient(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var client = fhir.Client();
        var (_, first, _) = await client.PostFhirAsync("/fhir/Patient", FhirCalls.Patient("191212121212", "Öström", "Anna"));
        var condition = "identifier=http://electronichealth.se/identifier/personnummer|191212121212";
        var (status, again, _) = await client.PostFhirAsync("/fhir/Patient", FhirCalls.Patient("191212121212", "Öström", "Anna"),
            r => r.Headers.TryAddWithoutValidation("If-None-Exist", condition));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(first["id"]!.GetValue<string>(), again["id"]!.GetValue<string>());
        var (plain, duplicate, _) = await client.PostFhirAsync("/fhir/Patient", FhirCalls.Patient("191212121212", "Öström", "Anna"));
        Assert.Equal(HttpStatusCode.Conflict, plain);
        Assert.Contains("already registered", FhirCalls.Issues(duplicate));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Bad_input_answers_4xx_with_an_operation_outcome_and_stores_nothing(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var client = fhir.Client();
        var (_, patient, _) = await client.PostFhirAsync("/fhir/Patient", FhirCalls.Patient("191212121212", "Öström", "Anna"));
        var patientId = patient["id"]!.GetValue<string>();

        async Task<(HttpStatusCode, string)> Raw(string path, string body, string contentType = "application/fhir+json")
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, System.Text.Encoding.UTF8, contentType) };
            // As a well-behaved client with a large body does: wait for the server's go-ahead, so a refusal arrives before the upload.
            request.Headers.ExpectContinue = true;
            var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
            var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
            Assert.Contains("OperationOutcome", text);
            return (response.StatusCode, text);
        }

        Assert.Equal(HttpStatusCode.BadRequest, (await Raw("/fhir/Observation", "{\"resourceType\": \"Observation\", ")).Item1);
        Assert.Equal(HttpStatusCode.BadRequest, (await Raw("/fhir/Observation", FhirCalls.Patient("191212121212", "A", "B").ToJsonString())).Item1);
        var (dangling, text) = await Raw("/fhir/Observation", FhirCalls.Observation("Patient/no-such-patient", "2345-7", 1, "2026-01-01").ToJsonString());
        Assert.Equal(HttpStatusCode.UnprocessableEntity, dangling);
        Assert.Contains("Observation.subject", text);
        var badReference = FhirCalls.Observation($"Patient/{patientId}", "2345-7", 1, "2026-01-01");
        badReference["performer"] = new JsonArray(new JsonObject { ["reference"] = "Practitioner/nobody" });
        var (missingPerformer, performerText) = await Raw("/fhir/Observation", badReference.ToJsonString());
        Assert.Equal(HttpStatusCode.UnprocessableEntity, missingPerformer);
        Assert.Contains("Observation.performer[0].reference", performerText);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await Raw("/fhir/Observation", "<Observation/>", "application/xml")).Item1);
        // A search form the framework will not read (a NUL escaped as %00; the full fuzz run's find): 400 naming the form, not 500.
        var (unreadableForm, formText) = await Raw("/fhir/Observation/_search", $"patient={patientId}&code=a%00b", "application/x-www-form-urlencoded");
        Assert.Equal(HttpStatusCode.BadRequest, unreadableForm);
        Assert.Contains("search form", formText);
        var (oversize, _) = await Raw("/fhir/Observation", "{\"resourceType\":\"Observation\",\"x\":\"" + new string('a', 33 * 1024 * 1024) + "\"}");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, oversize);
        var (badDate, _, _) = await client.GetFhirAsync($"/fhir/Observation?patient={patientId}&date=2013-13-45");
        Assert.Equal(HttpStatusCode.BadRequest, badDate);
        var (unknownStrict, _, _) = await client.SendAsync(HttpMethod.Get, $"/fhir/Observation?patient={patientId}&colour=blue", configure: r => r.Headers.Add("Prefer", "handling=strict"));
        Assert.Equal(HttpStatusCode.BadRequest, unknownStrict);
        var (unknownLenient, lenient, _) = await client.GetFhirAsync($"/fhir/Observation?patient={patientId}&colour=blue");
        Assert.Equal(HttpStatusCode.OK, unknownLenient);
        Assert.Contains("colour", lenient.ToJsonString());

        await using var connection = await fhir.Server.Database.OpenUnscopedAsync(TestContext.Current.CancellationToken);
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM fhir_resource WHERE resource_type = 'Observation'"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_transaction_is_all_or_nothing_and_resolves_urn_uuid_references(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var client = fhir.Client();
        JsonObject Bundle(bool withBadEntry)
        {
            var entries = new JsonArray(
                new JsonObject { ["fullUrl"] = "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a", ["resource"] = FhirCalls.Patient("191212121212", "Öström", "Anna"), ["request"] = new JsonObject { ["method"] = "POST", ["url"] = "Patient" } },
                new JsonObject { ["resource"] = FhirCalls.Observation("urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a", "2345-7", 5.4, "2026-03-01"), ["request"] = new JsonObject { ["method"] = "POST", ["url"] = "Observation" } });
            if (withBadEntry)
                entries.Add(new JsonObject { ["resource"] = FhirCalls.Observation("Patient/nobody", "2345-7", 1, "2026-03-01"), ["request"] = new JsonObject { ["method"] = "POST", ["url"] = "Observation" } });
            return new JsonObject { ["resourceType"] = "Bundle", ["type"] = "transaction", ["entry"] = entries };
        }

        var (failed, outcome, _) = await client.PostFhirAsync("/fhir", Bundle(withBadEntry: true));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, failed);
        Assert.Contains("Bundle.entry[2]", FhirCalls.Issues(outcome));
        await using (var connection = await fhir.Server.Database.OpenUnscopedAsync(TestContext.Current.CancellationToken))
        {
            Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM patient WHERE identifier = '191212121212'"));
            // Nothing but what Stadig publishes from its own directory (the test user's unit and assignment).
            Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM fhir_resource WHERE content NOT LIKE '%record-source%'"));
        }

        var (ok, response, _) = await client.PostFhirAsync("/fhir", Bundle(withBadEntry: false));
        Assert.True(ok == HttpStatusCode.OK, FhirCalls.Issues(response));
        var patientId = response["entry"]![0]!["resource"]!["id"]!.GetValue<string>();
        Assert.Equal($"Patient/{patientId}", response["entry"]![1]!["resource"]!["subject"]!["reference"]!.GetValue<string>());
        var (_, search, _) = await client.GetFhirAsync($"/fhir/Observation?patient={patientId}&code=http://loinc.org|2345-7&_include=Observation:patient");
        Assert.Equal(["Observation", "Patient"], search["entry"]!.AsArray().Select(e => e!["resource"]!["resourceType"]!.GetValue<string>()).ToArray());
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Scopes_narrow_access_and_every_read_and_write_is_audited(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var writer = fhir.Client();
        var (_, anna, _) = await writer.PostFhirAsync("/fhir/Patient", FhirCalls.Patient("191212121212", "Öström", "Anna"));
        var (_, bo, _) = await writer.PostFhirAsync("/fhir/Patient", FhirCalls.Patient("198505152390", "Berg", "Bo"));
        var annaId = anna["id"]!.GetValue<string>();
        var (_, observation, _) = await writer.PostFhirAsync("/fhir/Observation", FhirCalls.Observation($"Patient/{annaId}", "2345-7", 5.4, "2026-03-01"));

        var readOnly = fhir.Client("patient/*.read", patient: annaId);
        Assert.Equal(HttpStatusCode.OK, (await readOnly.GetFhirAsync($"/fhir/Observation/{observation["id"]}")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await readOnly.PostFhirAsync("/fhir/Observation", FhirCalls.Observation($"Patient/{annaId}", "2345-7", 1, "2026-03-02"))).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await readOnly.GetFhirAsync($"/fhir/Patient/{bo["id"]}")).Status);
        var noScopes = fhir.Client("openid");
        Assert.Equal(HttpStatusCode.Forbidden, (await noScopes.GetFhirAsync($"/fhir/Patient/{annaId}")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await fhir.Server.CreateClient().GetFhirAsync($"/fhir/Patient/{annaId}")).Status);

        // Someone at another unit, with no care relation, is refused — and the refusal is logged.
        var (stranger, strangerAssignments) = await fhir.Server.AddUserAsync("annan", "x");
        var other = fhir.Client(assignment: strangerAssignments[0], member: stranger);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetFhirAsync($"/fhir/Observation/{observation["id"]}")).Status);

        await using var connection = await fhir.Server.Database.OpenUnscopedAsync(TestContext.Current.CancellationToken);
        var events = (await connection.QueryAsync<(string Resource, string Activity, string Outcome)>(
            "SELECT resource, activity, outcome FROM audit_event WHERE resource LIKE 'FHIR%'")).ToList();
        Assert.Contains(events, e => e is { Resource: "FHIR Observation", Activity: "Write", Outcome: "Allowed" });
        Assert.Contains(events, e => e is { Resource: "FHIR Observation", Activity: "Read", Outcome: "Allowed" });
        Assert.Contains(events, e => e is { Resource: "FHIR Observation", Activity: "Read", Outcome: "Denied" });
    }
}
