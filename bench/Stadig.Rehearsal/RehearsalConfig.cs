using System.Text.Json;
using System.Text.Json.Serialization;

namespace Stadig.Rehearsal;

/// <summary>
/// The simulated day: how many clinicians, how they pace their work, and how fast the lab and the
/// integrations call. Read from a JSON file (comments allowed, so the file can say where each number
/// comes from); the command line overrides the few things a run varies.
/// </summary>
public sealed class RehearsalConfig
{
    public string Name { get; set; } = "regional-day";

    /// <summary>Simulated clinicians working at once (each with its own browser session).</summary>
    public int Clinicians { get; set; } = 50;

    /// <summary>Share of the clinicians who are physicians (they also attest results); the rest are nurses.</summary>
    public double PhysicianShare { get; set; } = 0.33;

    public double DurationSeconds { get; set; } = 300;

    /// <summary>Clinicians start (log in) spread over this many seconds, as a shift does, not all in one instant.</summary>
    public double RampUpSeconds { get; set; } = 30;

    /// <summary>
    /// Before the clock starts, one untimed pass of every kind of action (one clinician's patient, one
    /// lab message, one call of each FHIR kind): the report is about a running server, not the first
    /// use of each code path (JIT, definitions loaded on first use).
    /// </summary>
    public bool WarmUp { get; set; } = true;

    /// <summary>Demo accounts the clinicians log in with (several sessions may share one account).</summary>
    public string PhysicianUsername { get; set; } = "lakare";
    public string NurseUsername { get; set; } = "sjukskoterska";
    public string Password { get; set; } = "demo";

    /// <summary>Share of patient searches by name (the rest by personnummer).</summary>
    public double SearchByNameShare { get; set; } = 0.3;

    /// <summary>Share of opened charts that end in a written and signed note.</summary>
    public double NoteShare { get; set; } = 0.7;

    /// <summary>Share of a physician's patient cycles that end with the result inbox (and attesting what is there).</summary>
    public double InboxShare { get; set; } = 0.5;

    /// <summary>Share of a ward physician's patient cycles that end at the ward's medication round, prescribing for an inpatient.</summary>
    public double PrescribeShare { get; set; } = 0.3;

    /// <summary>Share of a ward nurse's patient cycles that end at the ward's medication round, giving a dose that is due.</summary>
    public double AdministerShare { get; set; } = 0.6;

    /// <summary>At most this many results are attested in one go.</summary>
    public int AttestMax { get; set; } = 5;

    public ThinkTimes Think { get; set; } = new();

    /// <summary>
    /// Multiplies every think time and the autosave interval: 1 is the modelled day; 0.1 makes each
    /// simulated clinician ten times as busy (the overload run uses it to reach real pressure on a
    /// small machine). The report states it.
    /// </summary>
    public double ThinkScale { get; set; } = 1;

    /// <summary>The demo administrator, whose token starts the bulk export of the overload run.</summary>
    public string AdminUsername { get; set; } = "admin";

    /// <summary>The overload run (off unless Factor &gt; 1): baseline, overload at Factor × the load, recovery.</summary>
    public OverloadSettings Overload { get; set; } = new();

    public NoteWriting Notes { get; set; } = new();

    public LabFeedSettings Lab { get; set; } = new();

    public FhirSettings Fhir { get; set; } = new();

    /// <summary>Patients drawn per care unit for the clinicians to work with (those with a care relation to the unit).</summary>
    public int PoolPerUnit { get; set; } = 2000;

    /// <summary>Must match the server's Access:CareRelationDays: which encounters still give a care relation.</summary>
    public int CareRelationDays { get; set; } = 90;

    /// <summary>Width of one point of the latency-over-time plot.</summary>
    public double BucketSeconds { get; set; } = 10;

    /// <summary>A request that takes longer counts as an error (the server's own deadline is 10 s).</summary>
    public double RequestTimeoutSeconds { get; set; } = 30;

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>A copy, through JSON, so a variant (the warm-up's) leaves this one alone.</summary>
    public RehearsalConfig Clone() => JsonSerializer.Deserialize<RehearsalConfig>(JsonSerializer.Serialize(this, Json), Json)!;

    /// <summary>Reads a config file; an unknown key is an error, so a typo never silently becomes a default.</summary>
    public static RehearsalConfig Load(string path) =>
        JsonSerializer.Deserialize<RehearsalConfig>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"{path} is empty.");

    /// <summary>How long the clock runs: the three phases of an overload run, else the duration.</summary>
    public double TotalSeconds => Overload.Enabled ? Overload.BaselineSeconds + Overload.OverloadSeconds + Overload.RecoverySeconds : DurationSeconds;

    /// <summary>Lab messages per second for this run: the absolute rate if set, else scaled by the clinician count.</summary>
    public double LabMessagesPerSecond => Lab.MessagesPerSecond ?? Lab.MessagesPerSecondPer100Clinicians * Clinicians / 100.0;

