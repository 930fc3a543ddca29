using System.Net.Sockets;
using Microsoft.AspNetCore.Identity;
using Npgsql;
using Stadig.Auth;
using Stadig.Installation;
using Stadig.Seeding;
using Stadig.Storage;

namespace Stadig.Hosting;

/// <summary>The verbs of the one executable. Expected failures end in one clear line and exit code 1, never a stack trace.</summary>
public static class StadigCommandLine
{
    public const string Help =
        """
        Stadig — vårdjournal / electronic health record

        Usage: stadig [verb] [options]

        Verbs:
          serve                 Serve the web UI and API (default). Migrates and, for the embedded
                                SQLite database, seeds a demo region at first start.
          training              Serve a training installation (ÖVNINGSMILJÖ): as serve, with Stadig:Mode=Training,
                                on a database of its own. A new, empty database is marked training and gets a
                                synthetic region, practice logins and the exercises; a production database is
                                refused. No MLLP listener, no lab orders sent. See docs/training.md.
          training-import --file <staff.csv>
                                Import the production staff directory into a training database: who must be
                                trained (header hsa_id;username;name;title;role;unit_hsa_id;unit_name). The
                                whole file is checked first; any error, named by line and column, and nothing
                                is imported. Safe to re-run.
          training-report [--format json|csv] [--unit <HSA-id>]
                                Print the training report (the readiness gate reads the JSON).
          migrate               Apply pending database migrations and exit.
          seed --patients N [--seed S] [--demo-users]
                                Generate a synthetic region into an empty database.
          verify                Check the audit log's hash chains; name every changed, removed or
                                reordered event. Exit code 0 when intact, 2 when tampered.
          fhir-publish          Publish every chart record (warnings, problems, encounters, signed
                                notes, consents) as FHIR resources: for data from before records were
                                published, or loaded directly. Safe to re-run; publishes only changes.
          medication-import --file <catalogue.csv>
                                Load a medicinal product catalogue file (semicolon-separated, UTF-8,
                                header npl_id;name;substances;strength;dose_form;route;atc_code;
                                max_daily_dose;high_risk). The whole file is checked first: any error,
                                named by line and column, and nothing is imported. Products are added
                                or updated by NPL id (else name, strength and form); safe to re-run.
          backup --to <file> [--force]
                                Copy the embedded SQLite database to one file while Stadig serves (SQLite's
                                online backup: one consistent snapshot), and check the copy. PostgreSQL:
                                pgBackRest, see docs/operations.md.
          restore --from <file> [--force]
                                Check a backup file, then restore it as the configured SQLite database.
                                An existing database is replaced only with --force.
          snapshot [--unit <HSA-id>] [--repeat N]
                                Make the downtime snapshots now (every ward, or one): each ward's record, encrypted
                                with its key, in Stadig:Downtime:Snapshots:Folder (docs/operations.md, "Downtime
                                snapshots"). Reads only; works while the database refuses writes. Exit code 2
                                when a unit got none (no key, folder not writable). --repeat: make them N times
                                and print the times (bench/snapshot.sh).
          restore-check         Check a restored database (either engine): migrations complete, rows per
                                table, the audit log's hash chains. Exit code 0 when it passes, 2 when not.
          regulatory-file --out <folder> --test-results <trx|json|folder> [--repo <checkout>] [--sbom <cyclonedx json>] [--vulnerable <json>]
                                Build this release's regulatory file (intended use, hazard log with each
                                hazard's test status, SOUP list, test evidence) as Markdown, HTML and JSON
                                in <folder>/<version>-<commit>/. Exit code 3 when a hazard has no passing
                                test or a package has no stated purpose (docs/readiness.md).
          readiness [--short] [--evidence <folder>] [--rehearsal <report.json|folder>]
                    [--regulatory <folder>] [--go-live yyyy-MM-dd] [--out <folder>] [--database <conn>]
                                May we go live? Every criterion (performance, reliability, integrity,
                                training, licences, regulatory file, open incidents) from its evidence,
                                with an HTML and JSON report. Exit code 0 GO, 3 NO-GO; missing evidence is
                                NO-GO. --short: what CI can check (docs/readiness.md).
          --help                Show this text.

        Options (also settable in appsettings.json under "Stadig", or as environment variables Stadig__Key):
          --database <conn>     PostgreSQL (Host=...;Database=...) or SQLite (Data Source=file.db).
                                Default: Data Source=data/stadig.db (embedded SQLite).
          --urls <urls>         Where to listen. Default: http://127.0.0.1:5000
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        var verb = args.Length > 0 && !args[0].StartsWith('-') ? args[0] : "serve";
        var rest = args.Length > 0 && !args[0].StartsWith('-') ? args[1..] : args;
        if (args.Contains("--help") || args.Contains("-h") || verb == "help")
        {
            Console.WriteLine(Help);
            return 0;
        }
        try
        {
            return verb switch
            {
                "serve" => await ServeAsync(rest),
                "training" => await ServeAsync([.. rest, "--Stadig:Mode=Training"]),
                "training-import" => await TrainingImportAsync(rest),
                "training-report" => await TrainingReportAsync(rest),
                "migrate" => await MigrateAsync(rest),
                "seed" => await SeedAsync(rest),
                "verify" => await VerifyAsync(rest),
                "fhir-publish" => await FhirPublishAsync(rest),
                "medication-import" => await MedicationImportAsync(rest),
                "backup" => await BackupAsync(rest),
                "restore" => await RestoreAsync(rest),
                "restore-check" => await RestoreCheckAsync(rest),
                "snapshot" => await SnapshotAsync(rest),
                "regulatory-file" => await ReadinessVerbs.RegulatoryFileAsync(rest),
                "readiness" => await ReadinessVerbs.ReadinessAsync(rest),
                _ => Fail($"Unknown verb '{verb}'. Run 'stadig --help' for the list."),
            };
        }
        catch (StartupException e)
        {
            return Fail(e.Message);
        }
        catch (Common.StadigException e)
        {
            return Fail(e.Message);
        }
    }

    private static async Task<int> ServeAsync(string[] args)
    {
        var app = await StadigHost.BuildAsync(args);
        await app.StartAsync();
        var options = app.Services.GetRequiredService<StadigOptions>();
        var addresses = app.Urls;
        Console.WriteLine($"Stadig is running at {string.Join(", ", addresses)}");
        if (options.IsTraining) Console.WriteLine("ÖVNINGSMILJÖ — inga riktiga patienter (training installation: no real patients, no lab connections).");
        if (await app.Services.GetRequiredService<InstallationSettings>().ModeAsync() != InstallationMode.Production)
        {
            Console.WriteLine("Demo logins (password 'demo'): " + string.Join(", ", DemoLogins.Usernames));
        }
        if (options.Mllp.Port != 0)
            Console.WriteLine($"HL7 v2 lab results (MLLP): {options.Mllp.Address}:{options.Mllp.Port}");
        Console.WriteLine($"Database: {options.Engine}. Press Ctrl+C to stop.");
        await app.WaitForShutdownAsync();
        return 0;
    }

    private static async Task<int> MigrateAsync(string[] args)
    {
        var (options, _) = StadigHost.ReadOptions(args);
        var database = Storage.Database.FromConnectionString(options.Database);
        var applied = await StadigHost.GuardDatabaseAsync(options, () => new Migrator(database).MigrateAsync());
        if (await StadigHost.GuardDatabaseAsync(options, () => new Medication.ProductCatalogue(database, TimeProvider.System).SeedIfEmptyAsync()))
            Console.WriteLine("The medicinal product catalogue was empty: the starter catalogue is loaded.");
        Console.WriteLine(applied.Count == 0
            ? $"The database is up to date (version {Migrator.LatestVersion(database.Engine)})."
            : $"Applied {applied.Count} migration(s): {string.Join(", ", applied.Select(m => m.Name))}.");
        return 0;
    }

    private static async Task<int> SeedAsync(string[] args)
    {
        var patients = IntOption(args, "--patients") ?? throw new StartupException("seed needs --patients N.");
        var seed = IntOption(args, "--seed") ?? 1;
        var demoUsers = args.Contains("--demo-users");
        var (options, _) = StadigHost.ReadOptions(args.Where(a => a != "--demo-users").ToArray(), allowExtra: ["--patients", "--seed"]);
        var database = Storage.Database.FromConnectionString(options.Database);
        await StadigHost.GuardDatabaseAsync(options, () => new Migrator(database).MigrateAsync());
        var seeder = new RegionSeeder(database, TimeProvider.System);
        var hasher = new PasswordHasher<object>();
        var report = await seeder.SeedAsync(new SeedOptions
        {
            Patients = patients, Seed = seed, DemoUsers = demoUsers,
            HashPassword = p => hasher.HashPassword(new object(), p),
            Progress = new Progress<string>(Console.WriteLine),
        }, CancellationToken.None);
        if (demoUsers) await new InstallationSettings(database).SetModeAsync(InstallationMode.Demo);
        Console.WriteLine($"Seeded {report.Patients} patients in {report.Elapsed.TotalSeconds:F1} s.");
        foreach (var login in report.DemoLogins) Console.WriteLine($"Demo login: {login.Username} / {login.Password} ({login.Role})");
        return 0;
    }

    private static async Task<int> VerifyAsync(string[] args)
    {
        var (options, _) = StadigHost.ReadOptions(args);
        var database = Storage.Database.FromConnectionString(options.Database);
        var result = await StadigHost.GuardDatabaseAsync(options, () => new Audit.AuditVerifier(database).VerifyAsync());
        foreach (var finding in result.Findings)
            Console.WriteLine($"{finding.Kind}: chain {finding.ChainKey}, event #{finding.ChainSeq}{(finding.EventId is { } id ? $" ({id})" : "")}: {finding.Explanation}");
        Console.WriteLine(result.Intact
            ? $"Audit log intact: {result.EventsChecked} events in {result.ChainsChecked} chains."
            : $"Audit log TAMPERED: {result.Findings.Count} finding(s) in {result.EventsChecked} events.");
        if (result.LastCheckpoint is { } anchor)
            Console.WriteLine($"Last checkpoint: #{anchor.Seq} at {anchor.TakenAt:yyyy-MM-dd HH:mm:ss}Z, {anchor.ChainCount} chains, hash {anchor.Hash} (note it outside the database to pin the log up to it).");
        else
            Console.WriteLine("No checkpoint yet: a chain deleted as a whole is found only once a checkpoint has recorded it.");
        return result.Intact ? 0 : 2;
    }

    private static async Task<int> FhirPublishAsync(string[] args)
    {
        var (options, _) = StadigHost.ReadOptions(args);
        var database = Storage.Database.FromConnectionString(options.Database);
        await StadigHost.GuardDatabaseAsync(options, () => new Migrator(database).MigrateAsync());
        var result = await StadigHost.GuardDatabaseAsync(options, () =>
            Fhir.Records.FhirRecordBackfill.RunAsync(database, TimeProvider.System, new ConsoleLines(), Fhir.Records.FhirRecordBackfill.BatchSize, CancellationToken.None));
        Console.WriteLine($"Published {result.Published} of {result.Read} chart records as FHIR resources (the rest were already up to date).");
        return 0;
    }

    private static async Task<int> MedicationImportAsync(string[] args)
    {
        var i = Array.IndexOf(args, "--file");
        var path = i >= 0 && i + 1 < args.Length ? args[i + 1] : throw new StartupException("medication-import needs --file <catalogue.csv>.");
        if (!File.Exists(path)) throw new StartupException($"No such file: {path}");
        var (options, _) = StadigHost.ReadOptions(args, allowExtra: ["--file"]);
        var database = Storage.Database.FromConnectionString(options.Database);
        await StadigHost.GuardDatabaseAsync(options, () => new Migrator(database).MigrateAsync());
        IReadOnlyList<Medication.CatalogueLine> lines;
        using (var reader = new StreamReader(path, System.Text.Encoding.UTF8))
            lines = Medication.CatalogueFile.Read(reader);
        Console.WriteLine($"{path}: {lines.Count} products, all lines valid.");
        var result = await StadigHost.GuardDatabaseAsync(options, () =>
            new Medication.ProductCatalogue(database, TimeProvider.System).ImportAsync(lines, new ConsoleLines(), CancellationToken.None));
        Console.WriteLine($"Imported: {result.Added} added, {result.Updated} updated, {result.Unchanged} unchanged.");
        return 0;
    }

    private static async Task<int> TrainingImportAsync(string[] args)
    {
        var path = StringOption(args, "--file") ?? throw new StartupException("training-import needs --file <staff.csv>.");
        if (!File.Exists(path)) throw new StartupException($"No such file: {path}");
        var (options, _) = StadigHost.ReadOptions(args, allowExtra: ["--file"]);
        var database = Storage.Database.FromConnectionString(options.Database);
        await StadigHost.GuardDatabaseAsync(options, () => new Migrator(database).MigrateAsync());
        if (await StadigHost.GuardDatabaseAsync(options, () => new InstallationSettings(database).ModeAsync()) != InstallationMode.Training)
            throw new StartupException("training-import writes only to a training database (one started with 'stadig training').");
        IReadOnlyList<Training.RosterLine> lines;
        using (var reader = new StreamReader(path, System.Text.Encoding.UTF8))
            lines = Training.TrainingRoster.Read(reader);
        var staff = new Organisation.StaffDirectory(database, TimeProvider.System);
        var hash = new PasswordHasher<object>().HashPassword(new object(), RegionSeeder.DemoPassword);
        var result = await StadigHost.GuardDatabaseAsync(options, () => new Training.TrainingRoster(database, staff, TimeProvider.System).ImportAsync(lines, hash));
        Console.WriteLine($"{path}: {result.People} people to train ({result.NewStaff} new practice logins, password '{RegionSeeder.DemoPassword}'; {result.NewUnits} new units).");
        return 0;
    }

    private static async Task<int> TrainingReportAsync(string[] args)
    {
        var format = StringOption(args, "--format") ?? "json";
        if (format is not ("json" or "csv")) throw new StartupException("--format is json or csv.");
        var unit = StringOption(args, "--unit");
        var (options, _) = StadigHost.ReadOptions(args, allowExtra: ["--format", "--unit"]);
        var database = Storage.Database.FromConnectionString(options.Database);
        await StadigHost.GuardDatabaseAsync(options, () => new Migrator(database).MigrateAsync());
        var core = CoreServices.Create(database, TimeProvider.System);
        var identifiers = new Patients.Identifiers.PatientIdentifierRules(TimeProvider.System);
        var setup = new Training.ExerciseSetup(database, core.Audit, core.Staff, core.Patients, core.Notes, core.Access, core.Chart, core.Warnings, identifiers, TimeProvider.System,
            core.Encounters, core.Medication, core.Catalogue);
        var exercises = new Training.TrainingExercises(database, setup, new InstallationSettings(database), TimeProvider.System);
        var report = await StadigHost.GuardDatabaseAsync(options, () => new Training.TrainingReport(database, exercises, options.Training, core.Audit, TimeProvider.System).BuildAsync(unit));
        Console.Write(format == "json" ? report.ToJson() + "\n" : report.ToCsv());
        return 0;
    }

    private static async Task<int> BackupAsync(string[] args)
    {
        var to = StringOption(args, "--to") ?? throw new StartupException("backup needs --to <file>.");
        var (options, _) = StadigHost.ReadOptions(args.Where(a => a != "--force").ToArray(), allowExtra: ["--to"]);
        var summary = await Downtime.SqliteBackup.BackupAsync(options.Database, to, args.Contains("--force"));
        Console.WriteLine($"Backed up to {summary.File}: {summary.Bytes} bytes, schema version {summary.SchemaVersion}, {summary.AuditEvents} audit events; integrity check ok.");
        return 0;
    }

    private static async Task<int> RestoreAsync(string[] args)
    {
        var from = StringOption(args, "--from") ?? throw new StartupException("restore needs --from <file>.");
        var (options, _) = StadigHost.ReadOptions(args.Where(a => a != "--force").ToArray(), allowExtra: ["--from"]);
        var summary = await Downtime.SqliteBackup.RestoreAsync(from, options.Database, args.Contains("--force"));
        Console.WriteLine($"Restored {from} into {summary.File}: schema version {summary.SchemaVersion}, {summary.AuditEvents} audit events. Run 'stadig restore-check' before serving it.");
        return 0;
    }

    private static async Task<int> RestoreCheckAsync(string[] args)
    {
        var (options, _) = StadigHost.ReadOptions(args);
        var database = Storage.Database.FromConnectionString(options.Database);
        var result = await StadigHost.GuardDatabaseAsync(options, () => new Downtime.RestoreCheck(database).RunAsync());
        Console.WriteLine($"Schema version {result.SchemaVersion}: " + (result.PendingMigrations.Count == 0
            ? "every migration applied."
            : $"INCOMPLETE, migration(s) {string.Join(", ", result.PendingMigrations)} missing."));
        foreach (var (table, rows) in result.Tables) Console.WriteLine($"  {table,-40} {rows,12}");
        if (result.Integrity is { } integrity) Console.WriteLine($"SQLite integrity check: {integrity}");
        foreach (var finding in result.Audit.Findings)
            Console.WriteLine($"{finding.Kind}: chain {finding.ChainKey}, event #{finding.ChainSeq}{(finding.EventId is { } id ? $" ({id})" : "")}: {finding.Explanation}");
        Console.WriteLine(result.Audit.Intact
            ? $"Audit log intact: {result.Audit.EventsChecked} events in {result.Audit.ChainsChecked} chains."
            : $"Audit log TAMPERED: {result.Audit.Findings.Count} finding(s) in {result.Audit.EventsChecked} events.");
        Console.WriteLine(result.Passed ? "Restore check passed." : "Restore check FAILED.");
        return result.Passed ? 0 : 2;
    }

    private static async Task<int> SnapshotAsync(string[] args)
    {
        var unit = StringOption(args, "--unit");
        var repeat = Math.Max(1, IntOption(args, "--repeat") ?? 1);
        var (options, _) = StadigHost.ReadOptions(args, allowExtra: ["--unit", "--repeat"]);
        var database = Storage.Database.FromConnectionString(options.Database);
        // Held reads' audit events go where this machine's serving node chains them from when writes return.
        database.Writes.AuditSpoolFolder = options.Downtime.SpoolFolderFor(options.Database);
        var core = CoreServices.Create(database, TimeProvider.System, options.Access);
        var time = new Common.RegionTime(options.TimeZone);
        var snapshots = new Downtime.DowntimeSnapshots(
            new Downtime.UnitSnapshotReader(database, core.Checkpoint, core.Encounters, core.Audit, TimeProvider.System),
            new Downtime.SnapshotPage(time), new Downtime.SnapshotPdf(new Downtime.SnapshotPage(time), new Audit.DejaVuFontResolver()), core.Staff,
            options.Downtime.Snapshots, TimeProvider.System,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<Downtime.DowntimeSnapshots>.Instance);
        var all = new List<Downtime.SnapshotOutcome>();
        // --repeat (bench/snapshot.sh): the first run derives each key and compiles; later ones are what the schedule costs.
        for (var run = 0; run < repeat; run++)
        {
            var outcomes = await StadigHost.GuardDatabaseAsync(options, () => snapshots.GenerateAsync(unit));
            foreach (var o in outcomes)
                Console.WriteLine(o.File is { } file
                    ? $"{o.Unit.HsaId} ({o.Unit.Name}): {o.Patients} patients in {Ms(o.Read + o.Seal + o.Write)} ms " +
                      $"(read {Ms(o.Read)} ms, render and encrypt {Ms(o.Seal)} ms, write {Ms(o.Write)} ms): {file}" +
                      (o.Pdf is { } pdf ? $" and {pdf}" : $"; no PDF: {ProblemText(o.Problem)}")
                    : $"{o.Unit.HsaId} ({o.Unit.Name}): no snapshot: {ProblemText(o.Problem)}");
            if (run > 0) all.AddRange(outcomes.Where(o => o.File is not null));
            if (outcomes.Any(o => o.File is null)) return 2;
        }
        if (all.Count > 0)
        {
            var totals = all.Select(o => (o.Read + o.Seal + o.Write).TotalMilliseconds).Order().ToList();
            var reads = all.Select(o => o.Read.TotalMilliseconds).Order().ToList();
            Console.WriteLine($"Runs after the first ({all.Count} snapshots): total p50 {totals[totals.Count / 2]:F0} ms, max {totals[^1]:F0} ms; " +
                $"read p50 {reads[reads.Count / 2]:F0} ms, max {reads[^1]:F0} ms.");
        }
        return 0;
    }

    private static string Ms(TimeSpan time) => time.TotalMilliseconds.ToString("F0", System.Globalization.CultureInfo.InvariantCulture);

    private static string ProblemText(Downtime.SnapshotProblem problem) => problem switch
    {
        Downtime.SnapshotProblem.NoKeyFolder => "no key folder is set (Stadig:Downtime:Snapshots:KeyFolder)",
        Downtime.SnapshotProblem.NoKey => "the unit has no key file in the key folder",
        Downtime.SnapshotProblem.KeyReadableByOthers => "its key file can be read by others (chmod 600)",
        Downtime.SnapshotProblem.KeyTooShort => $"its key is shorter than {Downtime.SnapshotKeys.MinLength} characters",
        Downtime.SnapshotProblem.WriteFailed => "the snapshot folder cannot be written",
        Downtime.SnapshotProblem.ReadFailed => "the record could not be read",
        Downtime.SnapshotProblem.PrintFailed => "the PDF could not be made (is fonts-dejavu-core installed?)",
        _ => "another node is writing it now",
    };

    private static string? StringOption(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[i + 1] : null;
    }

    /// <summary>Progress printed as it happens (Progress&lt;T&gt; would print on the thread pool, possibly after the summary).</summary>
    private sealed class ConsoleLines : IProgress<string>
    {
        public void Report(string value) => Console.WriteLine(value);
    }

    private static int? IntOption(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        if (i < 0) return null;
        if (i + 1 >= args.Length || !int.TryParse(args[i + 1], out var value) || value < 0)
            throw new StartupException($"{name} needs a whole number.");
        return value;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine("stadig: " + message);
        return 1;
    }
}

/// <summary>A problem at start that the operator can fix; shown as one line.</summary>
public sealed class StartupException(string message, Exception? inner = null) : Exception(message, inner);
