using System.Net;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Access;
using Stadig.Fhir.Validation;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Tests.Fhir;

/// <summary>The audit log read over FHIR as AuditEvents: who may, what an event says, and search on both engines.</summary>
public class FhirAuditEventTests
{
    private const string Hsa = "urn:oid:1.2.752.29.4.19";

    /// <summary>A physician's patient with one Observation, read <paramref name="reads"/> times, and a log auditor's client.</summary>
    private sealed record Scene(FhirTestServer Fhir, HttpClient Clinician, HttpClient Auditor, StaffMember AuditorMember, string PatientId, string ObservationId) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Fhir.DisposeAsync();
    }

    private static async Task<Scene> SceneAsync(DatabaseEngine engine, int reads = 1, string auditorScope = "user/AuditEvent.read")
    {
        var fhir = await FhirTestServer.StartAsync(engine);
        var clinician = fhir.Client();
        var (_, patient, _) = await clinician.PostFhirAsync("/fhir/Patient", FhirCalls.Patient("191212121212", "Öström", "Anna"));
        var patientId = patient["id"]!.GetValue<string>();
        var (status, observation, _) = await clinician.PostFhirAsync("/fhir/Observation", FhirCalls.Observation($"Patient/{patientId}", "2345-7", 5.4, "2026-03-01T08:00:00+01:00"));
        Assert.True(status == HttpStatusCode.Created, FhirCalls.Issues(observation));
        var observationId = observation["id"]!.GetValue<string>();
        for (var i = 0; i < reads; i++) Assert.Equal(HttpStatusCode.OK, (await clinician.GetFhirAsync($"/fhir/Observation/{observationId}")).Status);
        var (member, assignments) = await fhir.Server.AddUserAsync("granskare", "x", false, Role.LogAuditor);
        return new Scene(fhir, clinician, fhir.Client(auditorScope, assignment: assignments[0], member: member), member, patientId, observationId);
    }

    private static List<JsonObject> Matches(JsonObject bundle) =>
        (bundle["entry"] as JsonArray ?? []).OfType<JsonObject>().Where(e => e["search"]?["mode"]?.GetValue<string>() == "match")
            .Select(e => (JsonObject)e["resource"]!).ToList();

    private static async Task<List<JsonObject>> SearchAsync(HttpClient client, string query)
    {
        var (status, bundle, _) = await client.GetFhirAsync($"/fhir/AuditEvent?{query}");
        Assert.True(status == HttpStatusCode.OK, FhirCalls.Issues(bundle));
        return Matches(bundle);
    }

    private static string Code(JsonNode? coding) => $"{coding?["system"]?.GetValue<string>()}|{coding?["code"]?.GetValue<string>()}";

    private static JsonObject Requestor(JsonObject auditEvent) =>
        auditEvent["agent"]!.AsArray().OfType<JsonObject>().Single(a => a["requestor"]!.GetValue<bool>());

    private static IEnumerable<string> PurposeCodes(JsonObject agent) =>
        (agent["purposeOfUse"] as JsonArray ?? []).SelectMany(p => p!["coding"]!.AsArray()).Select(Code);

    private static void AssertValid(JsonObject resource) =>
        Assert.True(FhirValidator.Validate(resource).All(i => i.Severity is not ("error" or "fatal")),
            string.Join("; ", FhirValidator.Validate(resource).Select(i => $"{i.Expression}: {i.Diagnostics}")));

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_chart_read_through_the_API_is_an_AuditEvent_that_a_log_auditor_reads_and_the_reading_is_logged(DatabaseEngine engine)
    {
        await using var scene = await SceneAsync(engine);

        var found = await SearchAsync(scene.Auditor, $"patient={scene.PatientId}&subtype=http://hl7.org/fhir/restful-interaction|read");
        var read = Assert.Single(found);
        Assert.Equal("http://terminology.hl7.org/CodeSystem/audit-event-type|rest", Code(read["type"]));
        Assert.Contains("https://stadig.se/fhir/CodeSystem/audit-activity|Read", read["subtype"]!.AsArray().Select(Code));
        Assert.Equal("R", read["action"]!.GetValue<string>());
        Assert.Equal("0", read["outcome"]!.GetValue<string>());
        var agent = Requestor(read);
        Assert.Equal(scene.Fhir.Member.HsaId, agent["who"]!["identifier"]!["value"]!.GetValue<string>());
        Assert.Equal(Hsa, agent["who"]!["identifier"]!["system"]!.GetValue<string>());
        Assert.Equal(scene.Fhir.Member.DisplayName, agent["who"]!["display"]!.GetValue<string>());
        Assert.Equal("https://stadig.se/fhir/CodeSystem/role|Physician", Code(agent["role"]![0]!["coding"]![0]));
        Assert.Contains("http://terminology.hl7.org/CodeSystem/v3-ActReason|TREAT", PurposeCodes(agent));
        Assert.Contains("https://stadig.se/fhir/CodeSystem/purpose|CareAndTreatment", PurposeCodes(agent));
        var unit = read["agent"]!.AsArray().OfType<JsonObject>().Single(a => !a["requestor"]!.GetValue<bool>());
        Assert.Equal(scene.Fhir.Assignment.UnitHsaId, unit["who"]!["identifier"]!["value"]!.GetValue<string>());
        var entities = read["entity"]!.AsArray().OfType<JsonObject>().ToList();
        Assert.Contains(entities, e => e["what"]?["reference"]?.GetValue<string>() == $"Patient/{scene.PatientId}");
        Assert.Contains(entities, e => e["name"]?.GetValue<string>() == "FHIR Observation");
        AssertValid(read);

        var id = read["id"]!.GetValue<string>();
        var (status, again, _) = await scene.Auditor.GetFhirAsync($"/fhir/AuditEvent/{id}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(read.ToJsonString(), again.ToJsonString());
        Assert.Equal(HttpStatusCode.NotFound, (await scene.Auditor.GetFhirAsync($"/fhir/AuditEvent/{Guid.NewGuid()}")).Status);

        // Reading the log is in the log: the search in the patient's chain, the read naming the event.
        await using var connection = await scene.Fhir.Server.Database.OpenUnscopedAsync(TestContext.Current.CancellationToken);
        var logged = (await connection.QueryAsync<(string Resource, string? Detail, string Outcome)>(
            "SELECT resource, detail, outcome FROM audit_event WHERE staff_hsa_id = @hsa ORDER BY occurred_at", new { hsa = scene.AuditorMember.HsaId })).ToList();
        Assert.Contains(logged, l => l.Resource == "FHIR AuditEvent search" && l.Outcome == "Allowed" && l.Detail!.Contains("subtype=", StringComparison.Ordinal));
        Assert.Contains(logged, l => l.Resource == "FHIR AuditEvent" && l.Detail == id);
        var searchInChain = await connection.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM audit_event WHERE staff_hsa_id = @hsa AND resource = 'FHIR AuditEvent search' AND chain_key = @chain",
            new { hsa = scene.AuditorMember.HsaId, chain = scene.PatientId });
        Assert.Equal(1, searchInChain);

        // The log auditor's own reading shows up as "Audit Log Used", pointing at the event read.
        var used = await SearchAsync(scene.Auditor, $"agent=Practitioner/{scene.AuditorMember.HsaId}&type=http://dicom.nema.org/resources/ontology/DCM|110101");
        Assert.Contains(used, u => u["entity"]!.AsArray().Any(e => e!["what"]?["reference"]?.GetValue<string>() == $"AuditEvent/{id}"));
        foreach (var resource in used) AssertValid(resource);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Search_by_patient_agent_date_action_type_and_paging(DatabaseEngine engine)
    {
        await using var scene = await SceneAsync(engine, reads: 3);
        var member = scene.Fhir.Member.HsaId;
        // The clinician's events in the patient's log (the log auditor's own searches go there too, and are left out).
        var mine = $"patient=Patient/{scene.PatientId}&agent={member}&_count=100";
        string IdOf(JsonObject e) => e["id"]!.GetValue<string>();
        async Task<HashSet<string>> IdsAsync(string query) => (await SearchAsync(scene.Auditor, query)).Select(IdOf).ToHashSet();

        var all = await SearchAsync(scene.Auditor, mine);
        Assert.True(all.Count >= 5, $"{all.Count} events"); // registration, two writes, three reads
        Assert.All(all, e => Assert.Contains(e["entity"]!.AsArray(), x => x!["what"]?["reference"]?.GetValue<string>() == $"Patient/{scene.PatientId}"));
        foreach (var resource in all) AssertValid(resource);
        var ids = all.Select(IdOf).ToHashSet();
        var recorded = all.Select(e => e["recorded"]!.GetValue<string>()).ToList();
        Assert.Equal(recorded.OrderDescending(StringComparer.Ordinal), recorded);
        Assert.Equal(recorded.Order(StringComparer.Ordinal), (await SearchAsync(scene.Auditor, $"{mine}&_sort=date")).Select(e => e["recorded"]!.GetValue<string>()));

        // Agent: as Practitioner/{hsa-id}, bare, or by identifier; the unit as Organization/{hsa-id}.
        var patient = $"patient={scene.PatientId}&_count=100";
        Assert.Equal(ids, await IdsAsync($"{patient}&agent=Practitioner/{member}"));
        Assert.Equal(ids, await IdsAsync($"{patient}&agent:identifier={Uri.EscapeDataString($"{Hsa}|{member}")}"));
        Assert.Superset(ids, await IdsAsync($"{patient}&agent=Organization/{scene.Fhir.Assignment.UnitHsaId}"));
        Assert.Empty(await SearchAsync(scene.Auditor, $"{patient}&agent=Practitioner/SE2321000016-Pnobody"));
        Assert.Empty(await SearchAsync(scene.Auditor, $"patient={Guid.NewGuid()}"));

        // Action and type: the three reads are R and RESTful reads; the writes are U; together with the rest, every event.
        var restReads = await SearchAsync(scene.Auditor, $"{mine}&action=R&type=http://terminology.hl7.org/CodeSystem/audit-event-type|rest&subtype=https://stadig.se/fhir/CodeSystem/audit-activity|Read");
        Assert.Equal(3, restReads.Count);
        Assert.All(restReads, r => Assert.Contains("http://hl7.org/fhir/restful-interaction|read", r["subtype"]!.AsArray().Select(Code)));
        var reads = await SearchAsync(scene.Auditor, $"{mine}&action=R");
        Assert.All(reads, r => Assert.Equal("R", r["action"]!.GetValue<string>()));
        var writes = await SearchAsync(scene.Auditor, $"{mine}&action=U");
        Assert.NotEmpty(writes);
        Assert.All(writes, w => Assert.Equal("U", w["action"]!.GetValue<string>()));
        var others = await IdsAsync($"{mine}&action:not=R&action:not=U");
        Assert.Equal(ids, reads.Concat(writes).Select(IdOf).Concat(others).ToHashSet());
        Assert.Equal(ids.Count, reads.Count + writes.Count + others.Count);
        Assert.Equal(ids, await IdsAsync($"{mine}&type=rest,http://dicom.nema.org/resources/ontology/DCM|110110"));

        // Dates: a whole year, and before/after one event's instant split the events exactly.
        Assert.Equal(ids, await IdsAsync($"{mine}&date={recorded[0][..4]}"));
        Assert.Empty(await SearchAsync(scene.Auditor, $"{mine}&date=lt2000-01-01"));
        Assert.Equal(ids, await IdsAsync($"{mine}&date=ge2000-01-01T00:00:00Z&date=le{Uri.EscapeDataString(recorded[0])}"));
        var middle = all[all.Count / 2];
        var at = Uri.EscapeDataString(middle["recorded"]!.GetValue<string>());
        var after = await IdsAsync($"{mine}&date=gt{at}");
        var upTo = await IdsAsync($"{mine}&date=le{at}");
        Assert.Contains(IdOf(middle), upTo);
        Assert.Empty(after.Intersect(upTo));
        Assert.Equal(ids, after.Union(upTo).ToHashSet());
        Assert.Contains(IdOf(middle), await IdsAsync($"{mine}&date=eq{at}"));
        Assert.Equal([IdOf(middle)], await IdsAsync($"_id={IdOf(middle)}"));

        // Paging: pages of two, newest first, following the next links, give every event once.
        var paged = new List<string>();
        var next = $"/fhir/AuditEvent?patient={scene.PatientId}&agent={member}&_count=2&_sort=-date";
        while (next is not null)
        {
            var (status, bundle, _) = await scene.Auditor.GetFhirAsync(next);
            Assert.Equal(HttpStatusCode.OK, status);
            var page = Matches(bundle);
            Assert.True(page.Count <= 2);
            paged.AddRange(page.Select(IdOf));
            next = bundle["link"]!.AsArray().FirstOrDefault(l => l!["relation"]!.GetValue<string>() == "next")?["url"]!.GetValue<string>() is { } url
                ? new Uri(url).PathAndQuery : null;
        }
        Assert.Equal(all.Select(IdOf), paged);

        var (_, counted, _) = await scene.Auditor.GetFhirAsync($"/fhir/AuditEvent?{mine}&date=le{at}&_summary=count");
        Assert.Equal(upTo.Count, counted["total"]!.GetValue<int>());
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_refusal_and_an_emergency_access_are_events_with_their_outcome_purpose_and_reason(DatabaseEngine engine)
    {
        await using var scene = await SceneAsync(engine);
        var (other, otherAssignments) = await scene.Fhir.Server.AddUserAsync("annan", "x", false, Role.Physician);
        var outsider = scene.Fhir.Client(assignment: otherAssignments[0], member: other);
        Assert.Equal(HttpStatusCode.NotFound, (await outsider.GetFhirAsync($"/fhir/Observation/{scene.ObservationId}")).Status);

        var refused = Assert.Single(await SearchAsync(scene.Auditor, $"patient={scene.PatientId}&outcome=4"));
        Assert.Equal("4", refused["outcome"]!.GetValue<string>());
        Assert.Contains("care relation", refused["outcomeDesc"]!.GetValue<string>());
        Assert.Equal(other.HsaId, Requestor(refused)["who"]!["identifier"]!["value"]!.GetValue<string>());
        AssertValid(refused);

        // Emergency access: opened with a reason (a security alert), then the read under it, both with purpose emergency treatment.
        var patientId = Guid.Parse(scene.PatientId);
        await scene.Fhir.Server.Services.GetRequiredService<AccessControl>().OpenInEmergencyAsync(
            Stadig.Tests.Infrastructure.StadigServer.CallerFor(other, otherAssignments[0]), patientId, "Medvetslös på akuten", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, (await outsider.GetFhirAsync($"/fhir/Observation/{scene.ObservationId}")).Status);

        var events = await SearchAsync(scene.Auditor, $"patient={scene.PatientId}&agent={other.HsaId}&outcome=0");
        var opened = Assert.Single(events, e => e["action"]!.GetValue<string>() == "E");
        Assert.Equal("http://dicom.nema.org/resources/ontology/DCM|110113", Code(opened["type"]));
        Assert.Contains("http://dicom.nema.org/resources/ontology/DCM|110127", opened["subtype"]!.AsArray().Select(Code));
        var read = Assert.Single(events, e => e["action"]!.GetValue<string>() == "R");
        foreach (var e in new[] { opened, read })
        {
            Assert.Contains("http://terminology.hl7.org/CodeSystem/v3-ActReason|ETREAT", PurposeCodes(Requestor(e)));
            var patient = e["entity"]!.AsArray().OfType<JsonObject>().Single(x => x["what"]?["reference"]?.GetValue<string>() == $"Patient/{scene.PatientId}");
            Assert.Equal("Medvetslös på akuten", patient["detail"]![0]!["valueString"]!.GetValue<string>());
            AssertValid(e);
        }
        Assert.Equal(IdOfSingle(await SearchAsync(scene.Auditor, $"patient={scene.PatientId}&type=http://dicom.nema.org/resources/ontology/DCM|110113")), opened["id"]!.GetValue<string>());

        static string IdOfSingle(List<JsonObject> found) => Assert.Single(found)["id"]!.GetValue<string>();
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Only_log_auditors_with_an_AuditEvent_scope_read_the_log_and_a_refusal_is_logged(DatabaseEngine engine)
    {
        await using var scene = await SceneAsync(engine);
        var (status, outcome, _) = await scene.Clinician.GetFhirAsync($"/fhir/AuditEvent?patient={scene.PatientId}");
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("OperationOutcome", outcome["resourceType"]!.GetValue<string>());
        var anyId = (await SearchAsync(scene.Auditor, $"patient={scene.PatientId}"))[0]["id"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.Forbidden, (await scene.Clinician.GetFhirAsync($"/fhir/AuditEvent/{anyId}")).Status);

        // The clinician's own patient in a patient/ token: still no log.
        var launch = scene.Fhir.Client("patient/*.read", patient: scene.PatientId);
        Assert.Equal(HttpStatusCode.Forbidden, (await launch.GetFhirAsync($"/fhir/AuditEvent?patient={scene.PatientId}")).Status);

        // A log auditor needs a scope for AuditEvent: user/ and system/ do, another type's does not.
        var (member, assignments) = await scene.Fhir.Server.AddUserAsync("granskare2", "x", false, Role.LogAuditor);
        Assert.Equal(HttpStatusCode.Forbidden, (await scene.Fhir.Client("user/Observation.read", assignment: assignments[0], member: member).GetFhirAsync("/fhir/AuditEvent")).Status);
        Assert.Equal(HttpStatusCode.OK, (await scene.Fhir.Client("system/AuditEvent.read", assignment: assignments[0], member: member).GetFhirAsync($"/fhir/AuditEvent/{anyId}")).Status);

        await using var connection = await scene.Fhir.Server.Database.OpenUnscopedAsync(TestContext.Current.CancellationToken);
        var denied = (await connection.QueryAsync<string>(
            "SELECT resource FROM audit_event WHERE staff_hsa_id = @hsa AND outcome = 'Denied'", new { hsa = scene.Fhir.Member.HsaId })).ToList();
        Assert.Contains("FHIR AuditEvent search", denied);
        Assert.Contains("FHIR AuditEvent", denied);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Malformed_and_unknown_parameters_answer_as_for_other_types(DatabaseEngine engine)
    {
        await using var scene = await SceneAsync(engine);
        var (badDate, outcome, _) = await scene.Auditor.GetFhirAsync($"/fhir/AuditEvent?patient={scene.PatientId}&date=2013-13-45");
        Assert.Equal(HttpStatusCode.BadRequest, badDate);
        Assert.Equal("OperationOutcome", outcome["resourceType"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.BadRequest, (await scene.Auditor.GetFhirAsync("/fhir/AuditEvent?date=xx2020")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await scene.Auditor.GetFhirAsync("/fhir/AuditEvent?_sort=action")).Status);
        var (strict, _, _) = await scene.Auditor.SendAsync(HttpMethod.Get, "/fhir/AuditEvent?colour=blue", configure: r => r.Headers.Add("Prefer", "handling=strict"));
        Assert.Equal(HttpStatusCode.BadRequest, strict);
        var (lenient, bundle, _) = await scene.Auditor.GetFhirAsync($"/fhir/AuditEvent?patient={scene.PatientId}&colour=blue");
        Assert.Equal(HttpStatusCode.OK, lenient);
        Assert.Contains("colour", bundle.ToJsonString());
        Assert.NotEmpty(Matches(bundle));

        // A write is refused: the log is Stadig's own.
        var (write, _, _) = await scene.Auditor.PostFhirAsync("/fhir/AuditEvent", new JsonObject { ["resourceType"] = "AuditEvent" });
        Assert.Equal(HttpStatusCode.MethodNotAllowed, write);
    }

    [Fact]
    public void The_capability_statement_lists_AuditEvent_read_and_search_with_the_supported_parameters()
    {
        var statement = Stadig.Fhir.FhirCapability.Statement("https://example.org/fhir");
        var auditEvent = statement["rest"]![0]!["resource"]!.AsArray().OfType<JsonObject>().Single(r => r["type"]!.GetValue<string>() == "AuditEvent");
        Assert.Equal(["read", "search-type"], auditEvent["interaction"]!.AsArray().Select(i => i!["code"]!.GetValue<string>()));
        Assert.Equal(["_id", "_lastUpdated", "action", "agent", "date", "entity", "outcome", "patient", "subtype", "type"],
            auditEvent["searchParam"]!.AsArray().Select(p => p!["name"]!.GetValue<string>()).Order(StringComparer.Ordinal));
    }
}
