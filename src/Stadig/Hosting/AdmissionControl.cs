using System.Diagnostics;
using System.Globalization;

namespace Stadig.Hosting;

/// <summary>The classes of request, in order of precedence: a freed slot goes to the most urgent class waiting.</summary>
public enum RequestClass
{
    /// <summary>Liveness and readiness: always answered, never queued.</summary>
    Exempt,
    /// <summary>Saving what a clinician typed and signing it: first in line, with slots of their own on top.</summary>
    Priority,
    /// <summary>A clinician's screens and reads.</summary>
    Interactive,
    /// <summary>Other systems over FHIR: after clinicians, so an integration's burst sheds before a clinician's screen does.</summary>
    Integration,
    /// <summary>Logging in: a deliberately slow password hash, last in line, few at a time, and none while clinicians keep the node busy.</summary>
    Login,
}

public sealed class AdmissionOptions
{
    // Slots are sized by the node's cores: requests here are mostly CPU (the application and, on a
    // node with its database, PostgreSQL) with short waits for the database between, so a 2-core
    // node that lets many run at once makes each of them slow long before it sheds. The go-live
    // rehearsal's overload runs found that three times (64 slots never shed; pools adding up to 30
    // shed, but what they admitted queued for the cores; 4 slots on 2 cores still put autosave and
    // sign over budget at three times capacity) and measured 3 slots on 2 cores as the size that
    // keeps both the cores busy and the writes within budget; 2 left the cores idle while requests
    // waited for the database (docs/benchmarks.md, "Overload run at three times capacity").
    private static readonly int Cores = Environment.ProcessorCount;

    /// <summary>Requests served at once, all classes together (autosave and sign may use <see cref="PriorityReserve"/> more): one and a half per core.</summary>
    public int MaxConcurrent { get; set; } = Math.Max(2, Cores + Cores / 2);

    /// <summary>Slots only autosave and sign may use, so that saving never waits behind screens and integrations.</summary>
    public int PriorityReserve { get; set; } = Cores;

    /// <summary>FHIR requests from other systems served at once (within <see cref="MaxConcurrent"/>).</summary>
    public int MaxConcurrentIntegration { get; set; } = Cores;

    /// <summary>
    /// Logins served at once (within <see cref="MaxConcurrent"/>): a shift's logins at seven o'clock
    /// must not take the cores from the screens of those already at work.
    /// </summary>
    public int MaxConcurrentLogin { get; set; } = Math.Max(1, Cores / 2);

    /// <summary>
    /// How long a screen may wait for a slot before it is turned away (503 + Retry-After). Short,
    /// because the wait counts against the request's budget: a search has 20 ms, and one admitted
    /// after waiting 15 has missed it before it starts, so it is better told to come back at once.
    /// The overload run at three times capacity (docs/benchmarks.md, seventh run): searches within
    /// their 20 ms 83 % with 20 ms of wait, 90 % with 8, 92 % with 5; more were shed (21, 42, 31 of ~440).
    /// </summary>
    public int QueueWaitMilliseconds { get; set; } = 8;

    /// <summary>
    /// How long another system's FHIR request may wait for a slot: a FHIR read's budget is 10 ms, so
    /// a few; an integration retries after Retry-After, and sheds before a clinician's screen does
    /// (FHIR reads within budget at three times capacity: 54 % with 20 ms of wait, 84 % with 8).
    /// </summary>
    public int IntegrationQueueWaitMilliseconds { get; set; } = 4;

    /// <summary>How long autosave and sign may wait for a slot: they are served first, so a slot is seldom further away.</summary>
    public int PriorityQueueWaitMilliseconds { get; set; } = 20;

    /// <summary>How long a login may wait for a slot; the answer, slot or 503, still comes within 100 ms.</summary>
    public int LoginQueueWaitMilliseconds { get; set; } = 50;

    /// <summary>
    /// Within a class, a freed slot goes to the request that has waited least (newest first). Under
    /// overload the oldest waiters are then the ones turned away when their wait runs out, and what
    /// is admitted has hardly waited, so it still finishes within its budget; first come, first
    /// served would admit requests that have already spent their budget waiting. Below overload no
    /// one waits long either way.
    /// </summary>
    public bool NewestFirst { get; set; } = true;

