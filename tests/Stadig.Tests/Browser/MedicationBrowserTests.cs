using Microsoft.Playwright;
using Stadig.Storage;

namespace Stadig.Tests.Browser;

/// <summary>
/// Prescribing in a real browser, by keyboard: a physician finds the product in the catalogue, the
/// allergy check stands on the page before anything is signed, the override needs a reason, and the
/// list, the history and the printout show the prescription with its warning; the medication pages
/// have no WCAG 2.1 AA violations.
/// </summary>
[Collection("Browser")]
public class MedicationBrowserTests
{
    private static async Task<IReadOnlyList<string>> AxeAsync(IPage page, string where) =>
        (await AccessibilityBrowserTests.AxeAsync(page, wcagOnly: true)).Select(v => $"{where}: {v.Id} ({v.Impact}, {v.Nodes}) {v.Help}: {v.Targets}").ToList();

    [Fact]
    public async Task A_physician_prescribes_from_the_catalogue_by_keyboard_sees_the_allergy_check_overrides_with_a_reason_and_the_list_shows_it()
    {
        await using var server = await StadigServer.StartAsync(DatabaseEngine.Sqlite);
        var (member, assignments) = await server.AddUserAsync("lena", "lösen");
        var caller = StadigServer.CallerFor(member, assignments[0]);
        var patientId = (await server.Patients.RegisterAsync(caller, "19121212-1212", new("Öström", "Anna"))).PatientId;
        await server.Services.GetRequiredService<Stadig.Encounters.PatientEncounters>().AdmitAsync(caller, patientId, caller.UnitId, "12");
        await server.Services.GetRequiredService<Stadig.Warnings.PatientWarnings>().AddAsync(caller, patientId,
            new("Hypersensitivity", "", "Paracetamol", "Urtikaria", "Harmful", "Confirmed"));
        await server.Services.GetRequiredService<Stadig.Medication.ProductCatalogue>().SeedIfEmptyAsync();

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

        // The chart leads to the list; the list to prescribing.
        await page.GotoAsync($"/patients/{patientId}");
        await page.ClickAsync("#open-medication");
        await page.WaitForSelectorAsync(".patient-banner");
        await page.ClickAsync("#prescribe-link");

        // Search by keyboard: the search field has the focus, Enter searches, the first match has the focus, Enter picks it.
        await page.WaitForSelectorAsync("#product-query:focus");
        await page.Keyboard.TypeAsync("alvedon 500");
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForSelectorAsync("#product-matches a:focus");
        Assert.Contains("Alvedon 500 mg", await page.EvaluateAsync<string>("() => document.activeElement.textContent"));
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForSelectorAsync("#dose-value:focus");
        Assert.Contains("Alvedon 500 mg", await page.InnerTextAsync("#prescription-h"));

        await page.Keyboard.TypeAsync("2");
        await page.FocusAsync("#times-of-day");
        await page.Keyboard.TypeAsync("08:00, 14:00, 20:00");
        await page.FocusAsync("#indication");
        await page.Keyboard.TypeAsync("Smärta efter operation");
        await page.Keyboard.PressAsync("Enter");

        // The check before signing: nothing is saved, the finding and the reason field stand on the page.
        var checks = await page.WaitForSelectorAsync("#prescribing-checks");
        var checkText = await checks!.InnerTextAsync();
        Assert.Contains("Överkänslighet mot substansen", checkText);
        Assert.Contains("Paracetamol", checkText);
        Assert.Equal("Signera trots varningarna", (await page.InnerTextAsync("#sign-prescription")).Trim());
        await page.WaitForSelectorAsync("#override-reason:focus");
        Assert.Equal("2", await page.InputValueAsync("#dose-value"));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("50-medication-prescribe-checks"), FullPage = true });
        violations.AddRange(await AxeAsync(page, "prescribe with checks"));
        Assert.Empty(await server.Services.GetRequiredService<Stadig.Medication.MedicationList>().ListAsync(caller, patientId));

        await page.Keyboard.TypeAsync("Tålt paracetamol 2025, urtikarian kom av annat");
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForURLAsync(url => new Uri(url).AbsolutePath == $"/patients/{patientId}/medication");

        var list = await page.InnerTextAsync("#current-medications");
        Assert.Contains("Alvedon 500 mg filmdragerad tablett", list);
        Assert.Contains("2 tablett kl. 08:00, 14:00, 20:00", list);
        Assert.Contains("Ordinerat trots varning: Överkänslighet mot substansen", list);
        Assert.Contains("Ordinerat här", list);
        Assert.Contains("Test lena", list);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("51-medication-list"), FullPage = true });
        violations.AddRange(await AxeAsync(page, "list"));

        // The history keeps the reason; the printout lists the prescription under the patient banner.
        await page.ClickAsync("#current-medications a");
        var history = await page.InnerTextAsync("#medication-history");
        Assert.Contains("Skäl: Tålt paracetamol 2025, urtikarian kom av annat", history);
        violations.AddRange(await AxeAsync(page, "history"));
        await page.GotoAsync($"/patients/{patientId}/medication/print");
        Assert.Contains("Alvedon 500 mg filmdragerad tablett", await page.InnerTextAsync("#print-current"));
        Assert.Contains("Öström", await page.InnerTextAsync(".patient-banner"));
        await page.WaitForSelectorAsync("#print:visible");
        violations.AddRange(await AxeAsync(page, "print"));

        Assert.True(violations.Count == 0, string.Join("\n", violations));
    }
}
