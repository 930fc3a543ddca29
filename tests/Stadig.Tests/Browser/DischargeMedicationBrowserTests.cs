using Microsoft.Playwright;
using Stadig.Medication;
using Stadig.Notes;
using Stadig.Storage;

namespace Stadig.Tests.Browser;

/// <summary>
/// Discharge medication in a real browser: from the discharge page the physician reconciles each
/// ordination (continue, stop) with a reason — an incomplete decision writes nothing — and the
/// reconciled list is printed with the signed discharge summary; both pages have no WCAG 2.1 AA violations.
/// </summary>
[Collection("Browser")]
public class DischargeMedicationBrowserTests
{
    private static async Task<IReadOnlyList<string>> AxeAsync(IPage page, string where) =>
        (await AccessibilityBrowserTests.AxeAsync(page, wcagOnly: true)).Select(v => $"{where}: {v.Id} ({v.Impact}, {v.Nodes}) {v.Help}: {v.Targets}").ToList();

    [Fact]
    public async Task A_physician_reconciles_each_ordination_at_discharge_with_a_reason_and_the_discharge_summary_prints_the_reconciled_list()
    {
        await using var server = await StadigServer.StartAsync(DatabaseEngine.Sqlite);
        var (member, assignments) = await server.AddUserAsync("lena", "lösen");
        var caller = StadigServer.CallerFor(member, assignments[0]);
        var patientId = (await server.Patients.RegisterAsync(caller, "19121212-1212", new("Öström", "Anna"))).PatientId;
        await server.Services.GetRequiredService<Stadig.Encounters.PatientEncounters>().AdmitAsync(caller, patientId, caller.UnitId, "12");
        var catalogue = server.Services.GetRequiredService<ProductCatalogue>();
        await catalogue.SeedIfEmptyAsync();
        var medication = server.Services.GetRequiredService<MedicationList>();
        async Task<MedicationOrder> PrescribeAsync(string query, string name, params string[] times) =>
            await medication.PrescribeAsync(caller, patientId, new MedicationDraft
            {
                ProductId = (await catalogue.SearchAsync(query)).First(p => p.Display.StartsWith(name, StringComparison.Ordinal)).Id,
                DoseValue = 1, DoseUnit = "tablett", Indication = "Smärta",
                TimesOfDay = times.Select(t => TimeOnly.Parse(t, System.Globalization.CultureInfo.InvariantCulture)).ToList(),
            });
        var alvedon = await PrescribeAsync("alvedon 500", "Alvedon 500 mg", "08:00", "20:00");
        var losec = await PrescribeAsync("losec 20", "Losec 20 mg", "08:00");
        // Another system's current warfarin, as it sent it (ATC-coded): reconciled beside it, never changed.
        var waran = await Stadig.Tests.Medication.MedicationListTests.ForeignAsync(server.Database, patientId, caller.UnitId, "MedicationRequest",
            Stadig.Tests.Medication.MedicationListTests.Coded("Waran 2,5 mg", "http://www.whocc.no/atc", "B01AA03"), source: "urn:system:vc-norr");

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

        // The discharge page leads to the reconciliation.
        await page.GotoAsync($"/patients/{patientId}/discharge");
        await page.ClickAsync("#discharge-medication-link a");
        await page.WaitForSelectorAsync("#reconciliation-form");
        Assert.Contains("0 av 3 ordinationer avstämda", await page.InnerTextAsync("#reconciliation-progress"));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("61-discharge-medication"), FullPage = true });
        violations.AddRange(await AxeAsync(page, "reconciliation"));

        // Alvedon continues, Losec is stopped; the stop's reason is missing at first: nothing is written.
        var alvedonSet = page.Locator($"fieldset[data-order-id='{alvedon.Id}']");
        var losecSet = page.Locator($"fieldset[data-order-id='{losec.Id}']");
        await alvedonSet.GetByLabel("Fortsätter", new() { Exact = true }).CheckAsync();
        await alvedonSet.GetByLabel("Skäl", new() { Exact = true }).FillAsync("Smärta kvarstår, fortsätter hemma");
        await losecSet.GetByLabel("Sätts ut", new() { Exact = true }).CheckAsync();
        await page.ClickAsync("#save-reconciliation");
        var errors = await page.WaitForSelectorAsync("#reconciliation-errors");
        Assert.Contains("Ange skäl för beslutet.", await errors!.InnerTextAsync());
        Assert.All((await new DischargeReconciliation(medication, server.Services.GetRequiredService<Stadig.Access.PatientCheckpoint>())
            .ViewAsync(caller, patientId)).Orders, o => Assert.Null(o.Decision));
        violations.AddRange(await AxeAsync(page, "reconciliation with errors"));

        await page.Locator($"fieldset[data-order-id='{losec.Id}']").GetByLabel("Skäl", new() { Exact = true }).FillAsync("Ingen indikation efter operationen");
        var waranSet = page.Locator($"fieldset[data-resource='{waran}']");
        await waranSet.GetByLabel("Ändras", new() { Exact = true }).CheckAsync();
        await waranSet.GetByLabel("Skäl", new() { Exact = true }).FillAsync("INR 3,8 vid utskrivning");
        await waranSet.Locator("input[name$='DosageAfter']").FillAsync("2,5 mg varannan dag, nytt INR om en vecka");
        await page.Locator($"fieldset[data-order-id='{alvedon.Id}']").GetByLabel("Fortsätter", new() { Exact = true }).CheckAsync();
        await page.Locator($"fieldset[data-order-id='{losec.Id}']").GetByLabel("Sätts ut", new() { Exact = true }).CheckAsync();
        await page.ClickAsync("#save-reconciliation");
        await page.WaitForSelectorAsync("#reconciliation-saved");
        Assert.Contains("3 av 3 ordinationer avstämda", await page.InnerTextAsync("#reconciliation-progress"));
        var reconciled = await page.InnerTextAsync("#reconciled-medication");
        Assert.Contains("Fortsätter", reconciled);
        Assert.Contains("Sätts ut", reconciled);
        Assert.Contains("Ingen indikation efter operationen", reconciled);
        Assert.Contains("Waran 2,5 mg", reconciled);
        Assert.Contains("urn:system:vc-norr", reconciled);
        Assert.Contains("2,5 mg varannan dag, nytt INR om en vecka", reconciled);
        Assert.Equal(0, await page.Locator("#reconciliation-form").CountAsync());
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("62-discharge-medication-reconciled"), FullPage = true });
        violations.AddRange(await AxeAsync(page, "reconciled"));

        // The signed discharge summary carries the reconciled list, on screen and on paper.
        var notes = server.Services.GetRequiredService<ClinicalNotes>();
        var draft = await notes.CreateDraftAsync(caller, patientId, NoteTypes.DischargeSummary);
        draft = await notes.SaveDraftAsync(caller, draft.Id, draft.Version, [new NoteKeyword("Sammanfattning", "Opererad, utskrivs till hemmet.")]);
        var note = await notes.SignAsync(caller, draft.Id, draft.Version);
        await page.GotoAsync($"/notes/{note.Id}");
        await page.EmulateMediaAsync(new PageEmulateMediaOptions { Media = Media.Print });
        var printed = page.Locator("#discharge-medication");
        Assert.True(await printed.IsVisibleAsync(), "The reconciled list is not in the printed discharge summary.");
        var text = await printed.InnerTextAsync();
        Assert.Contains("Läkemedelslista vid utskrivning", text);
        Assert.Contains("Alvedon 500 mg", text);
        Assert.Contains("Smärta kvarstår, fortsätter hemma", text);
        Assert.Contains("Losec 20 mg", text);
        Assert.Contains("Sätts ut", text);
        Assert.Contains("Waran 2,5 mg", text);
        Assert.Contains("Ändras", text);
        Assert.Contains("INR 3,8 vid utskrivning", text);
        Assert.Contains("2,5 mg varannan dag, nytt INR om en vecka", text);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("63-discharge-summary-medication-print"), FullPage = true });
        await page.EmulateMediaAsync(new PageEmulateMediaOptions { Media = Media.Screen });
        violations.AddRange(await AxeAsync(page, "discharge summary"));

        Assert.True(violations.Count == 0, string.Join(Environment.NewLine, violations));
    }
}