    /// <summary>Every request's deadline: past it the work is cancelled and the answer is 503.</summary>
    public int RequestTimeoutSeconds { get; set; } = 10;

    /// <summary>
    /// The deadline of a bulk write: a FHIR batch or transaction (a Synthea history of thousands of
    /// entries, 20 MB, is one all-or-nothing database transaction and takes longer than a screen may,
    /// above all on a busy node) and an $import's upload (the import itself runs as background work).
    /// </summary>
    public int BulkWriteTimeoutSeconds { get; set; } = 600;

    /// <summary>
    /// A profiling aid, off in production: Server-Timing also tells the bytes the process allocated
    /// while the request ran (alloc;desc=…), exact only while requests do not overlap (bench/fhir-cost.sh's
    /// sequential rows). Counting them precisely costs a pass over the threads' allocation contexts.
    /// </summary>
    public bool CountAllocations { get; set; }
}

/// <summary>
/// Admission control: a fixed number of requests run at once (one and a half per core), whatever their class;
/// a freed slot goes to the waiting request of the most urgent class (autosave and sign, then
/// screens, then integrations, then logins), newest first within a class. Autosave and
/// sign have reserve slots on top. A request that cannot start within a short wait gets 503 with
/// Retry-After at once, instead of joining a queue that makes every screen hang.
/// </summary>
public sealed class AdmissionControl(AdmissionOptions options)
{
    internal bool CountAllocations => options.CountAllocations;

    private readonly object _lock = new();
    private readonly LinkedList<Waiter>[] _waiting = [new(), new(), new(), new(), new()];
    private readonly int[] _inUse = new int[5];
    private int _total;
    private readonly SemaphoreSlim _integration = new(options.MaxConcurrentIntegration, options.MaxConcurrentIntegration);
    private readonly SemaphoreSlim _login = new(options.MaxConcurrentLogin, options.MaxConcurrentLogin);

    /// <summary>
    /// Whether clinicians' requests are using most of the node: background work (bulk export) steps
    /// aside then, so autosave, signing and screens keep the database and the cores.
    /// </summary>
    public bool CliniciansBusy
    {
        get
        {
            lock (_lock)
                return _inUse[(int)RequestClass.Priority] + _inUse[(int)RequestClass.Interactive] + _inUse[(int)RequestClass.Login] >= Math.Max(1, options.MaxConcurrent * 3 / 4)
                    || _waiting[(int)RequestClass.Priority].Count + _waiting[(int)RequestClass.Interactive].Count > 0;
        }
    }

    private long _lastArrival = Stopwatch.GetTimestamp();

