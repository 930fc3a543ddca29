using System.Net;
using AngleSharp.Html.Parser;
using Dapper;
using Stadig.Common;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Storage;
using UglyToad.PdfPig;

namespace Stadig.Tests.Web;

public class AuditPagesTests
{
    /// <summary>A physician who registered and opened a patient, so the log has accesses to find.</summary>
    private static async Task<(StadigServer Server, Stadig.Access.Caller Physician, Guid PatientId)> ServerWithAccessesAsync(DatabaseEngine engine)
    {
        var server = await StadigServer.StartAsync(engine);
        var (member, assignments) = await server.AddUserAsync("eva", "lösen");
        var physician = StadigServer.CallerFor(member, assignments[0]);
        var patient = await server.Patients.RegisterAsync(physician, "19121212-1212", new PatientDetails("Öström", "Åsa"));
        await server.Patients.GetAsync(physician, patient.PatientId);
        return (server, physician, patient.PatientId);
    }

    private static async Task<HttpClient> LoginAsync(StadigServer server, string username, Role role)
    {
        await server.AddUserAsync(username, "lösen", false, role);
        var client = server.CreateClient();
        var response = await server.PostLoginAsync(client, username, "lösen");
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        return client;
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_log_auditor_filters_the_log_by_user_and_patient(DatabaseEngine engine)
    {
        var (server, physician, patientId) = await ServerWithAccessesAsync(engine);
        await using var _s = server;
        var client = await LoginAsync(server, "granskare", Role.LogAuditor);

        var response = await client.GetAsync($"/audit?staff={Uri.EscapeDataString(physician.HsaId)}&patient={patientId}&activity=Read");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var document = new HtmlParser().ParseDocument(await response.Content.ReadAsStringAsync());
        var rows = document.QuerySelectorAll("#audit-results tbody tr");
        Assert.NotEmpty(rows);
        Assert.All(rows, r => Assert.Contains(physician.HsaId, r.TextContent));
        Assert.All(rows, r => Assert.Contains("19121212-1212", r.TextContent));
        Assert.All(rows, r => Assert.Contains("Läsa", r.TextContent));
        Assert.Equal(physician.HsaId, document.QuerySelector("#staff")!.GetAttribute("value"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_log_auditor_finds_a_patients_events_by_personnummer_and_an_unknown_number_is_named(DatabaseEngine engine)
    {
        var (server, _, patientId) = await ServerWithAccessesAsync(engine);
        await using var _s = server;
        var client = await LoginAsync(server, "granskare", Role.LogAuditor);

        var response = await client.GetAsync("/audit?patient=" + Uri.EscapeDataString("19121212-1212"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var document = new HtmlParser().ParseDocument(await response.Content.ReadAsStringAsync());
        Assert.Null(document.QuerySelector("#form-error"));
        var rows = document.QuerySelectorAll("#audit-results tbody tr");
        Assert.NotEmpty(rows);
        Assert.All(rows, r => Assert.Contains("19121212-1212", r.TextContent));
        Assert.All(rows, r => Assert.NotNull(r.QuerySelector($"a[href='/patients/{patientId}/log-extract']")));
        var unknown = new HtmlParser().ParseDocument(await client.GetStringAsync("/audit?patient=" + Uri.EscapeDataString(TestNumbers.Personnummer(1960, 5, 5))));
        Assert.Contains("Ingen patient har numret", unknown.QuerySelector("#form-error")!.TextContent);
        Assert.Empty(unknown.QuerySelectorAll("#audit-results tbody tr"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_log_auditor_reaches_a_patients_log_extract_by_number_and_a_physician_may_not_look_numbers_up_for_it(DatabaseEngine engine)
    {
        var (server, _, patientId) = await ServerWithAccessesAsync(engine);
        await using var _s = server;
        var auditor = await LoginAsync(server, "granskare", Role.LogAuditor);

        var choose = await auditor.GetAsync("/log-extract?patient=" + Uri.EscapeDataString("191212121212"));

        Assert.Equal(HttpStatusCode.Redirect, choose.StatusCode);
        Assert.Equal($"/patients/{patientId}/log-extract", choose.Headers.Location?.AbsolutePath);
        Assert.Contains("19121212-1212", await auditor.GetStringAsync(choose.Headers.Location!.AbsolutePath));
        Assert.Contains("href=\"/log-extract\"", await auditor.GetStringAsync("/audit"));
        var bad = new HtmlParser().ParseDocument(await auditor.GetStringAsync("/log-extract?patient=12345"));
        Assert.NotNull(bad.QuerySelector("#form-error"));

        var physician = await LoginAsync(server, "doktor", Role.Physician);
        Assert.Equal(HttpStatusCode.Forbidden, (await physician.GetAsync("/log-extract?patient=19121212-1212")).StatusCode);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_refused_read_shows_with_its_flag_as_a_badge(DatabaseEngine engine)
    {
        var (server, physician, patientId) = await ServerWithAccessesAsync(engine);
        await using var _s = server;
        var (other, assignments) = await server.AddUserAsync("olle", "lösen");
        var outsider = StadigServer.CallerFor(other, assignments[0]);
        await Assert.ThrowsAsync<NotFoundException>(() => server.Patients.GetAsync(outsider, patientId));
        var client = await LoginAsync(server, "granskare", Role.LogAuditor);

        var html = await client.GetStringAsync($"/audit?staff={Uri.EscapeDataString(outsider.HsaId)}&flagged=true");

        var document = new HtmlParser().ParseDocument(html);
        var row = Assert.Single(document.QuerySelectorAll("#audit-results tbody tr"));
        Assert.Equal("Ingen vårdrelation", row.QuerySelector(".badge-NoCareRelation")!.TextContent.Trim());
        Assert.Contains("Nekad", row.TextContent);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Someone_who_is_not_a_log_auditor_is_refused_the_log(DatabaseEngine engine)
    {
        var (server, _, _) = await ServerWithAccessesAsync(engine);
        await using var _s = server;
        var client = await LoginAsync(server, "ssk", Role.Nurse);

        var response = await client.GetAsync("/audit");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.DoesNotContain("19121212-1212", await response.Content.ReadAsStringAsync());
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Marking_an_event_reviewed_stores_the_review_and_logs_it(DatabaseEngine engine)
    {
        var (server, physician, patientId) = await ServerWithAccessesAsync(engine);
        await using var _s = server;
        var client = await LoginAsync(server, "granskare", Role.LogAuditor);
        var list = new HtmlParser().ParseDocument(await client.GetStringAsync($"/audit?staff={Uri.EscapeDataString(physician.HsaId)}&patient={patientId}"));
        var eventId = Guid.Parse(list.QuerySelector("#audit-results tbody tr")!.GetAttribute("data-event")!);
        var path = $"/audit/events/{eventId}";
        var page = await client.GetStringAsync(path);

        var response = await client.PostAsync(path, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = StadigServer.AntiforgeryToken(page), ["_handler"] = "audit-review",
            ["Input.Comment"] = "Åtkomsten är befogad: vårdrelation finns.",
        }));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var after = await client.GetStringAsync(response.Headers.Location);
        Assert.Contains("Åtkomsten är befogad: vårdrelation finns.", after);
        await using var connection = await server.Database.OpenUnscopedAsync();
        Assert.Equal("Åtkomsten är befogad: vårdrelation finns.",
            await connection.QuerySingleAsync<string>("SELECT comment FROM audit_review WHERE audit_event_id = @eventId", new { eventId }));
        Assert.Equal(1, await connection.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM audit_event WHERE resource = 'AuditReview' AND detail = @detail", new { detail = eventId.ToString() }));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_review_without_a_comment_is_refused_at_the_form(DatabaseEngine engine)
    {
        var (server, physician, patientId) = await ServerWithAccessesAsync(engine);
        await using var _s = server;
        var client = await LoginAsync(server, "granskare", Role.LogAuditor);
        var list = new HtmlParser().ParseDocument(await client.GetStringAsync($"/audit?patient={patientId}"));
        var eventId = Guid.Parse(list.QuerySelector("#audit-results tbody tr")!.GetAttribute("data-event")!);
        var path = $"/audit/events/{eventId}";
        var page = await client.GetStringAsync(path);

        var response = await client.PostAsync(path, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = StadigServer.AntiforgeryToken(page), ["_handler"] = "audit-review", ["Input.Comment"] = " ",
        }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var document = new HtmlParser().ParseDocument(await response.Content.ReadAsStringAsync());
        Assert.Contains("Kommentar saknas", document.QuerySelector("#form-error")!.TextContent);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_administrator_gets_the_log_extract_as_a_page_and_as_a_pdf(DatabaseEngine engine)
    {
        var (server, _, patientId) = await ServerWithAccessesAsync(engine);
        await using var _s = server;
        var client = await LoginAsync(server, "admin", Role.Administrator);

        var page = new HtmlParser().ParseDocument(await client.GetStringAsync($"/patients/{patientId}/log-extract"));
        var pdf = await client.GetAsync($"/patients/{patientId}/log-extract.pdf");

        Assert.Contains("Öström, Åsa", page.QuerySelector(".log-extract-identity")!.TextContent);
        Assert.Contains("Läsa", page.QuerySelector("#log-extract-rows")!.TextContent);
        Assert.Equal($"/patients/{patientId}/log-extract.pdf", page.QuerySelector("#log-extract-pdf")!.GetAttribute("href"));
        Assert.Equal(HttpStatusCode.OK, pdf.StatusCode);
        Assert.Equal("application/pdf", pdf.Content.Headers.ContentType!.MediaType);
        using var document = PdfDocument.Open(await pdf.Content.ReadAsByteArrayAsync());
        var text = document.GetPage(1).Text;
        Assert.Contains("Loggutdrag", text);
        Assert.Contains("Öström, Åsa", text);
        Assert.Contains("19121212-1212", text);
        await using var connection = await server.Database.OpenUnscopedAsync();
        Assert.Equal(1, await connection.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM audit_event WHERE resource = 'LogExtract' AND activity = 'Print' AND patient_id = @patientId", new { patientId }));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_nurse_is_refused_the_log_extract_pdf(DatabaseEngine engine)
    {
        var (server, _, patientId) = await ServerWithAccessesAsync(engine);
        await using var _s = server;
        var client = await LoginAsync(server, "ssk", Role.Nurse);

        var pdf = await client.GetAsync($"/patients/{patientId}/log-extract.pdf");
        var page = await client.GetAsync($"/patients/{patientId}/log-extract");

        Assert.Equal(HttpStatusCode.Forbidden, pdf.StatusCode);
        Assert.NotEqual("application/pdf", pdf.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.Forbidden, page.StatusCode);
    }
}
