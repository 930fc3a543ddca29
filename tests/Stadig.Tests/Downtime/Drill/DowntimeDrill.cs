using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Dapper;
using Microsoft.AspNetCore.Identity;
using Microsoft.Playwright;
using Npgsql;
using Stadig.Access;
using Stadig.Chart;
using Stadig.Downtime;
using Stadig.Installation;
using Stadig.Medication;
using Stadig.Organisation;
using Stadig.Readiness;
using Stadig.Regulatory;
using Stadig.Rehearsal;
using Stadig.Seeding;
using Stadig.Storage;

namespace Stadig.Tests.Downtime.Drill;

/// <summary>How big and how long; the defaults are the short form CI runs, bench/downtime-drill.sh sets the full one.</summary>
public sealed record DrillOptions
{
    public int Patients { get; init; } = 150;
    public int Clinicians { get; init; } = 4;

    /// <summary>Think times near zero (the short form: a few seconds of load must hold many actions), else the modelled day's × <see cref="ThinkScale"/>.</summary>
    public bool Quick { get; init; } = true;
    public double ThinkScale { get; init; } = 1;

    /// <summary>At least this long for each stretch of load: before the incremental backup, before the recovery target, after it, and the primary's stop.</summary>
    public double PhaseSeconds { get; init; }

    /// <summary>Each stretch also lasts until this many writes were acknowledged (and, while the primary is stopped, this many reads served and writes refused).</summary>
    public int PhaseEvents { get; init; } = 3;

    /// <summary>A streaming replica behind Stadig:ReplicaDatabase, from which reads go on while the primary is stopped.</summary>
    public bool Replica { get; init; } = true;

    public int ArchiveTimeoutSeconds { get; init; } = 60;
    public int SnapshotIntervalMinutes { get; init; } = 15;

    /// <summary>How many wards' snapshots are opened in the browser (0: every ward); each costs the key's derivation in the page.</summary>
    public int SnapshotWards { get; init; }
    public double LabPerSecond { get; init; } = 2;
    public double FhirPerSecond { get; init; } = 2;
    public required string OutFolder { get; init; }
    public string? Command { get; init; }
}

/// <summary>
/// The downtime drill (issue 19, item 5; hazard H-11): with the rehearsal's clinicians, lab feed and
/// integrations working against Stadig on PostgreSQL (backed up by pgBackRest, a streaming replica behind it),
/// (a) the primary is stopped as by a crash — reads must go on (from the replica, in read-only mode), every
/// write be refused cleanly (503, or AR to the lab; never 500), and no acknowledged write be lost;
/// (b) Stadig is stopped — each ward's last snapshot must open in headless Chromium with no server and no
/// network, hold every current patient of the ward and be no older than the schedule allows;
/// (c) the database is restored from backup to a point in time (pgBackRest PITR) into a new data directory
/// and checked (`stadig restore-check`), with every write acknowledged before that point in it;
/// (d) paper records of the downtime are back-entered and must show as back-entered.
/// It writes downtime-drill.json (the readiness gate's evidence) and downtime-drill.html. The driver for
/// both the short form in CI (<see cref="DowntimeDrillTests"/>) and the full one (bench/downtime-drill.sh).
/// </summary>
public sealed class DowntimeDrill(DrillOptions options, TextWriter log)
{
    private const string SigningKey = "downtime-drill-signing-key-long-enough-for-hs256!";

    private static readonly HashSet<string> Reads =
    [
        ClinicianSession.Actions.WardList, ClinicianSession.Actions.Worklist, ClinicianSession.Actions.Search, ClinicianSession.Actions.Chart,
        ClinicianSession.Actions.ReadNote, ClinicianSession.Actions.Results, ClinicianSession.Actions.Inbox, ClinicianSession.Actions.MedicationRound,
        ClinicianSession.Actions.MedicationList, FhirIntegration.Read, FhirIntegration.PatientSearch, FhirIntegration.ObservationSearch,
    ];

    private static readonly HashSet<string> Writes =
    [
        ClinicianSession.Actions.CreateNote, ClinicianSession.Actions.Autosave, ClinicianSession.Actions.Sign, ClinicianSession.Actions.Attest,
        ClinicianSession.Actions.Prescribe, ClinicianSession.Actions.Administer, LabFeed.Action,
    ];

    private readonly List<DrillCheck> _checks = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    private void Say(string line) => log.WriteLine($"{_clock.Elapsed.TotalSeconds,6:0.0} s  {line}");

    private void Check(string name, bool passed, string detail)
    {
        _checks.Add(new DrillCheck(name, passed, detail));
        Say($"{(passed ? "ok  " : "FAIL")} {name}: {detail}");
    }

