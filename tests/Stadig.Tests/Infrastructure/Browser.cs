using Microsoft.Playwright;

namespace Stadig.Tests.Infrastructure;

/// <summary>
/// Debian's Chromium driven by Playwright: headless, no sandbox (CI runs as root), no background
/// networking (this machine has no network but the package registries).
/// </summary>
public static class Browser
{
    public const string ChromiumPath = "/usr/bin/chromium";

    public static async Task<(IPlaywright Playwright, IBrowser Browser)> LaunchAsync()
    {
        if (!File.Exists(ChromiumPath))
            throw new InvalidOperationException($"{ChromiumPath} is missing. Run ./test.sh, which installs Debian's chromium.");
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        });
        return (playwright, browser);
    }

    /// <summary>
    /// A Chromium with one page on <paramref name="server"/>: 1280 × 900 unless told, generous waits (a
    /// busy two-core CI machine runs the whole suite at once: tests wait on conditions, never sleep), and
    /// <paramref name="initScript"/> run in every document before the page's own scripts.
    /// </summary>
    public static async Task<BrowserPage> OpenAsync(Uri server, string? initScript = null, int width = 1280, int height = 900)
    {
        var (playwright, browser) = await LaunchAsync();
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { BaseURL = server.ToString(), ViewportSize = new ViewportSize { Width = width, Height = height } });
        page.SetDefaultTimeout((float)NavigationTimeout.TotalMilliseconds);
        if (initScript is not null) await page.AddInitScriptAsync(initScript);
        return new BrowserPage(playwright, browser, page);
    }

    /// <summary>Logs in with the login form, as a person does, and waits for the start page.</summary>
    public static async Task LogInAsync(IPage page, string username, string password = "lösen")
    {
        await page.GotoAsync("/login");
        await page.FillAsync("#username", username);
        await page.FillAsync("#password", password);
        await page.Keyboard.PressAsync("Enter");
        await WaitForUrlAsync(page, url => new Uri(url).AbsolutePath == "/");
    }

    /// <summary>
    /// Waits until the page's main frame is at an address that <paramref name="arrived"/> accepts and
    /// that document has loaded. Playwright's own WaitForURLAsync reads the page's address first and
    /// only then listens for navigations, on another thread than the one its events arrive on: a
    /// navigation that lands between the two is never seen, and the wait runs out its 90 s (two browser
    /// tests of one CI run, with no navigation in their logs). This listens first and then looks.
    /// </summary>
    public static async Task WaitForUrlAsync(IPage page, Func<string, bool> arrived)
    {
        var there = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnNavigated(object? sender, IFrame frame)
        {
            if (frame == page.MainFrame && arrived(frame.Url)) there.TrySetResult();
        }
        page.FrameNavigated += OnNavigated;
        try
        {
            if (arrived(page.Url)) there.TrySetResult();
            await there.Task.WaitAsync(NavigationTimeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"The page did not reach the awaited address in {NavigationTimeout.TotalSeconds:0} s; it is at {page.Url}.");
        }
        finally
        {
            page.FrameNavigated -= OnNavigated;
        }
        await page.WaitForLoadStateAsync(LoadState.Load);
    }

    /// <summary>The longest any browser test waits for one step: generous, for a busy two-core CI machine.</summary>
    public static readonly TimeSpan NavigationTimeout = TimeSpan.FromSeconds(90);

    /// <summary>Where screenshots go: TestResults/screenshots beside the test assembly, for a person to look at.</summary>
    public static string ScreenshotPath(string name)
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "TestResults", "screenshots");
        Directory.CreateDirectory(folder);
        return Path.Combine(folder, name + ".png");
    }
}

/// <summary>A browser and its one page, closed together.</summary>
public sealed class BrowserPage(IPlaywright playwright, IBrowser browser, IPage page) : IAsyncDisposable
{
    public IBrowser Browser => browser;

    public IPage Page => page;

    public async ValueTask DisposeAsync()
    {
        await browser.DisposeAsync();
        playwright.Dispose();
    }
}
