using System.Net;
using System.Text.Json.Nodes;
using Dapper;
using Microsoft.Playwright;
using Stadig.Storage;
using Stadig.Tests.Fhir;

namespace Stadig.Tests.Browser;

/// <summary>
/// One record whatever the door, in a real browser: a patient's history loaded over FHIR as an
/// integration would (a Synthea transaction bundle) is what the clinician sees, in Swedish: the
/// allergies in the banner of every patient page, the conditions in the problem list, the
/// observations in a trend and the encounters in the journal timeline.
/// </summary>
[Collection("Browser")]
public class PatientRecordBrowserTests
{
    private const string Bundle = "Kermit_Trantow_f1a650a5-737e-4fd7-828e-03c3348b9524.json";

    [Fact]
    public async Task A_synthea_history_loaded_over_fhir_shows_its_allergies_in_every_banner_its_conditions_observations_and_encounters_in_swedish()
    {
        await using var fhir = await FhirTestServer.StartAsync(DatabaseEngine.Sqlite);
        var bundle = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(FhirSamples.Folder, "Synthea", Bundle), TestContext.Current.CancellationToken))!;
        var (status, response, _) = await fhir.Client().PostFhirAsync("/fhir", bundle);
        Assert.True(status == HttpStatusCode.OK, FhirCalls.Issues(response));
        Guid patientId;
        await using (var c = await fhir.Server.Database.OpenUnscopedAsync(TestContext.Current.CancellationToken))
            patientId = await c.QuerySingleAsync<Guid>("SELECT DISTINCT patient_id FROM fhir_resource WHERE resource_type = 'AllergyIntolerance'");

        var (playwright, browser) = await Infrastructure.Browser.LaunchAsync();
        using var _p = playwright;
        await using var _b = browser;
        var page = await browser.NewPageAsync(new BrowserNewPageOptions
            { BaseURL = fhir.Server.Address.ToString(), ViewportSize = new ViewportSize { Width = 1280, Height = 900 }, Locale = "sv-SE" });
        page.SetDefaultTimeout(90_000);
        await page.GotoAsync("/login");
        await page.FillAsync("#username", "fhir");
        await page.FillAsync("#password", "x");
        await page.Keyboard.PressAsync("Enter");
        await Infrastructure.Browser.WaitForUrlAsync(page, url => new Uri(url).AbsolutePath != "/login");

        string[] allergies = ["Allergy to bee venom", "Shellfish allergy", "Allergy to peanuts"];
        async Task BannerHasAllergiesAsync(string where)
        {
            var banner = await page.InnerTextAsync("#attention-signals");
            foreach (var allergy in allergies) Assert.True(banner.Contains(allergy, StringComparison.Ordinal), $"{where}: {allergy} missing from the banner: {banner}");
            Assert.Contains("Överkänslighet", banner);
            Assert.Contains("Bekräftad", banner);
        }

        // The overview: allergies in the banner and the warnings card, the active condition in the problem list.
        await page.GotoAsync($"/patients/{patientId}");
        await BannerHasAllergiesAsync("overview");
        Assert.DoesNotContain("Ingen uppmärksamhetsinformation", await page.InnerTextAsync("#warnings"));
        var problems = await page.InnerTextAsync("#problems");
        Assert.Contains("Hypertension", problems);
        Assert.DoesNotContain("Inga aktiva problem", problems);
        Assert.DoesNotContain("Childhood asthma", problems); // resolved: history, not the active list

        // The record by section, and from it the body weight's trend.
        await page.ClickAsync("#open-record");
        await page.WaitForSelectorAsync("#observation-series");
        await BannerHasAllergiesAsync("record");
        Assert.Contains("Childhood asthma", await page.InnerTextAsync("#record-problems"));
        await page.ClickAsync("#observation-series a[href$='/trends/29463-7']");
        await page.WaitForSelectorAsync("#trend-table");
        await BannerHasAllergiesAsync("trend");
        Assert.Contains("Body Weight", await page.InnerTextAsync("h1"));
        Assert.Equal(5, await page.Locator("#trend-table tbody tr").CountAsync());

        // The journal timeline, encounters only, in Swedish.
        await page.GotoAsync($"/patients/{patientId}/timeline");
        await page.WaitForSelectorAsync("#timeline");
        await BannerHasAllergiesAsync("timeline");
        Assert.Equal("Journalöversikt", (await page.InnerTextAsync("h1")).Trim());
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("45-journal-timeline"), FullPage = false });
        await page.CheckAsync("input[name=kind][value=Encounter]");
        await page.ClickAsync("#timeline-show");
        await Infrastructure.Browser.WaitForUrlAsync(page, url => url.Contains("kind=Encounter", StringComparison.Ordinal));
        var timeline = await page.InnerTextAsync("#timeline");
        Assert.Contains("Encounter for check up (procedure)", timeline);
        Assert.Contains("Kontakt", timeline);
        Assert.Contains("Avslutad", timeline);
        Assert.Equal(12, await page.Locator("#timeline tbody tr").CountAsync());

        // Orders: a page that shows nothing of this history still warns of the allergies.
        await page.GotoAsync($"/patients/{patientId}/orders");
        await page.WaitForSelectorAsync("#attention-signals");
        await BannerHasAllergiesAsync("orders");
    }
}