    public async Task<DowntimeDrillReport> RunAsync(CancellationToken cancellationToken)
    {
        var ranAt = DateTimeOffset.UtcNow;
        Directory.CreateDirectory(options.OutFolder);
        var work = Directory.CreateTempSubdirectory("stadig-drill-").FullName;
        var snapshotFolder = Path.Combine(options.OutFolder, "snapshots");
        var keyFolder = Path.Combine(work, "keys");
        Directory.CreateDirectory(keyFolder);

        // The database: a primary archiving its WAL into pgBackRest's repository, and a hot standby streaming from it.
        await using var primary = await PostgresServer.CreateStoppedAsync();
        await using var backRest = await PgBackRest.ForClusterAsync(primary, TimeSpan.FromSeconds(options.ArchiveTimeoutSeconds));
        await primary.StartClusterAsync();
        await backRest.StanzaCreateAsync();
        await using var replica = options.Replica ? await primary.StartReplicaAsync() : null;
        var connectionString = primary.ConnectionString + ";Timeout=5";
        // The drill's own reads and writes on sessions of their own: a pooled one would be a dead one after the primary's stop.
        var database = new Database(DatabaseEngine.Postgres, primary.ConnectionString + ";Pooling=false");

        Say($"seeding {options.Patients:N0} patients");
        await new Migrator(database).MigrateAsync(cancellationToken: cancellationToken);
        var hasher = new PasswordHasher<object>();
        await new RegionSeeder(database, TimeProvider.System).SeedAsync(new SeedOptions
        {
            Patients = options.Patients, Seed = 1, DemoUsers = true, HashPassword = p => hasher.HashPassword(new object(), p),
        }, cancellationToken);
        await new InstallationSettings(database).SetModeAsync(InstallationMode.Demo, cancellationToken);
        var core = CoreServices.Create(database, TimeProvider.System);
        var wards = (await core.Staff.UnitsAsync(cancellationToken)).Where(u => u.Kind == UnitKind.Ward).ToList();
        var keys = new Dictionary<string, string>();
        foreach (var ward in wards)
        {
            keys[ward.HsaId] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(18));
            SnapshotKeys.Write(keyFolder, ward.HsaId, keys[ward.HsaId]);
        }

        Say("full backup");
        var full = await backRest.BackupAsync("full");
        var databaseBytes = Convert.ToInt64(await primary.ExecuteAsync("SELECT pg_database_size('postgres')"), CultureInfo.InvariantCulture);

        if (replica is not null)
        {
            // The snapshots read from the replica: it must have the seeded region before the schedule's first round.
            var seeded = (string)(await primary.ExecuteAsync("SELECT pg_current_wal_lsn()::text"))!;
            await UntilAsync("the replica's copy of the seeded region", async () =>
                (bool)(await replica.ExecuteAsync($"SELECT COALESCE(pg_last_wal_replay_lsn() >= '{seeded}'::pg_lsn, false)"))!, cancellationToken);
        }

