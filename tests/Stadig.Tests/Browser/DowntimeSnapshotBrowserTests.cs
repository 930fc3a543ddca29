using Microsoft.Playwright;
using Stadig.Downtime;
using Stadig.Storage;
using Stadig.Tests.Downtime;
using UglyToad.PdfPig;

namespace Stadig.Tests.Browser;

/// <summary>A downtime snapshot opens in a plain browser with no server and no network, and prints one patient per page (issue 19, item 1).</summary>
[Collection("Browser")]
public class DowntimeSnapshotBrowserTests
{
    [Fact]
    [Hazard("H-11")]
    public async Task The_snapshot_file_opens_offline_with_the_units_key_refuses_a_wrong_key_clearly_and_prints_one_patient_per_page()
    {
        var s = await SnapshotScenario.CreateAsync(DatabaseEngine.Sqlite);
        var file = (await s.Snapshots.GenerateAsync(s.Ward.HsaId, cancellationToken: TestContext.Current.CancellationToken)).Single().File!;
        var (playwright, browser) = await Infrastructure.Browser.LaunchAsync();
        using var _p = playwright;
        await using var _b = browser;
        // No network at all: as on a downtime PC with Stadig and the network gone.
        await using var context = await browser.NewContextAsync(new BrowserNewContextOptions { Offline = true, ViewportSize = new ViewportSize { Width = 1100, Height = 900 } });
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(90_000);
        var fetched = new List<string>();
        page.Request += (_, request) => { if (!request.Url.StartsWith("file:", StringComparison.Ordinal)) fetched.Add(request.Url); };

        await page.GotoAsync(new Uri(file).AbsoluteUri);
        Assert.Contains("Medicinavdelning 1", await page.InnerTextAsync("h1"));
        Assert.Equal("Ögonblicksbild 2026-12-05 10:00", await page.InnerTextAsync("#taken-at"));

        await page.FillAsync("#key", "fel nyckel helt enkelt");
        await page.ClickAsync("#open");
        await page.WaitForSelectorAsync("#error:not([hidden])");
        Assert.Contains("Fel nyckel", await page.InnerTextAsync("#error"));
        Assert.Equal("", await page.InnerTextAsync("#record"));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("60-snapshot-wrong-key") });

        await page.FillAsync("#key", SnapshotScenario.WardKey);
        await page.ClickAsync("#open");
        await page.WaitForSelectorAsync("#ward-list");
        var ward = await page.InnerTextAsync("#ward-list");
        Assert.Contains("Öberg, Anna", ward);
        Assert.Contains("Lind, Cecilia", ward);
        Assert.DoesNotContain("Berg, Bertil", await page.InnerTextAsync("body"));
        Assert.True(await page.IsHiddenAsync("#unlock"));
        Assert.Contains("Penicillin", await page.InnerTextAsync("#patient-1"));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("61-snapshot-opened"), FullPage = true });

        // Printed: the ward list, then each patient on a page of their own, the snapshot's time on every page.
        await page.EmulateMediaAsync(new() { Media = Media.Print });
        Assert.Equal("fixed", await page.EvalOnSelectorAsync<string>(".page-stamp", "e => getComputedStyle(e).position"));
        Assert.Equal("page", await page.EvalOnSelectorAsync<string>("#patient-2", "e => getComputedStyle(e).breakBefore"));
        var pdf = await page.PdfAsync(new PagePdfOptions { Path = Path.ChangeExtension(Infrastructure.Browser.ScreenshotPath("62-snapshot-print"), ".pdf"), PreferCSSPageSize = true });
        using var document = PdfDocument.Open(pdf);
        Assert.Equal(3, document.NumberOfPages);
        Assert.All(document.GetPages(), p => Assert.Contains("2026-12-05", p.Text));
        Assert.Contains("Lind", document.GetPage(3).Text);
        Assert.Empty(fetched);
    }
}
