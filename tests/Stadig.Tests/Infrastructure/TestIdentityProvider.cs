using System.Security.Claims;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace Stadig.Tests.Infrastructure;

/// <summary>What the identity provider gets wrong in the ID tokens it issues, for the tests that Stadig refuses them.</summary>
public enum IdTokenFault
{
    None,
    WrongAudience,
    WrongIssuer,
}

/// <summary>
/// A real OpenID Connect provider (OpenIddict) on its own Kestrel port, standing in for a region's
/// IdP: authorization code flow with PKCE, a confidential client, end session. The person who signs
/// in is whoever the test says (as if they had just used their SITHS card); the HSA-id goes in the
/// ID token under the Inera IdP's claim name.
/// </summary>
public sealed class TestIdentityProvider : IAsyncDisposable
{
    public const string ClientId = "stadig";
    public const string ClientSecret = "region-secret";
    public const string HsaIdClaim = "employeeHsaId";

    private WebApplication _app = null!;
    private int _endSessions;

    public Uri Address { get; private set; } = null!;

    /// <summary>The HSA-id the next authorization signs in; null: the ID token carries none.</summary>
    public string? NextHsaId { get; set; }

    public IdTokenFault Fault { get; set; }

    /// <summary>
    /// The provider first shows its own page, where the person confirms with their card (a link here),
    /// as a real IdP does: the way back to Stadig is then started by the IdP's page, cross-site.
    /// </summary>
    public bool AsksForCard { get; set; }

    public int EndSessions => Volatile.Read(ref _endSessions);

    /// <summary>The settings that point Stadig at this provider.</summary>
    public string[] StadigSettings(params string[] more) => StadigSettingsVia(Address.Host, more);

    /// <summary>
    /// The same, with the provider named by <paramref name="host"/>: "localhost" makes it another site
    /// than a Stadig on 127.0.0.1, as a region's IdP is, so a browser treats the way back as cross-site.
    /// </summary>
    public string[] StadigSettingsVia(string host, params string[] more) =>
    [
        $"--Stadig:Oidc:Authority={new UriBuilder(Address) { Host = host }.Uri}", $"--Stadig:Oidc:ClientId={ClientId}", $"--Stadig:Oidc:ClientSecret={ClientSecret}", .. more,
    ];

    public static async Task<TestIdentityProvider> StartAsync()
    {
        var idp = new TestIdentityProvider();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ApplicationName = typeof(TestIdentityProvider).Assembly.GetName().Name });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddOpenIddict().AddServer(server =>
        {
            server.SetAuthorizationEndpointUris("connect/authorize").SetTokenEndpointUris("connect/token").SetEndSessionEndpointUris("connect/endsession");
            server.AllowAuthorizationCodeFlow().RequireProofKeyForCodeExchange();
            server.RegisterScopes(Scopes.Profile);
            server.AddEphemeralEncryptionKey().AddEphemeralSigningKey();
            // No database of clients: the handlers below check the one client Stadig is.
            server.EnableDegradedMode();
            server.UseAspNetCore().EnableAuthorizationEndpointPassthrough().EnableEndSessionEndpointPassthrough().DisableTransportSecurityRequirement();
            server.AddEventHandler<ValidateAuthorizationRequestContext>(handler => handler.UseInlineHandler(context =>
            {
                if (context.ClientId != ClientId) context.Reject(Errors.InvalidClient, "Unknown client.");
                else if (context.RedirectUri is null || !context.RedirectUri.EndsWith("/signin-oidc", StringComparison.Ordinal))
                    context.Reject(Errors.InvalidRequest, "redirect_uri is not the client's.");
                return default;
            }));
            server.AddEventHandler<ValidateTokenRequestContext>(handler => handler.UseInlineHandler(context =>
            {
                if (context.Request.ClientId != ClientId || context.Request.ClientSecret != ClientSecret)
                    context.Reject(Errors.InvalidClient, "Wrong client credentials.");
                return default;
            }));
            server.AddEventHandler<ValidateEndSessionRequestContext>(handler => handler.UseInlineHandler(context =>
            {
                if (context.PostLogoutRedirectUri is { } uri && !uri.EndsWith("/signout-callback-oidc", StringComparison.Ordinal))
                    context.Reject(Errors.InvalidRequest, "post_logout_redirect_uri is not the client's.");
                return default;
            }));
            // A faulty provider: the ID token, properly signed, says the wrong audience or issuer.
            server.AddEventHandler<ProcessSignInContext>(handler => handler.UseInlineHandler(context =>
            {
                if (idp.Fault == IdTokenFault.None || context.EndpointType != OpenIddictServerEndpointType.Token || context.IdentityToken is null) return default;
                var tokens = new JsonWebTokenHandler();
                var payload = JsonNode.Parse(Base64UrlEncoder.Decode(tokens.ReadJsonWebToken(context.IdentityToken).EncodedPayload))!.AsObject();
                if (idp.Fault == IdTokenFault.WrongAudience) payload["aud"] = "another-application";
                else payload["iss"] = "http://127.0.0.1:9/another-provider/";
                context.IdentityToken = tokens.CreateToken(payload.ToJsonString(), context.Options.SigningCredentials[0]);
                return default;
            }).SetOrder(OpenIddictServerHandlers.GenerateIdentityToken.Descriptor.Order + 1).SetType(OpenIddictServerHandlerType.Custom));
        });

        var app = builder.Build();
        app.UseAuthentication();
        app.MapMethods("/connect/authorize", ["GET", "POST"], (HttpContext http) =>
        {
            var request = http.GetOpenIddictServerRequest()!;
            if (idp.AsksForCard && !http.Request.Query.ContainsKey("card"))
            {
                var confirmed = System.Net.WebUtility.HtmlEncode($"{http.Request.Path}{http.Request.QueryString}&card=1");
                return Microsoft.AspNetCore.Http.Results.Content(
                    $"<!DOCTYPE html><html lang=\"sv\"><title>IdP</title><a href=\"{confirmed}\">Legitimera med SITHS-kort</a></html>", "text/html; charset=utf-8");
            }
            var identity = new ClaimsIdentity(TokenValidationParameters.DefaultAuthenticationType, Claims.Name, Claims.Role);
            identity.SetClaim(Claims.Subject, $"person-{idp.NextHsaId ?? "none"}");
            identity.SetClaim(Claims.Name, "Testperson från IdP");
            if (idp.NextHsaId is { } hsaId) identity.SetClaim(HsaIdClaim, hsaId);
            identity.SetScopes(request.GetScopes());
            identity.SetDestinations(_ => [Destinations.IdentityToken, Destinations.AccessToken]);
            return Microsoft.AspNetCore.Http.Results.SignIn(new ClaimsPrincipal(identity), null, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
        });
        app.MapMethods("/connect/endsession", ["GET", "POST"], () =>
        {
            Interlocked.Increment(ref idp._endSessions);
            return Microsoft.AspNetCore.Http.Results.SignOut(null, [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
        });
        await app.StartAsync();
        idp._app = app;
        idp.Address = new Uri(app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First() + "/");
        return idp;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
