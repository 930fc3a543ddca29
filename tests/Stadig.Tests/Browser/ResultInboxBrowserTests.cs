using Microsoft.Playwright;
using Stadig.LabResults;
using Stadig.Organisation;
using Stadig.Patients.Identifiers;
using Stadig.Storage;

namespace Stadig.Tests.Browser;

// One browser test at a time: each drives a real Chromium, and running them together only slows all.
[Collection("Browser")]
public class ResultInboxBrowserTests
{
    [Fact]
    public async Task A_physician_cannot_attest_a_critical_result_from_the_inbox_opens_it_sees_its_values_attests_it_there_and_goes_on_with_a_key()
    {
        await using var server = await StadigServer.StartAsync(DatabaseEngine.Sqlite);
        var (doctor, assignments) = await server.AddUserAsync("doktor", "lösen");
        var caller = StadigServer.CallerFor(doctor, assignments[0]);
        var number = TestNumbers.Personnummer(1950, 3, 14);
        var patientId = (await server.Patients.RegisterAsync(caller, number, new("Öberg", "Lina"))).PatientId;
        var labUnit = await server.Staff.AddUnitAsync((await server.Staff.UnitsAsync())[0].ProviderId, "SE2321000016-0099", "Klinisk kemi", UnitKind.Lab);
        var ingest = new IngestOruMessage(server.Database, server.Services.GetRequiredService<Stadig.Audit.AuditLog>(),
            new PatientMatcher(new PatientIdentifierRules(TimeProvider.System)), await LabIntegration.CallerAsync(server.Staff, labUnit), TimeProvider.System);
        var values = new[] { ("4.1", "N", "20261120"), ("4.6", "H", "20261121"), ("6.9", "HH", "20261122") };
        for (var i = 0; i < values.Length; i++)
        {
            var (value, flag, day) = values[i];
            await ingest.IngestAsync($"MSH|^~\\&|LABSYS|KLINKEM|STADIG|REGION|{day}0755||ORU^R01|B{i}|P|2.5\r" +
                $"PID|1||{number.Replace("-", "")}^^^^PN||Öberg^Lina\rOBR|1|P{i}|F{i}|K^Kalium^L|||{day}0700\r" +
                $"OBX|1|NM|K^P-Kalium^L||{value}|mmol/L|3.5-4.4|{flag}|||F|||{day}0700\r");
        }

        await using var browser = await Infrastructure.Browser.OpenAsync(server.Address);
        var page = browser.Page;
        await Infrastructure.Browser.LogInAsync(page, "doktor");

        await page.GotoAsync("/results/inbox");
        await page.WaitForSelectorAsync("#inbox");
        var critical = page.Locator("#inbox tbody tr").First;
        Assert.Contains("critical", await critical.GetAttributeAsync("class") ?? "");
        // The critical result cannot be ticked for attestation from the list.
        Assert.Equal(0, await critical.Locator("input[type=checkbox]").CountAsync());
        Assert.Contains("6,9 mmol/L", await critical.Locator("td.summary").InnerTextAsync());
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("40-inbox"), FullPage = true });

        await critical.Locator("a.open-result").ClickAsync();
        await page.WaitForSelectorAsync("#report-lines");
        var firstReport = new Uri(page.Url).AbsolutePath;
        var line = page.Locator("#report-lines tbody tr").First;
        Assert.Equal("6,9", await line.Locator("td.value").InnerTextAsync());
        Assert.Equal("mmol/L", await line.Locator("td.unit").InnerTextAsync());
        Assert.Equal("3,5–4,4", await line.Locator("td.reference").InnerTextAsync());
        Assert.Equal("Kritiskt högt", await line.Locator("td.flag").InnerTextAsync());
        Assert.Contains("4,6", await line.Locator("td.earlier").InnerTextAsync());
        Assert.Contains("Öberg", await page.Locator(".patient-banner").InnerTextAsync());
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("42-result"), FullPage = true });

        await page.ClickAsync("#attest");
        await page.WaitForSelectorAsync("#attested-now");
        Assert.Equal(1, await page.Locator("#attested-by").CountAsync());

        // One key goes on to the next unattested result, once the reloaded page's scripts listen (its load event):
        // the element above is there before them, and a key pressed then does nothing.
        await page.WaitForLoadStateAsync(LoadState.Load);
        await page.Keyboard.PressAsync("n");
        await Infrastructure.Browser.WaitForUrlAsync(page, url => new Uri(url).AbsolutePath != firstReport && new Uri(url).AbsolutePath.StartsWith("/results/", StringComparison.Ordinal));
        await page.WaitForSelectorAsync("#report-lines");
        Assert.Equal(1, await page.Locator("#attest").CountAsync());
        await page.GotoAsync("/results/inbox");
        await page.WaitForSelectorAsync("#inbox");
        Assert.Equal(2, await page.Locator("#inbox tbody tr").CountAsync());

        await page.GotoAsync($"/patients/{patientId}/trends/K");
        await page.WaitForSelectorAsync("svg.trend");
        // Coordinates are invariant numbers whatever the page's language (a decimal comma breaks the drawing).
        Assert.DoesNotMatch(@"(x|y|width|height)=""[0-9-]+,[0-9]", await page.InnerHTMLAsync("svg.trend"));
        Assert.Equal(1, await page.Locator("svg.trend rect.trend-band").CountAsync());
        Assert.Equal(3, await page.Locator("svg.trend circle").CountAsync());
        Assert.Equal(2, await page.Locator("svg.trend circle.abnormal").CountAsync());
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("41-trend"), FullPage = true });
    }
}
