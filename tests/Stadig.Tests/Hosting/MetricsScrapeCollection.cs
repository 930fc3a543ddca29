namespace Stadig.Tests.Hosting;

/// <summary>
/// The tests that read a server's /metrics run alone, after the others. A test run's servers share one
/// process, and the OpenTelemetry SDK listens to the whole process: each server's /metrics also observes
/// the other servers' meters of the same name, a gauge showing whichever server's value came last (the
/// expiry warnings read as 0 beside another test's empty register), and a meter disposed with its server
/// stops the same-named instruments of the others (open-telemetry/opentelemetry-dotnet#6412). One server
/// per process, as in production, has neither.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MetricsScrapeCollection
{
    public const string Name = "Metrics scrape";
}
