using System.Net;
using AngleSharp.Html.Parser;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Tests.Web;

/// <summary>
/// A patient the record holds no name for (a newborn, an unknown patient, a FHIR Patient with only
/// name.text or none) is never shown as a blank or a lone comma: every place that shows a patient's
/// name shows "Namn saknas", with the identifier where the place shows it nowhere else.
/// </summary>
public class NamelessPatientPagesTests
{
    [Fact]
    public void A_name_is_written_family_first_and_a_missing_part_leaves_no_comma()
    {
        Assert.Equal("Öström, Anna", PatientNames.Sort("Öström", "Anna"));
        Assert.Equal("Öström", PatientNames.Sort("Öström", ""));
        Assert.Equal("Anna", PatientNames.Sort(" ", "Anna"));
        Assert.Null(PatientNames.Sort("", " "));
        Assert.Null(PatientNames.Sort(null, null));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Every_page_that_names_a_patient_says_the_name_is_missing(DatabaseEngine engine)
    {
        var (server, client, eva) = await StadigServer.WithLoggedInPhysicianAsync(engine);
        await using var _s = server;
        var patient = (await server.Patients.RegisterAsync(eva, "19121212-1212", new("", "", NameUnknown: true))).PatientId;
        await server.Services.GetRequiredService<Stadig.Encounters.PatientEncounters>().AdmitAsync(eva, patient, eva.UnitId, "4");
        await server.Services.GetRequiredService<Stadig.Notes.ClinicalNotes>().CreateDraftAsync(eva, patient, "Daganteckning");
        var parser = new HtmlParser();
        async Task<AngleSharp.Html.Dom.IHtmlDocument> PageAsync(HttpClient c, string path)
        {
            var response = await c.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {response.StatusCode}");
            return parser.ParseDocument(await response.Content.ReadAsStringAsync());
        }

        var overview = await PageAsync(client, $"/patients/{patient}");
        Assert.Equal("Namn saknas", overview.QuerySelector(".patient-banner .name")!.TextContent.Trim());
        Assert.Equal("Namn saknas (19121212-1212)", overview.QuerySelector("h1")!.TextContent.Trim());
        Assert.StartsWith("Namn saknas (19121212-1212)", overview.Title);
        foreach (var path in new[] { $"/patients/{patient}/edit", $"/patients/{patient}/discharge", $"/patients/{patient}/record", $"/patients/{patient}/timeline" })
            Assert.Equal((path, "Namn saknas"), (path, (await PageAsync(client, path)).QuerySelector(".patient-banner .name")!.TextContent.Trim()));

        var search = await PageAsync(client, "/?q=" + Uri.EscapeDataString("19121212-1212"));
        Assert.Contains("Namn saknas", search.QuerySelector("#search-results tbody tr")!.Children[1].TextContent);
        var ward = await PageAsync(client, "/ward");
        Assert.Contains(ward.QuerySelectorAll("tbody tr"), r => r.TextContent.Contains("Namn saknas") && r.TextContent.Contains("19121212-1212"));
        var worklist = await PageAsync(client, "/worklist");
        Assert.Contains("Namn saknas", worklist.QuerySelector("#worklist tbody tr")!.Children[0].TextContent);
        Assert.DoesNotContain(", ,", worklist.Body!.TextContent);

        await server.AddUserAsync("granskare", "lösen", false, Role.LogAuditor);
        var auditor = server.CreateClient();
        Assert.Equal(HttpStatusCode.Redirect, (await server.PostLoginAsync(auditor, "granskare", "lösen")).StatusCode);
        var log = await PageAsync(auditor, "/audit?patient=" + Uri.EscapeDataString("19121212-1212"));
        Assert.All(log.QuerySelectorAll("#audit-results tbody tr"), r => Assert.Contains("Namn saknas", r.TextContent));
        var eventLink = log.QuerySelector("#audit-results tbody tr a[href^='/audit/events/']")!.GetAttribute("href")!;
        Assert.Contains("Namn saknas", (await PageAsync(auditor, eventLink)).QuerySelector(".audit-details")!.TextContent);
        var extract = await PageAsync(auditor, $"/patients/{patient}/log-extract");
        Assert.Equal("Namn saknas", extract.QuerySelector(".name")!.TextContent.Trim());
    }
}
