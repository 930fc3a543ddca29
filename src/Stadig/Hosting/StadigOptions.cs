using Stadig.Installation;
using Stadig.Patients.Identifiers;
using Stadig.Storage;

namespace Stadig.Hosting;

/// <summary>
/// Everything an operator can set, under the "Stadig" section (appsettings.json, environment
/// variables as Stadig__Key, or command-line options). An unknown key is an error at start, so a
/// typo never silently falls back to a default.
/// </summary>
public sealed class StadigOptions
{
    public const string Section = "Stadig";

    /// <summary>A PostgreSQL connection string (Host=...) or a SQLite one (Data Source=...).</summary>
    public string Database { get; set; } = DefaultSqlite;

    public bool MigrateAtStart { get; set; } = true;

    /// <summary>
    /// Production (the default) or Training: a training installation (also `stadig training`) runs on
    /// its own database, marked training at creation, with a synthetic region, exercises and practice
    /// logins, and no lab connections. Each refuses the other's database at start.
    /// </summary>
    public InstallationMode Mode { get; set; } = InstallationMode.Production;

    /// <summary>Exercises required per role, and the release whose new exercises everyone must do.</summary>
    public Stadig.Training.TrainingOptions Training { get; set; } = new();

    /// <summary>
    /// This app node's name, stable across its restarts (default: the host name). Work that runs inside
    /// the process (bulk export jobs) is marked with it, so that a restarted node fails only its own
    /// interrupted jobs. Set it when several nodes share a database and host names change on restart.
    /// </summary>
    public string NodeName { get; set; } = Environment.MachineName;

    /// <summary>Seed a demo region (with demo users) into an empty database at start. On by default only for the embedded SQLite database.</summary>
    public bool? SeedDemoAtStart { get; set; }

    public int DemoPatients { get; set; } = 300;

    /// <summary>
    /// The region's time zone (IANA name). Every time is shown in it and times without an offset
    /// (HL7 v2, forms) are read in it, whatever the host's zone is.
    /// </summary>
    public string TimeZone { get; set; } = Stadig.Common.RegionTime.DefaultZone;

    public string ReservnummerPattern { get; set; } = ReservnummerFormat.Default.Pattern;

    public int IdleTimeoutMinutes { get; set; } = 20;

    /// <summary>Failed logins to one account from one address before that address must wait between tries.</summary>
    public int FailedLoginsBeforeDelay { get; set; } = 3;

    /// <summary>The longest wait between tries (the wait doubles from 1 s with each further failure).</summary>
    public int MaxLoginDelaySeconds { get; set; } = 300;

    /// <summary>
    /// Addresses (or networks, as 10.0.0.0/8) of the reverse proxies in front of Stadig. Requests from
    /// them are taken at their X-Forwarded-For and X-Forwarded-Proto word: the client's address (for
    /// login throttling and rate limits) and HTTPS (for the Secure cookie and HSTS). Empty: no proxy
    /// is trusted and the headers are ignored.
    /// </summary>
    public string[] ForwardedProxies { get; set; } = [];

    /// <summary>Login attempts per client address per minute before 429.</summary>
    public int LoginAttemptsPerMinute { get; set; } = 10;

    public JwtOptions Jwt { get; set; } = new();

    /// <summary>Staff sign-in through the region's identity provider (OpenID Connect).</summary>
    public Stadig.Auth.OidcSettings Oidc { get; set; } = new();

    /// <summary>How many requests run at once, how long one may wait, and every request's deadline.</summary>
    public AdmissionOptions Admission { get; set; } = new();

    /// <summary>Log review and log extracts.</summary>
    public Stadig.Audit.AuditSettings Audit { get; set; } = new();

    /// <summary>Where lab orders (ORM^O01) are sent.</summary>
    public LabOrderSettings LabOrders { get; set; } = new();

    /// <summary>The HL7 v2 MLLP listener for lab results.</summary>
    public MllpSettings Mllp { get; set; } = new();

    /// <summary>Encounters: how long a discharge may be undone.</summary>
    public Stadig.Encounters.EncounterOptions Encounters { get; set; } = new();

    /// <summary>Medication: whether nurses prescribe as-needed doses by delegation.</summary>
    public Stadig.Medication.MedicationOptions Medication { get; set; } = new();

