using System.Net;
using Stadig.Installation;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Tests.Web;

public class LoginTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_user_with_one_assignment_logs_in_straight_to_search_with_the_assignment_in_the_header(DatabaseEngine engine)
    {
        await using var server = await StadigServer.StartAsync(engine);
        var (_, assignments) = await server.AddUserAsync("eva", "rätt-lösen");
        var client = server.CreateClient();

        var login = await server.PostLoginAsync(client, "eva", "rätt-lösen");

        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        Assert.Equal("/", login.Headers.Location?.OriginalString);
        var cookie = login.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("stadig.session=", StringComparison.Ordinal));
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        var page = await client.GetStringAsync("/");
        Assert.Contains(assignments[0].UnitName, page);
        Assert.Contains("Läkare", page);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_user_with_several_assignments_picks_one_before_reaching_patients(DatabaseEngine engine)
    {
        await using var server = await StadigServer.StartAsync(engine);
        var (_, assignments) = await server.AddUserAsync("olle", "lösen", false, Role.Physician, Role.MedicalSecretary);
        var client = server.CreateClient();

        var login = await server.PostLoginAsync(client, "olle", "lösen");
        Assert.StartsWith("/assignment", login.Headers.Location?.OriginalString);
        var search = await client.GetAsync("/");
        Assert.Equal(HttpStatusCode.Redirect, search.StatusCode);
        Assert.Contains("/assignment", search.Headers.Location?.OriginalString);

        var choose = await client.GetStringAsync("/assignment");
        var secretary = assignments.Single(a => a.Role == Role.MedicalSecretary);
        Assert.Contains(secretary.Id.ToString(), choose);
        var chosen = await client.PostAsync("/assignment", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = StadigServer.AntiforgeryToken(choose), ["assignmentId"] = secretary.Id.ToString(), ["returnUrl"] = "/",
        }));
        Assert.Equal("/", chosen.Headers.Location?.OriginalString);
        Assert.Contains("Medicinsk sekreterare", await client.GetStringAsync("/"));
    }

    /// <summary>Posts the login form as a browser behind the proxy at <paramref name="clientAddress"/> would.</summary>
    private static async Task<string?> LoginFromAsync(HttpClient client, string clientAddress, string username, string password)
    {
        var form = await client.GetStringAsync("/login");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/login")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["__RequestVerificationToken"] = StadigServer.AntiforgeryToken(form), ["username"] = username, ["password"] = password, ["returnUrl"] = "/",
            }),
        };
        request.Headers.Add("X-Forwarded-For", clientAddress);
        return (await client.SendAsync(request)).Headers.Location?.OriginalString;
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    [Hazard("H-06")]
    public async Task Wrong_passwords_slow_the_address_they_come_from_but_never_lock_the_clinician_out(DatabaseEngine engine)
    {
        var clock = new FixedClock(DateTimeOffset.UtcNow);
        await using var server = await StadigServer.StartWithClockAsync(engine, clock,
            "--Stadig:FailedLoginsBeforeDelay=3", "--Stadig:ForwardedProxies:0=127.0.0.1", "--Stadig:ForwardedProxies:1=::1");
        await server.AddUserAsync("kim", "rätt");
        var attacker = server.CreateClient();

        for (var i = 0; i < 3; i++)
            Assert.Contains("error=wrong", await LoginFromAsync(attacker, "203.0.113.9", "kim", "fel"));
        // The guessing address must wait, even with the right password...
        Assert.Contains("error=wait", await LoginFromAsync(attacker, "203.0.113.9", "kim", "rätt"));
        // ...while Kim, at her own workstation, signs in as usual.
        Assert.Equal("/", await LoginFromAsync(server.CreateClient(), "198.51.100.7", "kim", "rätt"));

        // The wait is short and grows with each further failure.
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Contains("error=wrong", await LoginFromAsync(attacker, "203.0.113.9", "kim", "fel"));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Contains("error=wait", await LoginFromAsync(attacker, "203.0.113.9", "kim", "rätt"));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("/", await LoginFromAsync(attacker, "203.0.113.9", "kim", "rätt"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Behind_a_configured_TLS_proxy_the_session_cookie_is_secure_and_HSTS_is_sent(DatabaseEngine engine)
    {
        await using var server = await StadigServer.StartAsync(engine, "--Stadig:ForwardedProxies:0=127.0.0.1", "--Stadig:ForwardedProxies:1=::1");
        await server.AddUserAsync("eva", "lösen");
        var client = server.CreateClient();
        client.DefaultRequestHeaders.Add("X-Forwarded-Proto", "https");
        client.DefaultRequestHeaders.Host = "stadig.region.example";

        var login = await server.PostLoginAsync(client, "eva", "lösen");
        var cookie = login.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("stadig.session=", StringComparison.Ordinal));
        Assert.Contains("secure", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.True(login.Headers.Contains("Strict-Transport-Security"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Forwarded_headers_from_an_address_not_configured_as_a_proxy_are_ignored(DatabaseEngine engine)
    {
        await using var server = await StadigServer.StartAsync(engine);
        await server.AddUserAsync("eva", "lösen");
        var client = server.CreateClient();
        client.DefaultRequestHeaders.Add("X-Forwarded-Proto", "https");
        client.DefaultRequestHeaders.Host = "stadig.region.example";

        var login = await server.PostLoginAsync(client, "eva", "lösen");
        var cookie = login.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("stadig.session=", StringComparison.Ordinal));
        Assert.DoesNotContain("secure", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.False(login.Headers.Contains("Strict-Transport-Security"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Return_urls_that_would_leave_the_site_or_break_the_header_lead_to_the_start_page(DatabaseEngine engine)
    {
        await using var server = await StadigServer.StartAsync(engine);
        await server.AddUserAsync("eva", "lösen");
        string[] hostile = ["/%09/evil.example", "/%5Cevil.example", "//evil.example", "https://evil.example", "/%0D%0ASet-Cookie:%20x=1", "/%0A/evil.example"];
        foreach (var returnUrl in hostile)
        {
            var culture = await server.CreateClient().GetAsync($"/culture?name=en&returnUrl={returnUrl}");
            Assert.Equal(HttpStatusCode.Redirect, culture.StatusCode);
            Assert.Equal("/", culture.Headers.Location?.OriginalString);

            var client = server.CreateClient();
            var form = await client.GetStringAsync("/login");
            var login = await client.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["__RequestVerificationToken"] = StadigServer.AntiforgeryToken(form), ["username"] = "eva", ["password"] = "lösen",
                ["returnUrl"] = Uri.UnescapeDataString(returnUrl),
            }));
            Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
            Assert.Equal("/", login.Headers.Location?.OriginalString);
        }
        var local = await server.CreateClient().GetAsync("/culture?name=en&returnUrl=%2Fpatients%2Fnew%3Fx%3D1");
        Assert.Equal("/patients/new?x=1", local.Headers.Location?.OriginalString);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Form_pages_leave_no_antiforgery_cache_header_warning_in_the_log(DatabaseEngine engine)
    {
        var (server, client, _) = await StadigServer.WithLoggedInPhysicianAsync(engine);
        await using var _server = server;
        Assert.Equal(HttpStatusCode.OK, (await server.CreateClient().GetAsync("/login")).StatusCode);
        var page = await client.GetAsync("/patients/new");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("no-store", page.Headers.CacheControl?.ToString());
        Assert.DoesNotContain(server.Log.Lines, l => l.Contains("Cache-Control", StringComparison.OrdinalIgnoreCase));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_unknown_user_gets_the_same_answer_as_a_wrong_password(DatabaseEngine engine)
    {
        await using var server = await StadigServer.StartAsync(engine);
        await server.AddUserAsync("kim", "rätt");
        var client = server.CreateClient();
        Assert.Contains("error=wrong", (await server.PostLoginAsync(client, "ingen", "rätt")).Headers.Location?.OriginalString);
        Assert.Contains("error=wrong", (await server.PostLoginAsync(client, "kim", "fel")).Headers.Location?.OriginalString);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Demo_users_cannot_log_in_to_a_production_database_but_can_to_a_demo_one(DatabaseEngine engine)
    {
        await using var server = await StadigServer.StartAsync(engine);
        await server.AddUserAsync("demo1", "demo", isDemo: true);
        var client = server.CreateClient();
        Assert.Contains("error=demo", (await server.PostLoginAsync(client, "demo1", "demo")).Headers.Location?.OriginalString);

        await server.Services.GetRequiredService<InstallationSettings>().SetModeAsync(InstallationMode.Demo);
        Assert.Equal("/", (await server.PostLoginAsync(client, "demo1", "demo")).Headers.Location?.OriginalString);
    }

    [Fact]
    public async Task Login_attempts_past_the_rate_limit_get_429_with_retry_after()
    {
        await using var server = await StadigServer.StartAsync(DatabaseEngine.Sqlite, "--Stadig:LoginAttemptsPerMinute=3");
        var client = server.CreateClient();
        for (var i = 0; i < 3; i++)
            Assert.Equal(HttpStatusCode.Redirect, (await server.PostLoginAsync(client, "x", "y")).StatusCode);
        var limited = await server.PostLoginAsync(client, "x", "y");
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.NotNull(limited.Headers.RetryAfter);
    }

    [Fact]
    public async Task A_login_post_without_the_antiforgery_token_is_refused()
    {
        await using var server = await StadigServer.StartAsync(DatabaseEngine.Sqlite);
        await server.AddUserAsync("kim", "rätt");
        var response = await server.CreateClient().PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["username"] = "kim", ["password"] = "rätt" }));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Pages_need_a_login_and_every_response_carries_a_strict_content_security_policy()
    {
        await using var server = await StadigServer.StartAsync(DatabaseEngine.Sqlite);
        var response = await server.CreateClient().GetAsync("/patients/" + Guid.NewGuid());
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.StartsWith("/login", response.Headers.Location!.PathAndQuery.Length > 0 ? new Uri(server.Address, response.Headers.Location).AbsolutePath : "");
        var csp = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'self'", csp);
        Assert.Contains("frame-ancestors 'none'", csp);
        Assert.Equal(HttpStatusCode.OK, (await server.CreateClient().GetAsync("/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.CreateClient().GetAsync("/health/ready")).StatusCode);
    }
}
