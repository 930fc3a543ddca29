using System.Diagnostics;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Npgsql;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Stadig.Auth;
using Stadig.Hosting;

namespace Stadig.Telemetry;

/// <summary>
/// OpenTelemetry wiring: metrics always (read at /metrics, and pushed over OTLP when a collector is
/// configured), traces only when there is a collector to send them to. No attribute may carry patient
/// data: a request's path is replaced by its route template and its query string is dropped (a FHIR
/// search by identifier carries a personnummer there), Npgsql records statements with placeholders
/// only, and Stadig's own spans carry kinds and codes.
/// </summary>
public static class TelemetrySetup
{
    public const string MetricsPolicy = "Metrics";
    public const string ScrapeTokenScheme = "ScrapeToken";
    public const string MetricsPath = "/metrics";

    /// <summary>The role claim of a Prometheus server that presented the scrape token.</summary>
    public const string ScraperRole = "MetricsScraper";

    public static void AddStadigTelemetry(this IServiceCollection services, StadigOptions options)
    {
        var settings = options.Telemetry;
        services.AddSingleton(settings);
        services.AddSingleton<RequestMetrics>();
        if (!settings.Enabled) return;
        services.AddHostedService<Hl7QueueCounter>();
        services.AddSingleton<ExpiryMetrics>();
        services.AddHostedService<ExpiryCounter>();
        var otlp = string.IsNullOrWhiteSpace(settings.OtlpEndpoint) ? null : new Uri(settings.OtlpEndpoint);
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("stadig", serviceInstanceId: options.NodeName))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(RequestMetrics.MeterName, Stadig.Telemetry.StadigTelemetry.Meter.Name)
                    // http.server.request.duration and Kestrel's connections, by route template.
                    .AddAspNetCoreInstrumentation()
                    // The connection pool: connections in use and idle, the maximum, requests waiting for one.
                    .AddNpgsqlInstrumentation()
                    .AddRuntimeInstrumentation()
                    .AddPrometheusExporter();
                if (otlp is not null) metrics.AddOtlpExporter(o => ConfigureOtlp(o, otlp, settings));
            });
        if (otlp is not null)
            telemetry.WithTracing(tracing =>
            {
                ConfigureTracing(tracing);
                tracing.AddOtlpExporter(o => ConfigureOtlp(o, otlp, settings));
            });
        AddMetricsAccess(services);
    }

    private static void AddMetricsAccess(IServiceCollection services)
    {
        services.AddAuthentication().AddScheme<AuthenticationSchemeOptions, ScrapeTokenHandler>(ScrapeTokenScheme, null);
        services.AddAuthorizationBuilder().AddPolicy(MetricsPolicy, policy => policy
            .RequireAuthenticatedUser()
            .RequireAssertion(context => context.User.HasClaim(StadigClaims.Role, nameof(Organisation.Role.Administrator))
                || context.User.HasClaim(StadigClaims.Role, ScraperRole)));
    }

    private static void ConfigureOtlp(OtlpExporterOptions exporter, Uri endpoint, TelemetrySettings settings)
    {
        exporter.Endpoint = endpoint;
        exporter.Protocol = settings.OtlpProtocol == "http/protobuf" ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
    }

    /// <summary>The sources traced and the redaction of HTTP spans; the tests add their own exporter to the same configuration.</summary>
    public static TracerProviderBuilder ConfigureTracing(TracerProviderBuilder tracing) => tracing
        .AddSource(Stadig.Telemetry.StadigTelemetry.Hl7.Name, Stadig.Telemetry.StadigTelemetry.Storage.Name)
        .AddNpgsql()
        .AddAspNetCoreInstrumentation(http =>
        {
            // An exception's message can name what was looked for; its type (error.type) is enough to find it in the log.
            http.RecordException = false;
            http.EnrichWithHttpRequest = (activity, _) => Redact(activity, null);
            http.EnrichWithHttpResponse = (activity, response) => Redact(activity, response.HttpContext);
        });

    /// <summary>
    /// The path becomes the route template (/patients/{id:guid}, never a number or an id), the query
    /// string goes: it is set at the start and again at the end, since the route is known only once
    /// the request has been routed.
    /// </summary>
    private static void Redact(Activity activity, HttpContext? http)
    {
        activity.SetTag("url.query", null);
        activity.SetTag("url.full", null);
        var route = (http?.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText;
        activity.SetTag("url.path", route ?? "-");
        if (http is not null) activity.DisplayName = route is null ? http.Request.Method : $"{http.Request.Method} {route}";
    }

    /// <summary>/metrics, for an administrator or a scraper with the token; never public.</summary>
    public static void MapMetrics(this WebApplication app)
    {
        if (app.Services.GetRequiredService<TelemetrySettings>().Enabled)
            app.MapPrometheusScrapingEndpoint(MetricsPath).RequireAuthorization(MetricsPolicy);
    }

    /// <summary>Whether a request is a scrape presenting a bearer token, which is the scrape token's to judge, not the JWT handler's.</summary>
    public static bool IsScrapeWithToken(HttpRequest request, TelemetrySettings settings) =>
        settings.Enabled && request.Path == MetricsPath && !string.IsNullOrEmpty(settings.ScrapeToken)
        && request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase);
}

/// <summary>Accepts Stadig:Telemetry:ScrapeToken as a bearer token on /metrics, compared in constant time.</summary>
public sealed class ScrapeTokenHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, TelemetrySettings settings)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (string.IsNullOrEmpty(settings.ScrapeToken) || !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return Task.FromResult(AuthenticateResult.NoResult());
        var given = SHA256.HashData(Encoding.UTF8.GetBytes(header["Bearer ".Length..].Trim()));
        var expected = SHA256.HashData(Encoding.UTF8.GetBytes(settings.ScrapeToken));
        if (!CryptographicOperations.FixedTimeEquals(given, expected))
            return Task.FromResult(AuthenticateResult.Fail("wrong scrape token"));
        var identity = new ClaimsIdentity([new Claim(StadigClaims.Role, TelemetrySetup.ScraperRole)], Scheme.Name);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name)));
    }
}
