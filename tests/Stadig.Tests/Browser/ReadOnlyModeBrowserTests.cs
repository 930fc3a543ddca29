using Dapper;
using Microsoft.Playwright;
using Stadig.Storage;
using Stadig.Tests.Downtime;

namespace Stadig.Tests.Browser;

/// <summary>Writing a note while the database refuses writes: the banner, the text kept in the browser, and saved when writes return.</summary>
[Collection("Browser")]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class ReadOnlyModeBrowserTests
{
    [Fact]
    public async Task The_editor_shows_the_read_only_banner_keeps_the_typed_text_and_saves_it_once_writes_return()
    {
        await using var server = await StadigServer.StartAsync(DatabaseEngine.Sqlite, "--Stadig:Downtime:ProbeSeconds=1",
            $"--Stadig:Downtime:AuditSpoolFolder={Directory.CreateTempSubdirectory("stadig-spool-").FullName}");
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
        var mode = server.Services.GetRequiredService<Stadig.Downtime.ReadOnlyMode>();

        await RefusedWrites.RefuseAsync(DatabaseEngine.Sqlite, server.ConnectionString);
        const string typed = "Patienten mår bättre. Åter om två veckor.";
        try
        {
            await mode.ProbeAsync();
            await page.ReloadAsync();
            try { await page.WaitForSelectorAsync("#read-only-banner:has-text('Stadig är i läsläge sedan')", new() { Timeout = 10_000 }); }
            catch (TimeoutException) { await File.WriteAllTextAsync("/tmp/ro-page.html", await page.ContentAsync() + "\n" + server.Database.Writes.Cause); throw; }
            await page.FocusAsync("textarea[data-keyword='Aktuellt']");
            await page.Keyboard.TypeAsync(typed);
            await page.WaitForSelectorAsync("#autosave-status:has-text('läsläge')");
            Assert.Equal(typed, await page.InputValueAsync("textarea[data-keyword='Aktuellt']"));
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("40-read-only-editor"), FullPage = true });
        }
        finally
        {
            await RefusedWrites.AcceptAsync(DatabaseEngine.Sqlite, server.ConnectionString);
        }

        // Writes are back: the editor's next try (after Retry-After) saves the text kept in the browser.
        await mode.ProbeAsync();
        await page.WaitForSelectorAsync("#autosave-status:has-text('Sparat')", new() { Timeout = 30_000 });
        await using var c = await server.Database.OpenUnscopedAsync();
        Assert.Equal(typed, await c.ExecuteScalarAsync<string>("SELECT text FROM note_keyword WHERE note_id = @noteId AND keyword = 'Aktuellt'", new { noteId }));
        await page.ReloadAsync();
        Assert.Equal(0, await page.Locator("#read-only-banner").CountAsync());
    }
}