        var mllpPort = FreePort();
        string[] settings =
        [
            $"--Stadig:Mllp:Port={mllpPort}", $"--Stadig:Jwt:SigningKey={SigningKey}", "--Stadig:LoginAttemptsPerMinute=1000000",
            "--Stadig:Downtime:ProbeSeconds=1", $"--Stadig:Downtime:AuditSpoolFolder={Path.Combine(work, "audit-spool")}",
            $"--Stadig:Downtime:Snapshots:Folder={snapshotFolder}", $"--Stadig:Downtime:Snapshots:KeyFolder={keyFolder}",
            $"--Stadig:Downtime:Snapshots:IntervalMinutes={options.SnapshotIntervalMinutes}",
            .. replica is null ? Array.Empty<string>() : [$"--Stadig:ReplicaDatabase={replica.ConnectionString};Timeout=5"],
        ];
        StadigServer? server = await StadigServer.StartOnAsync(connectionString, "http://127.0.0.1:0", settings);
        try
        {
            // ---- the load, as in the rehearsal, every acknowledged write in the ledger
            var ledger = Path.Combine(options.OutFolder, "ledger.tsv");
            AcknowledgedWrites.Open(ledger);
            var config = LoadConfig();
            Recorder? recorder = null;
            using var stopLoad = new CancellationTokenSource();
            var target = new RehearsalTarget(server!.Address, "127.0.0.1", mllpPort, primary.ConnectionString + ";Pooling=false", new JwtSettings(SigningKey, null, null), null);
            var run = new RunInfo(server.Address.ToString(), "Postgres", options.Patients, config.Clinicians, config.LabMessagesPerSecond,
                config.FhirRequestsPerSecond, Environment.ProcessorCount, "downtime drill", options.Command, config.ThinkScale, ReleaseInfo.Current.Commit);
            var load = RehearsalEngine.RunAsync(target, config, run, stopWhen: r =>
            {
                Volatile.Write(ref recorder, r);
                return stopLoad.IsCancellationRequested;
            }, cancellationToken: cancellationToken);
            await UntilAsync("the load's start", () => Volatile.Read(ref recorder) is not null || load.IsCompleted, cancellationToken);
            if (load.IsCompleted) await load; // its failure, named
            var r = recorder!;
            int Acknowledged(double after = double.NegativeInfinity) =>
                r.Samples.Count(s => s.AtSeconds > after && s.Outcome == Outcome.Ok && Writes.Contains(s.Action));

            Say($"load: {config.Clinicians} clinicians, lab {config.LabMessagesPerSecond}/s, FHIR {config.FhirRequestsPerSecond}/s");
            await PhaseAsync("load before the incremental backup", () => Acknowledged() >= options.PhaseEvents, cancellationToken);
            var incremental = await backRest.BackupAsync("incr");
            Say($"incremental backup under load: {incremental.TotalSeconds:0.0} s");
            var mark = r.Elapsed;
            await PhaseAsync("load after the incremental backup", () => Acknowledged(mark) >= options.PhaseEvents, cancellationToken);
            // The point in time to restore to: a moment under load, on the database's own clock.
            var restoreTarget = new DateTimeOffset(DateTime.SpecifyKind((DateTime)(await primary.ExecuteAsync("SELECT clock_timestamp()"))!, DateTimeKind.Utc));
            mark = r.Elapsed;
            await PhaseAsync("load after the recovery target", () => Acknowledged(mark) >= options.PhaseEvents, cancellationToken);

            // ---- (a) the primary stops as in a crash
            var stoppedAt = r.Elapsed;
            var stoppedWall = DateTimeOffset.UtcNow;
            Say("(a) stopping the primary (immediate: no checkpoint, sessions cut)");
            await primary.StopClusterAsync();
            bool IsRead(Sample s) => s.AtSeconds >= stoppedAt && Reads.Contains(s.Action);
            bool IsRefusedWrite(Sample s) => s.AtSeconds >= stoppedAt && Writes.Contains(s.Action) && IsCleanRefusal(s);
            await PhaseAsync("the primary's stop", () =>
                r.Samples.Count(s => IsRefusedWrite(s)) >= options.PhaseEvents
                && (replica is null || r.Samples.Count(s => IsRead(s) && s.Outcome == Outcome.Ok) >= options.PhaseEvents), cancellationToken);
            var restartedAt = r.Elapsed;
            var restartedWall = DateTimeOffset.UtcNow;
            await primary.StartClusterAsync();
            Say("(a) the primary is back");
            await UntilAsync("Stadig writing again", () => server!.Database.Writes.CanWrite && !server.Database.Connectivity.PrimaryLost, cancellationToken);
            await PhaseAsync("load after the primary's return", () => Acknowledged(restartedAt) >= options.PhaseEvents, cancellationToken);

            await stopLoad.CancelAsync();
            var report = await load;
            AcknowledgedWrites.Close();
            report.Write(Path.Combine(options.OutFolder, "load"));
            var loadSeconds = r.Elapsed;
            var primaryStop = await JudgePrimaryStopAsync(r.Samples.ToList(), stoppedAt, restartedAt, replica is not null, ledger, primary.ConnectionString, database, cancellationToken);

            // ---- (d) writes are back: the paper records of the primary's downtime are entered
            Say("(d) back-entering the paper records of the downtime");
            var (period, backEntries) = await BackEnterAsync(core, wards[0], stoppedWall, restartedWall, cancellationToken);

            // ---- (b) Stadig stops entirely: the downtime PC opens the last snapshot. The schedule's first round ran as the node got ready.
            await UntilAsync("every ward's first snapshot", () => wards.All(w => SnapshotFiles.Generations(snapshotFolder, w.HsaId).Count > 0), cancellationToken);
            await server.DisposeAsync();
            server = null;
            var stadigStopped = DateTimeOffset.UtcNow;
            Say("(b) Stadig stopped; opening the wards' last snapshots offline");
            var snapshots = await ReadSnapshotsAsync(options.SnapshotWards > 0 ? wards.Take(options.SnapshotWards).ToList() : wards, snapshotFolder, keys,
                stadigStopped, database, cancellationToken);

            // ---- (c) point-in-time restore from the backup into a new data directory, then restore-check
            var restore = await RestoreAsync(backRest, restoreTarget, ledger, full, incremental, databaseBytes, cancellationToken);

            var lost = primaryStop.Lost + restore.LostBeforeTarget;
            var passed = _checks.All(c => c.Passed) && lost == 0;
            var summary = string.Create(CultureInfo.InvariantCulture,
                $"Primary stopped {primaryStop.StoppedSeconds:0.0} s under load: reads {(primaryStop.Replica ? $"went on from the replica ({primaryStop.ReadsServed} served, longest wait {primaryStop.LongestReadGapSeconds:0.0} s)" : "refused (no replica)")}, " +
                $"{primaryStop.WritesRefused} writes refused cleanly, {primaryStop.Http500} answered 500, {primaryStop.Acknowledged} acknowledged writes, {primaryStop.Lost} lost; " +
                $"{snapshots.Count} ward snapshot(s) opened offline with {snapshots.Sum(s => s.Shown)} of {snapshots.Sum(s => s.CurrentPatients)} current patients, the oldest {snapshots.Select(s => s.AgeSeconds).DefaultIfEmpty().Max():0} s old; " +
                $"restored to a point in time in {restore.RecoveryTimeSeconds:0.0} s (restore-check {(restore.RestoreCheckPassed ? "passed" : "FAILED")}, {restore.LostBeforeTarget} of {restore.AcknowledgedBeforeTarget} earlier writes missing); " +
                $"{backEntries.Count(b => b.ShownAsBackEntered)} of {backEntries.Count} paper records back-entered.");
            var result = new DowntimeDrillReport("downtime-drill", ranAt, ReleaseInfo.Current.Version, ReleaseInfo.Current.Commit, passed, lost, summary, _checks.ToList(),
                options.Command, options.Patients, config.Clinicians, loadSeconds, LoadAverage(), Environment.ProcessorCount,
                primaryStop, snapshots, options.SnapshotIntervalMinutes, AllowedAge.TotalSeconds, restore, period, backEntries);
            await result.WriteAsync(options.OutFolder);
            Say($"report: {Path.Combine(options.OutFolder, DowntimeDrillReport.FileName)} and downtime-drill.html");
            return result;
        }
        finally
        {
            AcknowledgedWrites.Close();
            if (server is not null) await server.DisposeAsync();
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>The schedule makes a ward's snapshot once its newest is 0.9 intervals old, looking each minute.</summary>
    private TimeSpan AllowedAge => TimeSpan.FromMinutes(options.SnapshotIntervalMinutes) + TimeSpan.FromMinutes(1);

    private RehearsalConfig LoadConfig()
    {
        var config = new RehearsalConfig
        {
            Name = "downtime-drill", Clinicians = options.Clinicians, DurationSeconds = 24 * 3600, RampUpSeconds = options.Quick ? 0 : 10,
            WarmUp = false, ThinkScale = options.ThinkScale, BucketSeconds = 1, RequestTimeoutSeconds = 600,
            Lab = new LabFeedSettings { MessagesPerSecond = options.LabPerSecond, Connections = 1 },
            Fhir = new FhirSettings { RequestsPerSecond = options.FhirPerSecond },
        };
        if (!options.Quick) return config;
        var quick = new ThinkRange(0.005, 0.02);
        config.PhysicianShare = 0.5;
        config.NoteShare = 1;
        config.InboxShare = 1;
        config.PrescribeShare = 1;
        config.AdministerShare = 1;
        config.Think = new ThinkTimes
        {
            AfterLogin = quick, AfterList = quick, AfterSearch = quick, ReadChart = quick, ReadNote = quick, ReadResults = quick,
            AfterInbox = quick, BetweenPatients = quick,
        };
        config.Notes = new NoteWriting { AutosaveSeconds = 0.02, AutosavesMin = 2, AutosavesMax = 3 };
        return config;
    }

    /// <summary>
    /// Refused as Stadig refuses what it cannot store: 503 with Retry-After (shed), or to the lab an AR — or, for a
    /// message under way when the primary went, the connection closed without an ACK (MllpListener): either way
    /// not acknowledged, and the lab sends it again.
    /// </summary>
    private static bool IsCleanRefusal(Sample s) =>
        s.Outcome == Outcome.Shed
        || s.Outcome == Outcome.Error && s.Action == LabFeed.Action && s.Status is { } status
           && (status.StartsWith("ACK AR", StringComparison.Ordinal) || status is "IOException" or "SocketException" || status.StartsWith("connection", StringComparison.Ordinal));

    private static bool IsClean(Sample s) => s.Outcome == Outcome.Ok || IsCleanRefusal(s);

    private async Task<PrimaryStopFigures> JudgePrimaryStopAsync(List<Sample> samples, double stoppedAt, double restartedAt, bool replica, string ledger,
        string connectionString, Database database, CancellationToken cancellationToken)
    {
        var during = samples.Where(s => s.AtSeconds >= stoppedAt && s.AtSeconds < restartedAt).ToList();
        var reads = during.Where(s => Reads.Contains(s.Action)).ToList();
        var served = reads.Where(s => s.Outcome == Outcome.Ok).Select(s => s.AtSeconds).Order().ToList();
        var continued = served.Count == 0 ? 0 : served[^1] - stoppedAt;
        var gaps = served.Prepend(stoppedAt).Append(restartedAt).ToList();
        var longestGap = gaps.Zip(gaps.Skip(1), (a, b) => b - a).DefaultIfEmpty(restartedAt - stoppedAt).Max();
        var refused = during.Count(s => Writes.Contains(s.Action) && IsCleanRefusal(s));
        var unclean = samples.Where(s => !IsClean(s)).ToList();
        var http500 = samples.Count(s => (s.Status ?? "").StartsWith("500", StringComparison.Ordinal));
        var resumed = samples.Where(s => s.AtSeconds >= stoppedAt && s.Outcome == Outcome.Ok && Writes.Contains(s.Action))
            .Select(s => (double?)(s.AtSeconds + s.Milliseconds / 1000)).Min();

        // Every write acknowledged during the whole run, looked up on the primary now (FailoverVerifier, as bench/failover.sh does).
        var audit = await new Stadig.Audit.AuditVerifier(database).VerifyAsync(cancellationToken);
        var (acknowledged, lost) = await VerifyLedgerAsync(ledger, connectionString, audit.Intact, "after-primary-stop", _ => true);

        // A read under way when the primary went is answered 503 (its session went with it); the next ones go to the replica.
        if (replica)
            Check("reads went on from the replica while the primary was stopped", served.Count > 0 && reads.All(IsClean),
                string.Create(CultureInfo.InvariantCulture, $"{served.Count} of {reads.Count} served over {restartedAt - stoppedAt:0.0} s, the rest refused 503; longest wait {longestGap:0.0} s"));
        Check("every write refused cleanly while the primary was stopped (503 with Retry-After; to the lab AR or no ACK)", refused > 0,
            $"{refused} refused");
        Check("every answer of the drill served or refused cleanly", unclean.Count == 0,
            unclean.Count == 0 ? $"{samples.Count} answers" : $"{unclean.Count} not: " + string.Join(", ", unclean.GroupBy(s => $"{s.Action} {s.Status}").Take(5).Select(g => $"{g.Key} × {g.Count()}")));
        Check("no answer 500", http500 == 0, $"{http500}");
        Check("writes acknowledged again after the primary's return", resumed is not null,
            resumed is { } at ? string.Create(CultureInfo.InvariantCulture, $"refused for {at - stoppedAt:0.0} s") : "never");
        Check("every acknowledged write present after the primary's stop, with its audit event", lost == 0 && acknowledged > 0, $"{acknowledged} acknowledged, {lost} lost");
        Check("audit chain intact on the primary (stadig verify)", audit.Intact, $"{audit.EventsChecked} events in {audit.ChainsChecked} chains");
        return new PrimaryStopFigures(replica, Math.Round(restartedAt - stoppedAt, 2), served.Count, reads.Count - served.Count, Math.Round(continued, 2),
            Math.Round(longestGap, 2), refused, unclean.Count, http500, resumed is { } r ? Math.Round(r - stoppedAt, 2) : null, acknowledged, lost);
    }

    /// <summary>
    /// bench/failover.sh's check of the acknowledged writes (<see cref="FailoverVerifier"/>) on <paramref name="connectionString"/>,
    /// for the ledger's lines <paramref name="include"/> keeps. Its file is renamed: it is not failover evidence.
    /// </summary>
    private async Task<(int Acknowledged, int Lost)> VerifyLedgerAsync(string ledger, string connectionString, bool auditIntact, string name, Func<DateTimeOffset, bool> include)
    {
        var folder = Path.Combine(options.OutFolder, "ledger-" + name);
        Directory.CreateDirectory(folder);
        var lines = Path.Combine(folder, "ledger.tsv");
        await File.WriteAllLinesAsync(lines, File.ReadLines(ledger).Where(l =>
            long.TryParse(l.Split('\t')[0], CultureInfo.InvariantCulture, out var ms) && include(DateTimeOffset.FromUnixTimeMilliseconds(ms))));
        await FailoverVerifier.RunAsync(lines, connectionString + ";Pooling=false", null, folder, auditIntact ? 0 : 2, ReleaseInfo.Current.Commit);
        var json = Path.Combine(folder, "failover.json");
        using var doc = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var writes = doc.RootElement.GetProperty("writes").EnumerateArray().Sum(w => w.GetProperty("acknowledged").GetInt32());
        var lost = doc.RootElement.GetProperty("lost").GetInt32();
        File.Move(json, Path.Combine(folder, "acknowledged-writes.json"), overwrite: true);
        File.Move(Path.Combine(folder, "failover.txt"), Path.Combine(folder, "acknowledged-writes.txt"), overwrite: true);
        return (writes, lost);
    }

    private async Task<List<SnapshotFigures>> ReadSnapshotsAsync(List<CareUnit> wards, string folder, Dictionary<string, string> keys, DateTimeOffset stopped,
        Database database, CancellationToken cancellationToken)
    {
        var (playwright, browser) = await Infrastructure.Browser.LaunchAsync();
        using var _p = playwright;
        await using var _b = browser;
        // No network at all, as on a downtime PC with Stadig and the network gone.
        await using var context = await browser.NewContextAsync(new BrowserNewContextOptions { Offline = true });
        var figures = new List<SnapshotFigures>();
        foreach (var ward in wards)
        {
            var newest = SnapshotFiles.Generations(folder, ward.HsaId).FirstOrDefault();
            if (newest is null)
            {
                Check($"{ward.Name}: last snapshot opens offline with every current patient", false, "no snapshot");
                continue;
            }
            var page = await context.NewPageAsync();
            page.SetDefaultTimeout(120_000);
            var fetched = new List<string>();
            page.Request += (_, request) => { if (!request.Url.StartsWith("file:", StringComparison.Ordinal)) fetched.Add(request.Url); };
            await page.GotoAsync(new Uri(newest.Path).AbsoluteUri);
            await page.FillAsync("#key", keys[ward.HsaId]);
            await page.ClickAsync("#open");
            await page.WaitForSelectorAsync("#ward-list");
            var shown = (await page.InnerTextAsync("#ward-list")).Replace("-", "", StringComparison.Ordinal);
            await page.CloseAsync();

            // The ward's patients as the database has them now: the load admits and discharges nobody, so they are those of the snapshot's time.
            await using var connection = await database.OpenUnscopedAsync(cancellationToken);
            var current = (await connection.QueryAsync<string>(
                "SELECT p.identifier FROM encounter e JOIN patient p ON p.id = e.patient_id WHERE e.unit_id = @unit AND e.kind = 'Inpatient' AND e.ended_at IS NULL AND e.started_at <= @at",
                new { unit = ward.Id, at = newest.TakenAt })).ToList();
            var missing = current.Where(id => !shown.Contains(id, StringComparison.Ordinal)).ToList();
            var age = (stopped - newest.TakenAt).TotalSeconds;
            var pdf = ReadSnapshotPdf(newest, keys[ward.HsaId], current);
            figures.Add(new SnapshotFigures(ward.Name, Path.GetFileName(newest.Path), Math.Round(age, 1), current.Count, current.Count - missing.Count, missing.Count, pdf));
            Check($"{ward.Name}: last snapshot opens offline with every current patient", missing.Count == 0 && current.Count > 0 && fetched.Count == 0,
                $"{current.Count - missing.Count} of {current.Count} patients; {fetched.Count} network requests");
            Check($"{ward.Name}: its PDF opens with the ward's key only and names every current patient",
                pdf is { RefusedWithoutKey: true, Decrypted: true, Missing: 0 } && current.Count > 0,
                pdf is null ? "no PDF beside the HTML file" : $"refused without the key: {pdf.RefusedWithoutKey}; decrypted: {pdf.Decrypted}; {pdf.Pages} pages; {pdf.Patients} of {current.Count} patients");
            Check($"{ward.Name}: last snapshot no older than the schedule allows", age <= AllowedAge.TotalSeconds,
                string.Create(CultureInfo.InvariantCulture, $"{age:0} s old when Stadig stopped; allowed {AllowedAge.TotalSeconds:0} s"));
        }
        return figures;
    }

    /// <summary>The generation's PDF, as the downtime PC's reader opens it: refused without the key, then read with it for every current patient's personnummer.</summary>
    private static SnapshotPdfFigures? ReadSnapshotPdf(SnapshotGeneration generation, string key, IReadOnlyList<string> current)
    {
        if (!File.Exists(generation.PdfPath)) return null;
        var bytes = File.ReadAllBytes(generation.PdfPath);
        bool refused;
        try
        {
            using var _ = UglyToad.PdfPig.PdfDocument.Open(bytes);
            refused = false;
        }
        catch (UglyToad.PdfPig.Exceptions.PdfDocumentEncryptedException) { refused = true; }
        try
        {
            using var document = UglyToad.PdfPig.PdfDocument.Open(bytes, new UglyToad.PdfPig.ParsingOptions { Password = key });
            var text = string.Concat(document.GetPages().Select(p => p.Text)).Replace("-", "", StringComparison.Ordinal);
            var named = current.Count(id => text.Contains(id, StringComparison.Ordinal));
            return new SnapshotPdfFigures(Path.GetFileName(generation.PdfPath), refused, true, document.NumberOfPages, named, current.Count - named);
        }
        catch (UglyToad.PdfPig.Exceptions.PdfDocumentEncryptedException)
        {
            return new SnapshotPdfFigures(Path.GetFileName(generation.PdfPath), refused, false, 0, 0, current.Count);
        }
    }

    private async Task<RestoreFigures> RestoreAsync(PgBackRest backRest, DateTimeOffset target, string ledger, TimeSpan full, TimeSpan incremental, long bytes,
        CancellationToken cancellationToken)
    {
        // The target's WAL must be in the repository: switch segments and wait for the archive, as pgBackRest's check does.
        var archived = await backRest.CheckAsync();
        Say($"(c) restoring to {target:HH:mm:ss.fff}Z into a new data directory");
        await using var restored = await PostgresServer.CreateForRestoreAsync();
        var started = Stopwatch.GetTimestamp();
        await backRest.RestoreToTimeAsync(restored, target);
        var restoreTime = Stopwatch.GetElapsedTime(started);
        started = Stopwatch.GetTimestamp();
        await restored.StartClusterAsync();
        await UntilAsync("recovery to the target and promotion", async () =>
        {
            try { return !(bool)(await restored.ExecuteAsync("SELECT pg_is_in_recovery()"))!; }
            catch (NpgsqlException) { return false; }
        }, cancellationToken);
        var recoveryTime = Stopwatch.GetElapsedTime(started);
        started = Stopwatch.GetTimestamp();
        var restoredDatabase = new Database(DatabaseEngine.Postgres, restored.ConnectionString + ";Pooling=false");
        var check = await new RestoreCheck(restoredDatabase).RunAsync(cancellationToken);
        var checkTime = Stopwatch.GetElapsedTime(started);
        var auditEvents = check.Tables.FirstOrDefault(t => t.Table == "audit_event").Rows;
        var (acknowledged, lost) = await VerifyLedgerAsync(ledger, restored.ConnectionString, check.Audit.Intact, "before-restore-target", at => at <= target);
        // It is the database as it was at the target, not the latest: nothing committed after it (an audit event commits with its change).
        DateTime newest;
        await using (var c = await restoredDatabase.OpenUnscopedAsync(cancellationToken))
            newest = await c.ExecuteScalarAsync<DateTime>("SELECT max(occurred_at) FROM audit_event");
        var newestAt = new DateTimeOffset(DateTime.SpecifyKind(newest, DateTimeKind.Utc));

        Check("point-in-time restore with pgBackRest (full + incremental + WAL) promoted at the target", true,
            string.Create(CultureInfo.InvariantCulture, $"restore {restoreTime.TotalSeconds:0.0} s, recovery {recoveryTime.TotalSeconds:0.0} s"));
        Check("the restored database ends at the target", newestAt <= target,
            string.Create(CultureInfo.InvariantCulture, $"newest audit event {(target - newestAt).TotalSeconds:0.000} s before the target"));
        Check("restore-check of the restored database (migrations, counts, audit chain)", check.Passed,
            $"schema {check.SchemaVersion}, {check.PendingMigrations.Count} pending, {auditEvents} audit events, chain {(check.Audit.Intact ? "intact" : "NOT intact")}");
        Check("every write acknowledged before the target is in the restored database", lost == 0 && acknowledged > 0, $"{acknowledged} acknowledged, {lost} missing");
        return new RestoreFigures(Math.Round(full.TotalSeconds, 2), Math.Round(incremental.TotalSeconds, 2), options.ArchiveTimeoutSeconds, Math.Round(archived.TotalSeconds, 2),
            target, Math.Round(restoreTime.TotalSeconds, 2), Math.Round(recoveryTime.TotalSeconds, 2), Math.Round(checkTime.TotalSeconds, 2), bytes,
            check.SchemaVersion, auditEvents, check.Passed, acknowledged, lost);
    }

    private async Task<(DowntimePeriodFigures, List<BackEntryFigures>)> BackEnterAsync(CoreServices core, CareUnit ward, DateTimeOffset from, DateTimeOffset to,
        CancellationToken cancellationToken)
    {
        var admin = await CallerAsync(core, "admin", null, cancellationToken);
        var physician = await CallerAsync(core, "lakare", ward, cancellationToken);
        var nurse = await CallerAsync(core, "sjukskoterska", ward, cancellationToken);

        // The node suggested the period it saw (writes refused, then taken again); the administrator checks and registers it.
        var suggestion = (await core.DowntimePeriods.ListAsync(cancellationToken)).FirstOrDefault(p => !p.IsRegistered && p.StartedAt < to && p.EndedAt > from);
        var period = suggestion is not null
            ? await core.DowntimePeriods.ConfirmAsync(admin, suggestion.Id, Min(from, suggestion.StartedAt), Max(to, suggestion.EndedAt), "Övning: databasens primär stoppad.", cancellationToken)
            : await core.DowntimePeriods.RegisterAsync(admin, from, to, "Övning: databasens primär stoppad.", cancellationToken);
        // Mid-period, on PostgreSQL's microsecond grid, so that what is read back is the very time written.
        var middle = period.StartedAt + (period.EndedAt - period.StartedAt) / 2;
        var onPaper = middle.AddTicks(-(middle.UtcTicks % 10));
        var claim = new BackEntryClaim(onPaper);

        await using var connection = await core.Database.OpenUnscopedAsync(cancellationToken);
        var inpatient = await connection.QueryFirstAsync<Guid>(
            "SELECT patient_id FROM encounter WHERE unit_id = @unit AND kind = 'Inpatient' AND ended_at IS NULL ORDER BY started_at, id", new { unit = ward.Id });
        var note = await core.Notes.CreateDraftAsync(physician, inpatient, "Daganteckning", backEntry: claim, cancellationToken: cancellationToken);
        note = await core.Notes.SaveDraftAsync(physician, note.Id, note.Version, [new("Aktuellt", "Skrivet på papper under avbrottet: opåverkad, äter.")], cancellationToken);
        await core.Notes.SignAsync(physician, note.Id, note.Version, cancellationToken);
        await core.VitalSigns.RecordAsync(nurse, inpatient, "8867-4", 84, claim, cancellationToken: cancellationToken);
        // A patient who came to the ward during the downtime: registered now, admitted at the paper's time.
        var arrived = (await core.Patients.RegisterAsync(physician, TestNumbers.Personnummer(1948, 2, 29, 321), new global::Stadig.Patients.PatientDetails("Pappersson", "Per"), cancellationToken)).PatientId;
        await core.Encounters.BackEnterAdmissionAsync(nurse, arrived, ward.Id, "Reserv", claim, cancellationToken);
        // A dose given from the paper drug chart: as needed, ordered on paper too, so ordered now and given at the paper's time.
        var product = (await core.Catalogue.SearchAsync("Alvedon", cancellationToken: cancellationToken))[0];
        var order = await core.Medication.PrescribeAsync(physician, inpatient,
            new MedicationDraft { ProductId = product.Id, DoseValue = 1, DoseUnit = "tablett", AsNeeded = true, MaxDosesPer24h = 4, Indication = "Smärta" },
            "Ordinerat på papper under avbrottet.", cancellationToken: cancellationToken);
        var dose = await core.Administration.RecordAsync(nurse, order.Id, new DoseInput { Reason = "Huvudvärk", BackEntry = claim }, cancellationToken);

        var figures = new List<BackEntryFigures>();
        async Task ShownAsync(string kind, Guid patient, RecordKind recordKind)
        {
            var entries = (await core.Record.TimelineAsync(nurse, patient, new TimelineQuery([recordKind]), cancellationToken)).Entries;
            figures.Add(new BackEntryFigures(kind, onPaper, entries.Any(e => e.BackEntry is { } m && e.At == onPaper
                && m.DowntimeFrom == period.StartedAt && m.DowntimeTo == period.EndedAt && m.EnteredByName.Length > 0)));
        }
        await ShownAsync("note", inpatient, RecordKind.Note);
        await ShownAsync("vital sign", inpatient, RecordKind.Observation);
        await ShownAsync("admission", arrived, RecordKind.Encounter);
        // Administrations carry their mark with the dose (the timeline shows doses with their ordination).
        await using (var marks = await core.Database.OpenUnscopedAsync(cancellationToken))
            figures.Add(new BackEntryFigures("administration", onPaper, (await BackEntries.OfRecordAsync(marks, null, dose.Id))
                .Any(m => m.DowntimePeriodId == period.Id && m.ClinicalAt == onPaper && m.Event == BackEntryEvent.Administration)));
        Check("paper records back-entered for the downtime period and shown as back-entered", figures.All(f => f.ShownAsBackEntered),
            $"{figures.Count(f => f.ShownAsBackEntered)} of {figures.Count} ({string.Join(", ", figures.Select(f => f.Kind))}); period {(suggestion is null ? "registered" : "suggested by the node, confirmed")}");
        return (new DowntimePeriodFigures(period.StartedAt, period.EndedAt, suggestion is not null), figures);
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    /// <summary>A demo login as the caller it is at <paramref name="unit"/> (or, for the administrator, wherever it administers).</summary>
    private static async Task<Caller> CallerAsync(CoreServices core, string username, CareUnit? unit, CancellationToken cancellationToken)
    {
        var member = await core.Staff.FindByUsernameAsync(username, cancellationToken) ?? throw new InvalidOperationException($"No demo login {username}.");
        var assignments = await core.Staff.AssignmentsOfAsync(member.Id, cancellationToken);
        var assignment = assignments.FirstOrDefault(a => unit is null || a.UnitId == unit.Id)
            ?? throw new InvalidOperationException($"The demo login {username} has no assignment at {unit?.Name}.");
        return StadigServer.CallerFor(member, assignment);
    }

    /// <summary>
    /// A stretch of the drill under load: at least <see cref="DrillOptions.PhaseSeconds"/>, and until
    /// <paramref name="enough"/> holds (events, not time, are what a check needs).
    /// </summary>
    private async Task PhaseAsync(string what, Func<bool> enough, CancellationToken cancellationToken)
    {
        var until = _clock.Elapsed + TimeSpan.FromSeconds(options.PhaseSeconds);
        await UntilAsync(what, () => _clock.Elapsed >= until && enough(), cancellationToken);
    }

    private Task UntilAsync(string what, Func<bool> condition, CancellationToken cancellationToken) =>
        UntilAsync(what, () => Task.FromResult(condition()), cancellationToken);

    private async Task UntilAsync(string what, Func<Task<bool>> condition, CancellationToken cancellationToken)
    {
        // A guard against a hang only, far beyond any phase: the drill then fails naming what never happened.
        var guard = Stopwatch.StartNew();
        while (!await condition())
        {
            if (guard.Elapsed > TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(options.PhaseSeconds))
                throw new TimeoutException($"The downtime drill waited in vain for {what}.");
            await Task.Delay(50, cancellationToken);
        }
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

    private static int FreePort()
    {
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
