using System.Globalization;
using System.Net;
using AngleSharp.Html.Parser;
using Stadig.Downtime;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Tests.Web;

/// <summary>The back-entry page and the register of downtime periods as forms: clear refusals on the page, never a 500, and the saved entry marked in the timeline.</summary>
public class BackEntryPagesTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_administrator_registers_a_period_and_a_vital_sign_from_paper_is_refused_outside_it_and_saved_and_marked_within_it(DatabaseEngine engine)
    {
        var (server, client, eva) = await StadigServer.WithLoggedInPhysicianAsync(engine);
        await using var _s = server;
        await server.AddUserAsync("drift", "lösen", false, Role.Administrator);
        var admin = server.CreateClient();
        await server.PostLoginAsync(admin, "drift", "lösen");
        var time = server.Services.GetRequiredService<Stadig.Common.RegionTime>();
        string Local(DateTimeOffset instant) => time.ToRegion(instant).ToString("yyyy-MM-dd'T'HH:mm", CultureInfo.InvariantCulture);
        var patient = (await server.Patients.RegisterAsync(eva, "19121212-1212", new("Öström", "Anna"))).PatientId;
        var (from, to) = (DateTimeOffset.UtcNow.AddHours(-6), DateTimeOffset.UtcNow.AddHours(-2));

        // Only an administrator registers a period.
        Assert.Contains("Bara en administratör registrerar avbrott", await client.GetStringAsync("/admin/downtime-periods"));
        var registered = await StadigServer.PostFormAsync(admin, "/admin/downtime-periods", "register-period",
            new() { ["From"] = Local(from), ["To"] = Local(to), ["Description"] = "Nätverket till serverhallen bröts." });
        Assert.Equal(HttpStatusCode.Redirect, registered.StatusCode);
        var periods = new HtmlParser().ParseDocument(await admin.GetStringAsync("/admin/downtime-periods"));
        Assert.Contains("Nätverket till serverhallen bröts.", periods.QuerySelector("#period-table")!.TextContent);

        var path = $"/patients/{patient}/back-entry";
        var outside = await StadigServer.PostFormAsync(client, path, "back-entry-vital",
            new() { ["VitalForm.Code"] = "8867-4", ["VitalForm.Value"] = "96", ["VitalForm.At"] = Local(from.AddHours(-1)) });
        var unreadable = await StadigServer.PostFormAsync(client, path, "back-entry-vital",
            new() { ["VitalForm.Code"] = "8867-4", ["VitalForm.Value"] = "96", ["VitalForm.At"] = "igår kväll" });
        var implausible = await StadigServer.PostFormAsync(client, path, "back-entry-vital",
            new() { ["VitalForm.Code"] = "8867-4", ["VitalForm.Value"] = "960", ["VitalForm.At"] = Local(from.AddHours(1)) });
        var saved = await StadigServer.PostFormAsync(client, path, "back-entry-vital",
            new() { ["VitalForm.Code"] = "8867-4", ["VitalForm.Value"] = "96", ["VitalForm.At"] = Local(from.AddHours(1)) });

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK), (outside.StatusCode, unreadable.StatusCode, implausible.StatusCode));
        Assert.Contains("ligger inte inom något registrerat avbrott", Error(await outside.Content.ReadAsStringAsync()));
        Assert.Contains("ÅÅÅÅ-MM-DD TT:MM", Error(await unreadable.Content.ReadAsStringAsync()));
        Assert.Contains("inte rimligt", Error(await implausible.Content.ReadAsStringAsync()));
        Assert.Equal(HttpStatusCode.Redirect, saved.StatusCode);
        var timeline = new HtmlParser().ParseDocument(await client.GetStringAsync($"/patients/{patient}/timeline?kind=Observation"));
        var row = Assert.Single(timeline.QuerySelectorAll("#timeline tbody tr"));
        Assert.Contains("Puls", row.TextContent);
        Assert.Contains(time.Format(from.AddHours(1)), row.TextContent);
        Assert.Contains("Efterregistrerad", row.QuerySelector(".back-entry-mark")!.TextContent);
        Assert.Contains("Test eva", row.QuerySelector(".back-entry-detail")!.TextContent);
    }

    private static string Error(string page) => new HtmlParser().ParseDocument(page).QuerySelector("#back-entry-error")?.TextContent ?? "(no error shown)";
}
