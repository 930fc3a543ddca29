using Microsoft.Playwright;

namespace Stadig.Tests.Browser;

/// <summary>The browser tests run one at a time: each drives a real Chromium, and running them together only slows all.</summary>
[CollectionDefinition("Browser")]
public sealed class BrowserCollection : ICollectionFixture<EveryPageWalk>;

/// <summary>
/// One walk over every page, in both languages, for the checks that only look at pages:
/// <see cref="AccessibilityBrowserTests"/> (axe, WCAG 2.1 AA, at 100 % and at 200 % zoom) and
/// <see cref="LayoutBrowserTests"/> (reflow at 320 CSS pixels and at 200 % zoom). Each page is loaded
/// once per language and looked at in all three windows, as a person resizes a window: loading every
/// page again for each check was most of their time. Made on first use, by whichever test comes first.
/// </summary>
public sealed class EveryPageWalk : IAsyncDisposable
{
    /// <summary>The windows, widest first: 1280 × 900 at 100 %, the same window at 200 % zoom (640 × 450 CSS pixels), and 320 CSS pixels.</summary>
    public static readonly (string Name, int Width, int Height, bool Axe, bool Reflow)[] Windows =
        [("100%", 1280, 900, true, false), ("200%", 640, 450, true, true), ("320px", 320, 640, false, true)];

    private readonly Lock _gate = new();
    private Task<Findings>? _walk;
    private EveryPageBrowser? _browser;

    /// <summary>What the walk found: axe's violations and the pages that do not reflow, one line each (empty when all is well).</summary>
    public sealed record Findings(IReadOnlyList<string> Axe, IReadOnlyList<string> Overflow, int PagesLoaded);

    public Task<Findings> WalkAsync()
    {
        lock (_gate) return _walk ??= RunAsync();
    }

    private async Task<Findings> RunAsync()
    {
        // axe goes into every document as the browser makes it: sending its half megabyte into each page
        // after loading (AddScriptTag) took longer than loading the page and running axe twice.
        _browser = new EveryPageBrowser { InitScript = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "Browser", "axe", "axe.min.js")) };
        await _browser.InitializeAsync();
        var axe = new List<string>();
        var overflow = new List<string>();
        var loaded = 0;
        // One tab per person and language, going from page to page as a person does (no page of the app
        // holds anything back on leaving): a new tab for each page cost as much as loading the page.
        var tabs = new Dictionary<(string User, string Culture), IPage>();
        foreach (var culture in new[] { "sv", "en" })
        foreach (var (path, user) in _browser.PagesByUser())
        {
            if (!tabs.TryGetValue((user, culture), out var page))
                tabs[(user, culture)] = page = await (await _browser.ContextAsync(user, culture)).NewPageAsync();
            await page.SetViewportSizeAsync(Windows[0].Width, Windows[0].Height);
            await page.GotoAsync(path);
            loaded++;
            foreach (var (name, width, height, checkAxe, checkReflow) in Windows)
            {
                if (page.ViewportSize!.Width != width) await page.SetViewportSizeAsync(width, height);
                if (checkAxe)
                    axe.AddRange((await AccessibilityBrowserTests.AxeAsync(page, wcagOnly: true))
                        .Select(v => $"{culture} {name} {path} ({user}): {v.Id} ({v.Impact}, {v.Nodes}) {v.Help}: {v.Targets}"));
                if (!checkReflow) continue;
                if (await LayoutBrowserTests.OverflowAsync(page) is { Length: > 0 } wide) overflow.Add($"{culture} {name} {path}: {wide}");
                if (LayoutBrowserTests.Screens.TryGetValue((culture, name, path.Replace(_browser.Pages.PatientId.ToString(), "{id}")), out var shot))
                    await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath(shot) });
            }
        }
        foreach (var tab in tabs.Values) await tab.CloseAsync();
        return new Findings(axe, overflow, loaded);
    }

    public async ValueTask DisposeAsync()
    {
        if (_walk is not null)
        {
            try { await _walk; } catch (Exception) { /* the test that awaited it has reported it */ }
        }
        if (_browser is not null) await _browser.DisposeAsync();
    }
}
