using Microsoft.Playwright;
using Stadig.Tests.Web;

namespace Stadig.Tests.Browser;

/// <summary>
/// One server with <see cref="EveryPage"/>'s data and one Chromium for a whole test class: the tests
/// only read pages, so they share both. Each page is opened by the person whose work it is.
/// </summary>
public sealed class EveryPageBrowser : IAsyncLifetime
{
    private IPlaywright? _playwright;
    private readonly Dictionary<(string User, string Culture), IBrowserContext> _contexts = [];

    internal EveryPage Pages { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>A script run in every document of every context made here, before the page's own (axe for the walk over every page).</summary>
    public string? InitScript { get; init; }

    public async ValueTask InitializeAsync()
    {
        Pages = await EveryPage.CreateAsync();
        (_playwright, Browser) = await Infrastructure.Browser.LaunchAsync();
    }

    /// <summary>Every routed page with the user it is opened as: logs for the log auditor, lab pages for lab staff, the rest for the physician.</summary>
    public IReadOnlyList<(string Path, string User)> PagesByUser() =>
        // /login/continue moves on at once (meta refresh) to the page after an IdP sign-in: nothing
        // stays to check, and OidcSignInBrowserTests goes through it.
        Pages.Paths().Where(path => path != "/login/continue").Select(path => (path, path switch
        {
            "/login" => "",
            _ when path.StartsWith("/audit", StringComparison.Ordinal) || path.Contains("log-extract", StringComparison.Ordinal) => "granskare",
            "/lab/quarantine" or "/operations" => "bma",
            _ => "eva",
        })).ToList();

    /// <summary>A logged-in browser context per person and language, made once (logging in is the slow part).</summary>
    public async Task<IBrowserContext> ContextAsync(string user, string culture)
    {
        if (_contexts.TryGetValue((user, culture), out var existing)) return existing;
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = Pages.Server.Address.ToString(), ViewportSize = new ViewportSize { Width = 1280, Height = 900 }, BypassCSP = true,
        });
        // Generous waits: a busy two-core CI machine runs the whole suite at once (waiting on conditions, never sleeping).
        context.SetDefaultTimeout(90_000);
        if (InitScript is not null) await context.AddInitScriptAsync(InitScript);
        var page = await context.NewPageAsync();
        if (user.Length > 0)
        {
            await page.GotoAsync("/login");
            await page.FillAsync("#username", user);
            await page.FillAsync("#password", "lösen");
            await page.Keyboard.PressAsync("Enter");
            await Infrastructure.Browser.WaitForUrlAsync(page, url => !url.Contains("/login", StringComparison.Ordinal));
        }
        await page.GotoAsync($"/culture?name={culture}&returnUrl=/login");
        await page.CloseAsync();
        _contexts[(user, culture)] = context;
        return context;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var context in _contexts.Values) await context.DisposeAsync();
        if (Browser is not null) await Browser.DisposeAsync();
        _playwright?.Dispose();
        if (Pages is not null) await Pages.DisposeAsync();
    }
}
