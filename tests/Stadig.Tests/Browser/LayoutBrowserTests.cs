using Microsoft.Playwright;

namespace Stadig.Tests.Browser;

/// <summary>
/// WCAG 2.1 1.4.10 (reflow): every page reads without horizontal scrolling at 320 CSS pixels, and at
/// 200 % zoom of a 1280 × 900 window (which lays out as 640 × 450 CSS pixels).
/// </summary>
[Collection("Browser")]
public class LayoutBrowserTests(EveryPageWalk everyPage)
{
    /// <summary>The screens docs/screens shows, taken on the way (first window only, to stay small).</summary>
    internal static readonly Dictionary<(string Culture, string Window, string Path), string> Screens = new()
    {
        [("sv", "320px", "/patients/{id}")] = "41-chart-320px",
        [("sv", "200%", "/patients/{id}/warnings")] = "42-warnings-zoom200",
        [("en", "200%", "/patients/{id}/orders")] = "43-orders-en-zoom200",
        [("sv", "200%", "/log-extract")] = "44-log-extract-choose",
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
        var found = await everyPage.WalkAsync();
        Assert.True(found.PagesLoaded > 0, "the walk loaded no page");
        Assert.True(found.Overflow.Count == 0, string.Join("\n", found.Overflow));
    }
}
