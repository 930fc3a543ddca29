using System.Globalization;
using Dapper;
using Microsoft.Playwright;
using Stadig.Organisation;

namespace Stadig.Tests.Browser;

/// <summary>
/// The clinician's screens in a real browser: discharge is a form with a confirmation and an undo, a
/// printout is logged before it prints, a text over its limit is told and kept, the worklist names
/// its patients and lets an empty draft go, and a nurse gets nursing templates.
/// </summary>
// One browser test at a time: each drives a real Chromium, and running them together only slows all.
[Collection("Browser")]
public class ClinicianScreensBrowserTests
{
    private static string WallClock(StadigServer server, DateTimeOffset instant) =>
        server.Services.GetRequiredService<Stadig.Common.RegionTime>().ToRegion(instant).ToString("yyyy-MM-dd'T'HH:mm", CultureInfo.InvariantCulture);

    [Fact]
    public async Task Discharge_is_a_form_with_time_destination_warnings_and_a_confirmation_and_it_can_be_undone()
    {
        var pages = await ChartPages.CreateAsync();
        await using var _s = pages.Server;
        await using var browser = await Infrastructure.Browser.OpenAsync(pages.Server.Address);
        var page = browser.Page;
        await ChartPages.LogInAsync(page);

        // A note of this stay, left unsigned.
        await page.GotoAsync($"/patients/{pages.PatientId}");
        await page.SelectOptionAsync("#note-type", "Inskrivningsanteckning");
        await page.ClickAsync("#new-note");
        await page.WaitForSelectorAsync("#note-editor");
        await page.GotoAsync($"/patients/{pages.PatientId}");
        Assert.Equal("Skriv ut patient", (await page.InnerTextAsync("#discharge")).Trim());
        await page.ClickAsync("#discharge");
        await page.WaitForSelectorAsync("#discharge-form");
        // What is still open for this stay: the unsigned day note, and no discharge summary.
        Assert.Contains("Inskrivningsanteckning", await page.InnerTextAsync("#unsigned-warning + ul"));
        Assert.True(await page.IsVisibleAsync("#epikris-warning"));
        Assert.False(string.IsNullOrEmpty(await page.InputValueAsync("#discharge-at")));

        await page.FillAsync("#discharge-at", WallClock(pages.Server, DateTimeOffset.UtcNow.AddDays(1)));
        await page.CheckAsync("#destination-Home");
        await page.ClickAsync("#discharge-review");
        await page.WaitForSelectorAsync("#discharge-at-error");
        Assert.Contains("framtiden", await page.InnerTextAsync("#discharge-at-error"));

        await page.FillAsync("#discharge-at", WallClock(pages.Server, DateTimeOffset.UtcNow));
        await page.CheckAsync("#destination-Home");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("40-discharge-form"), FullPage = true });
        await page.ClickAsync("#discharge-review");
        await page.WaitForSelectorAsync("#discharge-confirm");
        Assert.Contains("Öström, Anna", await page.InnerTextAsync("#discharge-summary"));
        Assert.Contains("Hem", await page.InnerTextAsync("#discharge-summary"));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("41-discharge-confirm"), FullPage = true });
        // Reviewing changed nothing: the admission is still open.
        await using (var c = await pages.Server.Database.OpenUnscopedAsync())
            Assert.Equal(1, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM encounter WHERE patient_id = @p AND ended_at IS NULL", new { p = pages.PatientId }));

        await page.ClickAsync("#discharge-confirm-button");
        await page.WaitForSelectorAsync("#undo-discharge");
        await page.GotoAsync("/ward");
        await page.WaitForSelectorAsync("h1");
        Assert.DoesNotContain("Öström", await page.InnerTextAsync("main"));
        await page.GotoAsync($"/patients/{pages.PatientId}");
        await page.ClickAsync("#undo-discharge");
        await page.WaitForSelectorAsync("#encounter-saved:has-text('ångrad')");
        await page.GotoAsync("/ward");
        await page.WaitForSelectorAsync("#ward-list");
        Assert.Contains("Öström, Anna", await page.InnerTextAsync("#ward-list"));
    }

    [Fact]
    public async Task The_print_button_logs_the_printout_and_then_prints()
    {
        var pages = await ChartPages.CreateAsync();
        await using var _s = pages.Server;
        // The browser's print dialog is replaced by a counter: what matters is that print is called, after the log.
        await using var browser = await Infrastructure.Browser.OpenAsync(pages.Server.Address, "window.print = () => { window.__printed = (window.__printed || 0) + 1; };");
        var page = browser.Page;
        await ChartPages.LogInAsync(page);

        await page.GotoAsync($"/notes/{pages.SignedNoteId}");
        await page.WaitForSelectorAsync("#print:visible");
        Assert.Equal("🖨 Skriv ut på papper", (await page.InnerTextAsync("#print")).Trim());
        await page.ClickAsync("#print");
        await page.WaitForFunctionAsync("() => window.__printed === 1");

        await using var c = await pages.Server.Database.OpenUnscopedAsync();
        Assert.Equal(1, await c.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM audit_event WHERE patient_id = @p AND activity = 'Print' AND resource = 'Note' AND outcome = 'Allowed'", new { p = pages.PatientId }));
    }

    [Fact]
    public async Task A_text_over_the_limit_is_told_by_field_and_limit_kept_in_the_browser_and_saved_once_it_fits()
    {
        var pages = await ChartPages.CreateAsync();
        await using var _s = pages.Server;
        await using var browser = await Infrastructure.Browser.OpenAsync(pages.Server.Address);
        var page = browser.Page;
        await ChartPages.LogInAsync(page);
        var max = Stadig.Notes.ClinicalNotes.MaxKeywordLength;
        var tooLong = string.Concat(Enumerable.Repeat("Andningsbesvär. ", max / 16 + 1))[..(max + 5)];

        await page.GotoAsync($"/notes/{pages.DraftNoteId}");
        await page.WaitForSelectorAsync("#note-editor");
        await page.FillAsync("textarea[data-keyword='Aktuellt']", tooLong);

        // The reason, in the page's language, naming the field and the limit; not a bare status code.
        await page.WaitForSelectorAsync("#autosave-status:has-text('Aktuellt')");
        var said = await page.InnerTextAsync("#autosave-status");
        Assert.Contains($"{max + 5} tecken", said);
        Assert.Contains($"högst {max}", said);
        Assert.Contains("med 5 tecken", said);
        Assert.DoesNotContain("(400)", said);
        Assert.Contains("over", await page.GetAttributeAsync("#kw-0-count", "class") ?? "");
        Assert.Equal("true", await page.GetAttributeAsync("textarea[data-keyword='Aktuellt']", "aria-invalid"));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("42-note-over-limit"), FullPage = false });

        // Nothing lost: after a reload the whole text comes back from the browser.
        await page.ReloadAsync();
        await page.WaitForSelectorAsync("#restored");
        Assert.Equal(tooLong, await page.InputValueAsync("textarea[data-keyword='Aktuellt']"));
        await page.WaitForSelectorAsync("#autosave-status:has-text('Aktuellt')");

        // Shortened to fit: saved.
        await page.FillAsync("textarea[data-keyword='Aktuellt']", tooLong[..max]);
        await page.WaitForSelectorAsync("#autosave-status:has-text('Sparat')");
        await using var c = await pages.Server.Database.OpenUnscopedAsync();
        Assert.Equal(tooLong[..max], await c.ExecuteScalarAsync<string>("SELECT text FROM note_keyword WHERE note_id = @n AND keyword = 'Aktuellt'", new { n = pages.DraftNoteId }));
    }

    [Fact]
    public async Task The_worklist_names_each_patient_and_an_own_empty_draft_can_be_discarded()
    {
        var pages = await ChartPages.CreateAsync();
        await using var _s = pages.Server;
        await using var browser = await Infrastructure.Browser.OpenAsync(pages.Server.Address);
        var page = browser.Page;
        await ChartPages.LogInAsync(page);

        await page.GotoAsync("/worklist");
        await page.WaitForSelectorAsync("#worklist");
        var row = page.Locator($"#worklist tr[data-note-id='{pages.DraftNoteId}']");
        Assert.Contains("Öström, Anna", await row.InnerTextAsync());
        Assert.Contains("19121212-1212", await row.InnerTextAsync());
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("43-worklist"), FullPage = true });

        await row.Locator("button.discard-draft").ClickAsync();
        await page.WaitForSelectorAsync("#draft-discarded");
        Assert.Equal(0, await page.Locator($"tr[data-note-id='{pages.DraftNoteId}']").CountAsync());
        await using var c = await pages.Server.Database.OpenUnscopedAsync();
        Assert.Equal(1, await c.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM audit_event WHERE patient_id = @p AND activity = 'Delete' AND outcome = 'Allowed'", new { p = pages.PatientId }));
    }

    [Fact]
    public async Task A_nurse_is_offered_the_nursing_templates_and_writes_under_the_vips_keywords()
    {
        var pages = await ChartPages.CreateAsync();
        await using var _s = pages.Server;
        var (member, assignments) = await pages.Server.AddUserAsync("sara", "lösen", false, Role.Nurse);
        var patient = (await pages.Server.Patients.RegisterAsync(StadigServer.CallerFor(member, assignments[0]), TestNumbers.Personnummer(1950, 5, 5), new("Berg", "Bo"))).PatientId;
        await using var browser = await Infrastructure.Browser.OpenAsync(pages.Server.Address);
        var page = browser.Page;
        await Infrastructure.Browser.LogInAsync(page, "sara");

        await page.GotoAsync($"/patients/{patient}");
        var offered = await page.Locator("#note-type option").AllInnerTextsAsync();
        Assert.Contains("Omvårdnadsanteckning", offered);
        Assert.DoesNotContain("Epikris", offered);
        Assert.DoesNotContain("Inskrivningsanteckning", offered);
        await page.SelectOptionAsync("#note-type", "Omvårdnadsanteckning");
        await page.ClickAsync("#new-note");
        await page.WaitForSelectorAsync("#note-editor");
        Assert.Equal(["Omvårdnadsstatus", "Omvårdnadsdiagnos", "Mål", "Omvårdnadsåtgärd", "Omvårdnadsresultat"],
            await page.Locator("#note-editor .keyword label").AllInnerTextsAsync());
    }
}
