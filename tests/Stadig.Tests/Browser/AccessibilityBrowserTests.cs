using System.Text.Json;
using Microsoft.Playwright;

namespace Stadig.Tests.Browser;

/// <summary>
/// axe-core (Browser/axe, MPL-2.0) run in the browser on the pages clinicians live in: no serious or
/// critical violations. The app's CSP forbids injected scripts, so only this test's browser context
/// bypasses it.
/// </summary>
[Collection("Browser")]
public class AccessibilityBrowserTests(EveryPageWalk everyPage)
{
    internal sealed record Violation(string Id, string? Impact, string Help, int Nodes, string Targets);

    internal static async Task<IReadOnlyList<Violation>> AxeAsync(IPage page, bool wcagOnly = false)
    {
        if (!await page.EvaluateAsync<bool>("() => typeof axe !== 'undefined'"))
            await page.AddScriptTagAsync(new() { Path = Path.Combine(AppContext.BaseDirectory, "Browser", "axe", "axe.min.js") });
        var json = await page.EvaluateAsync<JsonElement>(
            """
            async (wcagOnly) => {
              const options = { resultTypes: ['violations'] };
              if (wcagOnly) options.runOnly = { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] };
              const r = await axe.run(document, options);
              return r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length,
                targets: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' ' + (n.failureSummary || '').replace(/\s+/g, ' ')).join(' | ') }));
            }
            """, wcagOnly);
        return json.EnumerateArray().Select(v => new Violation(v.GetProperty("id").GetString()!, v.GetProperty("impact").GetString(),
            v.GetProperty("help").GetString()!, v.GetProperty("nodes").GetInt32(), v.GetProperty("targets").GetString()!)).ToList();
    }

    [Fact]
    public async Task The_pages_clinicians_live_in_have_no_serious_or_critical_accessibility_violations()
    {
        var pages = await ChartPages.CreateAsync();
        await using var _s = pages.Server;
        var (playwright, browser) = await Infrastructure.Browser.LaunchAsync();
        using var _p = playwright;
        await using var _b = browser;
        await using var context = await browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = pages.Server.Address.ToString(), ViewportSize = new ViewportSize { Width = 1280, Height = 900 }, BypassCSP = true,
        });
        var page = await context.NewPageAsync();
        // Generous waits: a busy two-core CI machine runs the whole suite at once (waiting on conditions, never sleeping).
        page.SetDefaultTimeout(90_000);
        await ChartPages.LogInAsync(page);

        var found = new List<string>();
        foreach (var (path, ready, name) in new[]
                 {
                     ("/?q=%C3%B6str%C3%B6m", "table.results, .result-link", "30-axe-search"),
                     ($"/patients/{pages.PatientId}", ".patient-banner", "31-axe-chart"),
                     ($"/notes/{pages.DraftNoteId}", "#note-editor", "32-axe-note-editor"),
                     ("/worklist", "#worklist", "33-axe-worklist"),
                     ("/ward", "#ward-list", "34-axe-ward"),
                     ($"/patients/{pages.PatientId}/warnings", ".patient-banner", "35-axe-warnings"),
                     ($"/patients/{pages.PatientId}/problems?q=hypert", ".patient-banner", "36-axe-problems"),
                     ("/results/inbox", "h1", "37-axe-inbox"),
                     ($"/notes/{pages.DraftNoteId}/history", "h1", "38-axe-note-history"),
                     ($"/patients/{pages.PatientId}/discharge", "#discharge-form", "39-axe-discharge"),
                     ($"/notes/{pages.SignedNoteId}", "#print:visible", "39-axe-note-signed"),
                 })
        {
            await page.GotoAsync(path);
            await page.WaitForSelectorAsync(ready);
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath(name), FullPage = true });
            found.AddRange((await AxeAsync(page)).Where(v => v.Impact is "serious" or "critical")
                .Select(v => $"{path}: {v.Id} ({v.Impact}, {v.Nodes}) {v.Help}: {v.Targets}"));
        }
        Assert.True(found.Count == 0, string.Join("\n", found));
    }

    [Fact]
    public async Task Every_page_in_both_languages_and_at_200_percent_zoom_has_no_WCAG_2_1_AA_violations()
    {
        var found = await everyPage.WalkAsync();
        Assert.True(found.PagesLoaded > 0, "the walk loaded no page");
        Assert.True(found.Axe.Count == 0, string.Join("\n", found.Axe));
    }
}
