using System.Collections.Concurrent;
using System.Diagnostics;

namespace Stadig.Rehearsal;

public enum Outcome
{
    Ok,
    /// <summary>503 from admission control: turned away on purpose, counted apart from errors.</summary>
    Shed,
    Error,
}

/// <summary>
/// One timed action: when it started (seconds into the run), how long it took as the client saw it,
/// how it ended, and the server's own time for it (the sum of its requests' Server-Timing totals;
/// null when no answer carried one, as over MLLP).
/// </summary>
public readonly record struct Sample(string Action, double AtSeconds, double Milliseconds, Outcome Outcome, string? Status, double? ServerMilliseconds = null,
    double? QueueMilliseconds = null, double? DatabaseMilliseconds = null, double? GcMilliseconds = null, int? Jitted = null)
{
    /// <summary>
    /// The time DESIGN.md's budgets are about: the server's (they are server times), else the
    /// client's. The generator shares the node's cores with the server, so its own time is not the
    /// server's business.
    /// </summary>
    public double BudgetMilliseconds => ServerMilliseconds ?? Milliseconds;
}

/// <summary>
/// One 503 as the client saw it, timed per HTTP request (an action may send two): when it was sent,
/// how long until the answer's headers arrived, and whether it carried Retry-After (admission
/// control's "not now") or not (the request deadline).
/// </summary>
public readonly record struct UnavailableResponse(double AtSeconds, double Milliseconds, bool RetryAfter, double? ServerMilliseconds = null);

/// <summary>Collects every timed action of every simulated user; thread-safe, lock-free.</summary>
public sealed class Recorder
{
    private readonly ConcurrentQueue<Sample> _samples = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly ConcurrentDictionary<string, int> _seen = new();
    private readonly ConcurrentQueue<UnavailableResponse> _unavailable = new();
    private readonly ConcurrentQueue<double> _cutOff = new();

    public double Elapsed => _clock.Elapsed.TotalSeconds;

    public IReadOnlyCollection<Sample> Samples => _samples;

    /// <summary>Action kinds that finished at least once without error.</summary>
    public IReadOnlyCollection<string> SucceededKinds => _seen.Keys.ToList();

    /// <summary>Every 503 answer, with its own time (see <see cref="Shedding.Timed"/>).</summary>
    public IReadOnlyCollection<UnavailableResponse> Unavailable => _unavailable;

    /// <summary>How long each action had been running when the end of the run cut it off (it is not a sample).</summary>
    public IReadOnlyCollection<double> CutOffMilliseconds => _cutOff;

    public void AddUnavailable(UnavailableResponse response) => _unavailable.Enqueue(response);

    /// <summary>The server time of the action being measured in this flow (see <see cref="MeasureAsync"/>).</summary>
    private static readonly AsyncLocal<ServerTime?> CurrentServerTime = new();

    /// <summary>
    /// Adds one answer's Server-Timing to the action being measured (an action may send several
    /// requests): its total, the wait for an admission slot, the database's share and the garbage
    /// collector's pauses while it ran, and the methods the process compiled meanwhile (first use).
    /// </summary>
    public static void AddServerTime(double milliseconds, double? queueMilliseconds, double? databaseMilliseconds = null, double? gcMilliseconds = null, int? jitted = null)
    {
        if (CurrentServerTime.Value is { } time) time.Add(milliseconds, queueMilliseconds, databaseMilliseconds, gcMilliseconds, jitted);
    }

    private sealed class ServerTime
    {
        public double? Milliseconds { get; private set; }
        public double? QueueMilliseconds { get; private set; }
        public double? DatabaseMilliseconds { get; private set; }
        public double? GcMilliseconds { get; private set; }
        public int? Jitted { get; private set; }

        public void Add(double milliseconds, double? queueMilliseconds, double? databaseMilliseconds, double? gcMilliseconds, int? jitted)
        {
            if (jitted is { } methods) Jitted = (Jitted ?? 0) + methods;
            Milliseconds = (Milliseconds ?? 0) + milliseconds;
            if (queueMilliseconds is { } queue) QueueMilliseconds = (QueueMilliseconds ?? 0) + queue;
            if (databaseMilliseconds is { } database) DatabaseMilliseconds = (DatabaseMilliseconds ?? 0) + database;
            if (gcMilliseconds is { } gc) GcMilliseconds = (GcMilliseconds ?? 0) + gc;
        }
    }

    public void Add(string action, double atSeconds, double milliseconds, Outcome outcome, string? status = null, double? serverMilliseconds = null,
        double? queueMilliseconds = null, double? databaseMilliseconds = null, double? gcMilliseconds = null, int? jitted = null)
    {
        _samples.Enqueue(new Sample(action, atSeconds, milliseconds, outcome, status, serverMilliseconds, queueMilliseconds, databaseMilliseconds, gcMilliseconds, jitted));
        if (outcome == Outcome.Ok) _seen.TryAdd(action, 0);
    }

    /// <summary>
    /// Times <paramref name="work"/> as one action. A cancellation from the end of the run is not a
    /// sample; an exception is an error named by its type (never its message, which could carry data).
    /// </summary>
    public async Task<ActionResult<T>> MeasureAsync<T>(string action, Func<Task<ActionResult<T>>> work, CancellationToken stopping)
    {
        var at = Elapsed;
        var serverTime = new ServerTime();
        CurrentServerTime.Value = serverTime; // flows into the HTTP handler of every request the work sends
        var watch = Stopwatch.StartNew();
        ActionResult<T> result;
        try
        {
            result = await work();
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            _cutOff.Enqueue(watch.Elapsed.TotalMilliseconds);
            return ActionResult<T>.Cancelled;
        }
        catch (OperationCanceledException)
        {
            result = ActionResult<T>.Error("timeout");
        }
        catch (HttpRequestException e)
        {
            result = ActionResult<T>.Error(e.StatusCode is { } code ? ((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture) : "connection: " + (e.HttpRequestError.ToString()));
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or InvalidDataException)
        {
            result = ActionResult<T>.Error(e.GetType().Name);
        }
        watch.Stop();
        Add(action, at, watch.Elapsed.TotalMilliseconds, result.Outcome, result.Status, serverTime.Milliseconds, serverTime.QueueMilliseconds,
            serverTime.DatabaseMilliseconds, serverTime.GcMilliseconds, serverTime.Jitted);
        return result;
    }
}

/// <summary>What an action ended with, and the value the next step needs (a page, a version).</summary>
public sealed record ActionResult<T>(Outcome Outcome, string? Status, T? Value, bool WasCancelled = false)
{
    public static ActionResult<T> Ok(T value) => new(Outcome.Ok, null, value);
    public static ActionResult<T> Error(string status) => new(Outcome.Error, status, default);
    public static ActionResult<T> Shed { get; } = new(Outcome.Shed, "503", default);
    public static ActionResult<T> Cancelled { get; } = new(Outcome.Error, null, default, true);

    public bool IsOk => Outcome == Outcome.Ok;

    /// <summary>The same failure (shed stays shed) for a step with another result type.</summary>
    public ActionResult<TOther> As<TOther>() => new(Outcome, Status, default, WasCancelled);
}
