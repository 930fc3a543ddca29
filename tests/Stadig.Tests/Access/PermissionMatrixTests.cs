using System.Net;
using Dapper;
using Microsoft.AspNetCore.Routing;
using Stadig.Access;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Tests.Access;

/// <summary>
/// The permission matrix (<see cref="RolePermissions"/>) against every route of the running server:
/// for each role and each of a related, an unrelated, a blocked and a protected patient, every read
/// answers as the matrix says (status, what it shows) and writes the audit event it should. One
/// server per engine, every request over HTTP as a browser or an integration makes it.
/// </summary>
public class PermissionMatrixTests
{
    public enum Kind { Related, Unrelated, Blocked, Protected }

    private sealed record TestPatient(Kind Kind, Guid Id, Guid NoteId, string DocumentId);

    private sealed record World(StadigServer Server, IReadOnlyDictionary<Role, (HttpClient Client, Guid StaffId)> Users, IReadOnlyList<TestPatient> Patients);

    /// <summary>
    /// One read. <paramref name="UnitContent"/>: what it shows was written at the unit the patient blocked.
    /// <paramref name="Lists"/>: a list or compartment (left out rather than refused when content is hidden).
    /// <paramref name="AlwaysOk"/>: answers 200 and leaves out what may not be seen (a batch, a history across patients).
    /// <paramref name="Marker"/>: text that is in the answer exactly when the content is shown.
    /// </summary>
    private sealed record Case(string Key, RecordPart Part, Func<TestPatient, HttpRequestMessage> Request, bool NeedsCareRelation = true,
        bool UnitContent = false, bool Lists = false, bool AlwaysOk = false, Func<TestPatient, string>? Marker = null, bool ClinicalMarker = false);

    private static HttpRequestMessage Get(string path) => new(HttpMethod.Get, path);

