using System.Net;
using System.Net.Http.Json;
using Dapper;
using Microsoft.AspNetCore.Routing;
using Stadig.Access;
using Stadig.Storage;

namespace Stadig.Tests.Web;

/// <summary>
/// Every endpoint and page that takes a patient id, found from the route table so that a new one
/// cannot be forgotten: refused without a care relation, allowed with one, and audited.
/// </summary>
public class PatientEndpointsAccessTests
{
    private sealed record Scenario(StadigServer Server, HttpClient Client, Caller User, Caller Other, Guid Patient, Guid MergeTarget, Guid Note, Guid Report, Guid Document, Guid MedicationOrder)
    {
        /// <summary>An antiforgery token for the logged-in user (from a form on a page of a patient they may open).</summary>
        public async Task<string> TokenAsync() => StadigServer.AntiforgeryToken(await Client.GetStringAsync($"/patients/{MergeTarget}/orders"));

        /// <summary>Attests the report from its view's form, following the redirect to the page that says how it went.</summary>
        public async Task<HttpResponseMessage> AttestAsync()
        {
            var posted = await Client.PostAsync($"/results/{Report}/attest", new FormUrlEncodedContent(
                [new("__RequestVerificationToken", await TokenAsync()), new("seen", await SeenAsync())]));
            return await Client.GetAsync(posted.Headers.Location!.OriginalString);
        }

        private async Task<string> SeenAsync() =>
            System.Text.RegularExpressions.Regex.Match(await Client.GetStringAsync($"/results/{Report}"), "name=\"seen\" value=\"([0-9a-f]+)\"").Groups[1].Value;

        public Stadig.Notes.ClinicalNotes Notes => Server.Services.GetRequiredService<Stadig.Notes.ClinicalNotes>();

        /// <summary>The note's current version, as its other author sees it.</summary>
        public async Task<int> NoteVersionAsync() => (await Notes.GetAsync(Other, Note)).Version;
    }

    /// <summary>How to call one endpoint for a patient, and what "refused" looks like for it.</summary>
    private sealed record Case(Func<Scenario, Task<HttpResponseMessage>> Call, Func<HttpResponseMessage, string, bool> Refused);

    private static bool IsNotFound(HttpResponseMessage r, string body) => r.StatusCode == HttpStatusCode.NotFound;
    private static bool IsForbidden(HttpResponseMessage r, string body) => r.StatusCode == HttpStatusCode.Forbidden;
    private static bool SaysNoAccess(HttpResponseMessage r, string body) => body.Contains("Ingen åtkomst till journalen") && !body.Contains("Reservsson");
    private static bool IsNotFoundOrForbidden(HttpResponseMessage r, string body) => r.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Forbidden;