    /// <summary>The node's own first use of the main pages at start, before it reports ready.</summary>
    public WarmUpSettings WarmUp { get; set; } = new();

    /// <summary>Care relation and emergency access durations.</summary>
    public Stadig.Access.AccessOptions Access { get; set; } = new();

    /// <summary>Read-only mode: the probe's interval, where read events' audit records wait, an operator's switch.</summary>
    public DowntimeSettings Downtime { get; set; } = new();

    /// <summary>Thresholds of `stadig readiness` (docs/readiness.md).</summary>
    public Stadig.Readiness.ReadinessSettings Readiness { get; set; } = new();

    /// <summary>Metrics at /metrics and OTLP export of traces and metrics.</summary>
    public Stadig.Telemetry.TelemetrySettings Telemetry { get; set; } = new();

    public const string DefaultSqlite = "Data Source=data/stadig.db";

    public DatabaseEngine Engine => Storage.Database.EngineOf(Database);

    public bool ShouldSeedDemo => Mode != InstallationMode.Training && (SeedDemoAtStart ?? Engine == DatabaseEngine.Sqlite);

    public bool IsTraining => Mode == InstallationMode.Training;
}

/// <summary>Read-only mode (docs/operations.md, "Read-only mode").</summary>
public sealed class DowntimeSettings
{
    /// <summary>How often every node asks the database whether it takes writes (and is the Retry-After of a refused write).</summary>
    public int ProbeSeconds { get; set; } = 10;

    /// <summary>
    /// Where this node holds the audit records of reads while the database refuses writes, until they
    /// can be chained into the log. Default: audit-spool beside the SQLite file, or in the working
    /// directory for PostgreSQL. It must be on a disk that survives a restart.
    /// </summary>
    public string? AuditSpoolFolder { get; set; }

    /// <summary>This node serves read-only whatever the database says (the operations page's switch acts on every node instead).</summary>
    public bool ReadOnly { get; set; }

    /// <summary>Downtime snapshots (reservrutin): the folder, the units' keys, the schedule and how many generations are kept.</summary>
    public Stadig.Downtime.SnapshotSettings Snapshots { get; set; } = new();

    public string SpoolFolderFor(string database) =>
        AuditSpoolFolder ?? (Storage.Database.EngineOf(database) == DatabaseEngine.Sqlite
            ? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(database).DataSource)) ?? ".", "audit-spool")
            : Path.GetFullPath("audit-spool"));
}

/// <summary>The lab's MLLP endpoint for orders; port 0 keeps orders queued (no lab connected).</summary>
public sealed class LabOrderSettings
{
    public string Host { get; set; } = "127.0.0.1";
    public int Port { get; set; }
    public int IntervalSeconds { get; set; } = 5;
}

/// <summary>Where and how the MLLP listener for lab results listens.</summary>
public sealed class MllpSettings
{
    /// <summary>TCP port; 0 turns the listener off.</summary>
    public int Port { get; set; } = 2575;

    /// <summary>The address to listen on: loopback by default, so a demo does not open a port to the network.</summary>
    public string Address { get; set; } = "127.0.0.1";

    /// <summary>The lab unit results are filed under (HSA-id); default: the first unit of kind lab.</summary>
    public string? LabUnitHsaId { get; set; }

    public int MaxMessageBytes { get; set; } = 4 * 1024 * 1024;
    public int ReadTimeoutSeconds { get; set; } = 30;
    public int IdleTimeoutMinutes { get; set; } = 30;

    /// <summary>A message waiting longer than this (received, or open in quarantine) is flagged as stuck.</summary>
    public int StuckAfterMinutes { get; set; } = 15;

    /// <summary>
    /// Messages whose MSH-11 is not P (T for test, D for debugging): KeepApart (default) answers AA and
    /// stores them in state NotProduction, never filed; Refuse answers AR and stores them as Rejected.
    /// </summary>
    public Stadig.LabResults.NonProductionHandling NonProductionMessages { get; set; } = Stadig.LabResults.NonProductionHandling.KeepApart;
}

/// <summary>Bearer tokens from an identity provider (Authority) or signed with a shared key (SigningKey, for integrations and tests).</summary>
public sealed class JwtOptions
{
    public string? Authority { get; set; }
    public string? Audience { get; set; }
    public string? Issuer { get; set; }
    public string? SigningKey { get; set; }
}
