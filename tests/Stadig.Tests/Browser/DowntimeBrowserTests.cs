using Dapper;
using Microsoft.Playwright;
using Stadig.Downtime;
using Stadig.Organisation;
using Stadig.Storage;
using Stadig.Tests.Downtime;

namespace Stadig.Tests.Browser;

/// <summary>
/// Downtime in a real browser (issue 19): while the database refuses writes the note editor shows the
/// read-only banner and keeps what is typed in the browser, and sends it when writes return; then the
/// period the node saw is registered and a paper note is back-entered, and the note and the timeline
/// show it as back-entered at its time on the paper. The pages have no WCAG 2.1 AA violations.
/// </summary>
[Collection("Browser")]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class DowntimeBrowserTests
{
    private static async Task<IReadOnlyList<string>> AxeAsync(IPage page, string where) =>
        (await AccessibilityBrowserTests.AxeAsync(page, wcagOnly: true)).Select(v => $"{where}: {v.Id} ({v.Impact}, {v.Nodes}) {v.Help}: {v.Targets}").ToList();

    [Fact]
    public async Task Text_typed_in_read_only_mode_is_kept_and_saved_when_writes_return_and_a_paper_note_is_then_back_entered_and_marked()
    {
        await using var server = await StadigServer.StartAsync(DatabaseEngine.Sqlite, "--Stadig:Downtime:ProbeSeconds=1",
            $"--Stadig:Downtime:AuditSpoolFolder={Directory.CreateTempSubdirectory("stadig-spool-").FullName}");
        var (member, assignments) = await server.AddUserAsync("lena", "lösen");
        var (adminMember, adminAssignments) = await server.AddUserAsync("drift", "lösen", false, Role.Administrator);
        var admin = StadigServer.CallerFor(adminMember, adminAssignments[0]);
        var patientId = (await server.Patients.RegisterAsync(StadigServer.CallerFor(member, assignments[0]), "19121212-1212", new("Öström", "Anna"))).PatientId;
        var mode = server.Services.GetRequiredService<ReadOnlyMode>();
        var time = server.Services.GetRequiredService<Stadig.Common.RegionTime>();

        var (playwright, browser) = await Infrastructure.Browser.LaunchAsync();
        using var _p = playwright;
        await using var _b = browser;
        // The app's CSP forbids injected scripts: only this test's context bypasses it, for axe.
        await using var context = await browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = server.Address.ToString(), ViewportSize = new ViewportSize { Width = 1280, Height = 900 }, BypassCSP = true, Locale = "sv-SE",
        });
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(90_000);
        await Infrastructure.Browser.LogInAsync(page, "lena");
        var violations = new List<string>();

        await page.GotoAsync($"/patients/{patientId}");
        await page.SelectOptionAsync("#note-type", "Besöksanteckning");
        await page.ClickAsync("#new-note");
        await page.WaitForSelectorAsync("#note-editor");
        var noteId = Guid.Parse(new Uri(page.Url).AbsolutePath.Split('/')[2]);

        await RefusedWrites.RefuseAsync(DatabaseEngine.Sqlite, server.ConnectionString);
        const string typed = "Patienten mår bättre. Åter om två veckor.";
        try
        {
            await mode.ProbeAsync();
            Assert.False(server.Database.Writes.CanWrite);
            await page.ReloadAsync();
            await page.WaitForSelectorAsync("#read-only-banner:has-text('Stadig är i läsläge sedan')");
            await page.FocusAsync("textarea[data-keyword='Aktuellt']");
            await page.Keyboard.TypeAsync(typed);
            await page.WaitForSelectorAsync("#autosave-status:has-text('läsläge')");
            Assert.Equal(typed, await page.InputValueAsync("textarea[data-keyword='Aktuellt']"));
            var kept = await page.EvaluateAsync<string>($"() => localStorage.getItem('stadig.note.{noteId}')");
            Assert.Contains(typed, kept);
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("40-read-only-editor"), FullPage = true });
            violations.AddRange(await AxeAsync(page, "read-only editor"));
        }
        finally
        {
            await RefusedWrites.AcceptAsync(DatabaseEngine.Sqlite, server.ConnectionString);
        }

        // Writes are back: the editor's next try (after Retry-After) saves the text kept in the browser, and the browser copy goes.
        await mode.ProbeAsync();
        await page.WaitForSelectorAsync("#autosave-status:has-text('Sparat')");
        await using (var c = await server.Database.OpenUnscopedAsync())
            Assert.Equal(typed, await c.ExecuteScalarAsync<string>("SELECT text FROM note_keyword WHERE note_id = @noteId AND keyword = 'Aktuellt'", new { noteId }));
        await page.WaitForFunctionAsync($"() => localStorage.getItem('stadig.note.{noteId}') === null");
        await page.ReloadAsync();
        await page.WaitForSelectorAsync("#note-editor");
        Assert.Equal(0, await page.Locator("#read-only-banner").CountAsync());

        // The node suggested the period it saw; an administrator registers it, widened to the paper's minutes.
        var periods = server.Services.GetRequiredService<DowntimePeriods>();
        // Written by whichever probe saw writes return (the test's or the node's timer): waited for, not assumed.
        DowntimePeriod? suggestion = null;
        for (var deadline = DateTime.UtcNow.AddSeconds(60); suggestion is null && DateTime.UtcNow < deadline; await Task.Delay(50, TestContext.Current.CancellationToken))
            suggestion = (await periods.ListAsync()).SingleOrDefault(p => !p.IsRegistered && p.Cause == nameof(DowntimeCause.Database));
        Assert.NotNull(suggestion);
        var period = await periods.ConfirmAsync(admin, suggestion.Id, suggestion.StartedAt.AddMinutes(-30), suggestion.EndedAt, "Databasen gick i läsläge.");
        var onPaper = time.ToRegion(period.StartedAt.AddMinutes(5));

        // A note written on paper meanwhile is entered with its time on the paper.
        await page.GotoAsync($"/patients/{patientId}");
        await page.ClickAsync("#open-back-entry");
        await page.WaitForSelectorAsync("#period-list li");
        violations.AddRange(await AxeAsync(page, "back-entry"));
        await page.SelectOptionAsync("#be-note-type", "Daganteckning");
        await page.FillAsync("#be-note-at", onPaper.ToString("yyyy-MM-dd'T'HH:mm", System.Globalization.CultureInfo.InvariantCulture));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("41-back-entry"), FullPage = true });
        await page.ClickAsync("#be-start-note");
        await page.WaitForSelectorAsync("#back-entry-mark:has-text('Efterregistrerad anteckning')");
        Assert.Contains(onPaper.ToString("yyyy-MM-dd HH:mm", System.Globalization.CultureInfo.InvariantCulture), await page.InnerTextAsync("#back-entry-mark"));
        await page.FocusAsync("textarea[data-keyword='Aktuellt']");
        await page.Keyboard.TypeAsync("Enligt pappersjournalen: feber 38,5, fick paracetamol.");
        await page.WaitForSelectorAsync("#autosave-status:has-text('Sparat')");
        await page.ClickAsync("#sign");
        await page.WaitForSelectorAsync("[data-signed-note-id] >> text=feber 38,5");
        Assert.Contains("Efterregistrerad", await page.InnerTextAsync("#back-entry-mark"));
        violations.AddRange(await AxeAsync(page, "back-entered note"));

        // The timeline shows it at the paper's time, with the mark in words.
        await page.GotoAsync($"/patients/{patientId}/timeline?kind=Note");
        var row = page.Locator("#timeline tbody tr", new() { HasText = "Efterregistrerad" });
        await row.WaitForAsync();
        Assert.Contains(onPaper.ToString("yyyy-MM-dd HH:mm", System.Globalization.CultureInfo.InvariantCulture), await row.InnerTextAsync());
        Assert.Contains("Test lena", await row.InnerTextAsync());
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("42-back-entry-timeline"), FullPage = true });
        violations.AddRange(await AxeAsync(page, "timeline"));

        Assert.Empty(violations);
    }
}