    private static readonly Dictionary<string, Case> Cases = new()
    {
        ["/patients/{Id:guid}"] = new(s => s.Client.GetAsync($"/patients/{s.Patient}"), SaysNoAccess),
        ["/patients/{Id:guid}/edit"] = new(s => s.Client.GetAsync($"/patients/{s.Patient}/edit"), IsNotFound),
        ["/patients/{Id:guid}/merge"] = new(s => s.Client.GetAsync($"/patients/{s.Patient}/merge"), IsNotFound),
        ["/patients/{Id:guid}/warnings"] = new(s => s.Client.GetAsync($"/patients/{s.Patient}/warnings"), SaysNoAccess),
        ["/patients/{Id:guid}/problems"] = new(s => s.Client.GetAsync($"/patients/{s.Patient}/problems"), SaysNoAccess),
        ["/api/patients/{id:guid}"] = new(s => s.Client.GetAsync($"/api/patients/{s.Patient}"), IsNotFound),
        ["/api/patients/{id:guid}/merges"] = new(s => s.Client.GetAsync($"/api/patients/{s.Patient}/merges"), IsNotFound),
        ["PUT /api/patients/{id:guid}"] = new(s => s.Client.PutAsJsonAsync($"/api/patients/{s.Patient}",
            new { version = 1, familyName = "Reservsson", givenNames = "Okänd", city = "Mora" }), IsForbidden),
        ["/api/patients/{id:guid}/merge"] = new(s => s.Client.PostAsJsonAsync($"/api/patients/{s.Patient}/merge",
            new { targetPatientId = s.MergeTarget, reason = "Identifierad" }), IsForbidden),
        ["/api/patients/{id:guid}/notes"] = new(s => s.Client.PostAsJsonAsync($"/api/patients/{s.Patient}/notes", new { noteType = "Daganteckning" }), IsForbidden),
        ["/patients/{Id:guid}/blocks"] = new(s => s.Client.GetAsync($"/patients/{s.Patient}/blocks"), SaysNoAccess),
        ["/patients/{Id:guid}/orders"] = new(s => s.Client.GetAsync($"/patients/{s.Patient}/orders"), SaysNoAccess),
        ["/patients/{Id:guid}/trends/{Code}"] = new(s => s.Client.GetAsync($"/patients/{s.Patient}/trends/NPU28309"), SaysNoAccess),
        ["/results/{ReportId:guid}"] = new(s => s.Client.GetAsync($"/results/{s.Report}"), SaysNoAccess),
        ["/results/{reportId:guid}/attest"] = new(s => s.AttestAsync(), (r, body) => !body.Contains("id=\"attested-now\"", StringComparison.Ordinal)),
        ["/results/{resultId:guid}/attachment"] = new(s => s.Client.GetAsync($"/results/{s.Document}/attachment"), IsNotFound),
        ["/notes/{NoteId:guid}"] = new(s => s.Client.GetAsync($"/notes/{s.Note}"), SaysNoAccess),
        ["/patients/{Id:guid}/discharge"] = new(s => s.Client.GetAsync($"/patients/{s.Patient}/discharge"), SaysNoAccess),
        ["/patients/{Id:guid}/record"] = new(s => s.Client.GetAsync($"/patients/{s.Patient}/record"), SaysNoAccess),
        ["/patients/{Id:guid}/timeline"] = new(s => s.Client.GetAsync($"/patients/{s.Patient}/timeline"), SaysNoAccess),
        ["/patients/{Id:guid}/back-entry"] = new(s => s.Client.GetAsync($"/patients/{s.Patient}/back-entry"), SaysNoAccess),
        ["/api/patients/{id:guid}/printouts"] = new(s => s.Client.PostAsJsonAsync($"/api/patients/{s.Patient}/printouts", new { kind = "Note" }), IsNotFound),
        ["/notes/{NoteId:guid}/history"] = new(s => s.Client.GetAsync($"/notes/{s.Note}/history"), SaysNoAccess),
        ["/api/notes/{noteId:guid}"] = new(s => s.Client.GetAsync($"/api/notes/{s.Note}"), IsNotFound),
        ["/api/notes/{noteId:guid}/history"] = new(s => s.Client.GetAsync($"/api/notes/{s.Note}/history"), IsNotFound),
        ["PUT /api/notes/{noteId:guid}/draft"] = new(async s => await s.Client.PutAsJsonAsync($"/api/notes/{s.Note}/draft",
            new { version = await s.NoteVersionAsync(), keywords = new[] { new { keyword = "Aktuellt", text = "Ingen feber." } } }), IsNotFoundOrForbidden),
        ["/api/notes/{noteId:guid}/sign"] = new(async s => await s.Client.PostAsJsonAsync($"/api/notes/{s.Note}/sign", new { version = await s.NoteVersionAsync() }), IsNotFoundOrForbidden),
        ["/api/notes/{noteId:guid}/amend"] = new(s => s.Client.PostAsync($"/api/notes/{s.Note}/amend", null), IsNotFoundOrForbidden),
        ["/patients/{Id:guid}/medication"] = new(s => s.Client.GetAsync($"/patients/{s.Patient}/medication"), SaysNoAccess),
        ["/patients/{Id:guid}/medication/print"] = new(s => s.Client.GetAsync($"/patients/{s.Patient}/medication/print"), SaysNoAccess),
        ["/patients/{id:guid}/medication.pdf"] = new(s => s.Client.GetAsync($"/patients/{s.Patient}/medication.pdf"), IsNotFoundOrForbidden),
        ["/patients/{Id:guid}/medication/prescribe"] = new(s => s.Client.GetAsync($"/patients/{s.Patient}/medication/prescribe"), SaysNoAccess),
        ["/patients/{Id:guid}/medication/{OrderId:guid}"] = new(s => s.Client.GetAsync($"/patients/{s.Patient}/medication/{s.MedicationOrder}"), SaysNoAccess),
        ["/patients/{Id:guid}/discharge/medication"] = new(s => s.Client.GetAsync($"/patients/{s.Patient}/discharge/medication"), SaysNoAccess),
        ["/patients/{Id:guid}/medication/administer"] = new(s => s.Client.GetAsync($"/patients/{s.Patient}/medication/administer?order={s.MedicationOrder}"), SaysNoAccess),
    };

    /// <summary>Routes with a patient id that are the sanctioned way in without a care relation; each audits what it reveals.</summary>
    private static readonly Dictionary<string, string> Exempt = new()
    {
        ["/patients/{Id:guid}/emergency"] = "emergency access: its two steps are audited and tested in AccessRulesTests",
        // The log extract is the patient's right to see who accessed their data: produced by log
        // auditors and administrators, not by care relation; its rules and audit are in AuditPagesTests.
        ["/patients/{Id:guid}/log-extract"] = "log extract: auditor/administrator only, tested in AuditPagesTests",
        ["/patients/{id:guid}/log-extract.pdf"] = "log extract PDF: auditor/administrator only, tested in AuditPagesTests",
    };

