namespace Stadig.Hosting;

public enum RequestClass
{
    /// <summary>Liveness and readiness: always answered.</summary>
    Exempt,
    /// <summary>Saving what a clinician typed and signing it: never starved by reads.</summary>
    Priority,
    Interactive,
    /// <summary>Other systems over FHIR: their own pool, so an integration's burst sheds before a clinician's screen does.</summary>
    Integration,
    /// <summary>Logging in: a password hash, in its own small pool.</summary>
    Login,
}

public sealed class AdmissionOptions
{
    // Pools are sized by the node's cores: requests here are mostly CPU (the application and, on a
    // node with its database, PostgreSQL), so a 2-core node that lets 64 run at once is slow for all
    // of them long before the pool is full, and never sheds. The go-live rehearsal's overload run
    // found exactly that (docs/benchmarks.md); a small pool with a short wait sheds at once instead.
    private static readonly int Cores = Environment.ProcessorCount;

    /// <summary>Interactive requests served at once; more wait briefly, then get 503.</summary>
    public int MaxConcurrent { get; set; } = 8 * Cores;

    /// <summary>Autosave and sign requests served at once, in their own pool.</summary>
    public int MaxConcurrentPriority { get; set; } = 4 * Cores;

    /// <summary>FHIR requests from other systems served at once, in their own pool.</summary>
    public int MaxConcurrentIntegration { get; set; } = 2 * Cores;

    /// <summary>
    /// Logins served at once: a login is a deliberately slow password hash, so a shift's logins at
    /// seven o'clock must not take the cores from the screens of those already at work.
    /// </summary>
    public int MaxConcurrentLogin { get; set; } = Cores;

    /// <summary>How long a request may wait for a slot before it is turned away (503 + Retry-After).</summary>
    public int QueueWaitMilliseconds { get; set; } = 50;

    /// <summary>How long a login may wait for a slot: a person logging in waits a moment rather than being turned away.</summary>
    public int LoginQueueWaitMilliseconds { get; set; } = 3000;

    /// <summary>Every request's deadline: past it the work is cancelled and the answer is 503.</summary>
    public int RequestTimeoutSeconds { get; set; } = 10;
}

/// <summary>
/// Admission control: a fixed number of requests run at once, in two pools so that autosave and
/// signing keep their capacity when reads pile up. A request that cannot start within a short wait
/// gets 503 with Retry-After at once, instead of joining a queue that makes every screen hang.
/// </summary>
public sealed class AdmissionControl(AdmissionOptions options)
{
    private readonly SemaphoreSlim _interactive = new(options.MaxConcurrent, options.MaxConcurrent);
    private readonly SemaphoreSlim _priority = new(options.MaxConcurrentPriority, options.MaxConcurrentPriority);
    private readonly SemaphoreSlim _integration = new(options.MaxConcurrentIntegration, options.MaxConcurrentIntegration);
    private readonly SemaphoreSlim _login = new(options.MaxConcurrentLogin, options.MaxConcurrentLogin);

    /// <summary>
    /// Whether clinicians' requests are using most of their capacity: background work (bulk
    /// export) steps aside then, so autosave, signing and screens keep the database and the cores.
    /// </summary>
    public bool CliniciansBusy =>
        options.MaxConcurrent - _interactive.CurrentCount >= Math.Max(1, options.MaxConcurrent * 3 / 4)
        || options.MaxConcurrentPriority - _priority.CurrentCount >= Math.Max(1, options.MaxConcurrentPriority / 2);

    public static RequestClass Classify(HttpRequest request)
    {
        var path = request.Path.Value ?? "";
        if (path.StartsWith("/health/", StringComparison.Ordinal)) return RequestClass.Exempt;
        if (HttpMethods.IsPut(request.Method) && path.StartsWith("/api/notes/", StringComparison.Ordinal) && path.EndsWith("/draft", StringComparison.Ordinal))
            return RequestClass.Priority;
        if (HttpMethods.IsPost(request.Method) && (path.StartsWith("/notes/", StringComparison.Ordinal)
            || path.StartsWith("/api/notes/", StringComparison.Ordinal) && path.EndsWith("/sign", StringComparison.Ordinal)))
            return RequestClass.Priority;
        if (path == "/fhir" || path.StartsWith("/fhir/", StringComparison.Ordinal)) return RequestClass.Integration;
        if (HttpMethods.IsPost(request.Method) && path == "/login") return RequestClass.Login;
        return RequestClass.Interactive;
    }

    /// <summary>Takes a slot of the class's pool, waiting at most the configured time; null when full.</summary>
    public async Task<IDisposable?> TryEnterAsync(RequestClass requestClass, CancellationToken cancellationToken)
    {
        if (requestClass == RequestClass.Exempt) return Slot.None;
        var pool = requestClass switch
        {
            RequestClass.Priority => _priority, RequestClass.Integration => _integration, RequestClass.Login => _login, _ => _interactive,
        };
        var wait = requestClass == RequestClass.Login ? options.LoginQueueWaitMilliseconds : options.QueueWaitMilliseconds;
        return await pool.WaitAsync(wait, cancellationToken) ? new Slot(pool) : null;
    }

    private sealed class Slot(SemaphoreSlim? pool) : IDisposable
    {
        public static readonly Slot None = new(null);
        private SemaphoreSlim? _pool = pool;

        public void Dispose() => Interlocked.Exchange(ref _pool, null)?.Release();
    }
}

public static class AdmissionControlMiddleware
{
    public static void UseAdmissionControl(this WebApplication app) => app.Use(async (context, next) =>
    {
        var admission = context.RequestServices.GetRequiredService<AdmissionControl>();
        var requestClass = AdmissionControl.Classify(context.Request);
        using var slot = await admission.TryEnterAsync(requestClass, context.RequestAborted);
        if (slot is null)
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            context.Response.Headers.RetryAfter = "2";
            if (requestClass == RequestClass.Integration)
            {
                // FHIR clients read an OperationOutcome (transient: retry after the header's seconds).
                context.Response.ContentType = "application/fhir+json; charset=utf-8";
                await context.Response.WriteAsync(Stadig.Fhir.FhirJson.Serialize(Stadig.Fhir.FhirBundles.OperationOutcome(
                    [new Stadig.Fhir.FhirIssue("error", "transient", null, "Stadig is under heavy load: retry after the Retry-After header's seconds.")])));
                return;
            }
            const string busy = "Stadig är hårt belastat just nu. Försök igen om ett par sekunder; inget du skrivit har gått förlorat.";
            if (context.Request.Headers.Accept.ToString().Contains("text/html", StringComparison.Ordinal))
            {
                // A person in a browser (a page, the login form) gets a page, not JSON; a page they
                // only looked at reloads itself after the Retry-After.
                context.Response.ContentType = "text/html; charset=utf-8";
                var reload = HttpMethods.IsGet(context.Request.Method) ? "<meta http-equiv=\"refresh\" content=\"2\">" : "";
                await context.Response.WriteAsync(
                    $"<!doctype html><html lang=\"sv\"><head><meta charset=\"utf-8\">{reload}<title>Stadig</title></head><body><p>{busy}</p></body></html>");
                return;
            }
            await context.Response.WriteAsJsonAsync(new { title = busy, status = 503 });
            return;
        }
        await next();
    });
}
