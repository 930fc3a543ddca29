namespace Stadig.Hosting;

public static class SecurityHeaders
{
    /// <summary>
    /// A strict Content-Security-Policy (only our own scripts and styles, no inline code, no framing)
    /// and the usual companions, on every response.
    /// </summary>
    public static void UseSecurityHeaders(this WebApplication app)
    {
        // Signing out posts a form whose answer redirects to the region's IdP (its end-session
        // endpoint), and form-action governs a form's redirects too: the IdP's origin is allowed there.
        var oidc = app.Services.GetRequiredService<StadigOptions>().Oidc;
        var formAction = oidc.IsConfigured ? $"'self' {new Uri(oidc.Authority!).GetLeftPart(UriPartial.Authority)}" : "'self'";
        var policy = $"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action {formAction}; frame-ancestors 'none'";
        app.Use(async (context, next) => await Apply(context, next, policy));
    }

    private static async Task Apply(HttpContext context, RequestDelegate next, string policy)
    {
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = policy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()";
        // Patient data must not linger in shared caches or the browser's back-forward cache. Written
        // as antiforgery writes it on every form page, so it has nothing to override (and log).
        headers.CacheControl = "no-cache, no-store";
        headers.Pragma = "no-cache";
        await next(context);
    }
}
