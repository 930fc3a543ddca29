using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AngleSharp.Html.Parser;
using Dapper;
using Stadig.Audit;
using Stadig.Downtime;
using Stadig.Hl7;
using Stadig.LabResults;
using Stadig.Organisation;
using Stadig.Patients.Identifiers;
using Stadig.Storage;
using Stadig.Tests.Fhir;

namespace Stadig.Tests.Downtime;

/// <summary>Read-only mode (issue 19, item 2) on a database that really refuses writes, and under an operator's switch.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class ReadOnlyModeTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static string Oru(string controlId, string pid3) =>
        $"MSH|^~\\&|LABSYS|KLINKEM|STADIG|REGION|20261123075500+0100||ORU^R01^ORU_R01|{controlId}|P|2.5|||AL|NE|SWE||8859/1\r" +
        $"PID|1||{pid3}||Öberg^Lina||19500314|F\r" +
        "ORC|RE|P200|L100\r" +
        "OBR|1|P200|L100|BLODSTATUS^Blodstatus^L|||20261123070000+0100|||||||||||||||20261123075000+0100|||F\r" +
        "OBX|1|NM|HB^Hemoglobin^L||128|g/L|117-153|N|||F|||20261123070000+0100|||||||||Klinisk kemi Lund\r";

    /// <summary>A server whose probe waits for the test (no timer tick in between), with its own folder for held audit events.</summary>
    private static Task<FhirTestServer> StartAsync(DatabaseEngine engine, params Role[] roles) =>
        FhirTestServer.StartAsync(engine, ["--Stadig:Downtime:ProbeSeconds=3600",
            $"--Stadig:Downtime:AuditSpoolFolder={Directory.CreateTempSubdirectory("stadig-spool-").FullName}"], roles);

    private static async Task<long> CountAsync(Database database, string sql, object? parameters = null)
    {
        await using var c = await database.OpenUnscopedAsync(Cancel);
        return await c.ExecuteScalarAsync<long>(sql, parameters);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    [Hazard("H-11")]
    public async Task A_database_that_refuses_writes_leaves_reads_served_with_a_banner_refuses_each_write_cleanly_and_writes_again_when_it_takes_them(DatabaseEngine engine)
    {
        await using var fhir = await StartAsync(engine);
        var server = fhir.Server;
        var eva = StadigServer.CallerFor(fhir.Member, fhir.Assignment);
        var client = server.CreateClient();
        await server.PostLoginAsync(client, "fhir", "x");
        var patient = (await server.Patients.RegisterAsync(eva, "19121212-1212", new("Öström", "Anna"))).PatientId;
        var notes = server.Services.GetRequiredService<Stadig.Notes.ClinicalNotes>();
        var note = await notes.CreateDraftAsync(eva, patient, "Daganteckning");
        var saved = await client.PutAsJsonAsync($"/api/notes/{note.Id}/draft",
            new { version = note.Version, keywords = new[] { new { keyword = "Aktuellt", text = "Ingen feber." } } }, Cancel);
        Assert.Equal(HttpStatusCode.OK, saved.StatusCode);
        var version = (await saved.Content.ReadFromJsonAsync<JsonObject>(Cancel))!["version"]!.GetValue<int>();
        var lab = await LabIntegration.CallerAsync(server.Staff, await server.Staff.AddUnitAsync((await server.Staff.UnitsAsync())[0].ProviderId,
            "SE2321000016-L777", "Klinisk kemi", UnitKind.Lab));
        var ingest = new IngestOruMessage(server.Database, server.Services.GetRequiredService<AuditLog>(),
            new PatientMatcher(new PatientIdentifierRules(TimeProvider.System)), lab, TimeProvider.System);
        var auditBefore = await CountAsync(server.Database, "SELECT COUNT(*) FROM audit_event");

        await RefusedWrites.RefuseFromNowAsync(server, engine);
        try
        {
            // The first write learns it from the database's own refusal (the probe has not run): 503, never 500.
            var draft = await client.PutAsJsonAsync($"/api/notes/{note.Id}/draft",
                new { version, keywords = new[] { new { keyword = "Aktuellt", text = "Feber 39." } } }, Cancel);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, draft.StatusCode);
            Assert.NotNull(draft.Headers.RetryAfter);
            Assert.Contains("läsläge", (await draft.Content.ReadFromJsonAsync<JsonObject>(Cancel))!["title"]!.GetValue<string>());
            Assert.False(server.Database.Writes.CanWrite);

            // Reads go on, each page with the banner.
            foreach (var path in new[] { $"/patients/{patient}", $"/notes/{note.Id}", "/" })
            {
                var page = await client.GetAsync(path, Cancel);
                Assert.Equal(HttpStatusCode.OK, page.StatusCode);
                var banner = new HtmlParser().ParseDocument(await page.Content.ReadAsStringAsync(Cancel)).QuerySelector("#read-only-banner");
                Assert.NotNull(banner);
                Assert.Contains("Stadig är i läsläge sedan", banner!.TextContent);
                Assert.Contains("det du skriver sparas i webbläsaren", banner.TextContent);
            }
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/api/notes/{note.Id}", Cancel)).StatusCode);

            // Every kind of write gets the clean refusal in its own form.
            var sign = await client.PostAsJsonAsync($"/api/notes/{note.Id}/sign", new { version }, Cancel);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, sign.StatusCode);
            var form = await StadigServer.PostFormAsync(client, $"/notes/{note.Id}", "note-editor", new() { ["Input.Version"] = version.ToString() });
            Assert.Equal(HttpStatusCode.ServiceUnavailable, form.StatusCode);
            Assert.NotNull(form.Headers.RetryAfter);
            var errorPage = new HtmlParser().ParseDocument(await form.Content.ReadAsStringAsync(Cancel));
            Assert.Equal("true", errorPage.QuerySelector("#error-page")!.GetAttribute("data-read-only"));
            Assert.Contains("Stadig är i läsläge", errorPage.QuerySelector("#error-page h1")!.TextContent);
            var (fhirStatus, outcome, fhirResponse) = await fhir.Client().PostFhirAsync("/fhir/Patient", FhirCalls.Patient("195003142383", "Berg", "Ola"));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, fhirStatus);
            Assert.Equal("OperationOutcome", outcome["resourceType"]!.GetValue<string>());
            Assert.Equal("transient", outcome["issue"]![0]!["code"]!.GetValue<string>());
            Assert.NotNull(fhirResponse.Headers.RetryAfter);
            var ack = Hl7Parser.Parse((await ingest.IngestAsync(Oru("ro-1", "195003142383^^^SE&1.2.752.129.2.1.3.1&ISO^NNSWE"), cancellationToken: Cancel)).AckText);
            Assert.Equal(AckCode.Reject, ack.Get("MSA-1"));
            Assert.Equal("ro-1", ack.Get("MSA-2"));
            Assert.Equal(Hl7ErrorCode.ApplicationInternalError, ack.Get("ERR-3.1"));

            // Ready, but says it cannot write.
            var ready = await server.CreateClient().GetAsync("/health/ready", Cancel);
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            Assert.Contains("writes: Degraded – read-only since", await ready.Content.ReadAsStringAsync(Cancel));
        }
        finally
        {
            await RefusedWrites.AcceptAsync(engine, server.ConnectionString);
        }

        // Nothing of the refused writes is stored.
        Assert.Equal(version, (await notes.GetAsync(eva, note.Id)).Version);
        Assert.Equal(0, await CountAsync(server.Database, "SELECT COUNT(*) FROM hl7_message WHERE control_id = 'ro-1'"));
        Assert.Equal(1, await CountAsync(server.Database, "SELECT COUNT(*) FROM patient"));

        await server.Services.GetRequiredService<ReadOnlyMode>().ProbeAsync(Cancel);
        Assert.True(server.Database.Writes.CanWrite);
        Assert.Null(new HtmlParser().ParseDocument(await client.GetStringAsync($"/patients/{patient}", Cancel)).QuerySelector("#read-only-banner"));
        var again = await client.PutAsJsonAsync($"/api/notes/{note.Id}/draft",
            new { version, keywords = new[] { new { keyword = "Aktuellt", text = "Feber 39." } } }, Cancel);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal("Healthy", (await server.CreateClient().GetStringAsync("/health/ready", Cancel)).Trim());

        // The reads made meanwhile were audited before they were shown, and are in the chain now, which is intact.
        Assert.True(await CountAsync(server.Database, "SELECT COUNT(*) FROM audit_event") > auditBefore + 3);
        Assert.True((await server.Services.GetRequiredService<AuditVerifier>().VerifyAsync()).Intact);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_probe_shows_the_banner_before_anyone_writes_and_takes_it_away_when_writes_return(DatabaseEngine engine)
    {
        await using var fhir = await StartAsync(engine);
        var server = fhir.Server;
        var client = server.CreateClient();
        await server.PostLoginAsync(client, "fhir", "x");
        var mode = server.Services.GetRequiredService<ReadOnlyMode>();

        await RefusedWrites.RefuseAsync(engine, server.ConnectionString);
        try
        {
            await mode.ProbeAsync(Cancel);
            Assert.Equal(ReadOnlyCause.Database, server.Database.Writes.Cause);
            Assert.NotNull(new HtmlParser().ParseDocument(await client.GetStringAsync("/", Cancel)).QuerySelector("#read-only-banner"));
        }
        finally
        {
            await RefusedWrites.AcceptAsync(engine, server.ConnectionString);
        }
        await mode.ProbeAsync(Cancel);
        Assert.Null(new HtmlParser().ParseDocument(await client.GetStringAsync("/", Cancel)).QuerySelector("#read-only-banner"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_administrator_switches_read_only_mode_on_and_off_for_every_node_audited(DatabaseEngine engine)
    {
        await using var fhir = await StartAsync(engine);
        var server = fhir.Server;
        var eva = StadigServer.CallerFor(fhir.Member, fhir.Assignment);
        var clinician = server.CreateClient();
        await server.PostLoginAsync(clinician, "fhir", "x");
        await server.AddUserAsync("drift", "lösen", false, Role.Administrator);
        var admin = server.CreateClient();
        await server.PostLoginAsync(admin, "drift", "lösen");
        var patient = (await server.Patients.RegisterAsync(eva, "19121212-1212", new("Öström", "Anna"))).PatientId;
        var note = await server.Services.GetRequiredService<Stadig.Notes.ClinicalNotes>().CreateDraftAsync(eva, patient, "Daganteckning");

        // A clinician may not switch it.
        var refused = await clinician.PostAsync("/operations/read-only", new FormUrlEncodedContent(new Dictionary<string, string> { ["on"] = "true" }), Cancel);
        Assert.NotEqual(HttpStatusCode.Redirect, refused.StatusCode);
        Assert.True(server.Database.Writes.CanWrite);

        var page = await admin.GetStringAsync("/operations", Cancel);
        var switched = await admin.PostAsync("/operations/read-only", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = StadigServer.AntiforgeryToken(page), ["on"] = "true",
        }), Cancel);
        Assert.Equal(HttpStatusCode.Redirect, switched.StatusCode);
        Assert.Equal(ReadOnlyCause.Operator, server.Database.Writes.Cause);
        var chart = new HtmlParser().ParseDocument(await clinician.GetStringAsync($"/patients/{patient}", Cancel));
        Assert.Contains("driften", chart.QuerySelector("#read-only-banner")!.TextContent);
        var draft = await clinician.PutAsJsonAsync($"/api/notes/{note.Id}/draft",
            new { version = note.Version, keywords = new[] { new { keyword = "Aktuellt", text = "Feber 39." } } }, Cancel);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, draft.StatusCode);

        // Another node on the same database follows at its next probe.
        await using var other = await StadigServer.StartOnAsync(server.ConnectionString, "http://127.0.0.1:0", "--Stadig:Downtime:ProbeSeconds=3600");
        await other.Services.GetRequiredService<ReadOnlyMode>().ProbeAsync(Cancel);
        Assert.Equal(ReadOnlyCause.Operator, other.Database.Writes.Cause);

        page = await admin.GetStringAsync("/operations", Cancel);
        Assert.Contains("Slå av läsläge", page);
        var off = await admin.PostAsync("/operations/read-only", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = StadigServer.AntiforgeryToken(page), ["on"] = "false",
        }), Cancel);
        Assert.Equal(HttpStatusCode.Redirect, off.StatusCode);
        Assert.True(server.Database.Writes.CanWrite);
        Assert.Equal(HttpStatusCode.OK, (await clinician.PutAsJsonAsync($"/api/notes/{note.Id}/draft",
            new { version = note.Version, keywords = new[] { new { keyword = "Aktuellt", text = "Feber 39." } } }, Cancel)).StatusCode);
        Assert.Equal(2, await CountAsync(server.Database,
            "SELECT COUNT(*) FROM audit_event WHERE resource = 'read-only-mode' AND activity = 'Write' AND staff_name = 'Test drift'"));
    }
}
