using System.Diagnostics.Metrics;
using System.Globalization;
using Stadig.Access;
using Stadig.Common;
using Stadig.Hosting;
using Stadig.Readiness;

namespace Stadig.Telemetry;

/// <summary>
/// The expiry register in the metrics, so an alert fires where nobody looks at the operations page:
/// the days left of every licence, contract, certificate and key (by kind, name and source; register
/// entries are named by administrators, never after a patient) and how many entries are in each
/// warning step. Days are counted on the region's calendar at scrape time; the entries themselves are
/// read by <see cref="ExpiryCounter"/>.
/// </summary>
public sealed class ExpiryMetrics
{
    /// <summary>The warning steps of <see cref="ExpiryEntry.WarningLevel"/>: within 90, 30 or 7 days, and 0 for expired or without a readable date.</summary>
    public static readonly int[] Levels = [90, 30, 7, 0];

    private static readonly KeyValuePair<string, object?>[] LevelTags =
        Levels.Select(l => new KeyValuePair<string, object?>("expiry.level", l.ToString(CultureInfo.InvariantCulture))).ToArray();

    private volatile IReadOnlyList<ExpiryEntry> _entries = [];

    public ExpiryMetrics(IMeterFactory meters, RegionTime time, TimeProvider clock)
    {
        var meter = meters.Create(RequestMetrics.MeterName);
        meter.CreateObservableGauge("stadig.expiry.remaining", () =>
            {
                var today = time.Day(clock.GetUtcNow());
                return _entries.Where(e => e.ExpiresOn is not null).Select(e => new Measurement<int>(e.DaysLeft(today)!.Value,
                    new KeyValuePair<string, object?>("expiry.kind", e.Kind), new KeyValuePair<string, object?>("expiry.name", e.Name),
                    new KeyValuePair<string, object?>("expiry.source", e.Source)));
            }, "d",
            "Days left until each licence, contract, certificate or key of the expiry register expires (negative: expired), by kind, name and source.");
        // Every step has its series, 0 when empty, so an alert's rule always has one to read.
        meter.CreateObservableGauge("stadig.expiry.warnings", () =>
            {
                var today = time.Day(clock.GetUtcNow());
                var entries = _entries;
                return Levels.Select((level, i) => new Measurement<int>(entries.Count(e => e.WarningLevel(today) == level), LevelTags[i]));
            }, "{entry}",
            "Entries of the expiry register in each warning step: expiring within 90, 30 or 7 days, or 0 (expired, or no readable expiry date).");
    }

    /// <summary>The latest entries: the register's, the configured certificates and the identity provider's signing keys.</summary>
    public void Set(IReadOnlyList<ExpiryEntry> entries) => _entries = entries;

    public IReadOnlyList<ExpiryEntry> Entries => _entries;
}

/// <summary>
/// Reads the expiry register and the configured certificates and keys every
/// Stadig:Telemetry:ExpiryCountSeconds (an hour by default): a gauge's callback runs inside the scrape
/// and may neither wait for the database nor call the identity provider.
/// </summary>
public sealed class ExpiryCounter(ExpiryRegister register, IConfiguration configuration, StadigOptions options, ExpiryMetrics metrics,
    TelemetrySettings settings, DatabaseReadiness readiness) : PeriodicWork(readiness)
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    protected override TimeSpan Interval => TimeSpan.FromSeconds(Math.Max(1, settings.ExpiryCountSeconds));

    protected override async Task RunOnceAsync(CancellationToken cancellationToken)
    {
        var entries = new List<ExpiryEntry>(await register.ListAsync(Caller.System, cancellationToken));
        entries.AddRange(ConfiguredExpiries.Certificates(configuration));
        entries.AddRange(await ConfiguredExpiries.OidcSigningKeysAsync(options.Oidc.Authority, _http, cancellationToken));
        metrics.Set(entries);
    }

    protected override bool RidesOut(Exception exception) => exception is System.Data.Common.DbException or TimeoutException or InvalidOperationException;

    // The database is away (readiness says so); the last entries stand until it answers.
    protected override void OnFailed(Exception exception) { }

    public override void Dispose()
    {
        _http.Dispose();
        base.Dispose();
    }
}
