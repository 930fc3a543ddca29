using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Stadig.Hosting;
using Stadig.Installation;
using Stadig.Organisation;

namespace Stadig.Auth;

/// <summary>
/// The region's identity provider (SITHS eID through the region's IdP, or Inera's) over OpenID
/// Connect. Set <see cref="Authority"/> to turn it on.
/// </summary>
public sealed class OidcSettings
{
    /// <summary>The IdP's issuer URL; its /.well-known/openid-configuration is read from there. Empty: no OIDC sign-in.</summary>
    public string? Authority { get; set; }

    public string? ClientId { get; set; }

    public string? ClientSecret { get; set; }

    /// <summary>
    /// The claim in the ID token that carries the person's HSA-id. Inera's IdP calls it employeeHsaId
    /// (SAML: http://sambi.se/attributes/1/employeeHsaId); a region's own IdP may name it otherwise.
    /// </summary>
    public string HsaIdClaim { get; set; } = "employeeHsaId";

    /// <summary>Scopes asked for besides openid: whatever the IdP puts the HSA-id claim in.</summary>
    public string[] Scopes { get; set; } = ["profile"];

    /// <summary>
    /// Local passwords on or off. Even when on, a production installation with OIDC refuses them:
    /// passwords are for demo and training installations, and for a region without an IdP yet.
    /// </summary>
    public bool LocalPasswords { get; set; } = true;

    public bool IsConfigured => !string.IsNullOrWhiteSpace(Authority);
}

/// <summary>Sign-in through the IdP: the HSA-id in the ID token picks the person in the staff directory.</summary>
public static class OidcSignIn
{
    public const string Scheme = OpenIdConnectDefaults.AuthenticationScheme;

    /// <summary>The session's claim saying how the person signed in, so signing out also ends the IdP's session.</summary>
    public const string ThroughIdp = "idp";

    public static void AddOidc(this AuthenticationBuilder authentication, OidcSettings settings)
    {
        if (!settings.IsConfigured) return;
        authentication.AddOpenIdConnect(Scheme, "SITHS", oidc =>
        {
            oidc.Authority = settings.Authority;
            oidc.ClientId = settings.ClientId;
            oidc.ClientSecret = settings.ClientSecret;
            oidc.RequireHttpsMetadata = settings.Authority!.StartsWith("https://", StringComparison.Ordinal);
            oidc.ResponseType = OpenIdConnectResponseType.Code;
            oidc.UsePkce = true;
            // The code comes back in the query of a top-level GET: a SameSite=Lax correlation cookie
            // then survives the way back (form_post would need SameSite=None, which plain-HTTP demos cannot set).
            oidc.ResponseMode = OpenIdConnectResponseMode.Query;
            oidc.CorrelationCookie.SameSite = SameSiteMode.Lax;
            oidc.CorrelationCookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            oidc.NonceCookie.SameSite = SameSiteMode.Lax;
            oidc.NonceCookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            oidc.MapInboundClaims = false;
            oidc.GetClaimsFromUserInfoEndpoint = false;
            oidc.SaveTokens = false;
            oidc.Scope.Clear();
            oidc.Scope.Add("openid");
            foreach (var scope in settings.Scopes) oidc.Scope.Add(scope);
            oidc.SignInScheme = CookieAuthenticationDefaults.AuthenticationScheme;
            oidc.SignedOutRedirectUri = "/login";
            oidc.TokenValidationParameters.NameClaimType = "name";
            oidc.Events.OnTicketReceived = TicketReceivedAsync;
            oidc.Events.OnRemoteFailure = RemoteFailureAsync;
        });
    }

    /// <summary>
    /// Whether this installation takes local passwords: not when switched off, and not in production
    /// once the region's IdP signs staff in.
    /// </summary>
    public static async Task<bool> LocalPasswordsAllowedAsync(OidcSettings settings, InstallationSettings installation, CancellationToken cancellationToken = default) =>
        settings.LocalPasswords
        && (!settings.IsConfigured || await installation.ModeAsync(cancellationToken) != InstallationMode.Production);

    private static async Task TicketReceivedAsync(TicketReceivedContext context)
    {
        var services = context.HttpContext.RequestServices;
        var settings = services.GetRequiredService<StadigOptions>().Oidc;
        var staff = services.GetRequiredService<StaffDirectory>();
        var cancellationToken = context.HttpContext.RequestAborted;
        // The handler would sign the IdP's principal in as it is; Stadig's session is the staff member's.
        context.HandleResponse();

        var hsaId = context.Principal?.FindFirst(settings.HsaIdClaim)?.Value;
        var member = string.IsNullOrWhiteSpace(hsaId) ? null : await staff.FindByHsaIdAsync(hsaId.Trim(), cancellationToken);
        if (member is null || (member.IsDemo && await services.GetRequiredService<InstallationSettings>().ModeAsync(cancellationToken) == InstallationMode.Production))
        {
            // Who it was stays out of the log: an operator sees that a refusal happened and why.
            Security(context.HttpContext).LogWarning("Sign-in through the identity provider refused: {Reason}",
                hsaId is null ? $"the ID token has no {settings.HsaIdClaim} claim" : member is null ? "the HSA-id is not in the staff directory" : "a demo account in production");
            context.Response.Redirect("/login?error=unknown");
            return;
        }

        var returnUrl = ReturnUrls.Safe(context.ReturnUri);
        var assignments = await staff.AssignmentsOfAsync(member.Id, cancellationToken);
        var only = assignments.Count == 1 ? assignments[0] : null;
        await context.HttpContext.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, LoginService.PrincipalFor(member, only, throughIdp: true));
        await staff.RecordSuccessfulLoginAsync(member.Id, cancellationToken);
        var next = only is null ? $"/assignment?returnUrl={Uri.EscapeDataString(returnUrl)}" : returnUrl;
        // Back from the IdP the browser is on a cross-site redirect chain, where the SameSite=Strict
        // session cookie is not sent: a page of Stadig's own moves on, and from there it is.
        context.Response.Redirect($"/login/continue?returnUrl={Uri.EscapeDataString(next)}");
    }

    private static Task RemoteFailureAsync(RemoteFailureContext context)
    {
        // The exception's type names the fault (wrong audience, issuer, signature, expired); its message may quote the token.
        Security(context.HttpContext).LogWarning("Sign-in through the identity provider failed: {Reason}", context.Failure?.GetType().Name ?? "unknown");
        context.HandleResponse();
        context.Response.Redirect("/login?error=idp");
        return Task.CompletedTask;
    }

    private static ILogger Security(HttpContext http) =>
        http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Stadig.Security");
}
