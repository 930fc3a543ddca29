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

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Repeated_wrong_passwords_lock_the_account_even_for_the_right_password(DatabaseEngine engine)
    {
        await using var server = await StadigServer.StartAsync(engine, "--Stadig:MaxFailedLogins=3");
        var (member, _) = await server.AddUserAsync("kim", "rätt");
        var client = server.CreateClient();

        for (var i = 0; i < 2; i++)
            Assert.Contains("error=wrong", (await server.PostLoginAsync(client, "kim", "fel")).Headers.Location?.OriginalString);
        Assert.Contains("error=locked", (await server.PostLoginAsync(client, "kim", "fel")).Headers.Location?.OriginalString);
        Assert.Contains("error=locked", (await server.PostLoginAsync(client, "kim", "rätt")).Headers.Location?.OriginalString);
        Assert.NotNull((await server.Staff.FindByIdAsync(member.Id))!.LockedUntil);
        Assert.Equal(HttpStatusCode.Redirect, (await client.GetAsync("/")).StatusCode);
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
