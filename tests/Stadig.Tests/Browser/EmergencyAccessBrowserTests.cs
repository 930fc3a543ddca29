using Dapper;
using Microsoft.Playwright;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Tests.Browser;

/// <summary>Emergency access (nödöppning) in a real browser: both steps through the pages, then the log auditor's review of it.</summary>
[Collection("Browser")]
public class EmergencyAccessBrowserTests
{
    [Fact]
    public async Task A_physician_opens_a_record_in_two_steps_and_a_log_auditor_finds_and_reviews_it()
    {
        await using var server = await StadigServer.StartAsync(DatabaseEngine.Sqlite);
        await server.AddUserAsync("lena", "lösen");
        var (other, otherAssignments) = await server.AddUserAsync("otto", "lösen");
        var otto = StadigServer.CallerFor(other, otherAssignments[0]);
        var (auditor, _) = await server.AddUserAsync("gunnar", "lösen", false, Role.LogAuditor);
        var patientId = (await server.Patients.RegisterAsync(otto, "19121212-1212", new("Öberg", "Lina"))).PatientId;
        await server.Services.GetRequiredService<Stadig.Warnings.PatientWarnings>().AddAsync(otto, patientId, new("Hypersensitivity", "Penicillin", "Penicillin", "Utslag"));

        var (playwright, browser) = await Infrastructure.Browser.LaunchAsync();
        using var _p = playwright;
        await using var _b = browser;
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { BaseURL = server.Address.ToString() });
        page.SetDefaultTimeout(90_000);
        await LogInAsync(page, "lena");

        // No care relation: not found; the way in is emergency access.
        await page.GotoAsync($"/patients/{patientId}");
        await page.ClickAsync($"a[href='/patients/{patientId}/emergency']");
        await Infrastructure.Browser.WaitForUrlAsync(page, url => new Uri(url).AbsolutePath == $"/patients/{patientId}/emergency");
        Assert.Equal(0, await page.Locator("#open-emergency").CountAsync());

        // Step one: where, not what.
        await page.ClickAsync("#reveal");
        await page.WaitForSelectorAsync("#hidden-records li");
        Assert.Contains(otto.UnitHsaId[^4..], await page.Locator("#hidden-records").TextContentAsync());
        Assert.DoesNotContain("Penicillin", await page.ContentAsync());

        // Step two: a reason, then the record opens.
        await page.FillAsync("#emergency-reason", "Medvetslös, inkommen med ambulans");
        await page.ClickAsync("#open-emergency");
        await Infrastructure.Browser.WaitForUrlAsync(page, url => new Uri(url).AbsolutePath == $"/patients/{patientId}");
        await page.WaitForSelectorAsync("text=Journalen är öppnad med nödåtkomst");
        Assert.Contains("Penicillin", await page.Locator("#warnings").TextContentAsync());
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("30-emergency-opened"), FullPage = true });

        // Reviewed afterwards: the log auditor's flagged events show the opening; they review it.
        var review = await browser.NewPageAsync(new BrowserNewPageOptions { BaseURL = server.Address.ToString() });
        review.SetDefaultTimeout(90_000);
        await LogInAsync(review, "gunnar", landing: "/audit");
        await review.GotoAsync($"/audit?patient={patientId}&flagged=true");
        var row = review.Locator("#audit-results tbody tr", new() { HasTextString = "Nödöppning" });
        await row.WaitForAsync();
        Assert.Equal(1, await review.Locator("#audit-results tbody tr", new() { HasTextString = "EmergencyReveal" }).CountAsync());
        await row.Locator("a.review-link").ClickAsync();
        await review.WaitForSelectorAsync("#review-comment");
        await review.FillAsync("#review-comment", "Akut omhändertagande, befogad.");
        await review.ClickAsync("#mark-reviewed");
        await review.WaitForSelectorAsync("#audit-reviews li.review");
        await review.GotoAsync($"/audit?patient={patientId}&flagged=true");
        var reviewed = review.Locator("#audit-results tbody tr", new() { HasTextString = "Nödöppning" });
        await reviewed.Locator(".badge-reviewed").WaitForAsync();
        await review.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("31-emergency-reviewed"), FullPage = true });

        await using var c = await server.Database.OpenUnscopedAsync();
        Assert.Equal(1, await c.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM audit_review r JOIN audit_event e ON e.id = r.audit_event_id WHERE e.patient_id = @patientId AND e.activity = 'EmergencyOpen' AND r.reviewed_by = @auditor",
            new { patientId, auditor = auditor.Id }));
    }

    private static async Task LogInAsync(IPage page, string username, string landing = "/")
    {
        await page.GotoAsync("/login");
        await page.FillAsync("#username", username);
        await page.FillAsync("#password", "lösen");
        await page.Keyboard.PressAsync("Enter");
        await Infrastructure.Browser.WaitForUrlAsync(page, url => new Uri(url).AbsolutePath == landing || new Uri(url).AbsolutePath == "/");
    }
}
