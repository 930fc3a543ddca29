using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Localization;
using Microsoft.AspNetCore.Mvc;
using Stadig.Hosting;
using Stadig.Organisation;

namespace Stadig.Auth;

/// <summary>The form posts of signing in, choosing an assignment, signing out and switching language.</summary>
public static class LoginEndpoints
{
    public static void MapLoginEndpoints(this WebApplication app)
    {
        app.MapPost("/login", LoginAsync).AllowAnonymous().RequireRateLimiting(StadigServices.LoginRateLimit).DisableAntiforgery()
            .AddEndpointFilter(AntiforgeryFilter);
        app.MapGet("/login/siths", SignInThroughIdp).AllowAnonymous();
        app.MapPost("/assignment", ChooseAssignmentAsync);
        app.MapPost("/logout", (Delegate)LogoutAsync);
        app.MapGet("/culture", SetCulture).AllowAnonymous();
    }

    // The login form carries an antiforgery token like every other form; validated here explicitly
    // because the rate limiter must see the request first.
    private static async ValueTask<object?> AntiforgeryFilter(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var antiforgery = context.HttpContext.RequestServices.GetRequiredService<Microsoft.AspNetCore.Antiforgery.IAntiforgery>();
        if (!await antiforgery.IsRequestValidAsync(context.HttpContext))
            return Results.Problem("The form has expired. Reload the page and try again.", statusCode: StatusCodes.Status400BadRequest);
        return await next(context);
    }

    private static async Task<IResult> LoginAsync(HttpContext http, [FromForm] string? username, [FromForm] string? password, [FromForm] string? returnUrl,
        LoginService login, StaffDirectory staff)
    {
        var result = await login.CheckAsync(username, password, http.Connection.RemoteIpAddress?.ToString() ?? "unknown", http.RequestAborted);
        if (result.Outcome != LoginOutcome.Success)
        {
            var reason = result.Outcome switch
            {
                LoginOutcome.TooSoon => "wait",
                LoginOutcome.DemoUserNotAllowed => "demo",
                LoginOutcome.LocalPasswordsOff => "local",
                _ => "wrong",
            };
            return Results.Redirect($"/login?error={reason}&returnUrl={Uri.EscapeDataString(SafeReturnUrl(returnUrl))}");
        }
        var assignments = await staff.AssignmentsOfAsync(result.Staff!.Id, http.RequestAborted);
        // One assignment: nothing to choose. Several: the person picks one.
        var only = assignments.Count == 1 ? assignments[0] : null;
        await http.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, LoginService.PrincipalFor(result.Staff, only));
        return only is null
            ? Results.Redirect($"/assignment?returnUrl={Uri.EscapeDataString(SafeReturnUrl(returnUrl))}")
            : Results.Redirect(SafeReturnUrl(returnUrl));
    }

    private static async Task<IResult> ChooseAssignmentAsync(HttpContext http, [FromForm] Guid assignmentId, [FromForm] string? returnUrl, StaffDirectory staff)
    {
        var staffId = Guid.Parse(http.User.FindFirst(StadigClaims.StaffId)?.Value ?? Guid.Empty.ToString());
        var member = await staff.FindByIdAsync(staffId, http.RequestAborted);
        if (member is null) return Results.Redirect("/login");
        var assignment = (await staff.AssignmentsOfAsync(staffId, http.RequestAborted)).FirstOrDefault(a => a.Id == assignmentId);
        if (assignment is null) return Results.Redirect("/assignment?error=unknown");
        var throughIdp = http.User.FindFirst(StadigClaims.SignedInWith)?.Value == OidcSignIn.ThroughIdp;
        await http.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, LoginService.PrincipalFor(member, assignment, throughIdp));
        return Results.Redirect(SafeReturnUrl(returnUrl));
    }

    /// <summary>Sends the browser to the region's IdP; it comes back to /signin-oidc (<see cref="OidcSignIn"/>).</summary>
    private static async Task<IResult> SignInThroughIdp(HttpContext http, string? returnUrl, StadigOptions options, ILoggerFactory logs)
    {
        if (!options.Oidc.IsConfigured) return Results.Redirect("/login");
        try
        {
            await http.ChallengeAsync(OidcSignIn.Scheme, new AuthenticationProperties { RedirectUri = SafeReturnUrl(returnUrl) });
            return Results.Empty;
        }
        catch (InvalidOperationException e)
        {
            // The IdP's discovery document cannot be read (down, or a wrong Authority): say so on the login page, not with a 500.
            logs.CreateLogger("Stadig.Security").LogWarning("The identity provider cannot be reached: {Reason}", e.GetType().Name);
            return Results.Redirect("/login?error=idp");
        }
    }

    private static async Task<IResult> LogoutAsync(HttpContext http, StadigOptions options)
    {
        var throughIdp = http.User.FindFirst(StadigClaims.SignedInWith)?.Value == OidcSignIn.ThroughIdp;
        await http.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        // Signed in through the IdP: its session ends too, or the next sign-in would not ask for the card.
        if (throughIdp && options.Oidc.IsConfigured)
        {
            try
            {
                await http.SignOutAsync(OidcSignIn.Scheme, new AuthenticationProperties { RedirectUri = "/login" });
                return Results.Empty;
            }
            catch (InvalidOperationException)
            {
                // The IdP offers no end-session endpoint: Stadig's own session is over all the same.
            }
        }
        return Results.Redirect("/login");
    }

    private static IResult SetCulture(HttpContext http, string? name, string? returnUrl)
    {
        var culture = name == "en" ? "en" : "sv-SE";
        http.Response.Cookies.Append(CookieRequestCultureProvider.DefaultCookieName,
            CookieRequestCultureProvider.MakeCookieValue(new RequestCulture(culture)),
            new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Lax, MaxAge = TimeSpan.FromDays(365), IsEssential = true });
        return Results.Redirect(SafeReturnUrl(returnUrl));
    }

    private static string SafeReturnUrl(string? returnUrl) => ReturnUrls.Safe(returnUrl);
}
