using Microsoft.Playwright;
using Stadig.Storage;

namespace Stadig.Tests.Browser;

/// <summary>
/// Prescribing in a real browser, by keyboard: a physician finds the product in the catalogue, the
/// allergy check stands on the page before anything is signed, the override needs a reason, and the
/// list, the history and the printout show the prescription with its warning; then a nurse gives a due
/// dose from the ward's medication round, and a high-risk one with a second nurse signing in, and the
/// round and the ordination's administration record show both; the pages have no WCAG 2.1 AA violations.
/// </summary>
[Collection("Browser")]
public class MedicationBrowserTests
{
    private static async Task<IReadOnlyList<string>> AxeAsync(IPage page, string where) =>
        (await AccessibilityBrowserTests.AxeAsync(page, wcagOnly: true)).Select(v => $"{where}: {v.Id} ({v.Impact}, {v.Nodes}) {v.Help}: {v.Targets}").ToList();

    [Fact]
    public async Task A_physician_prescribes_from_the_catalogue_by_keyboard_sees_the_allergy_check_overrides_with_a_reason_and_a_nurse_gives_the_dose_from_the_ward_round()
    {
        await using var server = await StadigServer.StartAsync(DatabaseEngine.Sqlite);
        var (member, assignments) = await server.AddUserAsync("lena", "lösen");
        var caller = StadigServer.CallerFor(member, assignments[0]);
        var patientId = (await server.Patients.RegisterAsync(caller, "19121212-1212", new("Öström", "Anna"))).PatientId;
        await server.Services.GetRequiredService<Stadig.Encounters.PatientEncounters>().AdmitAsync(caller, patientId, caller.UnitId, "12");
        await server.Services.GetRequiredService<Stadig.Warnings.PatientWarnings>().AddAsync(caller, patientId,
            new("Hypersensitivity", "", "Paracetamol", "Urtikaria", "Harmful", "Confirmed"));
        await server.Services.GetRequiredService<Stadig.Medication.ProductCatalogue>().SeedIfEmptyAsync();
        // Another system's paracetamol (a Synthea bundle's RxNorm-coded request) and a remedy no check can place, both current.
        await Stadig.Tests.Medication.MedicationListTests.ForeignAsync(server.Database, patientId, caller.UnitId, "MedicationRequest",
            Stadig.Tests.Medication.MedicationListTests.Coded("Acetaminophen 325 MG Oral Tablet", "http://www.nlm.nih.gov/research/umls/rxnorm", "313782"), source: "urn:system:synthea");
        await Stadig.Tests.Medication.MedicationListTests.ForeignAsync(server.Database, patientId, caller.UnitId, "MedicationStatement",
            Stadig.Tests.Medication.MedicationListTests.Coded("Lugna Nätter örtte"));

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
        // The checks that do not depend on the dose stand on the form as soon as the product is chosen.
        Assert.Contains("Överkänslighet mot substansen", await page.InnerTextAsync("#prescribing-checks"));

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
        // The other system's medications are checked too: a duplicate by substance, and the one that could not be classified named as not checked.
        Assert.Contains("Dubbelbehandling: Acetaminophen 325 MG Oral Tablet från urn:system:synthea", checkText);
        Assert.Contains("Ej kontrollerat", checkText);
        Assert.Contains("Lugna Nätter örtte", checkText);
        Assert.Equal("Signera trots varningarna", (await page.InnerTextAsync("#sign-prescription")).Trim());
        await page.WaitForSelectorAsync("#override-reason:focus");
        Assert.Equal("2", await page.InputValueAsync("#dose-value"));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("50-medication-prescribe-checks"), FullPage = true });
        violations.AddRange(await AxeAsync(page, "prescribe with checks"));
        Assert.Empty(await server.Services.GetRequiredService<Stadig.Medication.MedicationList>().ListAsync(caller, patientId));

        await page.Keyboard.TypeAsync("Tålt paracetamol 2025, urtikarian kom av annat");
        await page.Keyboard.PressAsync("Enter");
        await Infrastructure.Browser.WaitForUrlAsync(page, url => new Uri(url).AbsolutePath == $"/patients/{patientId}/medication");

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
        await page.WaitForSelectorAsync("#print:visible");
        // The printed list, as the printer gets it: the patient, the prescription with its dosage, indication, prescriber and warning, the other systems' ones.
        await page.EmulateMediaAsync(new PageEmulateMediaOptions { Media = Media.Print });
        Assert.True(await page.Locator("#medication-print").IsVisibleAsync(), "The list is not on the printed page.");
        Assert.False(await page.Locator("#print").IsVisibleAsync(), "The print button is on the printed page.");
        Assert.Contains("Öström", await page.InnerTextAsync(".patient-banner"));
        var printed = await page.InnerTextAsync("#print-current");
        Assert.Contains("Alvedon 500 mg filmdragerad tablett", printed);
        Assert.Contains("2 tablett kl. 08:00, 14:00, 20:00", printed);
        Assert.Contains("Smärta efter operation", printed);
        Assert.Contains("Test lena", printed);
        Assert.Contains("Ordinerat trots varning", printed);
        var printedExternal = await page.InnerTextAsync("#print-external");
        Assert.Contains("Acetaminophen 325 MG Oral Tablet", printedExternal);
        Assert.Contains("urn:system:synthea", printedExternal);
        Assert.Contains("Lugna Nätter örtte", printedExternal);
        Assert.Contains("Inga avslutade läkemedel.", await page.InnerTextAsync("#medication-print"));
        await page.EmulateMediaAsync(new PageEmulateMediaOptions { Media = Media.Screen });
        // The same list as a PDF, from the print view's link.
        var pdf = await context.APIRequest.GetAsync((await page.GetAttributeAsync("#print-pdf-link", "href"))!);
        Assert.Equal("application/pdf", pdf.Headers["content-type"]);
        using (var document = UglyToad.PdfPig.PdfDocument.Open(await pdf.BodyAsync()))
        {
            var text = Stadig.Tests.Medication.MedicationListPdfTests.Text(document.GetPage(1));
            Assert.Contains(Stadig.Tests.Medication.MedicationListPdfTests.Squash("Alvedon 500 mg filmdragerad tablett"), text);
            Assert.Contains(Stadig.Tests.Medication.MedicationListPdfTests.Squash("2 tablett kl. 08:00, 14:00, 20:00"), text);
        }
        violations.AddRange(await AxeAsync(page, "print"));

        // The nurse's round (eMAR): an ordination every 24 hours from now has its first dose due now; a high-risk one as needed needs a second nurse.
        var medication = server.Services.GetRequiredService<Stadig.Medication.MedicationList>();
        var catalogue = server.Services.GetRequiredService<Stadig.Medication.ProductCatalogue>();
        var omeprazol = (await catalogue.SearchAsync("omeprazol 20")).First(p => p.Name == "Omeprazol");
        var morfin = (await catalogue.SearchAsync("morfin 10 mg")).First(p => p.Name == "Morfin" && p.DoseForm == "tablett" && p.Strength == "10 mg");
        // The remedy no check can place stands against every prescription for her: each goes on with a reason.
        const string checkedByHand = "Örtteet är kontrollerat, ingen dubbelbehandling";
        var daily = await medication.PrescribeAsync(caller, patientId, new() { ProductId = omeprazol.Id, DoseValue = 1, DoseUnit = "kapsel", IntervalHours = 24, Indication = "Ulcusprofylax" },
            checkedByHand);
        var asNeeded = await medication.PrescribeAsync(caller, patientId, new() { ProductId = morfin.Id, DoseValue = 1, DoseUnit = "tablett", AsNeeded = true, MaxDosesPer24h = 4, Indication = "Smärta" },
            checkedByHand);
        foreach (var (name, hsa) in new[] { ("sven", "SE2321000016-SSK801"), ("sara", "SE2321000016-SSK802") })
        {
            var nurse = await server.Staff.AddStaffAsync(hsa, name, $"Test {name}", "Sjuksköterska", server.HashPassword("lösen"), isDemo: false);
            await server.Staff.AddAssignmentAsync(nurse.Id, caller.UnitId, Stadig.Organisation.Role.Nurse, Stadig.Organisation.Purpose.CareAndTreatment);
        }
        await using var nurseContext = await browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = server.Address.ToString(), ViewportSize = new ViewportSize { Width = 1280, Height = 900 }, BypassCSP = true, Locale = "sv-SE",
        });
        var ward = await nurseContext.NewPageAsync();
        ward.SetDefaultTimeout(90_000);
        await Infrastructure.Browser.LogInAsync(ward, "sven");
        await ward.GotoAsync("/ward");
        await ward.ClickAsync("#ward-medication-link");
        var due = await ward.WaitForSelectorAsync($"li.dose-due[data-order-id='{daily.Id}']");
        Assert.Contains("Att ge", await due!.InnerTextAsync());
        violations.AddRange(await AxeAsync(ward, "medication round"));
        await ward.ClickAsync($"li.dose-due[data-order-id='{daily.Id}'] a");
        await ward.WaitForSelectorAsync("#record-dose");
        Assert.Contains("Öström", await ward.InnerTextAsync(".patient-banner"));
        violations.AddRange(await AxeAsync(ward, "record a dose"));
        await ward.ClickAsync("#record-dose");
        await Infrastructure.Browser.WaitForUrlAsync(ward, url => new Uri(url).AbsolutePath == "/ward/medication");
        var given = await ward.InnerTextAsync($"li[data-order-id='{daily.Id}']");
        Assert.Contains("Given", given);
        Assert.Contains("Test sven", given);

        // The high-risk dose: refused without the second nurse, recorded once she signs in on the form.
        await ward.ClickAsync($"div.as-needed[data-order-id='{asNeeded.Id}'] a");
        await ward.FillAsync("#dose-reason", "Smärta VAS 7");
        await ward.ClickAsync("#record-dose");
        Assert.Contains("andra sjuksköterska", await (await ward.WaitForSelectorAsync("#form-error"))!.InnerTextAsync());
        await ward.FillAsync("#checker-username", "sara");
        await ward.FillAsync("#checker-password", "lösen");
        await ward.ClickAsync("#record-dose");
        await Infrastructure.Browser.WaitForUrlAsync(ward, url => new Uri(url).AbsolutePath == "/ward/medication");
        Assert.Contains("1 av högst 4", await ward.InnerTextAsync($"div.as-needed[data-order-id='{asNeeded.Id}']"));
        await ward.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("52-medication-round"), FullPage = true });

        // The ordination's administration record shows the dose, who gave it and when.
        await ward.GotoAsync($"/patients/{patientId}/medication/{daily.Id}");
        var record = await ward.InnerTextAsync("#administrations");
        Assert.Contains("Given", record);
        Assert.Contains("Test sven", record);
        await ward.GotoAsync($"/patients/{patientId}/medication/{asNeeded.Id}");
        Assert.Contains("Kontrollerad av Test sara", await ward.InnerTextAsync("#administrations"));
        await ward.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("53-medication-administrations"), FullPage = true });
        violations.AddRange(await AxeAsync(ward, "administration record"));

        Assert.True(violations.Count == 0, string.Join("\n", violations));
    }
}
