using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Localization;
using Microsoft.IdentityModel.Tokens;
using Stadig.Auth;
using Stadig.Components;
using Stadig.Installation;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Patients.Identifiers;
using Stadig.Seeding;
using Stadig.Storage;
using Stadig.Telemetry;

namespace Stadig.Hosting;

/// <summary>All of Stadig's wiring in one place, so Program.cs stays a few lines.</summary>
public static class StadigServices
{
    public const string LoginRateLimit = "login";

    /// <summary>The deadline class of bulk writes (a FHIR batch or transaction, an import's upload): see <see cref="AdmissionOptions.BulkWriteTimeoutSeconds"/>.</summary>
    public const string BulkWriteTimeout = "bulk-write";

    public static void AddStadig(this WebApplicationBuilder builder, StadigOptions options)
    {
        var services = builder.Services;
        // Request lines carry query strings, and a patient search's query is a name or a number:
        // the framework's per-request logs stay off whatever the configuration says, so patient
        // data never reaches the application log.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.AspNetCore.Routing", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.AspNetCore.Components", LogLevel.Warning);
        // Parameter binding failures are logged at Debug with the raw value ("Failed to bind … from 'abc'").
        builder.Logging.AddFilter("Microsoft.AspNetCore.Http", LogLevel.Warning);
        services.AddSingleton(options);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(new Stadig.Common.RegionTime(options.TimeZone));
        services.AddSingleton(sp =>
        {
            var database = new Database(Database.EngineOf(options.Database), options.Database, options.ReplicaDatabase,
                options.WarmUp.ConnectionsFor(options.Admission))
            {
                Clock = sp.GetRequiredService<TimeProvider>(),
            };
            database.Writes.AuditSpoolFolder = options.Downtime.SpoolFolderFor(options.Database);
            database.Writes.RetryAfterSeconds = Math.Max(1, options.Downtime.ProbeSeconds);
            if (options.Downtime.ReadOnly) database.Writes.ConfiguredSince = sp.GetRequiredService<TimeProvider>().GetUtcNow();
            database.Writes.OperatorSwitch(database.Writes.ConfiguredSince);
            return database;
        });
        services.AddSingleton<DatabaseReadiness>();
        services.AddHostedService<DatabaseStartup>();
        services.AddSingleton(options.Downtime);
        services.AddSingleton<Stadig.Downtime.ReadOnlyMode>();
        services.AddHostedService<ReadOnlyProbeService>();
        services.AddHostedService<DatabaseReconnectService>();
        services.AddSingleton(options.Downtime.Snapshots);
        services.AddSingleton<Stadig.Downtime.UnitSnapshotReader>();
        services.AddSingleton<Stadig.Downtime.SnapshotPage>();
        services.AddSingleton<Stadig.Downtime.SnapshotPdf>();
        services.AddSingleton<Stadig.Downtime.DowntimeSnapshots>();
        services.AddHostedService<Stadig.Downtime.SnapshotScheduleService>();
        services.AddSingleton(new ReservnummerFormat(options.ReservnummerPattern));
        services.AddSingleton<PatientIdentifierRules>();
        services.AddSingleton(options.Access);
        services.AddSingleton(options.Admission);
        services.AddSingleton<AdmissionControl>();
        services.AddSingleton(sp => new Stadig.Common.BackgroundWork(() => sp.GetRequiredService<AdmissionControl>().CliniciansBusy, sp.GetRequiredService<TimeProvider>(),
            () => sp.GetRequiredService<AdmissionControl>().Quiet));
        services.AddRequestTimeouts(timeouts =>
        {
            timeouts.DefaultPolicy = new Microsoft.AspNetCore.Http.Timeouts.RequestTimeoutPolicy
            {
                Timeout = TimeSpan.FromSeconds(options.Admission.RequestTimeoutSeconds),
                TimeoutStatusCode = StatusCodes.Status503ServiceUnavailable,
            };
            timeouts.AddPolicy(BulkWriteTimeout, new Microsoft.AspNetCore.Http.Timeouts.RequestTimeoutPolicy
            {
                Timeout = TimeSpan.FromSeconds(options.Admission.BulkWriteTimeoutSeconds),
                TimeoutStatusCode = StatusCodes.Status503ServiceUnavailable,
            });
        });
        services.AddSingleton<Stadig.Audit.AuditLog>();
        services.AddSingleton<Stadig.Audit.AuditVerifier>();
        services.AddSingleton<Stadig.Medication.ProductCatalogue>();
        services.AddSingleton(options.Medication);
        services.AddSingleton<Stadig.Medication.MedicationList>();
        services.AddSingleton<Stadig.Medication.DischargeReconciliation>();
        services.AddSingleton<Stadig.Medication.MedicationAdministration>();
        services.AddSingleton<Stadig.Audit.AuditCheckpoints>();
        services.AddHostedService<Stadig.Audit.AuditCheckpointService>();
        services.AddHostedService<SqliteStatistics>();
        services.AddSingleton(options.Audit);
        services.AddSingleton(sp => new Stadig.Audit.AuditQueryOptions { UnusualVolumePatientsPerDay = sp.GetRequiredService<Stadig.Audit.AuditSettings>().UnusualVolumePatientsPerDay });
        services.AddSingleton<Stadig.Audit.AuditQueries>();
        services.AddSingleton(_ => new Stadig.Audit.DejaVuFontResolver());
        services.AddSingleton<Stadig.Audit.LogExtractPdf>();
        services.AddSingleton<Stadig.Medication.MedicationListPdf>();
        services.AddSingleton<Stadig.Audit.Printouts>();
        services.AddSingleton<Stadig.Access.PatientCheckpoint>();
        services.AddSingleton<Stadig.Access.AccessControl>();
        services.AddSingleton<PatientRegistry>();
        services.AddSingleton<Stadig.Chart.PatientChart>();
        services.AddSingleton<Stadig.Chart.PatientRecord>();
        services.AddSingleton<Stadig.Notes.ClinicalNotes>();
        services.AddSingleton<Stadig.LabResults.ResultQuarantine>();
        services.AddSingleton<Stadig.LabResults.MessageTracking>();
        services.AddSingleton<Stadig.Readiness.ExpiryRegister>();
        services.AddSingleton<Stadig.LabResults.ResultInbox>();
        services.AddSingleton<Stadig.LabResults.ResultTrends>();
        services.AddSingleton<Stadig.LabResults.ResultAttachments>();
        services.AddSingleton<Stadig.LabResults.ResultReports>();
        services.AddSingleton<Stadig.Orders.LabOrders>();
        services.AddSingleton<Stadig.Orders.OrderOutbox>();
        services.AddHostedService<Stadig.LabResults.OrderOutboxService>();
        services.AddSingleton<Stadig.Warnings.PatientWarnings>();
        services.AddSingleton<Stadig.Problems.PatientProblems>();
        services.AddSingleton(options.Encounters);
        services.AddSingleton<Stadig.Encounters.PatientEncounters>();
        services.AddSingleton<Stadig.Downtime.DowntimePeriods>();
        services.AddSingleton<Stadig.Observations.VitalSigns>();
        services.AddSingleton<StaffDirectory>();
        services.AddSingleton<Stadig.Fhir.FhirService>();
        // The HL7 v2 MLLP listener for lab results (Stadig:Mllp:Port, default 2575; 0 turns it off).
        services.AddHostedService<Stadig.LabResults.MllpHostedService>();
        services.AddSingleton<InstallationSettings>();
        services.AddSingleton<RegionSeeder>();
        services.AddSingleton(options.Training);
        services.AddSingleton<Stadig.Training.ExerciseSetup>();
        services.AddSingleton<Stadig.Training.TrainingExercises>();
        services.AddSingleton<Stadig.Training.TrainingRoster>();
        services.AddSingleton<Stadig.Training.TrainingReport>();
        services.AddSingleton<IPasswordHasher<object>, PasswordHasher<object>>();
        services.AddSingleton<LoginThrottle>();
        services.AddSingleton<LoginService>();
        services.AddScoped<CallerAccessor>();
        services.AddSingleton<BearerCallers>();
        services.AddSingleton(options.WarmUp);
        services.AddSingleton<WarmUp>();
        services.AddHostedService(sp => sp.GetRequiredService<WarmUp>());
        services.AddHostedService<Stadig.Fhir.FhirProfileWarmUp>();
        services.AddHttpContextAccessor();

        services.AddStadigTelemetry(options);
        AddForwardedHeaders(services, options);
        AddAuthentication(services, options);
        services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new Microsoft.AspNetCore.Authorization.AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build())
            // Patient pages need a chosen assignment; without one the person is sent to choose it.
            .AddPolicy("Assigned", policy => policy.RequireAuthenticatedUser().RequireClaim(StadigClaims.AssignmentId));

        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = (context, _) =>
            {
                context.HttpContext.Response.Headers.RetryAfter = "60";
                return ValueTask.CompletedTask;
            };
            limiter.AddPolicy(LoginRateLimit, http => RateLimitPartition.GetFixedWindowLimiter(
                http.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                _ => new FixedWindowRateLimiterOptions { PermitLimit = options.LoginAttemptsPerMinute, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));
        });

        services.AddLocalization(l => l.ResourcesPath = "Resources");
        services.Configure<RequestLocalizationOptions>(localization =>
        {
            localization.SetDefaultCulture("sv-SE").AddSupportedCultures("sv-SE", "en").AddSupportedUICultures("sv-SE", "en");
            localization.RequestCultureProviders = [new CookieRequestCultureProvider()];
        });
        services.AddAntiforgery(a => a.Cookie.Name = "stadig.antiforgery");
        services.AddProblemDetails();
        services.AddExceptionHandler<ProblemMapping>();
        services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database", tags: ["ready"])
            .AddCheck<LabMessagesHealthCheck>("hl7-messages", tags: ["ready"])
            .AddCheck<WarmUpHealthCheck>("warm-up", tags: ["ready"])
            .AddCheck<WritesHealthCheck>("writes", tags: ["ready"]);
        services.AddRazorComponents();
        // Swedish text is written as UTF-8 characters, not as numeric entities: smaller pages, and the
        // bytes on screen, in print and in a saved page are the letters that were typed.
        services.AddWebEncoders(o => o.TextEncoderSettings = new System.Text.Encodings.Web.TextEncoderSettings(System.Text.Unicode.UnicodeRanges.All));
        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter()));
    }

    /// <summary>
    /// Behind a TLS-terminating proxy the request reaches Stadig as plain HTTP from the proxy's address.
    /// Only the proxies named in Stadig:ForwardedProxies are believed about the client's address and
    /// scheme, so the session cookie is Secure and HSTS is sent when the client used HTTPS, and login
    /// throttling sees the client, not the proxy. Anyone else's X-Forwarded-* headers are ignored.
    /// </summary>
    private static void AddForwardedHeaders(IServiceCollection services, StadigOptions options)
    {
        services.Configure<ForwardedHeadersOptions>(forwarded =>
        {
            forwarded.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            forwarded.KnownProxies.Clear();
            forwarded.KnownIPNetworks.Clear();
            foreach (var proxy in options.ForwardedProxies)
            {
                if (proxy.Contains('/')) forwarded.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(proxy));
                else forwarded.KnownProxies.Add(System.Net.IPAddress.Parse(proxy));
            }
        });
        services.AddHsts(hsts =>
        {
            hsts.MaxAge = TimeSpan.FromDays(365);
            hsts.IncludeSubDomains = false;
        });
    }

    /// <summary>
    /// The overall status on the first line (what probes read), then each check that is not healthy with its
    /// description (counts only, never patient data), so an operator sees why without a log.
    /// </summary>
    private static Task WriteHealthAsync(HttpContext context, Microsoft.Extensions.Diagnostics.HealthChecks.HealthReport report)
    {
        context.Response.ContentType = "text/plain; charset=utf-8";
        var text = new System.Text.StringBuilder(report.Status.ToString()).Append('\n');
        foreach (var (name, entry) in report.Entries.Where(e => e.Value.Status != Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy))
            text.Append(name).Append(": ").Append(entry.Status).Append(" – ").Append(entry.Description).Append('\n');
        return context.Response.WriteAsync(text.ToString());
    }

    private static void AddAuthentication(IServiceCollection services, StadigOptions options)
    {
        services.AddAuthentication("Stadig")
            .AddPolicyScheme("Stadig", "Cookie or bearer token", policy =>
            {
                policy.ForwardDefaultSelector = http =>
                    Stadig.Telemetry.TelemetrySetup.IsScrapeWithToken(http.Request, options.Telemetry) ? Stadig.Telemetry.TelemetrySetup.ScrapeTokenScheme
                    : http.Request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
                        ? JwtBearerDefaults.AuthenticationScheme
                        : CookieAuthenticationDefaults.AuthenticationScheme;
            })
            .AddCookie(cookie =>
            {
                cookie.Cookie.Name = "stadig.session";
                cookie.Cookie.HttpOnly = true;
                cookie.Cookie.SameSite = SameSiteMode.Strict;
                // Secure whenever the request is HTTPS, as every production deployment is; plain HTTP
                // is for the local demo only.
                cookie.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                cookie.ExpireTimeSpan = TimeSpan.FromMinutes(options.IdleTimeoutMinutes);
                cookie.SlidingExpiration = true;
                cookie.LoginPath = "/login";
                cookie.AccessDeniedPath = "/assignment";
                cookie.Events.OnRedirectToAccessDenied = context =>
                {
                    if (IsMachineEndpoint(context.Request)) context.Response.StatusCode = StatusCodes.Status403Forbidden;
                    else context.Response.Redirect(context.RedirectUri);
                    return Task.CompletedTask;
                };
                cookie.Events.OnRedirectToLogin = context =>
                {
                    if (IsMachineEndpoint(context.Request)) context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                    else context.Response.Redirect(context.RedirectUri);
                    return Task.CompletedTask;
                };
            })
            .AddJwtBearer(jwt =>
            {
                jwt.MapInboundClaims = false;
                jwt.Authority = options.Jwt.Authority;
                jwt.Audience = options.Jwt.Audience;
                jwt.RequireHttpsMetadata = options.Jwt.Authority?.StartsWith("https://", StringComparison.Ordinal) ?? true;
                jwt.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidateIssuer = options.Jwt.Issuer is not null,
                    ValidIssuer = options.Jwt.Issuer,
                    ValidateAudience = options.Jwt.Audience is not null,
                    ValidAudience = options.Jwt.Audience,
                    ValidateLifetime = true,
                    RequireExpirationTime = true,
                    IssuerSigningKey = options.Jwt.SigningKey is { Length: > 0 } key
                        ? new SymmetricSecurityKey(System.Text.Encoding.UTF8.GetBytes(key))
                        : null,
                    ValidateIssuerSigningKey = true,
                    NameClaimType = StadigClaims.Name,
                };
                // A refused token is a security event worth an operator's eye: logged with the reason,
                // which names the token's problem, never a patient.
                jwt.Events = new JwtBearerEvents
                {
                    OnAuthenticationFailed = context =>
                    {
                        context.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Stadig.Security")
                            .LogWarning("Bearer token refused from {Address}: {Reason}", context.HttpContext.Connection.RemoteIpAddress, context.Exception.GetType().Name);
                        return Task.CompletedTask;
                    },
                };
            })
            .AddOidc(options.Oidc);
        // An integration's token is validated once per token, not once per request (Auth/ValidatedTokens).
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<TimeProvider>((jwt, clock) =>
            {
                jwt.TokenHandlers.Clear();
                jwt.TokenHandlers.Add(new ValidatedTokens(clock));
            });
    }

    /// <summary>The JSON API, FHIR and the metrics scrape answer a missing or insufficient login with 401/403, not a redirect to the login page.</summary>
    private static bool IsMachineEndpoint(HttpRequest request) =>
        request.Path.StartsWithSegments("/api") || request.Path.StartsWithSegments("/fhir") || request.Path.StartsWithSegments(Stadig.Telemetry.TelemetrySetup.MetricsPath);

    public static void UseStadig(this WebApplication app)
    {
        // First, so that everything its requests do, error pages included, is rolled back.
        app.UseWarmUpRollBack();
        // Until the database is reached and prepared, only health and the metrics scrape are answered.
        app.Use((http, next) =>
        {
            if (http.RequestServices.GetRequiredService<DatabaseReadiness>().IsReady || AdmissionControl.Classify(http.Request) == RequestClass.Exempt)
                return next(http);
            http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            http.Response.Headers.RetryAfter = "5";
            return Task.CompletedTask;
        });
        if (app.Services.GetRequiredService<StadigOptions>().ForwardedProxies.Length > 0) app.UseForwardedHeaders();
        // One error map (ProblemMapping): the API gets ProblemDetails; a page request gets the error
        // page re-executed with the failure's status, in the layout and the user's language.
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            ExceptionHandlingPath = "/error",
            // The page is rendered again in a fresh scope: the failed render's services are spent.
            CreateScopeForErrors = true,
            StatusCodeSelector = ProblemMapping.StatusOf,
            // An expected failure (bad input, not found) is an answer, not an error to log with its text.
            SuppressDiagnosticsCallback = c => ProblemMapping.IsExpected(c.Exception),
        });
        app.UseStatusCodePagesWithReExecute("/error/{0}", createScopeForStatusCodePages: true);
        // The JSON API and FHIR answer with their own bodies (or none): never with a page.
        app.Use((http, next) =>
        {
            if (ProblemMapping.WantsJson(http) && http.Features.Get<IStatusCodePagesFeature>() is { } pages) pages.Enabled = false;
            // The error page is rendered as a GET: re-executed as the failed form post, the page
            // would look for that form and fail in turn.
            if ((http.Features.Get<IStatusCodeReExecuteFeature>() is not null || http.Features.Get<IExceptionHandlerPathFeature>() is not null)
                && !HttpMethods.IsGet(http.Request.Method))
                http.Request.Method = HttpMethods.Get;
            return next(http);
        });
        // Sent only on HTTPS requests (directly, or from a trusted proxy that says so), never for localhost.
        app.UseHsts();
        app.UseSecurityHeaders();
        // A page's own scripts and styles before admission control: they cost next to nothing, and a
        // script shed under load would leave the page without its autosave and its keys.
        app.UseStaticFiles();
        app.UseAdmissionControl();
        app.UseReadOnlyGate();
        app.UseRequestLocalization();
        app.UseRateLimiter();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();
        app.UseRequestTimeouts();

        app.MapHealthChecks("/health/live", new() { Predicate = _ => false }).AllowAnonymous();
        app.MapHealthChecks("/health/ready", new() { Predicate = c => c.Tags.Contains("ready"), ResponseWriter = WriteHealthAsync }).AllowAnonymous();
        app.MapMetrics();
        app.MapLoginEndpoints();
        app.MapPatientApi();
        Stadig.Notes.NoteApi.MapNoteApi(app);
        Stadig.Audit.AuditEndpoints.MapAuditEndpoints(app);
        Stadig.Audit.PrintEndpoints.MapPrintEndpoints(app);
        Stadig.Medication.MedicationEndpoints.MapMedicationEndpoints(app);
        Stadig.LabResults.QuarantineEndpoints.MapQuarantineEndpoints(app);
        Stadig.Training.TrainingEndpoints.MapTrainingEndpoints(app);
        Stadig.LabResults.InboxEndpoints.MapInboxEndpoints(app);
        Stadig.LabResults.AttachmentEndpoints.MapAttachmentEndpoints(app);
        Stadig.Fhir.FhirEndpoints.MapFhirEndpoints(app);
        Stadig.Downtime.ReadOnlyEndpoints.MapReadOnlyEndpoints(app);
        Stadig.Downtime.SnapshotEndpoints.MapSnapshotEndpoints(app);
        app.MapRazorComponents<App>();
    }
}