    public double FhirRequestsPerSecond => Fhir.RequestsPerSecond ?? Fhir.RequestsPerSecondPer100Clinicians * Clinicians / 100.0;
}

/// <summary>
/// The overload run: <see cref="BaselineSeconds"/> at the configured load, then
/// <see cref="OverloadSeconds"/> at <see cref="Factor"/> times it (clinicians, lab and FHIR), then
/// <see cref="RecoverySeconds"/> back at the configured load. At the start of the overload a bulk
/// FHIR $export is started as the administrator; the run polls it, after the load too, for at most
/// <see cref="ExportGraceSeconds"/> more. The thresholds are DESIGN.md's and issue 7's.
/// </summary>
public sealed class OverloadSettings
{
    /// <summary>Load multiplier during the overload; 0 or 1 turns the overload run off.</summary>
    public double Factor { get; set; }
    public double BaselineSeconds { get; set; } = 60;
    public double OverloadSeconds { get; set; } = 60;
    public double RecoverySeconds { get; set; } = 60;
    /// <summary>The added clinicians start spread over this many seconds at the start of the overload.</summary>
    public double RampUpSeconds { get; set; } = 5;
    /// <summary>GET /health/live this often, throughout the run.</summary>
    public double HealthProbeSeconds { get; set; } = 0.25;
    public double HealthWithinMilliseconds { get; set; } = 1000;
    /// <summary>A 503 + Retry-After must arrive within this.</summary>
    public double ShedWithinMilliseconds { get; set; } = 100;
    /// <summary>Share of the non-shed requests of an action that must finish within its budget (the budgets are p99s).</summary>
    public double WithinBudgetShare { get; set; } = 0.99;
    /// <summary>Recovery: rolling p99 windows after the overload, "normal" = within baseline p99 × this (or the budget).</summary>
    public double RecoveryWindowSeconds { get; set; } = 2;
    public double RecoveryP99Factor { get; set; } = 1.5;
    public double RecoveryWithinSeconds { get; set; } = 10;
    /// <summary>Start a bulk $export (background work) at the start of the overload.</summary>
    public bool Export { get; set; } = true;
    /// <summary>After the run, keep polling an unfinished export for at most this long (with no load).</summary>
    public double ExportGraceSeconds { get; set; } = 60;

    [JsonIgnore]
    public bool Enabled => Factor > 1;
}

/// <summary>A pause drawn uniformly between Min and Max seconds.</summary>
public sealed class ThinkRange
{
    public double Min { get; set; }
    public double Max { get; set; }

    public ThinkRange() { }

    public ThinkRange(double min, double max) { Min = min; Max = max; }

    public TimeSpan Draw(Random random, double scale = 1) => TimeSpan.FromSeconds((Min + (Max - Min) * random.NextDouble()) * scale);
}

public sealed class ThinkTimes
{
    public ThinkRange AfterLogin { get; set; } = new(2, 5);
    public ThinkRange AfterList { get; set; } = new(4, 12);
    public ThinkRange AfterSearch { get; set; } = new(3, 10);
    public ThinkRange ReadChart { get; set; } = new(15, 45);
    public ThinkRange ReadNote { get; set; } = new(10, 30);
    public ThinkRange ReadResults { get; set; } = new(5, 15);
    public ThinkRange AfterInbox { get; set; } = new(5, 15);
    /// <summary>With the patient, on the phone, walking: the time between one patient's chart and the next.</summary>
    public ThinkRange BetweenPatients { get; set; } = new(60, 180);
}

public sealed class NoteWriting
{
    /// <summary>Seconds between autosaves while typing (the editor saves when typing pauses, within 2 s).</summary>
    public double AutosaveSeconds { get; set; } = 2;
    public int AutosavesMin { get; set; } = 6;
    public int AutosavesMax { get; set; } = 20;
}

public sealed class LabFeedSettings
{
    /// <summary>ORU^R01 messages per second per 100 simulated clinicians (used unless MessagesPerSecond is set).</summary>
    public double MessagesPerSecondPer100Clinicians { get; set; } = 0.08;
    /// <summary>An absolute rate that replaces the scaled one.</summary>
    public double? MessagesPerSecond { get; set; }
    public int ObservationsPerMessage { get; set; } = 5;
    /// <summary>MLLP connections the lab keeps open; each sends one message at a time and waits for the ACK.</summary>
    public int Connections { get; set; } = 2;
}

public sealed class FhirSettings
{
    public double RequestsPerSecondPer100Clinicians { get; set; } = 0.6;
    public double? RequestsPerSecond { get; set; }
    /// <summary>Relative weights of the three calls an integration makes.</summary>
    public double ReadWeight { get; set; } = 0.4;
    public double PatientSearchWeight { get; set; } = 0.3;
    public double ObservationSearchWeight { get; set; } = 0.3;
    /// <summary>Requests in flight at most; more are counted as errors ("client saturated") rather than queued.</summary>
    public int MaxInFlight { get; set; } = 128;
}
