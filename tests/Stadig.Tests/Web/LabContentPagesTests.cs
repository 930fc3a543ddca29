using System.Net;
using AngleSharp.Html.Parser;
using Stadig.LabResults;
using Stadig.Organisation;
using Stadig.Patients.Identifiers;
using Stadig.Storage;
using Stadig.Tests.Results;

namespace Stadig.Tests.Web;

/// <summary>The lab's comments, documents and text reach the screen as sent: chart, trend and inbox pages, and the document link.</summary>
public class LabContentPagesTests
{
    /// <summary>A server with eva logged in, her patient, and two results filed from a lab: one commented, one with a PDF and a narrative.</summary>
    internal static async Task<(StadigServer Server, HttpClient Client, Guid PatientId)> ChartWithLabContentAsync(DatabaseEngine engine)
    {
        var (server, client, eva) = await StadigServer.WithLoggedInPhysicianAsync(engine);
        var number = TestNumbers.Personnummer(1950, 3, 14);
        var patientId = (await server.Patients.RegisterAsync(eva, number, new("Öberg", "Lina"))).PatientId;
        var labUnit = await server.Staff.AddUnitAsync((await server.Staff.UnitsAsync())[0].ProviderId, "SE2321000016-0099", "Klinisk kemi", UnitKind.Lab);
        var ingest = new IngestOruMessage(server.Database, server.Services.GetRequiredService<Stadig.Audit.AuditLog>(),
            new PatientMatcher(new PatientIdentifierRules(TimeProvider.System)), await LabIntegration.CallerAsync(server.Staff, labUnit), TimeProvider.System);
        Assert.Equal("AA", (await ingest.IngestAsync(LabContentTests.Oru("web-1", number, LabContentTests.Commented))).AckCode);
        Assert.Equal("AA", (await ingest.IngestAsync(LabContentTests.Oru("web-2", number, LabContentTests.WithPdf(LabContentTests.Pdf)))).AckCode);
        return (server, client, patientId);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_chart_trend_and_inbox_show_the_lab_comments_exactly_and_the_document_as_a_link_never_as_base64(DatabaseEngine engine)
    {
        var (server, client, patientId) = await ChartWithLabContentAsync(engine);
        await using var _s = server;
        var base64 = Convert.ToBase64String(LabContentTests.Pdf);

        var chartHtml = await client.GetStringAsync($"/patients/{patientId}");
        var chart = new HtmlParser().ParseDocument(chartHtml);
        Assert.Contains(chart.QuerySelectorAll(".lab-comment[data-comment=line] .lab-text"), e => e.TextContent == LabContentTests.KaliumComment);
        Assert.Contains(chart.QuerySelectorAll(".lab-comment[data-comment=report] .lab-text"), e => e.TextContent == LabContentTests.ReportComment);
        Assert.Contains(chart.QuerySelectorAll("td.lab-value"), e => e.TextContent.Contains("Se bifogat svar.\nInga tecken på malignitet i övre delen.", StringComparison.Ordinal));
        var link = Assert.Single(chart.QuerySelectorAll("a.lab-document"));
        Assert.Equal("Öppna PDF", link.TextContent.Trim());
        Assert.DoesNotContain(base64[..16], chartHtml);

        var trend = new HtmlParser().ParseDocument(await client.GetStringAsync($"/patients/{patientId}/trends/K"));
        Assert.Contains(trend.QuerySelectorAll("#trend-table .lab-comment .lab-text"), e => e.TextContent == LabContentTests.KaliumComment);
        var pdfTrend = new HtmlParser().ParseDocument(await client.GetStringAsync($"/patients/{patientId}/trends/PDF"));
        Assert.Equal(link.GetAttribute("href"), Assert.Single(pdfTrend.QuerySelectorAll("#trend-table a.lab-document")).GetAttribute("href"));

        var inboxHtml = await client.GetStringAsync("/results/inbox");
        var inbox = new HtmlParser().ParseDocument(inboxHtml);
        Assert.Contains(inbox.QuerySelectorAll("#inbox .lab-comment .lab-text"), e => e.TextContent == LabContentTests.ReportComment);
        Assert.Contains(inbox.QuerySelectorAll("#inbox .lab-comment .lab-text"), e => e.TextContent == "P-Kalium: " + LabContentTests.KaliumComment);
        Assert.Equal(link.GetAttribute("href"), Assert.Single(inbox.QuerySelectorAll("#inbox a.lab-document")).GetAttribute("href"));
        Assert.DoesNotContain(base64[..16], inboxHtml);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_reports_own_view_where_it_is_attested_shows_the_lab_comments_and_the_document_link(DatabaseEngine engine)
    {
        var (server, client, _) = await ChartWithLabContentAsync(engine);
        await using var _s = server;
        var inbox = new HtmlParser().ParseDocument(await client.GetStringAsync("/results/inbox"));
        var reports = inbox.QuerySelectorAll("#inbox a.open-result").Select(a => a.GetAttribute("href")!).ToList();
        Assert.Equal(2, reports.Count);

        var views = new List<AngleSharp.Html.Dom.IHtmlDocument>();
        foreach (var href in reports) views.Add(new HtmlParser().ParseDocument(await client.GetStringAsync(href)));

        Assert.Contains(views, v => v.QuerySelectorAll("#report-lines .lab-comment[data-comment=line] .lab-text").Any(e => e.TextContent == LabContentTests.KaliumComment));
        Assert.Contains(views, v => v.QuerySelectorAll(".lab-comment[data-comment=report] .lab-text").Any(e => e.TextContent == LabContentTests.ReportComment));
        var document = Assert.Single(views.SelectMany(v => v.QuerySelectorAll("#report-lines a.lab-document")));
        Assert.StartsWith("/results/", document.GetAttribute("href"));
        Assert.EndsWith("/attachment", document.GetAttribute("href"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_document_link_serves_the_PDF_to_the_care_team_and_not_found_to_another_unit(DatabaseEngine engine)
    {
        var (server, client, patientId) = await ChartWithLabContentAsync(engine);
        await using var _s = server;
        var chart = new HtmlParser().ParseDocument(await client.GetStringAsync($"/patients/{patientId}"));
        var href = chart.QuerySelector("a.lab-document")!.GetAttribute("href")!;
        await server.AddUserAsync("annan", "lösen");
        var other = server.CreateClient();
        await server.PostLoginAsync(other, "annan", "lösen");

        var response = await client.GetAsync(href);
        var refused = await other.GetAsync(href);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/pdf", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(LabContentTests.Pdf, await response.Content.ReadAsByteArrayAsync());
        Assert.Equal("inline", response.Content.Headers.ContentDisposition?.DispositionType);
        Assert.DoesNotContain("script-src", string.Join(";", response.Headers.GetValues("Content-Security-Policy")));
        Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/results/{Guid.NewGuid()}/attachment")).StatusCode);
    }
}