    private static string KeyOf(RouteEndpoint endpoint)
    {
        var pattern = "/" + endpoint.RoutePattern.RawText!.TrimStart('/');
        var methods = endpoint.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? [];
        return methods.Contains("PUT") && !methods.Contains("GET") ? "PUT " + pattern : pattern;
    }

    private static async Task<Scenario> ScenarioAsync(DatabaseEngine engine)
    {
        var server = await StadigServer.StartAsync(engine);
        var (member, assignments) = await server.AddUserAsync("vera", "lösen");
        var user = StadigServer.CallerFor(member, assignments[0]);
        var (otherMember, otherAssignments) = await server.AddUserAsync("otto", "lösen");
        var other = StadigServer.CallerFor(otherMember, otherAssignments[0]);
        // Registered at another unit: Vera's unit has no care relation with them.
        var patient = (await server.Patients.RegisterAsync(other, "991234567890", new("Reservsson", "Okänd"))).PatientId;
        var target = (await server.Patients.RegisterAsync(user, "19121212-1212", new("Känd", "Person"))).PatientId;
        var note = await server.Services.GetRequiredService<Stadig.Notes.ClinicalNotes>().CreateDraftAsync(other, patient, "Daganteckning");
        // A prescription by the patient's own unit, so that the order page has something to refuse.
        var catalogue = server.Services.GetRequiredService<Stadig.Medication.ProductCatalogue>();
        await catalogue.SeedIfEmptyAsync();
        var product = (await catalogue.SearchAsync("paracetamol")).First();
        var order = await server.Services.GetRequiredService<Stadig.Medication.MedicationList>().PrescribeAsync(other, patient, new Stadig.Medication.MedicationDraft
        {
            ProductId = product.Id, Indication = "Smärta", DoseValue = 1, DoseUnit = "tablett", TimesOfDay = [new TimeOnly(8, 0)],
        });
        var (message, report, document) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        await using (var c = await server.Database.OpenUnscopedAsync())
        {
            await c.ExecuteAsync(
                "INSERT INTO hl7_message (id, direction, control_id, sending_application, sending_facility, message_type, received_at, byte_count, raw_text, state, state_changed_at, patient_id) " +
                "VALUES (@message, 'Inbound', @control, 'LAB', 'KEMLAB', 'ORU^R01', @now, 10, 'MSH|^~\\&|', 'Filed', @now, @patient)",
                new { message, control = message.ToString(), now = DateTimeOffset.UtcNow, patient });
            await c.ExecuteAsync(
                "INSERT INTO diagnostic_report (id, patient_id, unit_id, message_id, service_code, service_name, status, created_at) VALUES (@report, @patient, @unit, @message, 'HB', 'Blodstatus', 'Final', @now)",
                new { report, patient, unit = other.UnitId, message, now = DateTimeOffset.UtcNow });
            await c.ExecuteAsync(
                "INSERT INTO lab_result (id, patient_id, unit_id, analysis_code, analysis_name, value_numeric, unit, reference_low, reference_high, status, observed_at, report_id) " +
                "VALUES (@id, @patient, @unit, 'NPU28309', 'B-Hemoglobin', 131, 'g/L', 117, 153, 'Final', @now, @report)",
                new { id = Guid.NewGuid(), patient, unit = other.UnitId, now = DateTimeOffset.UtcNow, report });
            await c.ExecuteAsync(
                "INSERT INTO lab_result (id, patient_id, unit_id, analysis_code, analysis_name, status, observed_at, report_id, value_type, attachment_type, attachment_data) " +
                "VALUES (@document, @patient, @unit, 'PDF', 'Svar som PDF', 'Final', @now, @report, 'ED', 'application/pdf', @data)",
                new { document, patient, unit = other.UnitId, now = DateTimeOffset.UtcNow, report, data = Stadig.Tests.Results.LabContentTests.Pdf });
        }
        var client = server.CreateClient();
        await server.PostLoginAsync(client, "vera", "lösen");
        return new Scenario(server, client, user, other, patient, target, note.Id, report, document, order.Id);
    }

