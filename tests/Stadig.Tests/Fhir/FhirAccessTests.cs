using System.Net;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Access;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Tests.Fhir;

/// <summary>The FHIR interactions that answer with data besides read and search: each passes the checkpoint and is audited like a read.</summary>
public class FhirAccessTests
{
    private const string Glucose = "2345-7";

    /// <summary>
    /// "fhir" (a physician) and "otto" (a physician at another unit); otto registers a patient and
    /// records an observation for them, so fhir has no care relation with that patient.
    /// </summary>
    private sealed record Scene(FhirTestServer Fhir, HttpClient Mine, HttpClient Otto, Caller OttoCaller, string TheirPatient, string TheirObservation) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Fhir.DisposeAsync();

        public Caller MineCaller => StadigServer.CallerFor(Fhir.Member, Fhir.Assignment);

        public async Task<long> EventsAsync(Guid staff, string resource, string outcome)
        {
            await using var c = await Fhir.Server.Database.OpenUnscopedAsync();
            return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM audit_event WHERE staff_id = @staff AND resource = @resource AND outcome = @outcome",
                new { staff, resource, outcome });
        }

        /// <summary>A patient of mine (registering gives my unit the care relation).</summary>
        public async Task<string> MyPatientAsync()
        {
            var (status, mine, _) = await Mine.PostFhirAsync("/fhir/Patient", FhirCalls.Patient(TestNumbers.Personnummer(1940, 4, 1).Replace("-", ""), "Ek", "Per"));
            Assert.True(status == HttpStatusCode.Created, FhirCalls.Issues(mine));
            return mine["id"]!.GetValue<string>();
        }
    }

    private static async Task<Scene> SceneAsync(DatabaseEngine engine)
    {
        var fhir = await FhirTestServer.StartAsync(engine);
        var (otto, ottoAssignments) = await fhir.Server.AddUserAsync("otto", "x", false, Role.Physician);
        var ottoClient = fhir.Client(assignment: ottoAssignments[0], member: otto);
        var (_, patient, _) = await ottoClient.PostFhirAsync("/fhir/Patient", FhirCalls.Patient("191212121212", "Öberg", "Lina"));
        var patientId = patient["id"]!.GetValue<string>();
        var (status, observation, _) = await ottoClient.PostFhirAsync("/fhir/Observation", FhirCalls.Observation($"Patient/{patientId}", Glucose, 5.4, "2026-11-20T08:00:00Z"));
        Assert.Equal(HttpStatusCode.Created, status);
        return new Scene(fhir, fhir.Client(), ottoClient, StadigServer.CallerFor(otto, ottoAssignments[0]), patientId, observation["id"]!.GetValue<string>());
    }

    private static Action<HttpRequestMessage> IfNoneExist(string condition) => r => r.Headers.TryAddWithoutValidation("If-None-Exist", condition);

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_conditional_create_that_matches_another_units_record_answers_as_a_read_would_and_is_audited(DatabaseEngine engine)
    {
        await using var scene = await SceneAsync(engine);
        var condition = $"patient=Patient/{scene.TheirPatient}&code=http://loinc.org|{Glucose}";
        var duplicate = FhirCalls.Observation($"Patient/{scene.TheirPatient}", Glucose, 5.4, "2026-11-20T08:00:00Z");

        var (status, body, _) = await scene.Mine.PostFhirAsync("/fhir/Observation", duplicate, IfNoneExist(condition));
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.DoesNotContain(scene.TheirObservation, body.ToJsonString());
        Assert.Equal(1, await scene.EventsAsync(scene.MineCaller.StaffId, "FHIR Observation", "Denied"));

        // A log auditor reads logs, never the record.
        var (auditor, auditorAssignments) = await scene.Fhir.Server.AddUserAsync("gunnar", "x", false, Role.LogAuditor);
        var (auditorStatus, auditorBody, _) = await scene.Fhir.Client(assignment: auditorAssignments[0], member: auditor)
            .PostFhirAsync("/fhir/Observation", duplicate, IfNoneExist(condition));
        Assert.Equal(HttpStatusCode.NotFound, auditorStatus);
        Assert.DoesNotContain(scene.TheirObservation, auditorBody.ToJsonString());
        Assert.Equal(1, await scene.EventsAsync(auditor.Id, "FHIR Observation", "Denied"));

        // The same inside a batch: the entry answers as a read would, without the resource.
        var batch = new JsonObject
        {
            ["resourceType"] = "Bundle", ["type"] = "batch",
            ["entry"] = new JsonArray(new JsonObject
            {
                ["resource"] = duplicate.DeepClone(),
                ["request"] = new JsonObject { ["method"] = "POST", ["url"] = "Observation", ["ifNoneExist"] = condition },
            }),
        };
        var (batchStatus, response, _) = await scene.Mine.PostFhirAsync("/fhir", batch);
        Assert.Equal(HttpStatusCode.OK, batchStatus);
        var entry = response["entry"]![0]!;
        Assert.StartsWith("404", entry["response"]!["status"]!.GetValue<string>());
        Assert.Null(entry["resource"]);
        Assert.Equal(2, await scene.EventsAsync(scene.MineCaller.StaffId, "FHIR Observation", "Denied"));

        // And in a transaction: refused, nothing kept.
        batch["type"] = "transaction";
        var (transactionStatus, transaction, _) = await scene.Mine.PostFhirAsync("/fhir", batch);
        Assert.Equal(HttpStatusCode.NotFound, transactionStatus);
        Assert.DoesNotContain(scene.TheirObservation, transaction.ToJsonString());

        // The unit that wrote it gets it back, audited as a read.
        var before = await scene.EventsAsync(scene.OttoCaller.StaffId, "FHIR Observation", "Allowed");
        var (ownStatus, own, _) = await scene.Otto.PostFhirAsync("/fhir/Observation", duplicate, IfNoneExist(condition));
        Assert.Equal(HttpStatusCode.OK, ownStatus);
        Assert.Equal(scene.TheirObservation, own["id"]!.GetValue<string>());
        Assert.Equal(before + 1, await scene.EventsAsync(scene.OttoCaller.StaffId, "FHIR Observation", "Allowed"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_count_counts_only_what_the_caller_may_see_and_is_audited(DatabaseEngine engine)
    {
        await using var scene = await SceneAsync(engine);
        var myPatient = await scene.MyPatientAsync();
        await scene.Mine.PostFhirAsync("/fhir/Observation", FhirCalls.Observation($"Patient/{myPatient}", Glucose, 6.1, "2026-11-21T08:00:00Z"));

        // Across patients: only my patient's observation.
        var (status, counted, _) = await scene.Mine.GetFhirAsync($"/fhir/Observation?code=http://loinc.org|{Glucose}&_summary=count");
        Assert.True(status == HttpStatusCode.OK, counted.ToJsonString());
        Assert.Equal(1, counted["total"]!.GetValue<int>());
        // The count is an access: my patient's as a read of them, theirs refused, the count itself once.
        Assert.Equal(2, await scene.EventsAsync(scene.MineCaller.StaffId, "FHIR Observation count", "Allowed"));
        Assert.Equal(1, await scene.EventsAsync(scene.MineCaller.StaffId, "FHIR Observation count", "Denied"));
        var (_, accurate, _) = await scene.Mine.GetFhirAsync($"/fhir/Observation?code=http://loinc.org|{Glucose}&_total=accurate");
        Assert.Equal(1, accurate["total"]!.GetValue<int>());

        // In one patient's compartment: with a care relation but the writing unit blocked, nothing of it counts.
        var theirs = Guid.Parse(scene.TheirPatient);
        var access = scene.Fhir.Server.Services.GetRequiredService<AccessControl>();
        await access.RecordCareRelationAsync(scene.MineCaller, theirs, "Besök");
        var (_, visible, _) = await scene.Mine.GetFhirAsync($"/fhir/Observation?patient={scene.TheirPatient}&_summary=count");
        Assert.Equal(1, visible["total"]!.GetValue<int>());
        await access.BlockAsync(scene.OttoCaller, theirs, scene.OttoCaller.UnitId, "Patienten begär spärr");
        var (_, blocked, _) = await scene.Mine.GetFhirAsync($"/fhir/Observation?patient={scene.TheirPatient}&_summary=count");
        Assert.Equal(0, blocked["total"]!.GetValue<int>());
        var (_, blockedPage, _) = await scene.Mine.GetFhirAsync($"/fhir/Observation?patient={scene.TheirPatient}&_total=accurate");
        Assert.Equal(0, blockedPage["total"]!.GetValue<int>());
        Assert.DoesNotContain(scene.TheirObservation, blockedPage.ToJsonString());
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_reverse_include_leaves_out_what_the_caller_may_not_see_before_it_limits(DatabaseEngine engine)
    {
        await using var scene = await SceneAsync(engine);
        var practitioner = new JsonObject { ["resourceType"] = "Practitioner", ["id"] = "pr1", ["name"] = new JsonArray(new JsonObject { ["family"] = "Lind" }) };
        var (created, problem, _) = await scene.Otto.PutFhirAsync("/fhir/Practitioner/pr1", practitioner);
        Assert.True(created == HttpStatusCode.Created, FhirCalls.Issues(problem));
        JsonObject Performed(string patient, string id)
        {
            var observation = FhirCalls.Observation($"Patient/{patient}", Glucose, 5.0, "2026-11-20T08:00:00Z");
            observation["id"] = id;
            observation["performer"] = new JsonArray(new JsonObject { ["reference"] = "Practitioner/pr1" });
            return observation;
        }
        // More than the include limit of another unit's patient's observations, sorted before mine:
        // stored as the FHIR store keeps them (the resource and its search index), directly, for speed.
        var their = Guid.Parse(scene.TheirPatient);
        var now = DateTimeOffset.UtcNow;
        var rows = Enumerable.Range(0, Stadig.Fhir.Search.FhirIncludes.MaxRevIncluded + 1).Select(i => $"a{i:D5}")
            .Select(id => new { id, patient = their, unit = scene.OttoCaller.UnitId, now, content = Performed(scene.TheirPatient, id).ToJsonString() }).ToList();
        await scene.Fhir.Server.Database.InUnscopedTransactionAsync(async (c, t) =>
        {
            await c.ExecuteAsync("INSERT INTO fhir_resource (resource_type, id, version_id, patient_id, unit_id, last_updated, content) " +
                "VALUES ('Observation', @id, 1, @patient, @unit, @now, @content)", rows, t);
            return await c.ExecuteAsync("INSERT INTO fhir_search (resource_type, id, param, patient_id, value) VALUES ('Observation', @id, 'performer', @patient, 'Practitioner/pr1')", rows, t);
        }, TestContext.Current.CancellationToken);
        var myPatient = await scene.MyPatientAsync();
        var (stored, storeProblem, _) = await scene.Mine.PutFhirAsync("/fhir/Observation/z1", Performed(myPatient, "z1"));
        Assert.True(stored == HttpStatusCode.Created, FhirCalls.Issues(storeProblem));

        var (status, bundle, _) = await scene.Mine.GetFhirAsync("/fhir/Practitioner?_id=pr1&_revinclude=Observation:performer");
        Assert.True(status == HttpStatusCode.OK, bundle.ToJsonString());
        var included = bundle["entry"]!.AsArray().Where(e => e!["search"]!["mode"]!.GetValue<string>() == "include").Select(e => e!["resource"]!["id"]!.GetValue<string>()).ToList();
        Assert.Equal(["z1"], included);
    }
}
