using Dapper;
using Microsoft.Playwright;
using Stadig.Storage;

namespace Stadig.Tests.Browser;

/// <summary>Writing a note in a real browser: autosave, a server that goes away mid-typing, restore, sign, amend.</summary>
// One browser test at a time: each drives a real Chromium, and running them together only slows all.
[Collection("Browser")]
public class NoteBrowserTests
{
    private static async Task<string> StoredTextAsync(Database database, Guid noteId, string keyword)
    {
        await using var c = await database.OpenUnscopedAsync();
        return await c.ExecuteScalarAsync<string>("SELECT text FROM note_keyword WHERE note_id = @noteId AND keyword = @keyword", new { noteId, keyword }) ?? "";
    }

    [Fact]
    [Hazard("H-03")]
    public async Task Typed_text_survives_a_server_restart_mid_typing_is_signed_byte_exact_and_amended_with_history()
    {
        var server = await StadigServer.StartAsync(DatabaseEngine.Sqlite);
        var (member, assignments) = await server.AddUserAsync("lena", "lösen");
        var patientId = (await server.Patients.RegisterAsync(StadigServer.CallerFor(member, assignments[0]), "19121212-1212", new("Öström", "Anna"))).PatientId;
        await using var browser = await Infrastructure.Browser.OpenAsync(server.Address);
        var page = browser.Page;
        await Infrastructure.Browser.LogInAsync(page, "lena");
        await page.GotoAsync($"/patients/{patientId}");
        await page.SelectOptionAsync("#note-type", "Besöksanteckning");
        await page.ClickAsync("#new-note");
        await page.WaitForSelectorAsync("#note-editor");
        var noteId = Guid.Parse(new Uri(page.Url).AbsolutePath.Split('/')[2]);

        // Every character class, set at once (a typed tab would move focus), then saved when typing pauses.
        await page.FillAsync("textarea[data-keyword='Aktuellt']", Stadig.Tests.Notes.NoteLifecycleTests.Fidelity);
        await page.WaitForSelectorAsync("#autosave-status:has-text('Sparat')");
        Assert.Equal(Stadig.Tests.Notes.NoteLifecycleTests.Fidelity, await StoredTextAsync(server.Database, noteId, "Aktuellt"));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("10-note-editor"), FullPage = true });

        // The server goes away while the physician keeps typing.
        var address = server.Address;
        var connectionString = server.ConnectionString;
        await server.DisposeAsync();
        await page.FocusAsync("textarea[data-keyword='Bedömning']");
        await page.Keyboard.TypeAsync("Ingen misstanke om fraktur. Inga tecken på infektion.");
        await page.WaitForSelectorAsync("#autosave-status:has-text('Ingen kontakt')");

        // Restarted on the same database and address: reopening the note brings the text back and saves it.
        await using var restarted = await StadigServer.StartOnAsync(connectionString, $"http://{address.Authority}");
        await page.ReloadAsync();
        await page.WaitForSelectorAsync("#restored");
        Assert.Equal("Ingen misstanke om fraktur. Inga tecken på infektion.", await page.InputValueAsync("textarea[data-keyword='Bedömning']"));
        await page.WaitForSelectorAsync("#autosave-status:has-text('Sparat')");
        Assert.Equal("Ingen misstanke om fraktur. Inga tecken på infektion.", await StoredTextAsync(restarted.Database, noteId, "Bedömning"));
        Assert.Equal(Stadig.Tests.Notes.NoteLifecycleTests.Fidelity, await StoredTextAsync(restarted.Database, noteId, "Aktuellt"));

        // Sign: the signed view shows exactly the stored text.
        await page.ClickAsync("#sign");
        await page.WaitForSelectorAsync(".note-view");
        var shown = await page.Locator("pre.note-text").First.TextContentAsync();
        Assert.Equal(Stadig.Tests.Notes.NoteLifecycleTests.Fidelity, shown);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("11-note-signed"), FullPage = true });

        // Amend: a new version, and the history shows what changed.
        await page.ClickAsync("#amend");
        await page.WaitForSelectorAsync("#note-editor");
        await page.FillAsync("textarea[data-keyword='Bedömning']", "Ingen misstanke om fraktur. Lätt svullnad över laterala malleolen.");
        await page.ClickAsync("#sign");
        await page.WaitForSelectorAsync(".note-view");
        await page.Locator(".note-view a", new() { HasTextString = "Versionshistorik" }).ClickAsync();
        await page.WaitForSelectorAsync("#version-2");
        Assert.Contains("Lätt", await page.Locator("#version-2 ins").AllTextContentsAsync() is var added ? string.Join("", added) : "");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("12-note-history"), FullPage = true });
    }
}

