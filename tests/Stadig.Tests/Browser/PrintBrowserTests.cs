using Microsoft.Playwright;

namespace Stadig.Tests.Browser;

/// <summary>The chart overview and a note print cleanly: the patient banner on every page, no navigation or forms.</summary>
// One browser test at a time: each drives a real Chromium, and running them together only slows all.
[Collection("Browser")]
public class PrintBrowserTests
{
    private static Task<string> DisplayOfAsync(IPage page, string selector) =>
        page.EvalOnSelectorAsync<string>(selector, "e => getComputedStyle(e).display");

    [Fact]
    [Hazard("H-02")]
    public async Task The_chart_overview_and_a_note_print_with_the_banner_and_without_navigation_or_forms()
    {
        var pages = await ChartPages.CreateAsync();
        await using var _s = pages.Server;
        var (playwright, browser) = await Infrastructure.Browser.LaunchAsync();
        using var _p = playwright;
        await using var _b = browser;
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { BaseURL = pages.Server.Address.ToString(), ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        // Generous waits: a busy two-core CI machine runs the whole suite at once (waiting on conditions, never sleeping).
        page.SetDefaultTimeout(90_000);
        await ChartPages.LogInAsync(page);

        foreach (var (path, name) in new[] { ($"/patients/{pages.PatientId}", "20-chart-print"), ($"/notes/{pages.SignedNoteId}", "21-note-print") })
        {
            await page.GotoAsync(path);
            await page.WaitForSelectorAsync(".patient-banner");
            await page.EmulateMediaAsync(new() { Media = Media.Print });
            Assert.NotEqual("none", await DisplayOfAsync(page, ".patient-banner"));
            Assert.Equal("fixed", await page.EvalOnSelectorAsync<string>(".patient-banner", "e => getComputedStyle(e).position"));
            Assert.Contains("Öström, Anna", await page.InnerTextAsync(".patient-banner"));
            Assert.Equal("none", await DisplayOfAsync(page, ".app-header"));
            foreach (var form in await page.QuerySelectorAllAsync("main form"))
                Assert.Equal("none", await form.EvaluateAsync<string>("e => getComputedStyle(e).display"));
            foreach (var button in await page.QuerySelectorAllAsync("main button"))
                Assert.Equal("none", await button.EvaluateAsync<string>("e => getComputedStyle(e).display === 'none' || e.closest('form') && getComputedStyle(e.closest('form')).display === 'none' ? 'none' : 'shown'"));

            var pdf = await page.PdfAsync(new PagePdfOptions { Path = Path.ChangeExtension(Infrastructure.Browser.ScreenshotPath(name), ".pdf"), PreferCSSPageSize = true, PrintBackground = true });
            Assert.True(pdf.Length > 1000);
            Assert.Equal("%PDF-"u8.ToArray(), pdf[..5]);
            await page.EmulateMediaAsync(new() { Media = Media.Screen });
        }
    }
}
