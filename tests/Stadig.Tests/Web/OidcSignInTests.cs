using System.Net;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http;
using Stadig.Installation;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Tests.Web;

/// <summary>Staff sign in through the region's IdP (a real OpenID Connect server on its own port), the HSA-id picking the person.</summary>
public class OidcSignInTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_known_hsa_id_signs_in_through_the_idp_and_works_in_their_assignment(DatabaseEngine engine)
    {
        await using var idp = await TestIdentityProvider.StartAsync();
        await using var server = await StadigServer.StartAsync(engine, idp.StadigSettings());
        var (member, assignments) = await server.AddUserAsync("eva", "lösen");
        var browser = Browser(server);

        var loginPage = await browser.GetAsync("/login");
        var login = await loginPage.Content.ReadAsStringAsync();
        Assert.Contains("Logga in med SITHS/e-tjänstekort", login);
        // Signing out posts a form that redirects to the IdP: form-action allows its origin, and only it.
        Assert.Contains($"form-action 'self' {idp.Address.GetLeftPart(UriPartial.Authority)};", string.Join(";", loginPage.Headers.GetValues("Content-Security-Policy")));
        // Production with an IdP: no password form at all.
        Assert.DoesNotContain("name=\"password\"", login);

        idp.NextHsaId = member.HsaId;
        // The provider requires PKCE and the client secret: getting through proves Stadig sent both.
        var landed = await browser.GetAsync("/login/siths?returnUrl=%2Fward");
        Assert.Equal(HttpStatusCode.OK, landed.StatusCode);
        Assert.Equal("/login/continue", landed.RequestMessage!.RequestUri!.AbsolutePath);
        Assert.Contains("url=/ward", await landed.Content.ReadAsStringAsync());

        var page = await browser.GetStringAsync("/");
        Assert.Contains(assignments[0].UnitName, page);
        Assert.Contains("Läkare", page);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_person_with_several_assignments_chooses_one_and_signing_out_ends_the_idp_session_too(DatabaseEngine engine)
    {
        await using var idp = await TestIdentityProvider.StartAsync();
        await using var server = await StadigServer.StartAsync(engine, idp.StadigSettings());
        var (member, assignments) = await server.AddUserAsync("olle", "lösen", false, Role.Physician, Role.MedicalSecretary);
        var browser = Browser(server);
        idp.NextHsaId = member.HsaId;

        var landed = await browser.GetAsync("/login/siths");
        Assert.Equal("/login/continue", landed.RequestMessage!.RequestUri!.AbsolutePath);
        Assert.Contains("url=/assignment?returnUrl=%2F", System.Net.WebUtility.HtmlDecode(await landed.Content.ReadAsStringAsync()));
        var choose = await browser.GetStringAsync("/assignment");
        var secretary = assignments.Single(a => a.Role == Role.MedicalSecretary);
        var chosen = await browser.PostAsync("/assignment", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = StadigServer.AntiforgeryToken(choose), ["assignmentId"] = secretary.Id.ToString(), ["returnUrl"] = "/",
        }));
        Assert.Contains("Medicinsk sekreterare", await chosen.Content.ReadAsStringAsync());

        var signedOut = await browser.PostAsync("/logout", new FormUrlEncodedContent(new Dictionary<string, string>()));
        Assert.Equal(1, idp.EndSessions);
        Assert.Equal("/login", signedOut.RequestMessage!.RequestUri!.AbsolutePath);
        var after = await browser.GetAsync("/");
        Assert.Equal("/login", after.RequestMessage!.RequestUri!.AbsolutePath);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_unknown_hsa_id_is_refused_with_a_clear_page_and_a_log_line_that_does_not_name_the_person(DatabaseEngine engine)
    {
        await using var idp = await TestIdentityProvider.StartAsync();
        await using var server = await StadigServer.StartAsync(engine, idp.StadigSettings());
        const string stranger = "SE2321000016-P7777777";
        var browser = Browser(server);
        idp.NextHsaId = stranger;

        var refused = await browser.GetAsync("/login/siths");
        Assert.Equal("/login", refused.RequestMessage!.RequestUri!.AbsolutePath);
        Assert.Contains("ditt HSA-id finns inte i Stadigs personalkatalog", await refused.Content.ReadAsStringAsync());
        Assert.Equal("/login", (await browser.GetAsync("/")).RequestMessage!.RequestUri!.AbsolutePath);
        Assert.Contains(server.Log.Lines, l => l.Contains("Stadig.Security", StringComparison.Ordinal) && l.Contains("not in the staff directory", StringComparison.Ordinal));
        Assert.DoesNotContain(server.Log.Lines, l => l.Contains(stranger, StringComparison.Ordinal));

        // No HSA-id in the token at all: refused the same way.
        idp.NextHsaId = null;
        Assert.Contains("ditt HSA-id finns inte", await (await browser.GetAsync("/login/siths")).Content.ReadAsStringAsync());
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_id_token_for_another_audience_or_from_another_issuer_is_refused(DatabaseEngine engine)
    {
        await using var idp = await TestIdentityProvider.StartAsync();
        await using var server = await StadigServer.StartAsync(engine, idp.StadigSettings());
        var (member, _) = await server.AddUserAsync("eva", "lösen");
        idp.NextHsaId = member.HsaId;

        foreach (var (fault, reason) in new[] { (IdTokenFault.WrongAudience, "InvalidAudience"), (IdTokenFault.WrongIssuer, "InvalidIssuer") })
        {
            idp.Fault = fault;
            var browser = Browser(server);
            var refused = await browser.GetAsync("/login/siths");
            Assert.Equal("/login", refused.RequestMessage!.RequestUri!.AbsolutePath);
            Assert.Contains("Inloggningen via identitetsleverantören gick inte att verifiera", await refused.Content.ReadAsStringAsync());
            Assert.Equal("/login", (await browser.GetAsync("/")).RequestMessage!.RequestUri!.AbsolutePath);
            Assert.Contains(server.Log.Lines, l => l.Contains("Stadig.Security", StringComparison.Ordinal) && l.Contains(reason, StringComparison.Ordinal));
        }
        Assert.DoesNotContain(server.Log.Lines, l => l.Contains(member.HsaId, StringComparison.Ordinal));

        // The same provider without the fault: the person gets in.
        idp.Fault = IdTokenFault.None;
        Assert.Equal("/login/continue", (await Browser(server).GetAsync("/login/siths")).RequestMessage!.RequestUri!.AbsolutePath);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Local_passwords_are_refused_in_production_with_an_idp_and_wherever_they_are_switched_off(DatabaseEngine engine)
    {
        await using var idp = await TestIdentityProvider.StartAsync();
        await using (var production = await StadigServer.StartAsync(engine, idp.StadigSettings()))
        {
            await production.AddUserAsync("eva", "lösen");
            var refused = await PostPasswordAsync(production, "eva", "lösen");
            Assert.Equal("/login?error=local&returnUrl=%2F", refused.Headers.Location?.OriginalString);
            Assert.Contains("Inloggning med lösenord är avstängd", await production.CreateClient().GetStringAsync("/login?error=local"));

            // A training installation with the same IdP keeps passwords for its practice accounts.
            await production.Services.GetRequiredService<InstallationSettings>().SetModeAsync(InstallationMode.Training);
            Assert.Equal("/", (await PostPasswordAsync(production, "eva", "lösen")).Headers.Location?.OriginalString);
            Assert.Contains("name=\"password\"", await production.CreateClient().GetStringAsync("/login"));
        }

        await using var switchedOff = await StadigServer.StartAsync(engine, idp.StadigSettings("--Stadig:Oidc:LocalPasswords=false"));
        await switchedOff.Services.GetRequiredService<InstallationSettings>().SetModeAsync(InstallationMode.Demo);
        await switchedOff.AddUserAsync("eva", "lösen");
        Assert.Equal("/login?error=local&returnUrl=%2F", (await PostPasswordAsync(switchedOff, "eva", "lösen")).Headers.Location?.OriginalString);
        Assert.DoesNotContain("name=\"password\"", await switchedOff.CreateClient().GetStringAsync("/login"));
    }

    [Fact]
    public async Task An_identity_provider_that_cannot_be_reached_is_said_on_the_login_page_not_with_a_500()
    {
        // A port that was just free: nothing listens there.
        var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        await using var server = await StadigServer.StartAsync(DatabaseEngine.Sqlite,
            $"--Stadig:Oidc:Authority=http://127.0.0.1:{port}/", "--Stadig:Oidc:ClientId=stadig");

        var answer = await Browser(server).GetAsync("/login/siths");

        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal("/login", answer.RequestMessage!.RequestUri!.AbsolutePath);
        Assert.Contains("Inloggningen via identitetsleverantören", await answer.Content.ReadAsStringAsync());
        Assert.Contains(server.Log.Lines, l => l.Contains("identity provider cannot be reached", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Oidc_without_a_client_id_stops_the_start_with_the_setting_named()
    {
        var error = await Assert.ThrowsAsync<Stadig.Hosting.StartupException>(() =>
            StadigServer.StartAsync(DatabaseEngine.Sqlite, "--Stadig:Oidc:Authority=https://idp.example/"));
        Assert.Contains("Stadig:Oidc:ClientId", error.Message);
    }

    /// <summary>A browser: follows redirects, across the IdP and back, with one cookie jar.</summary>
    private static HttpClient Browser(StadigServer server) =>
        new(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = true, UseCookies = true }) { BaseAddress = server.Address };

    /// <summary>
    /// Posts the password form with a valid antiforgery pair made by the server, as from a login page
    /// loaded before passwords were switched off (the page no longer shows the form).
    /// </summary>
    private static async Task<HttpResponseMessage> PostPasswordAsync(StadigServer server, string username, string password)
    {
        var tokens = server.Services.GetRequiredService<IAntiforgery>().GetAndStoreTokens(new DefaultHttpContext { RequestServices = server.Services });
        using var request = new HttpRequestMessage(HttpMethod.Post, "/login")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                [tokens.FormFieldName] = tokens.RequestToken!, ["username"] = username, ["password"] = password, ["returnUrl"] = "/",
            }),
        };
        request.Headers.Add("Cookie", $"stadig.antiforgery={tokens.CookieToken}");
        return await server.CreateClient().SendAsync(request);
    }
}
