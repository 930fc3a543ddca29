namespace Stadig.Telemetry;

/// <summary>Stadig:Telemetry: the Prometheus scrape endpoint's access and OTLP export (docs/operations.md, "Telemetry").</summary>
public sealed class TelemetrySettings
{
    /// <summary>Metrics at /metrics (and traces, with <see cref="OtlpEndpoint"/>); false: none are collected and /metrics does not exist.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// A secret a Prometheus server sends as "Authorization: Bearer …" to scrape /metrics. Empty: only
    /// a signed-in administrator may read /metrics (the series are counts and times, but they show
    /// how the node is used, so they are not public).
    /// </summary>
    public string? ScrapeToken { get; set; }

    /// <summary>An OpenTelemetry collector's OTLP endpoint (http://collector:4317). Empty (default): no traces are made and nothing is exported.</summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary>grpc (default, port 4317) or http/protobuf (port 4318).</summary>
    public string OtlpProtocol { get; set; } = "grpc";

    /// <summary>How often the HL7 message queue depths are counted for the metrics.</summary>
    public int QueueCountSeconds { get; set; } = 15;

    /// <summary>How often the expiry register and the configured certificates and keys are read for the metrics (an hour: expiry is counted in days).</summary>
    public int ExpiryCountSeconds { get; set; } = 3600;
}
