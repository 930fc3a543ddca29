namespace Stadig.Downtime;

/// <summary>
/// Downtime snapshots (reservrutin; Stadig:Downtime:Snapshots, docs/operations.md "Downtime snapshots"):
/// where each ward's encrypted snapshot goes, where its key is kept, how often, and how many are kept.
/// </summary>
public sealed class SnapshotSettings
{
    /// <summary>The folder (the downtime PCs' share) holding one subfolder per unit, named by its HSA-id. Unset: no snapshots are made.</summary>
    public string? Folder { get; set; }

    /// <summary>The folder holding each unit's downtime key: a file named by the unit's HSA-id with ".key", readable by Stadig's account only.</summary>
    public string? KeyFolder { get; set; }

    /// <summary>How often every unit gets a new snapshot; a snapshot older than twice this is flagged stale.</summary>
    public int IntervalMinutes { get; set; } = 15;

    /// <summary>How many generations each unit keeps; older ones are deleted after each new one.</summary>
    public int Kept { get; set; } = 4;

    public bool Enabled => !string.IsNullOrWhiteSpace(Folder);

    public TimeSpan Interval => TimeSpan.FromMinutes(Math.Max(1, IntervalMinutes));

    /// <summary>Stale: no snapshot, or one older than twice the schedule (at least one run was missed).</summary>
    public bool IsStale(DateTimeOffset? lastAt, DateTimeOffset now) => lastAt is not { } at || now - at > 2 * Interval;
}
