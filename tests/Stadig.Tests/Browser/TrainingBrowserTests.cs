using Microsoft.Playwright;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Tests.Browser;

/// <summary>A trainee in a training installation does three exercises through the real pages and sees their progress and the unit's report change.</summary>
[Collection("Browser")]
public class TrainingBrowserTests
{
    [Fact]
    public async Task A_trainee_does_three_exercises_and_sees_their_progress_and_the_unit_report_change()
    {
        await using var server = await StadigServer.StartAsync(DatabaseEngine.Sqlite, "--Stadig:Mode=Training", "--Stadig:DemoPatients=5");
        var (member, assignments) = await server.AddUserAsync("tove", "lösen", isDemo: true);
        var unit = assignments[0].UnitId;
        var roster = server.Services.GetRequiredService<Stadig.Training.TrainingRoster>();
        await roster.AddAsync(member.Id, unit, Role.Physician);
        var (colleague, _) = await server.AddUserAsync("tim", "lösen", isDemo: true);
        await server.Staff.AddAssignmentAsync(colleague.Id, unit, Role.Physician, Purpose.CareAndTreatment);
        await roster.AddAsync(colleague.Id, unit, Role.Physician);
        var (chef, _) = await server.AddUserAsync("chef", "lösen", isDemo: true, Role.UnitManager);
        var chefAssignment = await server.Staff.AddAssignmentAsync(chef.Id, unit, Role.UnitManager, Purpose.Administration);

        var (playwright, browser) = await Infrastructure.Browser.LaunchAsync();
        using var _p = playwright;
        await using var _b = browser;
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { BaseURL = server.Address.ToString() });
        page.SetDefaultTimeout(90_000);
        await LogInAsync(page, "tove");
        Assert.Contains("ÖVNINGSMILJÖ", await page.Locator("#training-banner").TextContentAsync());

        await page.ClickAsync("#nav-training");
        await page.WaitForSelectorAsync("#training-progress");
        Assert.Equal(0, await page.Locator("#training-progress tr[data-status='done']").CountAsync());

        // 1: a diagnosis on the problem list.
        var patient = await StartAsync(page, "physician-problem-diagnosis");
        await page.GotoAsync($"/patients/{patient}/problems");
        await page.FillAsync("#problem-code", "I10");
        await page.ClickAsync("#add-problem");
        await page.WaitForSelectorAsync("#problem-list");
        await ExpectDoneAsync(page, "physician-problem-diagnosis");

        // 2: a lab order.
        patient = await StartAsync(page, "physician-lab-order");
        await page.GotoAsync($"/patients/{patient}/orders");
        await page.CheckAsync("input[name='Input.Codes'][value='NPU03230']");
        await page.ClickAsync("#place-order");
        await page.WaitForSelectorAsync("#orders");
        await ExpectDoneAsync(page, "physician-lab-order");

        // 3: emergency access, both steps, with a reason.
        patient = await StartAsync(page, "physician-emergency-access");
        await page.GotoAsync($"/patients/{patient}/emergency");
        await page.ClickAsync("#reveal");
        await page.WaitForSelectorAsync("#hidden-records li");
        await page.FillAsync("#emergency-reason", "Övning: medvetslös på akuten");
        await page.ClickAsync("#open-emergency");
        await Infrastructure.Browser.WaitForUrlAsync(page, url => new Uri(url).AbsolutePath == $"/patients/{patient}");
        await ExpectDoneAsync(page, "physician-emergency-access");

        await page.GotoAsync("/training");
        Assert.Equal(3, await page.Locator("#training-progress tr[data-status='done']").CountAsync());
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("40-training-progress"), FullPage = true });

        // The unit manager's report: Tove's three completed required exercises, Tim's none.
        var report = await browser.NewPageAsync(new BrowserNewPageOptions { BaseURL = server.Address.ToString() });
        report.SetDefaultTimeout(90_000);
        await LogInAsync(report, "chef", chefAssignment.Id);
        await report.GotoAsync("/training/report");
        var physicians = report.Locator($"section[data-unit] tr[data-role='Physician']");
        Assert.Equal("3", (await physicians.Locator("td[data-figure='completed']").TextContentAsync())?.Trim());
        Assert.Equal(2, await report.Locator("ul.not-ready li").CountAsync());
        await report.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("41-training-report"), FullPage = true });
    }

    /// <summary>Starts the exercise on its page and returns the id of the trainee's own (first) exercise patient.</summary>
    private static async Task<string> StartAsync(IPage page, string exercise)
    {
        await page.GotoAsync($"/training/exercises/{exercise}");
        await page.ClickAsync("#start-exercise");
        await page.WaitForSelectorAsync("#exercise-checks");
        var href = await page.Locator("#exercise-patients a").First.GetAttributeAsync("href");
        return href!.Split('/').Last();
    }

    private static async Task ExpectDoneAsync(IPage page, string exercise)
    {
        await page.GotoAsync($"/training/exercises/{exercise}");
        await page.WaitForSelectorAsync("#exercise-done");
    }

    private static async Task LogInAsync(IPage page, string username, Guid? assignment = null)
    {
        await page.GotoAsync("/login");
        await page.FillAsync("#username", username);
        await page.FillAsync("#password", "lösen");
        await page.Keyboard.PressAsync("Enter");
        if (assignment is { } id)
        {
            await Infrastructure.Browser.WaitForUrlAsync(page, url => new Uri(url).AbsolutePath == "/assignment");
            await page.ClickAsync($"form:has(input[value='{id}']) button");
        }
        await Infrastructure.Browser.WaitForUrlAsync(page, url => new Uri(url).AbsolutePath is "/" or "/training/report");
    }
}
