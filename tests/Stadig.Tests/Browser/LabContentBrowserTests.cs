using Microsoft.Playwright;
using Stadig.Storage;
using Stadig.Tests.Results;
using Stadig.Tests.Web;

namespace Stadig.Tests.Browser;

[Collection("Browser")]
public class LabContentBrowserTests
{
    [Fact]
    public async Task The_chart_shows_the_lab_comment_on_its_lines_and_the_PDF_as_a_link_that_opens_it()
    {
        var (server, _, patientId) = await LabContentPagesTests.ChartWithLabContentAsync(DatabaseEngine.Sqlite);
        await using var _s = server;
        await using var browser = await Infrastructure.Browser.OpenAsync(server.Address);
        var page = browser.Page;
        await Infrastructure.Browser.LogInAsync(page, "eva");

        await page.GotoAsync($"/patients/{patientId}");
        var link = page.Locator("a.lab-document");
        await link.WaitForAsync();
        var results = page.Locator("section[aria-labelledby=results-h]");
        await results.ScrollIntoViewIfNeededAsync();
        await results.ScreenshotAsync(new LocatorScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("41-lab-comment-and-pdf") });

        // The comment's two lines are shown as two lines (pre-wrap), not run together.
        var comment = page.Locator(".lab-comment[data-comment=line] .lab-text").First;
        Assert.Equal(LabContentTests.KaliumComment, await comment.InnerTextAsync());
        Assert.True(await comment.EvaluateAsync<double>("e => e.getBoundingClientRect().height") > 1.5 * await comment.EvaluateAsync<double>("e => parseFloat(getComputedStyle(e).lineHeight) || 16"));
        Assert.Equal("Öppna PDF", (await link.InnerTextAsync()).Trim());
        var response = await page.Context.APIRequest.GetAsync(await link.GetAttributeAsync("href") ?? "");
        Assert.Equal(200, response.Status);
        Assert.Equal("application/pdf", response.Headers["content-type"]);
        Assert.Equal(LabContentTests.Pdf, await response.BodyAsync());
    }
}
