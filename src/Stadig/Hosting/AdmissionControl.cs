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
}

public sealed class AdmissionOptions
{
    /// <summary>Interactive requests served at once; more wait briefly, then get 503.</summary>
    public int MaxConcurrent { get; set; } = 64;

    /// <summary>Autosave and sign requests served at once, in their own pool.</summary>
    public int MaxConcurrentPriority { get; set; } = 32;

    /// <summary>FHIR requests from other systems served at once, in their own pool.</summary>
    public int MaxConcurrentIntegration { get; set; } = 16;

    /// <summary>How long a request may wait for a slot before it is turned away (503 + Retry-After).</summary>
    public int QueueWaitMilliseconds { get; set; } = 50;

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
        return RequestClass.Interactive;
    }

    /// <summary>Takes a slot of the class's pool, waiting at most the configured time; null when full.</summary>
    public async Task<IDisposable?> TryEnterAsync(RequestClass requestClass, CancellationToken cancellationToken)
    {
        if (requestClass == RequestClass.Exempt) return Slot.None;
        var pool = requestClass switch { RequestClass.Priority => _priority, RequestClass.Integration => _integration, _ => _interactive };
        return await pool.WaitAsync(options.QueueWaitMilliseconds, cancellationToken) ? new Slot(pool) : null;
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
            await context.Response.WriteAsJsonAsync(new
            {
                title = "Stadig är hårt belastat just nu. Försök igen om ett par sekunder; inget du skrivit har gått förlorat.",
                status = 503,
            });
            return;
        }
        await next();
    });
}