    private static async Task<long> AuditedAsync(Scenario s, string outcome)
    {
        await using var c = await s.Server.Database.OpenUnscopedAsync();
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM audit_event WHERE patient_id = @p AND staff_id = @u AND outcome = @outcome",
            new { p = s.Patient, u = s.User.StaffId, outcome });
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Every_patient_endpoint_refuses_without_a_care_relation_allows_with_one_and_is_audited(DatabaseEngine engine)
    {
        var scenario = await ScenarioAsync(engine);
        await using var _ = scenario.Server;
        var endpoints = scenario.Server.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.Parameters.Any(p => p.Name.Equals("id", StringComparison.OrdinalIgnoreCase) && e.RoutePattern.RawText!.Contains("patients", StringComparison.Ordinal)
                || p.Name.Equals("noteId", StringComparison.OrdinalIgnoreCase) || p.Name.Equals("reportId", StringComparison.OrdinalIgnoreCase)
                || p.Name.Equals("resultId", StringComparison.OrdinalIgnoreCase)))
            .Select(KeyOf).Distinct().ToList();
        // The route table really is read: every known case is found in it.
        Assert.All(Cases.Keys, key => Assert.Contains(key, endpoints));
        var uncovered = endpoints.Where(k => !Cases.ContainsKey(k) && !Exempt.ContainsKey(k)).ToList();
        Assert.True(uncovered.Count == 0, "Patient endpoints without an access test case: " + string.Join(", ", uncovered));

        foreach (var key in endpoints.Where(Cases.ContainsKey).Where(k => !k.EndsWith("/merge", StringComparison.Ordinal)))
        {
            var denied = await AuditedAsync(scenario, "Denied");
            var refused = await Cases[key].Call(scenario);
            Assert.True(Cases[key].Refused(refused, await refused.Content.ReadAsStringAsync()), $"{key} was not refused: {(int)refused.StatusCode}");
            Assert.True(await AuditedAsync(scenario, "Denied") > denied, $"{key}: the refusal was not audited");
        }

        await scenario.Server.Services.GetRequiredService<AccessControl>().RecordCareRelationAsync(scenario.User, scenario.Patient, "Besök");

        // Writes change what later calls find: save the draft, sign it, amend it; the merge moves the
        // patient's records to the target, so it goes last.
        static int Order(string key) => key switch
        {
            _ when key.EndsWith("/draft", StringComparison.Ordinal) => 0,
            _ when key.EndsWith("/sign", StringComparison.Ordinal) => 2,
            _ when key.EndsWith("/amend", StringComparison.Ordinal) => 3,
            _ when key.EndsWith("/attest", StringComparison.Ordinal) => 3,
            _ when key.EndsWith("/merge", StringComparison.Ordinal) => 4,
            _ => 1,
        };
        foreach (var key in endpoints.Where(Cases.ContainsKey).OrderBy(Order))
        {
            var allowed = await AuditedAsync(scenario, "Allowed");
            var response = await Cases[key].Call(scenario);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode && !Cases[key].Refused(response, body), $"{key} was refused with a care relation: {(int)response.StatusCode} {body[..Math.Min(200, body.Length)]}");
            Assert.True(await AuditedAsync(scenario, "Allowed") > allowed, $"{key}: the access was not audited");
        }
    }

    [Fact]
    public async Task A_merge_without_a_care_relation_is_forbidden_and_audited()
    {
        var scenario = await ScenarioAsync(DatabaseEngine.Sqlite);
        await using var _ = scenario.Server;
        var response = await Cases["/api/patients/{id:guid}/merge"].Call(scenario);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(1, await AuditedAsync(scenario, "Denied"));
    }

    [Fact]
    public async Task Searching_is_audited_and_a_log_auditor_may_not_search()
    {
        var scenario = await ScenarioAsync(DatabaseEngine.Sqlite);
        await using var _ = scenario.Server;
        await scenario.Client.GetStringAsync("/?q=reservsson");
        await using (var c = await scenario.Server.Database.OpenUnscopedAsync())
            Assert.Equal(1, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM audit_event WHERE resource = 'PatientSearch' AND staff_id = @u", new { u = scenario.User.StaffId }));

        await scenario.Server.AddUserAsync("gunnar", "lösen", false, Stadig.Organisation.Role.LogAuditor);
        var auditor = scenario.Server.CreateClient();
        await scenario.Server.PostLoginAsync(auditor, "gunnar", "lösen");
        Assert.Equal(HttpStatusCode.Forbidden, (await auditor.GetAsync("/api/patients?q=reservsson")).StatusCode);
    }

    [Fact]
    public async Task Choosing_an_assignment_the_person_does_not_hold_is_refused()
    {
        var scenario = await ScenarioAsync(DatabaseEngine.Sqlite);
        await using var _ = scenario.Server;
        var (_, othersAssignments) = await scenario.Server.AddUserAsync("annan", "x");
        var page = await scenario.Client.GetStringAsync("/assignment");
        var response = await scenario.Client.PostAsync("/assignment", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = StadigServer.AntiforgeryToken(page), ["assignmentId"] = othersAssignments[0].Id.ToString(), ["returnUrl"] = "/",
        }));
        Assert.Contains("error=unknown", response.Headers.Location?.OriginalString);
        Assert.DoesNotContain(othersAssignments[0].UnitName, await scenario.Client.GetStringAsync("/"));
    }
}