    /// <summary>
    /// How long the node has been quiet: since a request (not a health probe or metrics scrape) last
    /// arrived, or zero while one is being served (a long FHIR transaction is not a quiet moment).
    /// Work that would slow requests waits for a quiet moment.
    /// </summary>
    public TimeSpan Quiet
    {
        get
        {
            lock (_lock)
                if (_total > 0) return TimeSpan.Zero;
            return Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastArrival));
        }
    }

    /// <summary>Requests of the class being served and waiting for a slot now (the queue depth), for metrics.</summary>
    public (int InUse, int Waiting) Occupancy(RequestClass requestClass)
    {
        lock (_lock)
            return (_inUse[(int)requestClass], _waiting[(int)requestClass].Count);
    }

    public static RequestClass Classify(HttpRequest request)
    {
        var path = request.Path.Value ?? "";
        // Health and the metrics scrape: an operator must see an overloaded node, not be shed by it.
        if (path.StartsWith("/health/", StringComparison.Ordinal) || path == "/metrics") return RequestClass.Exempt;
        if (HttpMethods.IsPut(request.Method) && path.StartsWith("/api/notes/", StringComparison.Ordinal) && path.EndsWith("/draft", StringComparison.Ordinal))
            return RequestClass.Priority;
        if (HttpMethods.IsPost(request.Method) && (path.StartsWith("/notes/", StringComparison.Ordinal)
            || path.StartsWith("/api/notes/", StringComparison.Ordinal) && path.EndsWith("/sign", StringComparison.Ordinal)))
            return RequestClass.Priority;
        if (path == "/fhir" || path.StartsWith("/fhir/", StringComparison.Ordinal)) return RequestClass.Integration;
        if (HttpMethods.IsPost(request.Method) && path == "/login") return RequestClass.Login;
        return RequestClass.Interactive;
    }

    /// <summary>Takes a slot for a request of the class, waiting at most the class's time; null when none freed in time.</summary>
    public async Task<IDisposable?> TryEnterAsync(RequestClass requestClass, CancellationToken cancellationToken)
    {
        if (requestClass == RequestClass.Exempt) return Slot.None;
        Interlocked.Exchange(ref _lastArrival, Stopwatch.GetTimestamp());
        var wait = requestClass switch
        {
            RequestClass.Priority => options.PriorityQueueWaitMilliseconds,
            RequestClass.Login => options.LoginQueueWaitMilliseconds,
            RequestClass.Integration => options.IntegrationQueueWaitMilliseconds,
            _ => options.QueueWaitMilliseconds,
        };
        // A login is a deliberately slow password hash, a core's worth of work for a while: while
        // those already at work keep the node busy, a new arrival is asked to come back in a moment
        // rather than slow every screen and every save of theirs.
        if (requestClass == RequestClass.Login && CliniciansBusy) return null;
        var started = Stopwatch.GetTimestamp();
        // Integrations and logins also have a cap of their own, taken first within the same wait.
        var classCap = requestClass switch { RequestClass.Integration => _integration, RequestClass.Login => _login, _ => null };
        if (classCap is not null && !await classCap.WaitAsync(wait, cancellationToken)) return null;
        var left = Math.Max(0, wait - (int)Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        if (await EnterAsync(requestClass, left, cancellationToken)) return new Slot(this, requestClass, classCap);
        classCap?.Release();
        return null;
    }

    private async Task<bool> EnterAsync(RequestClass requestClass, int waitMilliseconds, CancellationToken cancellationToken)
    {
        Waiter waiter;
        lock (_lock)
        {
            if (_total < LimitOf(requestClass) && !AnyoneWaitingBefore(requestClass))
            {
                Take(requestClass);
                return true;
            }
            if (waitMilliseconds <= 0) return false;
            waiter = new Waiter(requestClass);
            waiter.Node = _waiting[(int)requestClass].AddLast(waiter);
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(waitMilliseconds);
        await using (timeout.Token.Register(() => GiveUp(waiter)))
        {
            // A request whose client went away while it waited gets its answer too (false, or a
            // slot it gives back when the pipeline ends), so no slot is ever lost.
            return await waiter.Admitted.Task;
        }
    }

    private int LimitOf(RequestClass requestClass) =>
        requestClass == RequestClass.Priority ? options.MaxConcurrent + options.PriorityReserve : options.MaxConcurrent;

    private bool AnyoneWaitingBefore(RequestClass requestClass)
    {
        for (var c = (int)RequestClass.Priority; c <= (int)requestClass; c++)
            if (_waiting[c].Count > 0) return true;
        return false;
    }

    private void Take(RequestClass requestClass)
    {
        _total++;
        _inUse[(int)requestClass]++;
    }

    private void GiveUp(Waiter waiter)
    {
        lock (_lock)
        {
            if (waiter.Node?.List is null) return;
            _waiting[(int)waiter.Class].Remove(waiter.Node);
        }
        waiter.Admitted.TrySetResult(false);
    }

    private void Release(RequestClass requestClass)
    {
        var admitted = new List<Waiter>(1);
        lock (_lock)
        {
            _total--;
            _inUse[(int)requestClass]--;
            // Hand freed slots to the most urgent class waiting, newest first within it (see NewestFirst).
            for (var c = (int)RequestClass.Priority; c < _waiting.Length; c++)
            {
                var queue = _waiting[c];
                while ((options.NewestFirst ? queue.Last : queue.First) is { } next && _total < LimitOf((RequestClass)c))
                {
                    queue.Remove(next);
                    Take((RequestClass)c);
                    admitted.Add(next.Value);
                }
                if (queue.Count > 0) break;
            }
        }
        foreach (var waiter in admitted) waiter.Admitted.TrySetResult(true);
    }

    private sealed class Waiter(RequestClass requestClass)
    {
        public RequestClass Class { get; } = requestClass;
        public LinkedListNode<Waiter>? Node { get; set; }
        public TaskCompletionSource<bool> Admitted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class Slot(AdmissionControl? owner, RequestClass requestClass, SemaphoreSlim? classCap) : IDisposable
    {
        public static readonly Slot None = new(null, RequestClass.Exempt, null);
        private AdmissionControl? _owner = owner;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _owner, null) is not { } owner) return;
            owner.Release(requestClass);
            classCap?.Release();
        }
    }
}

