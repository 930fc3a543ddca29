using System.Diagnostics;
using System.Diagnostics.Metrics;
using Stadig.Hosting;
using Stadig.LabResults;

namespace Stadig.Telemetry;

/// <summary>
/// The node's own metrics, by the admission control's request classes: time to answer, requests
/// shed, slots in use and requests waiting, and the HL7 messages still waiting per state. The meter
/// comes from the host's meter factory, so a second host in the same process (the tests) has its own
/// gauges over its own admission control.
/// </summary>
public sealed class RequestMetrics
{
    public const string MeterName = "Stadig";

    private static readonly RequestClass[] Classes = Enum.GetValues<RequestClass>();
    // One boxed tag per class, made once: a request records without allocating for its tags.
    private static readonly KeyValuePair<string, object?>[] ClassTags =
        Classes.Select(c => new KeyValuePair<string, object?>("request.class", c.ToString().ToLowerInvariant())).ToArray();

    private readonly Histogram<double> _duration;
    private readonly long[] _shed = new long[Classes.Length];
    private volatile IReadOnlyList<MessageStateCount> _hl7 = [];

    public RequestMetrics(IMeterFactory meters, AdmissionControl admission)
    {
        var meter = meters.Create(MeterName);
        _duration = meter.CreateHistogram<double>("stadig.request.duration", "s",
            "Server time per request, from arrival (the wait for a slot included) to the end of the answer, by request class.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10] });
        SetHl7Counts([]);
        // Observed rather than added to, so every class has its series from the start (at 0): a rate() over it needs no first shed.
        meter.CreateObservableCounter("stadig.requests.shed", () => Classes.Where(c => c != RequestClass.Exempt)
            .Select(c => new Measurement<long>(Interlocked.Read(ref _shed[(int)c]), ClassTags[(int)c])), "{request}",
            "Requests turned away with 503 and Retry-After because no slot freed in time, by request class.");
        meter.CreateObservableGauge("stadig.admission.in_use", () => Classes.Where(c => c != RequestClass.Exempt)
            .Select(c => new Measurement<int>(admission.Occupancy(c).InUse, ClassTags[(int)c])), "{request}", "Requests being served now, by request class.");
        meter.CreateObservableGauge("stadig.admission.waiting", () => Classes.Where(c => c != RequestClass.Exempt)
            .Select(c => new Measurement<int>(admission.Occupancy(c).Waiting, ClassTags[(int)c])), "{request}", "Requests waiting for a slot now (the admission queue's depth), by request class.");
        meter.CreateObservableGauge("stadig.hl7.messages", () => _hl7.Select(c => new Measurement<long>(c.Count,
                new KeyValuePair<string, object?>("hl7.direction", c.Direction), new KeyValuePair<string, object?>("hl7.state", c.State))),
            "{message}", "HL7 v2 messages in a state that still waits (Received, Quarantined, Queued, Sent, Failed), by direction and state.");
    }

    public void Served(RequestClass requestClass, long arrived)
    {
        if (_duration.Enabled) _duration.Record(Stopwatch.GetElapsedTime(arrived).TotalSeconds, ClassTags[(int)requestClass]);
    }

    public void Shed(RequestClass requestClass) => Interlocked.Increment(ref _shed[(int)requestClass]);

    /// <summary>The latest count of waiting HL7 messages (<see cref="Hl7QueueCounter"/>).</summary>
    internal void SetHl7Counts(IReadOnlyList<MessageStateCount> counts) =>
        // Every direction and waiting state has a series, 0 when none wait, so a dashboard's line and an alert's rule always have one to read.
        _hl7 = (from direction in Directions
                from state in MessageTracking.Unfinished
                select counts.FirstOrDefault(c => c.Direction == direction && c.State == state) ?? new MessageStateCount { Direction = direction, State = state })
            .ToList();

    private static readonly string[] Directions = [IngestOruMessage.Inbound, "Outbound"];
}

/// <summary>
/// Counts the HL7 messages still waiting every Stadig:Telemetry:QueueCountSeconds: a gauge's callback
/// runs inside the scrape and may not wait for the database.
/// </summary>
public sealed class Hl7QueueCounter(MessageTracking messages, RequestMetrics metrics, TelemetrySettings settings, DatabaseReadiness readiness)
    : PeriodicWork(readiness)
{
    protected override TimeSpan Interval => TimeSpan.FromSeconds(Math.Max(1, settings.QueueCountSeconds));

    protected override async Task RunOnceAsync(CancellationToken cancellationToken) =>
        metrics.SetHl7Counts(await messages.UnfinishedCountsAsync(cancellationToken));

    protected override bool RidesOut(Exception exception) => exception is System.Data.Common.DbException or TimeoutException or InvalidOperationException;

    // The database is away (readiness says so); the last counts stand until it answers.
    protected override void OnFailed(Exception exception) { }
}
