using Microsoft.Playwright;
using Stadig.Storage;

namespace Stadig.Tests.Browser;

[Collection("Browser")]
public class OidcSignInBrowserTests
{
    [Fact]
    public async Task A_clinician_signs_in_with_the_siths_button_through_an_idp_on_another_site_and_signs_out_of_both()
    {
        await using var idp = await TestIdentityProvider.StartAsync();
        // Stadig on 127.0.0.1, the IdP on localhost: two sites, so the browser's way back from the IdP
        // is a cross-site redirect chain, as in a region.
        await using var server = await StadigServer.StartAsync(DatabaseEngine.Sqlite, idp.StadigSettingsVia("localhost"));
        var (member, assignments) = await server.AddUserAsync("eva", "lösen");
        idp.NextHsaId = member.HsaId;
        idp.AsksForCard = true;
        var (playwright, browser) = await Infrastructure.Browser.LaunchAsync();
        using var _p = playwright;
        await using var _b = browser;
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { BaseURL = server.Address.ToString(), ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        page.SetDefaultTimeout(90_000);

        await page.GotoAsync("/login");
        Assert.Equal(0, await page.Locator("#password").CountAsync());
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Infrastructure.Browser.ScreenshotPath("60-login-siths") });
        await page.GetByRole(AriaRole.Link, new() { Name = "Logga in med SITHS/e-tjänstekort" }).ClickAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Legitimera med SITHS-kort" }).ClickAsync();

        // Through the IdP and back, and on to the search with the session cookie (SameSite=Strict) in
        // place: the way back was started by the IdP's page, so without /login/continue the browser
        // would leave the cookie behind and land on the login page again.
        await Infrastructure.Browser.WaitForUrlAsync(page, url => new Uri(url).Host == "127.0.0.1" && new Uri(url).AbsolutePath == "/");
        Assert.Contains(assignments[0].UnitName, await page.Locator("header").InnerTextAsync());

        await page.GetByRole(AriaRole.Button, new() { Name = "Logga ut" }).ClickAsync();
        await Infrastructure.Browser.WaitForUrlAsync(page, url => new Uri(url).Host == "127.0.0.1" && new Uri(url).AbsolutePath == "/login");
        Assert.Equal(1, idp.EndSessions);
        await page.GotoAsync("/");
        Assert.Equal("/login", new Uri(page.Url).AbsolutePath);
    }
}