    private static readonly Case[] Cases =
    [
        new("GET /patients/{Id:guid}", RecordPart.Registry, p => Get($"/patients/{p.Id}"), Marker: _ => "id=\"notes-h\"", ClinicalMarker: true),
        new("GET /patients/{Id:guid}/edit", RecordPart.Registry, p => Get($"/patients/{p.Id}/edit")),
        new("GET /patients/{Id:guid}/merge", RecordPart.Registry, p => Get($"/patients/{p.Id}/merge")),
        new("GET /patients/{Id:guid}/warnings", RecordPart.Record, p => Get($"/patients/{p.Id}/warnings")),
        new("GET /patients/{Id:guid}/problems", RecordPart.Record, p => Get($"/patients/{p.Id}/problems")),
        new("GET /patients/{Id:guid}/medication", RecordPart.Record, p => Get($"/patients/{p.Id}/medication")),
        new("GET /patients/{Id:guid}/medication/prescribe", RecordPart.Record, p => Get($"/patients/{p.Id}/medication/prescribe")),
        new("GET /patients/{Id:guid}/medication/print", RecordPart.Record, p => Get($"/patients/{p.Id}/medication/print")),
        new("GET /patients/{id:guid}/medication.pdf", RecordPart.Record, p => Get($"/patients/{p.Id}/medication.pdf")),
        new("GET /patients/{Id:guid}/orders", RecordPart.Record, p => Get($"/patients/{p.Id}/orders")),
        new("GET /patients/{Id:guid}/trends/{Code}", RecordPart.Record, p => Get($"/patients/{p.Id}/trends/NPU02319")),
        new("GET /patients/{Id:guid}/discharge", RecordPart.Record, p => Get($"/patients/{p.Id}/discharge")),
        new("GET /patients/{Id:guid}/record", RecordPart.Record, p => Get($"/patients/{p.Id}/record")),
        new("GET /patients/{Id:guid}/timeline", RecordPart.Record, p => Get($"/patients/{p.Id}/timeline"), Marker: p => $"/notes/{p.NoteId}", ClinicalMarker: true, UnitContent: true, Lists: true),
        new("GET /patients/{Id:guid}/back-entry", RecordPart.Record, p => Get($"/patients/{p.Id}/back-entry")),
        new("GET /patients/{Id:guid}/blocks", RecordPart.BlocksAndConsents, p => Get($"/patients/{p.Id}/blocks")),
        new("GET /patients/{Id:guid}/log-extract", RecordPart.LogExtract, p => Get($"/patients/{p.Id}/log-extract"), NeedsCareRelation: false),
        new("GET /patients/{id:guid}/log-extract.pdf", RecordPart.LogExtract, p => Get($"/patients/{p.Id}/log-extract.pdf"), NeedsCareRelation: false),
        new("GET /notes/{NoteId:guid}", RecordPart.Record, p => Get($"/notes/{p.NoteId}"), UnitContent: true),
        new("GET /notes/{NoteId:guid}/history", RecordPart.Record, p => Get($"/notes/{p.NoteId}/history"), UnitContent: true),
        new("GET /api/patients/{id:guid}", RecordPart.Registry, p => Get($"/api/patients/{p.Id}")),
        new("GET /api/patients/{id:guid}/merges", RecordPart.Registry, p => Get($"/api/patients/{p.Id}/merges")),
        new("GET /api/notes/{noteId:guid}", RecordPart.Record, p => Get($"/api/notes/{p.NoteId}"), UnitContent: true),
        new("GET /api/notes/{noteId:guid}/history", RecordPart.Record, p => Get($"/api/notes/{p.NoteId}/history"), UnitContent: true),
        new("GET /fhir/{type}/{id}", RecordPart.Registry, p => Get($"/fhir/Patient/{p.Id}")),
        new("GET /fhir/{type}/{id}", RecordPart.Record, p => Get($"/fhir/DocumentReference/{p.DocumentId}"), UnitContent: true),
        new("GET /fhir/{type}/{id}/_history", RecordPart.Record, p => Get($"/fhir/DocumentReference/{p.DocumentId}/_history"), UnitContent: true),
        new("GET /fhir/{type}/{id}/_history/{version}", RecordPart.Record, p => Get($"/fhir/DocumentReference/{p.DocumentId}/_history/1"), UnitContent: true),
        new("GET /fhir/{type}", RecordPart.Record, p => Get($"/fhir/DocumentReference?patient={p.Id}"), UnitContent: true, Lists: true, Marker: p => p.DocumentId),
        new("POST /fhir/{type}/_search", RecordPart.Record, p => new(HttpMethod.Post, "/fhir/DocumentReference/_search")
            { Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["patient"] = p.Id.ToString() }) }, UnitContent: true, Lists: true, Marker: p => p.DocumentId),
        new("GET /fhir/Patient/{id}/$everything", RecordPart.Record, p => Get($"/fhir/Patient/{p.Id}/$everything"), UnitContent: true, Lists: true, Marker: p => p.DocumentId),
        new("GET /fhir/{type}/_history", RecordPart.Record, p => Get($"/fhir/DocumentReference/_history?_count=100"), UnitContent: true, Lists: true, AlwaysOk: true, Marker: p => p.DocumentId),
        new("POST /fhir/", RecordPart.Record, p => new(HttpMethod.Post, "/fhir")
        {
            Content = new StringContent($$$"""{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"DocumentReference/{{{p.DocumentId}}}"}}]}""",
                System.Text.Encoding.UTF8, "application/fhir+json"),
        }, UnitContent: true, AlwaysOk: true, Marker: p => $"\"id\":\"{p.DocumentId}\""),
    ];

    /// <summary>Routes this test does not drive, each with why and where it is tested; a route in neither list fails the test.</summary>
    private static readonly Dictionary<string, string> Elsewhere = new()
    {
        ["GET /patients/{Id:guid}/emergency"] = "renders the two step buttons and reads nothing; both steps: AccessPagesTests, EmergencyAccessBrowserTests",
        ["GET /"] = "registry search: PatientEndpointsAccessTests.Searching_is_audited_and_a_log_auditor_may_not_search",
        ["GET /api/patients/"] = "registry search: PatientEndpointsAccessTests.Searching_is_audited_and_a_log_auditor_may_not_search",
        ["GET /patients/new"] = "an empty registration form",
        ["GET /patients/{Id:guid}/medication/{OrderId:guid}"] = "one ordination's history, found by its id: MedicationListTests.Reads_and_writes_are_audited_and_a_caller_without_care_relation_gets_nothing",
        ["GET /worklist"] = "the caller's own unsigned notes: NoteWorklist through the checkpoint (Record part)",
        ["GET /api/notes/worklist"] = "the caller's own unsigned notes: NoteWorklist through the checkpoint (Record part)",
        ["GET /ward"] = "ward list: EncounterPagesTests",
        ["GET /patients/{Id:guid}/discharge/medication"] = "the reconciliation of one admission's ordinations at discharge (409 when the patient is not admitted): PatientEndpointsAccessTests, DischargeReconciliationTests, DischargeMedicationBrowserTests",
        ["GET /ward/medication"] = "the ward's medication round: one audited read per patient shown through ListVisibleAcrossAsync; MedicationAdministrationTests, MedicationBrowserTests",
        ["GET /patients/{Id:guid}/medication/administer"] = "one dose of an ordination found by its id: MedicationAdministrationTests.Only_nurses_record_doses_every_read_and_write_is_audited_and_a_caller_without_care_relation_gets_nothing, PatientEndpointsAccessTests",
        ["GET /results/inbox"] = "result inbox: InboxPageTests (the inbox helper's)",
        ["GET /results/inbox/next"] = "the inbox's next unattested result: InboxPageTests",
        ["GET /results/{ReportId:guid}"] = "a result report's view: PatientEndpointsAccessTests (refused, allowed, audited; its resource is clinical content by default)",
        ["GET /lab/quarantine"] = "quarantine: QuarantinePageTests",
        ["GET /operations"] = "message states without patient data",
        ["GET /results/{resultId:guid}/attachment"] = "a result's document: PatientEndpointsAccessTests (refused, allowed, audited), LabContentPagesTests",
        ["GET /error"] = "the application error page, no patient data: ErrorPagesTests",
        ["GET /error/{Code:int}"] = "the application error page, no patient data: ErrorPagesTests",
        ["GET /log-extract"] = "choosing a patient for a log extract by number: AuditPagesTests.A_log_auditor_reaches_a_patients_log_extract_by_number_and_a_physician_may_not_look_numbers_up_for_it",
        ["GET /audit"] = "audit log: AuditPagesTests (log auditors only)",
        ["GET /audit/events/{EventId:guid}"] = "audit event review: AuditPagesTests",
        ["GET /admin/readiness"] = "the go-live gate, no patient data: ExpiryRegisterPageTests (administrators only)",
        ["GET /admin/downtime-periods"] = "the register of downtime periods, no patient data: BackEntryTests and BackEntryPagesTests (administrators only, audited)",
        ["GET /admin/expiry"] = "the expiry register, no patient data: ExpiryRegisterTests (administrators only, audited)",
        ["GET /admin/unit-groups"] = "unit groups: AccessPagesTests.Only_an_administrator_groups_units_and_each_change_is_audited_with_the_caller",
        ["GET /assignment"] = "the caller's own assignments",
        ["GET /training"] = "the caller's own exercises, no patient data outside their own exercise copies: TrainingPagesTests",
        ["GET /training/exercises/{Id}"] = "one of the caller's own exercises: TrainingPagesTests",
        ["GET /training/report"] = "the training report (TrainingReport part, no patient data): TrainingReportTests",
        ["GET /training/report.csv"] = "the training report (TrainingReport part, no patient data): TrainingReportTests",
        ["GET /training/report.json"] = "the training report (TrainingReport part, no patient data): TrainingReportTests",
        ["GET /login"] = "anonymous",
        ["GET /login/siths"] = "anonymous: sends the browser to the region's IdP; OidcSignInTests",
        ["GET /login/continue"] = "anonymous: moves on to a same-site return URL after the IdP; OidcSignInTests",
        ["GET /culture"] = "anonymous",
        ["GET /fhir/metadata"] = "anonymous capability statement",
        ["GET /fhir/$export"] = "bulk export: FhirBulkDataTests (administrator only)",
        ["GET /fhir/Patient/$export"] = "bulk export: FhirBulkDataTests (administrator only)",
        ["GET /fhir/Group/{id}/$export"] = "bulk export: FhirBulkDataTests (administrator only)",
        ["GET /fhir/$export-status/{job:guid}"] = "bulk export: FhirBulkDataTests",
        ["GET /fhir/$import-status/{job:guid}"] = "bulk import: FhirImportTests (the requester's own job only; counts and line numbers, no patient data)",
        ["GET /fhir/$export-file/{job:guid}/{type}/{position:int}"] = "bulk export: FhirBulkDataTests",
    };

    /// <summary>Writes: allowed, denied and audited per endpoint in PatientEndpointsAccessTests, AccessPagesTests, FhirAccessTests and the FHIR write tests.</summary>
    private static bool IsWrite(string key) => !key.StartsWith("GET ", StringComparison.Ordinal) && key is not ("POST /fhir/{type}/_search" or "POST /fhir/");

    private static string KeyOf(RouteEndpoint endpoint)
    {
        var methods = endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"];
        var method = methods.Contains("GET") ? "GET" : methods[0];
        return $"{method} /{endpoint.RoutePattern.RawText!.TrimStart('/')}";
    }

    private static async Task<World> WorldAsync(DatabaseEngine engine)
    {
        var server = await StadigServer.StartAsync(engine);
        var (ottoMember, ottoAssignments) = await server.AddUserAsync("otto", "lösen");
        var otto = StadigServer.CallerFor(ottoMember, ottoAssignments[0]);
        var units = await server.Staff.UnitsAsync();
        var unit = await server.Staff.AddUnitAsync(units[0].ProviderId, "SE2321000016-UMATRIX", "Matrisavdelningen", UnitKind.Ward);
        var users = new Dictionary<Role, (HttpClient, Guid)>();
        Caller? physician = null;
        foreach (var role in Enum.GetValues<Role>())
        {
            var username = "m" + role.ToString().ToLowerInvariant();
            var member = await server.Staff.AddStaffAsync($"SE2321000016-M{(int)role}", username, $"Test {role}", role.Swedish(), server.HashPassword("lösen"), isDemo: false);
            var purpose = RolePermissions.WorksWithRecords(role) ? Purpose.CareAndTreatment : Purpose.Administration;
            var assignment = await server.Staff.AddAssignmentAsync(member.Id, unit.Id, role, purpose);
            if (role == Role.Physician) physician = StadigServer.CallerFor(member, assignment);
            var client = server.CreateClient();
            await server.PostLoginAsync(client, username, "lösen");
            users[role] = (client, member.Id);
        }

        var access = server.Services.GetRequiredService<AccessControl>();
        var notes = server.Services.GetRequiredService<Stadig.Notes.ClinicalNotes>();
        var patients = new List<TestPatient>();
        foreach (var kind in Enum.GetValues<Kind>())
        {
            var protection = kind == Kind.Protected ? ProtectedIdentity.Sekretessmarkering : ProtectedIdentity.None;
            var id = (await server.Patients.RegisterAsync(otto, $"99000000000{(int)kind + 1}", new($"Matris{kind}", "Test", ProtectedIdentity: protection))).PatientId;
            var note = await notes.CreateDraftAsync(otto, id, "Daganteckning");
            note = await notes.SaveDraftAsync(otto, note.Id, note.Version, [new("Aktuellt", "Ingen feber.")]);
            await notes.SignAsync(otto, note.Id, note.Version);
            if (kind != Kind.Unrelated) await access.RecordCareRelationAsync(physician!, id, "Besök");
            if (kind == Kind.Blocked) await access.BlockAsync(otto, id, otto.UnitId, "Patienten begär spärr");
            await using var c = await server.Database.OpenUnscopedAsync();
            // A result of the caller's own unit, for the trend page (no block concerns it).
            await c.ExecuteAsync(
                "INSERT INTO lab_result (id, patient_id, unit_id, analysis_code, analysis_name, value_numeric, unit, reference_low, reference_high, status, observed_at) " +
                "VALUES (@rid, @id, @unit, 'NPU02319', 'B-Hemoglobin', 131, 'g/L', 117, 153, 'Final', @now)",
                new { rid = Guid.NewGuid(), id, unit = unit.Id, now = DateTimeOffset.UtcNow });
            var document = await c.ExecuteScalarAsync<string>("SELECT id FROM fhir_resource WHERE patient_id = @id AND resource_type = 'DocumentReference'", new { id });
            patients.Add(new TestPatient(kind, id, note.Id, document!));
        }
        return new World(server, users, patients);
    }

    private static async Task<(long Allowed, long Denied, long UnflaggedAllowed)> EventsAsync(World world, Guid staff, Guid patient)
    {
        await using var c = await world.Server.Database.OpenUnscopedAsync();
        var counts = (await c.QueryAsync<(string Outcome, string Flags)>(
            "SELECT outcome, flags FROM audit_event WHERE staff_id = @staff AND (patient_id = @patient OR patient_id IS NULL)", new { staff, patient })).ToList();
        return (counts.Count(e => e.Outcome == "Allowed"), counts.Count(e => e.Outcome == "Denied"),
            counts.Count(e => e.Outcome == "Allowed" && !e.Flags.Contains("ProtectedIdentity", StringComparison.Ordinal)));
    }

    private static bool SaysNoAccess(HttpResponseMessage response, string body) =>
        response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Forbidden || body.Contains("Ingen åtkomst till journalen", StringComparison.Ordinal);

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Every_route_answers_each_role_and_patient_as_the_permission_matrix_says_and_audits_it(DatabaseEngine engine)
    {
        var world = await WorldAsync(engine);
        await using var _ = world.Server;

        // Every route of the server, not a filtered subset: each is driven here, is a write tested elsewhere, or is named with why.
        var routes = world.Server.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().Select(KeyOf).Distinct().ToList();
        Assert.All(Cases, c => Assert.Contains(c.Key, routes));
        var unaccounted = routes.Where(r => Cases.All(c => c.Key != r) && !Elsewhere.ContainsKey(r) && !IsWrite(r) && !r.StartsWith("GET /health", StringComparison.Ordinal)
            && !r.StartsWith("GET /metrics", StringComparison.Ordinal) && !r.StartsWith("GET /_", StringComparison.Ordinal)).ToList();
        Assert.True(unaccounted.Count == 0, "Routes the permission matrix does not account for: " + string.Join(", ", unaccounted));

        var failures = new List<string>();
        foreach (var (role, (client, staff)) in world.Users)
        {
            foreach (var patient in world.Patients)
            {
                foreach (var @case in Cases)
                {
                    var roleAllows = RolePermissions.Allows(role, @case.Part, RecordActions.Read);
                    var related = !@case.NeedsCareRelation || patient.Kind != Kind.Unrelated;
                    var contentVisible = !@case.UnitContent || patient.Kind != Kind.Blocked;
                    var access = roleAllows && related && (@case.Lists || contentVisible);
                    var shows = access && contentVisible && (!@case.ClinicalMarker || RolePermissions.Allows(role, RecordPart.Record, RecordActions.Read));

                    var before = await EventsAsync(world, staff, patient.Id);
                    using var request = @case.Request(patient);
                    using var response = await client.SendAsync(request);
                    var body = await response.Content.ReadAsStringAsync();
                    var after = await EventsAsync(world, staff, patient.Id);
                    var what = $"{role} × {patient.Kind} × {@case.Key} ({request.RequestUri})";

                    if ((int)response.StatusCode >= 500) failures.Add($"{what}: {(int)response.StatusCode}");
                    else if (@case.AlwaysOk ? response.StatusCode != HttpStatusCode.OK : access == SaysNoAccess(response, body))
                        failures.Add($"{what}: expected {(access ? "allowed" : "refused")}, got {(int)response.StatusCode}");
                    if (@case.Marker is { } marker && body.Contains(marker(patient), StringComparison.Ordinal) != shows)
                        failures.Add($"{what}: content {(shows ? "missing" : "shown")}");
                    if (access && (after.Allowed <= before.Allowed || after.Denied != before.Denied))
                        failures.Add($"{what}: expected an allowed event and no refusal, got +{after.Allowed - before.Allowed} allowed, +{after.Denied - before.Denied} denied");
                    if (!access && after.Denied <= before.Denied)
                        failures.Add($"{what}: the refusal was not audited");
                    if (access && patient.Kind == Kind.Protected && @case.NeedsCareRelation && after.UnflaggedAllowed != before.UnflaggedAllowed)
                        failures.Add($"{what}: an access to a protected identity without the flag");
                }
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} answers differ from the matrix:\n" + string.Join("\n", failures));
    }

    [Fact]
    public void The_matrix_in_the_architecture_document_is_the_one_in_code()
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Stadig.slnx"))) root = Path.GetDirectoryName(root)!;
        var document = File.ReadAllText(Path.Combine(root, "docs", "architecture.md")).ReplaceLineEndings("\n");
        Assert.Contains(RolePermissions.MarkdownTable(), document);
    }

    [Theory]
    [InlineData(Role.Administrator)]
    [InlineData(Role.LogAuditor)]
    public void Administrators_and_log_auditors_never_read_clinical_content(Role role)
    {
        Assert.False(RolePermissions.Allows(role, RecordPart.Record, RecordActions.Read));
        Assert.False(RolePermissions.Allows(role, RecordPart.BlocksAndConsents, RecordActions.Read));
        Assert.False(RolePermissions.Allows(role, RecordPart.EmergencyAccess, RecordActions.Read));
    }
}
