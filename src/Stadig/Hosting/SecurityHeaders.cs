namespace Stadig.Hosting;

public static class SecurityHeaders
{
    /// <summary>
    /// A strict Content-Security-Policy (only our own scripts and styles, no inline code, no framing)
    /// and the usual companions, on every response.
    /// </summary>
    public static void UseSecurityHeaders(this WebApplication app) => app.Use(async (context, next) =>
    {
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy =
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()";
        // Patient data must not linger in shared caches or the browser's back-forward cache. Written
        // as antiforgery writes it on every form page, so it has nothing to override (and log).
        headers.CacheControl = "no-cache, no-store";
        headers.Pragma = "no-cache";
        await next();
    });
}
