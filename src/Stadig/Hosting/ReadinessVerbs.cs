using System.Globalization;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Readiness;
using Stadig.Regulatory;
using Stadig.Storage;

namespace Stadig.Hosting;

/// <summary>The verbs that build go-live evidence: the regulatory file and the readiness gate.</summary>
public static class ReadinessVerbs
{
    /// <summary>Exit code when the file is incomplete or the gate answers NO-GO: distinct from 1 (could not run).</summary>
    public const int NoGo = 3;

    /// <summary>The CycloneDX SBOM's name in the release's regulatory folder.</summary>
    public const string SbomFileName = "sbom.cdx.json";

    public static Task<int> RegulatoryFileAsync(string[] args)
    {
        var output = Option(args, "--out") ?? throw new StartupException("regulatory-file needs --out <folder>.");
        var results = Option(args, "--test-results") ?? throw new StartupException("regulatory-file needs --test-results <trx file, json file or folder>.");
        var repository = Option(args, "--repo") ?? Directory.GetCurrentDirectory();
        var vulnerable = Option(args, "--vulnerable");
        var sbom = Option(args, "--sbom");
        var soup = SoupList.Read(repository, vulnerable);
        if (sbom is not null)
            soup = soup.CheckedAgainst(File.Exists(sbom) ? File.ReadAllText(sbom) : throw new EvidenceException($"No CycloneDX SBOM at {sbom}."), SbomFileName);
        var file = RegulatoryFile.Build(repository, TestRun.Read(results), ReleaseInfo.Current, DateTimeOffset.UtcNow, soup);
        var folder = file.Write(output);
        // The SBOM goes with the release's file, so what was checked is kept with what it was checked for.
        if (sbom is not null) File.Copy(sbom, Path.Combine(folder, SbomFileName), overwrite: true);
        foreach (var p in file.Problems) Console.WriteLine("PROBLEM: " + p);
        Console.WriteLine($"Regulatory file for {file.Version} ({file.Commit}) written to {folder}: " +
                          $"{file.Hazards.Count} hazards, {file.OpenControls} open control(s), {file.Soup.Items.Count} SOUP packages, " +
                          $"{file.Tests.Passed} of {file.Tests.Cases} test cases passed — {(file.Complete ? "complete" : "INCOMPLETE")}.");
        return Task.FromResult(file.Complete ? 0 : NoGo);
    }

    private static readonly string[] ReadinessOptions = ["--evidence", "--rehearsal", "--regulatory", "--go-live", "--out"];

    /// <summary>
    /// Gathers the evidence and answers GO (exit 0) or NO-GO (exit 3). The short form (--short, CI) checks
    /// what a build can produce (regulatory file, hazards' tests, SOUP, register) and marks the rest not checked.
    /// </summary>
    public static async Task<int> ReadinessAsync(string[] args)
    {
        var shortForm = args.Contains("--short");
        var rest = args.Where(a => a != "--short").ToArray();
        var (options, configuration) = StadigHost.ReadOptions(rest, allowExtra: ReadinessOptions);
        var settings = options.Readiness;
        if (Option(rest, "--go-live") is { } goLive)
            settings.GoLive = DateOnly.TryParseExact(goLive, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day)
                ? day : throw new StartupException("--go-live needs a date as yyyy-MM-dd.");
        var now = DateTimeOffset.UtcNow;
        Database? database = null;
        if (rest.Contains("--database") || options.Database != StadigOptions.DefaultSqlite)
        {
            database = Database.FromConnectionString(options.Database);
            await StadigHost.GuardDatabaseAsync(options, () => new Migrator(database).MigrateAsync());
        }
        var report = await StadigHost.GuardDatabaseAsync(options, () => EvaluateAsync(options, configuration, database, Caller.System, shortForm, now, new ReadinessInputs
        {
            RehearsalReport = Option(rest, "--rehearsal") ?? settings.RehearsalReports,
            EvidenceFolder = Option(rest, "--evidence") ?? settings.EvidenceFolder,
            RegulatoryFile = Option(rest, "--regulatory") ?? settings.RegulatoryFile,
        }));
        foreach (var c in report.Criteria)
            Console.WriteLine($"{ReadinessReportWriter.VerdictText(c.Verdict),-11} {c.Name}: {Clip(c.Reason)} [{c.Measured}]");
        var folder = Option(rest, "--out") ?? Path.Combine("readiness", now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        var (json, html) = ReadinessReportWriter.Write(report, folder);
        Console.WriteLine($"{report.Answer} for Stadig {report.Version} ({report.Commit}), go-live {report.GoLive:yyyy-MM-dd}. Report: {html} and {json}");
        return report.Go ? 0 : NoGo;
    }

    /// <summary>
    /// Runs the gate: `stadig verify` and the expiry register on <paramref name="database"/> when given,
    /// the configured certificates and the IdP's signing keys, and the evidence files named in <paramref name="paths"/>.
    /// </summary>
    public static async Task<ReadinessReport> EvaluateAsync(StadigOptions options, IConfiguration configuration, Database? database, Caller caller,
        bool shortForm, DateTimeOffset now, ReadinessInputs paths)
    {
        (bool, string)? verification = null;
        List<ExpiryEntry>? expiries = null;
        if (database is not null)
        {
            var result = await new AuditVerifier(database).VerifyAsync();
            verification = (result.Intact, result.Intact
                ? $"audit log intact: {result.EventsChecked} events in {result.ChainsChecked} chains"
                : $"audit log TAMPERED: {result.Findings.Count} finding(s)");
            expiries = [.. await new ExpiryRegister(database, new AuditLog(database, TimeProvider.System), TimeProvider.System).ListAsync(caller)];
        }
        if (expiries is not null || !shortForm)
        {
            expiries ??= [];
            expiries.AddRange(ConfiguredExpiries.Certificates(configuration));
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            expiries.AddRange(await ConfiguredExpiries.OidcSigningKeysAsync(options.Oidc.Authority, http, CancellationToken.None));
        }
        var today = new Common.RegionTime(options.TimeZone).Day(now);
        return new ReadinessGate(options.Readiness, ReleaseInfo.Current, now, today).Evaluate(paths with
        {
            ShortForm = shortForm,
            AuditVerification = verification,
            Expiries = expiries,
        });
    }

    /// <summary>The console gets the start of a long reason; the report has all of it.</summary>
    private static string Clip(string reason) => reason.Length <= 400 ? reason : reason[..400] + " … (see the report)";

    internal static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        if (i < 0) return null;
        return i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)
            ? args[i + 1]
            : throw new StartupException($"{name} needs a value.");
    }
}
