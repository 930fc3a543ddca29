using Microsoft.Playwright;

namespace Stadig.Tests.Browser;

/// <summary>The commonest actions from the keyboard: shortcuts listed behind "?", a skip link to the new note, focus in a new form's first field.</summary>
// One browser test at a time: each drives a real Chromium, and running them together only slows all.
[Collection("Browser")]
public class KeyboardBrowserTests(EveryPageBrowser browser) : IClassFixture<EveryPageBrowser>
{
    private static Task<string> FocusedIdAsync(IPage page) => page.EvaluateAsync<string>("() => document.activeElement?.id ?? ''");

    [Fact]
    public async Task From_the_chart_the_note_type_is_two_tabs_and_Enter_away_and_n_focuses_it_directly()
    {
        var page = await (await browser.ContextAsync("eva", "sv")).NewPageAsync();
        var chart = $"/patients/{browser.Pages.PatientId}";
        await page.GotoAsync(chart);

        await page.Keyboard.PressAsync("Tab");
        await page.Keyboard.PressAsync("Tab");
        Assert.Equal("Till ny anteckning", (await page.EvaluateAsync<string>("() => document.activeElement.textContent")).Trim());
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForFunctionAsync("() => document.activeElement?.id === 'note-type'");

        await page.GotoAsync(chart);
        await page.Keyboard.PressAsync("n");
        await page.WaitForFunctionAsync("() => document.activeElement?.id === 'note-type'");
        await page.CloseAsync();
    }

    [Fact]
    public async Task Question_mark_lists_the_shortcuts_in_the_pages_language_but_not_while_typing_in_a_field()
    {
        var page = await (await browser.ContextAsync("eva", "en")).NewPageAsync();
        await page.GotoAsync($"/patients/{browser.Pages.PatientId}");

        await page.Keyboard.PressAsync("?");
        var help = page.Locator("dialog#shortcuts");
        await help.WaitForAsync(new() { State = WaitForSelectorState.Visible });
        Assert.Contains("Next unattested result", await help.TextContentAsync());
        Assert.Contains("Ctrl", await help.TextContentAsync());
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("40-shortcuts") });
        await page.Keyboard.PressAsync("Escape");
        await help.WaitForAsync(new() { State = WaitForSelectorState.Hidden });

        await page.FocusAsync("#header-q");
        await page.Keyboard.TypeAsync("?n");
        Assert.Equal("?n", await page.InputValueAsync("#header-q"));
        Assert.False(await help.IsVisibleAsync());
        Assert.Equal("header-q", await FocusedIdAsync(page));
        await page.CloseAsync();
    }

    [Fact]
    public async Task A_new_note_opens_with_the_focus_in_its_first_field_saves_with_ctrl_s_signs_with_ctrl_enter_and_r_and_b_go_to_results_and_search()
    {
        var page = await (await browser.ContextAsync("eva", "sv")).NewPageAsync();
        await page.GotoAsync($"/patients/{browser.Pages.PatientId}");

        await page.Keyboard.PressAsync("n");
        await page.WaitForFunctionAsync("() => document.activeElement?.id === 'note-type'");
        await page.Keyboard.PressAsync("Tab");
        await page.Keyboard.PressAsync("Enter");
        await Infrastructure.Browser.WaitForUrlAsync(page, url => new Uri(url).AbsolutePath.StartsWith("/notes/", StringComparison.Ordinal));
        await page.WaitForFunctionAsync("() => document.activeElement?.id === 'kw-0'");
        var noteUrl = page.Url;

        await page.Keyboard.TypeAsync("Skrivet utan mus.");
        // A marker on the old page's window tells the reloaded page (saved by the form post) from it.
        await page.EvaluateAsync("() => { window.beforeSave = true; }");
        await page.Keyboard.PressAsync("Control+s");
        await page.WaitForFunctionAsync("() => window.beforeSave === undefined && document.readyState === 'complete' && document.activeElement?.id === 'kw-0'");
        Assert.Contains("Skrivet utan mus.", await page.InputValueAsync("#kw-0"));
        await page.Keyboard.PressAsync("Control+Enter");
        await page.WaitForSelectorAsync("[data-signed-note-id]");
        Assert.Equal(noteUrl, page.Url);
        Assert.Contains("Skrivet utan mus.", await page.Locator(".note-view").TextContentAsync());

        // The signed note's page listens for keys once its scripts have run (its load event), not when the element above appears.
        await page.WaitForLoadStateAsync(LoadState.Load);
        await page.Keyboard.PressAsync("r");
        await Infrastructure.Browser.WaitForUrlAsync(page, url => new Uri(url).AbsolutePath.StartsWith("/results/", StringComparison.Ordinal));
        await page.Keyboard.PressAsync("b");
        await Infrastructure.Browser.WaitForUrlAsync(page, url => new Uri(url).AbsolutePath == "/");
        await page.CloseAsync();
    }
}
