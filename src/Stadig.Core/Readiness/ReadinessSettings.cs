namespace Stadig.Readiness;

/// <summary>Thresholds of the readiness gate (Stadig:Readiness:*); docs/readiness.md lists them with their defaults.</summary>
public sealed class ReadinessSettings
{
    /// <summary>The go-live day the licence margin counts from; today when not set.</summary>
    public DateOnly? GoLive { get; set; }

    /// <summary>Every register entry must be valid this many days after go-live day.</summary>
    public int MarginDays { get; set; } = 90;

    /// <summary>The latest rehearsal may be this old.</summary>
    public int RehearsalMaxAgeDays { get; set; } = 14;

    /// <summary>The region's size: the rehearsal must have run with at least this many patients.</summary>
    public int RegionPatients { get; set; } = 1_000_000;

    /// <summary>Drill, failover, crash-point, training and incident reports may be this old.</summary>
    public int EvidenceMaxAgeDays { get; set; } = 30;

    /// <summary>Share of a unit's people (per role) who must have completed the required exercises.</summary>
    public double TrainingThreshold { get; set; } = 0.9;

    /// <summary>Open incidents of this severity or worse (low, medium, high, critical) block go-live.</summary>
    public string BlockingSeverity { get; set; } = "high";

    /// <summary>The folder of the region's evidence files (docs/readiness.md names them).</summary>
    public string? EvidenceFolder { get; set; }

    /// <summary>The rehearsal report, or the folder of rehearsal runs (the newest counts): the default of --rehearsal.</summary>
    public string? RehearsalReports { get; set; }

    /// <summary>The output folder of `stadig regulatory-file`: the default of --regulatory.</summary>
    public string? RegulatoryFile { get; set; }
}
