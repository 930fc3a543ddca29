using Microsoft.Playwright;

namespace Stadig.Tests.Browser;

/// <summary>
/// WCAG 2.1 1.4.10 (reflow): every page reads without horizontal scrolling at 320 CSS pixels, and at
/// 200 % zoom of a 1280 × 900 window (which lays out as 640 × 450 CSS pixels).
/// </summary>
// One browser test at a time: each drives a real Chromium, and running them together only slows all.
[Collection("Browser")]
public class LayoutBrowserTests(EveryPageBrowser browser) : IClassFixture<EveryPageBrowser>
{
    public static readonly (string Name, int Width, int Height)[] NarrowViewports = [("320px", 320, 640), ("zoom200", 640, 450)];

    /// <summary>The screens docs/screens shows, taken on the way (first window only, to stay small).</summary>
    private static readonly Dictionary<(string Culture, string Viewport, string Path), string> Screens = new()
    {
        [("sv", "320px", "/patients/{id}")] = "41-chart-320px",
        [("sv", "zoom200", "/patients/{id}/warnings")] = "42-warnings-zoom200",
        [("en", "zoom200", "/patients/{id}/orders")] = "43-orders-en-zoom200",
        [("sv", "zoom200", "/log-extract")] = "44-log-extract-choose",
    };

    /// <summary>How far the page is wider than the window, with the elements that stick out (empty when it reflows).</summary>
    internal static async Task<string> OverflowAsync(IPage page) => await page.EvaluateAsync<string>(
        """
        () => {
          const root = document.scrollingElement;
          if (root.scrollWidth <= root.clientWidth) return '';
          const wide = [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > root.clientWidth + 1)
            .filter(e => !e.parentElement || e.parentElement.getBoundingClientRect().right <= root.clientWidth + 1)
            .concat([...document.querySelectorAll('body *')].filter(e => e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0 && getComputedStyle(e).overflowX === 'visible'))
            .slice(0, 6).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.trim().replace(/\s+/g, '.') : '') + ' ' + Math.round(e.getBoundingClientRect().right) + 'px');
          return `scrollWidth ${root.scrollWidth} > ${root.clientWidth}: ${wide.join(', ')}`;
        }
        """);

    [Fact]
    public async Task Every_page_reflows_at_320_css_pixels_and_at_200_percent_zoom_without_horizontal_scrolling()
    {
        var found = new List<string>();
        foreach (var culture in new[] { "sv", "en" })
        foreach (var (path, user) in browser.PagesByUser())
        {
            var page = await (await browser.ContextAsync(user, culture)).NewPageAsync();
            foreach (var (name, width, height) in NarrowViewports)
            {
                await page.SetViewportSizeAsync(width, height);
                if (page.Url == "about:blank") await page.GotoAsync(path);
                var overflow = await OverflowAsync(page);
                if (overflow.Length > 0) found.Add($"{culture} {name} {path}: {overflow}");
                if (Screens.TryGetValue((culture, name, path.Replace(browser.Pages.PatientId.ToString(), "{id}")), out var shot))
                    await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath(shot) });
            }
            await page.CloseAsync();
        }
        Assert.True(found.Count == 0, string.Join("\n", found));
    }
}
