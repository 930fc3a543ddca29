using System.Net;
using AngleSharp.Html.Parser;
using Stadig.Storage;

namespace Stadig.Tests.Web;

public class EncounterPagesTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Admitting_through_the_chart_puts_the_patient_on_the_ward_list_and_discharging_takes_them_off(DatabaseEngine engine)
    {
        var (server, client, eva) = await StadigServer.WithLoggedInPhysicianAsync(engine);
        await using var _s = server;
        var patient = (await server.Patients.RegisterAsync(eva, "19121212-1212", new("Öström", "Anna"))).PatientId;

        var admitted = await StadigServer.PostFormAsync(client, $"/patients/{patient}", "admit-patient", new() { ["Admission.WardId"] = eva.UnitId.ToString(), ["Admission.Bed"] = "12" });
        Assert.Equal(HttpStatusCode.Redirect, admitted.StatusCode);
        var chart = await client.GetStringAsync(admitted.Headers.Location!.OriginalString);
        Assert.Contains("Vårdkontakten är registrerad", chart);
        Assert.Contains("säng 12", chart);

        var ward = new HtmlParser().ParseDocument(await client.GetStringAsync("/ward"));
        var row = Assert.Single(ward.QuerySelectorAll("#ward-list tbody tr"));
        Assert.Contains("12", row.Children[0].TextContent);
        Assert.Contains("Öström, Anna", row.TextContent);
        Assert.Contains("19121212-1212", row.TextContent);
        Assert.Equal($"/patients/{patient}", row.QuerySelector("a")!.GetAttribute("href"));

        // The same bed for another patient: a clear message on the chart, nothing stored.
        var other = (await server.Patients.RegisterAsync(eva, TestNumbers.Personnummer(1980, 1, 1), new("Berg", "Bo"))).PatientId;
        var refused = await StadigServer.PostFormAsync(client, $"/patients/{other}", "admit-patient", new() { ["Admission.WardId"] = eva.UnitId.ToString(), ["Admission.Bed"] = "12" });
        Assert.Equal(HttpStatusCode.OK, refused.StatusCode);
        Assert.Contains("Säng 12 är upptagen", await refused.Content.ReadAsStringAsync());

        // Discharge is its own form with a confirmation (DischargePageTests); the chart only links to it.
        var discharged = await StadigServer.PostFormAsync(client, $"/patients/{patient}/discharge", "discharge",
            new() { ["Input.At"] = server.Services.GetRequiredService<Stadig.Common.RegionTime>().ToRegion(DateTimeOffset.UtcNow).ToString("yyyy-MM-dd'T'HH:mm", System.Globalization.CultureInfo.InvariantCulture), ["Input.Destination"] = "Home", ["Input.Step"] = "confirm" });
        Assert.Equal(HttpStatusCode.Redirect, discharged.StatusCode);
        Assert.Contains("Inga inskrivna patienter", await client.GetStringAsync("/ward"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_visit_registered_on_the_chart_is_listed_and_the_header_links_to_the_ward_list(DatabaseEngine engine)
    {
        var (server, client, eva) = await StadigServer.WithLoggedInPhysicianAsync(engine);
        await using var _s = server;
        var patient = (await server.Patients.RegisterAsync(eva, "19121212-1212", new("Öström", "Anna"))).PatientId;

        var response = await StadigServer.PostFormAsync(client, $"/patients/{patient}", "register-visit", new());
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var document = new HtmlParser().ParseDocument(await client.GetStringAsync($"/patients/{patient}"));
        Assert.Contains("Besök", document.QuerySelector("#encounter-list")!.TextContent);
        Assert.NotNull(document.QuerySelector("header a[href='/ward']"));
    }
}