public static class AdmissionControlMiddleware
{
    public static void UseAdmissionControl(this WebApplication app) => app.Use(async (context, next) =>
    {
        var admission = context.RequestServices.GetRequiredService<AdmissionControl>();
        var requestClass = AdmissionControl.Classify(context.Request);
        var arrived = Stopwatch.GetTimestamp();
        // Methods compiled and bytes allocated in the whole process while the request ran: exact when
        // it ran alone (a test, a bench's first request), an upper bound otherwise. A first request
        // that compiles hundreds of methods was not warmed up (tests/Stadig.Tests/Hosting/FirstUseTests.cs).
        var jitted = System.Runtime.JitInfo.GetCompiledMethodCount();
        var allocated = GC.GetTotalAllocatedBytes();
        var gcPaused = GC.GetTotalPauseDuration();
        var cost = Stadig.Storage.RequestCost.Begin();
        var allocatedBefore = admission.CountAllocations ? GC.GetTotalAllocatedBytes(precise: true) : -1;
        using var slot = await admission.TryEnterAsync(requestClass, context.RequestAborted);
        var admittedAfter = Stopwatch.GetElapsedTime(arrived);
        // The server's own time for the request, from its arrival here (waiting for a slot
        // included) to the answer's headers: DESIGN.md's budgets are server times, and the go-live
        // rehearsal reads them from here, apart from the time its own clients add.
        context.Response.OnStarting(() =>
        {
            // The database's share apart: its round trips and statements are what the cost tests
            // pin (tests/Stadig.Tests/Hosting/RequestCostTests.cs), its phases what a profile reads.
            // gc: the process's garbage-collection pauses while the request ran (an upper bound for
            // this request's share), so that an overload run can tell a pause from a slow statement.
            context.Response.Headers["Server-Timing"] = string.Create(CultureInfo.InvariantCulture,
                $"queue;dur={admittedAfter.TotalMilliseconds:0.0}, access;dur={cost.Access.TotalMilliseconds:0.0}, audit;dur={cost.Audit.TotalMilliseconds:0.0}, db;dur={cost.Database.TotalMilliseconds:0.0}, db-round-trips;desc={cost.RoundTrips}, db-statements;desc={cost.Statements}, db-connects;desc={cost.Connects}, gc;dur={(GC.GetTotalPauseDuration() - gcPaused).TotalMilliseconds:0.0}, jit;desc={System.Runtime.JitInfo.GetCompiledMethodCount() - jitted}, alloc-kb;desc={(GC.GetTotalAllocatedBytes() - allocated) / 1024}, total;dur={Stopwatch.GetElapsedTime(arrived).TotalMilliseconds:0.0}");
            if (allocatedBefore >= 0)
                context.Response.Headers.Append("Server-Timing", $"alloc;desc={GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore}");
            return Task.CompletedTask;
        });
        var metrics = context.RequestServices.GetRequiredService<Stadig.Telemetry.RequestMetrics>();
        if (slot is null)
        {
            metrics.Shed(requestClass);
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
                // A form that was sent (a login, a note without JavaScript) was not received: the
                // person is told how to send it again, since its text is still in the form they left.
                var isGet = HttpMethods.IsGet(context.Request.Method);
                var reload = isGet ? "<meta http-equiv=\"refresh\" content=\"2\">" : "";
                var text = isGet ? busy
                    : "Stadig är hårt belastat just nu och tog inte emot det du skickade. Gå tillbaka (Alt+Vänsterpil) och skicka igen om ett par sekunder; det du skrev finns kvar i formuläret.";
                await context.Response.WriteAsync(
                    $"<!doctype html><html lang=\"sv\"><head><meta charset=\"utf-8\">{reload}<title>Stadig</title></head><body><p>{text}</p></body></html>");
                return;
            }
            await context.Response.WriteAsJsonAsync(new { title = busy, status = 503 });
            return;
        }
        try
        {
            await next();
        }
        finally
        {
            metrics.Served(requestClass, arrived);
        }
    });
}
