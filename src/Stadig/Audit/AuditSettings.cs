namespace Stadig.Audit;

/// <summary>The region's choices for log review and log extracts (configuration section Stadig:Audit).</summary>
public sealed class AuditSettings
{
    /// <summary>
    /// Whether a patient's log extract names the person behind each access. The law requires care
    /// unit and time (HSLF-FS 2016:40 4:10); whether names are handed out too is decided by the
    /// region under its secrecy rules, so it is off unless the region turns it on.
    /// </summary>
    public bool IncludeStaffNamesInLogExtract { get; set; }

    /// <summary>A user who reads more distinct patients than this in one day is flagged for review.</summary>
    public int UnusualVolumePatientsPerDay { get; set; } = 50;

    /// <summary>
    /// How often the audit log's anchor (a checkpoint over every chain's head) is taken. A whole
    /// chain deleted, or a chain cut short with its head, is found by `stadig verify` once a
    /// checkpoint has recorded it; this is the window in which it is not. 0 turns checkpoints off.
    /// </summary>
    public int CheckpointMinutes { get; set; } = 5;
}