/// <summary>The network drops while typing, and keyboard-only work: the paths a clinician takes when the mouse is too slow.</summary>
[Collection("Browser")]
public class NoteOfflineAndKeyboardBrowserTests
{
    private static async Task<(StadigServer Server, BrowserPage Browser, IPage Page, Guid PatientId)> StartAsync()
    {
        var server = await StadigServer.StartAsync(DatabaseEngine.Sqlite);
        var (member, assignments) = await server.AddUserAsync("lena", "lösen");
        var patientId = (await server.Patients.RegisterAsync(StadigServer.CallerFor(member, assignments[0]), "19121212-1212", new("Öström", "Anna"))).PatientId;
        var browser = await Infrastructure.Browser.OpenAsync(server.Address);
        var page = browser.Page;
        await Infrastructure.Browser.LogInAsync(page, "lena");
        return (server, browser, page, patientId);
    }

    [Fact]
    [Hazard("H-03")]
    public async Task Typing_on_while_the_browser_is_offline_syncs_the_draft_when_the_network_returns()
    {
        var (server, browser, page, patientId) = await StartAsync();
        await using var _s = server;
        await using var _b = browser;
        await page.GotoAsync($"/patients/{patientId}");
        await page.ClickAsync("#new-note");
        await page.WaitForSelectorAsync("#note-editor");
        var noteId = Guid.Parse(new Uri(page.Url).AbsolutePath.Split('/')[2]);

        await page.Context.SetOfflineAsync(true);
        await page.FocusAsync("textarea[data-keyword='Aktuellt']");
        await page.Keyboard.TypeAsync("Skriver utan nätverk: inga bröstsmärtor.");
        await page.WaitForSelectorAsync("#autosave-status:has-text('Ingen kontakt')");

        await page.Context.SetOfflineAsync(false);
        await page.WaitForSelectorAsync("#autosave-status:has-text('Sparat')");
        await using var c = await server.Database.OpenUnscopedAsync();
        Assert.Equal("Skriver utan nätverk: inga bröstsmärtor.", await c.ExecuteScalarAsync<string>(
            "SELECT text FROM note_keyword WHERE note_id = @noteId AND keyword = 'Aktuellt'", new { noteId }));
    }

    [Fact]
    public async Task A_clinician_goes_from_search_to_chart_to_a_new_signed_note_with_the_keyboard_only()
    {
        var (server, browser, page, patientId) = await StartAsync();
        await using var _s = server;
        await using var _b = browser;

        // Search: type, Enter; arrow into the results, Enter opens the chart.
        await page.FocusAsync("#q");
        await page.Keyboard.TypeAsync("ostrom");
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForSelectorAsync("#search-results");
        await page.Keyboard.PressAsync("/");
        await page.Keyboard.PressAsync("ArrowDown");
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForSelectorAsync(".patient-banner");
        Assert.EndsWith($"/patients/{patientId}", page.Url);

        // New note: Tab to the note type, then to the button, Enter.
        await page.FocusAsync("#note-type");
        await page.Keyboard.PressAsync("Tab");
        Assert.Equal("new-note", await page.EvaluateAsync<string>("document.activeElement.id"));
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForSelectorAsync("#note-editor");

        // Write under the first keyword, Tab onward to the sign button, Enter.
        await page.FocusAsync("textarea[data-keyword='Aktuellt']");
        await page.Keyboard.TypeAsync("Kontroll efter fall. Ingen smärta.");
        for (var presses = 0; presses < 30 && await page.EvaluateAsync<string>("document.activeElement.id") != "sign"; presses++)
            await page.Keyboard.PressAsync("Tab");
        Assert.Equal("sign", await page.EvaluateAsync<string>("document.activeElement.id"));
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForSelectorAsync(".note-view");
        Assert.Equal("Kontroll efter fall. Ingen smärta.", await page.Locator("pre.note-text").First.TextContentAsync());
    }
}
