using Microsoft.Playwright;
using Stadig.Storage;

namespace Stadig.Tests.Browser;

/// <summary>The path a clinician takes on the demo region, in a real browser: log in, pick assignment, search, open a patient.</summary>
// One browser test at a time: each drives a real Chromium, and running them together only slows all.
[Collection("Browser")]
public class DemoRegionBrowserTests
{
    [Fact]
    public async Task A_demo_user_logs_in_picks_an_assignment_finds_a_patient_by_keyboard_and_opens_the_chart()
    {
        await using var server = await StadigServer.StartAsync(DatabaseEngine.Sqlite, "--Stadig:SeedDemoAtStart=true", "--Stadig:DemoPatients=60");
        var (playwright, browser) = await Infrastructure.Browser.LaunchAsync();
        using var _p = playwright;
        await using var _b = browser;
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { BaseURL = server.Address.ToString(), ViewportSize = new ViewportSize { Width = 1280, Height = 800 } });
        // Generous waits: a busy two-core CI machine runs the whole suite at once (waiting on conditions, never sleeping).
        page.SetDefaultTimeout(90_000);

        await page.GotoAsync("/");
        Assert.EndsWith("/login", new Uri(page.Url).AbsolutePath);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("01-login"), FullPage = true });
        await page.FillAsync("#username", "lakare");
        await page.FillAsync("#password", "demo");
        await page.Keyboard.PressAsync("Enter");

        // The physician holds several assignments: choosing one is the next step.
        await Infrastructure.Browser.WaitForUrlAsync(page, url => new Uri(url).AbsolutePath.StartsWith("/assignment", StringComparison.Ordinal));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("02-assignment"), FullPage = true });
        var firstChoice = page.Locator("button.choice").First;
        var unitName = (await firstChoice.Locator("strong").TextContentAsync())!.Trim();
        await firstChoice.ClickAsync();
        await Infrastructure.Browser.WaitForUrlAsync(page, url => new Uri(url).AbsolutePath == "/");
        Assert.Contains(unitName, await page.Locator(".assignment").TextContentAsync());

        // A patient from the demo region, found by the start of the family name, opened without the mouse.
        var patient = (await server.Patients.SearchAsync(Stadig.Access.Caller.System, "a")).Patients.FirstOrDefault()
            ?? (await server.Patients.SearchAsync(Stadig.Access.Caller.System, "19")).Patients.First();
        var query = patient.FamilyName.Split(' ', '-')[0];
        await page.FocusAsync("#q");
        await page.Keyboard.TypeAsync(query);
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForSelectorAsync("#search-results");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("03-search"), FullPage = true });
        await page.FocusAsync("#q");
        await page.Keyboard.PressAsync("ArrowDown");
        Assert.Equal("result-link", await page.EvaluateAsync<string>("document.activeElement.className"));
        await page.Keyboard.PressAsync("Enter");

        // Without a care relation the chart answers "not found" and offers to record one (logged and reviewed).
        await page.WaitForSelectorAsync(".patient-banner, #relation-reason");
        if (await page.Locator("#relation-reason").CountAsync() > 0)
        {
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("04a-no-care-relation"), FullPage = true });
            await page.FillAsync("#relation-reason", "Patienten på mottagningen utan bokning");
            await page.Keyboard.PressAsync("Enter");
            await page.WaitForSelectorAsync(".patient-banner");
        }

        var banner = await page.Locator(".patient-banner").TextContentAsync();
        Assert.Contains(query, banner);
        Assert.Matches(@"\d{8}-\d{4}|99\d{10}", banner);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("04-patient"), FullPage = true });

        // A result's trend: the analysis name in the results table opens it.
        var trendLinks = page.Locator("a[href*='/trends/']");
        if (await trendLinks.CountAsync() > 0)
        {
            await trendLinks.First.ClickAsync();
            await page.WaitForSelectorAsync("svg.trend");
            Assert.True(await page.Locator("#trend-table tbody tr").CountAsync() > 0);
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("05-trend"), FullPage = true });
        }
    }
}
