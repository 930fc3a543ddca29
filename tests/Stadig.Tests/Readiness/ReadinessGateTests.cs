using System.Text.Json;
using Stadig.Organisation;
using Stadig.Readiness;
using Stadig.Regulatory;
using Stadig.Training;

namespace Stadig.Tests.Readiness;

public class ReadinessGateTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 5, 8, 0, 0, TimeSpan.Zero);
    private static readonly DateOnly GoLive = new(2027, 2, 1);
    private static readonly string Commit = Evidence.Release.Commit;

    /// <summary>A region's evidence folder where every criterion passes; each test spoils one thing.</summary>
    private sealed class Region
    {
        public string Folder { get; } = Evidence.Temp();
        public string Rehearsal => Path.Combine(Folder, "rehearsal", "report.json");
        public string RegulatoryFolder => Path.Combine(Folder, "regulatory");
        public List<ExpiryEntry> Expiries { get; } = [new(Guid.NewGuid(), "licence", "Lab middleware", "IT: Anna", GoLive.AddDays(365), "register")];
        public (bool, string)? Verification { get; set; } = (true, "audit log intact: 10 events in 2 chains");

        public Region()
        {
            WriteRehearsal(Now.AddDays(-2), Commit, chartP99: 60);
            foreach (var kind in new[] { "downtime-drill", "failover", "crash-points" }) WriteDrill(kind, Now.AddDays(-3), Commit, passed: true, lost: 0);
            WriteTraining(Now.AddDays(-1), ("SE2321000016-MED1", "nurse", 20, 19), ("SE2321000016-MED1", "physician", 10, 10), ("SE2321000016-AKUT", "nurse", 30, 28));
            WriteIncidents(Now.AddDays(-1), ("INC-7", "low", "open"), ("INC-3", "critical", "closed"));
            WriteRegulatory(Evidence.Release, openControls: false);
        }

        public void WriteRehearsal(DateTimeOffset startedAt, string? commit, double chartP99, int patients = 1_000_000)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Rehearsal)!);
            File.WriteAllText(Rehearsal, JsonSerializer.Serialize(new
            {
                name = "regional-day", startedAt, run = new { patients, commit },
                actions = new object[]
                {
                    new { action = "login", budgetP99 = (double?)null, serverP99 = 110.0 },
                    new { action = "search", budgetP99 = (double?)20, serverP99 = 12.5 },
                    new { action = "chart", budgetP99 = (double?)100, serverP99 = chartP99 },
                },
                totalErrors = 0, overload = (object?)null,
            }));
        }

        public void WriteDrill(string kind, DateTimeOffset ranAt, string commit, bool passed, int lost, string? file = null) =>
            File.WriteAllText(Path.Combine(Folder, file ?? kind + ".json"), JsonSerializer.Serialize(new
            {
                kind, ranAt, version = "1.4.0", commit, passed, lost, summary = "drill",
                checks = new[] { new { name = "snapshot readable without server", passed, detail = "" } },
            }));

        public void WriteTraining(DateTimeOffset generatedAt, params (string Unit, string Role, int Required, int Completed)[] rows) =>
            File.WriteAllText(Path.Combine(Folder, EvidenceFiles.Training), JsonSerializer.Serialize(new
            {
                generatedAt,
                units = rows.GroupBy(r => r.Unit).Select(g => new
                {
                    unit = g.Key, unitName = g.Key[^4..],
                    roles = g.Select(r => new { role = r.Role, required = r.Required, completed = r.Completed, rate = (double)r.Completed / r.Required }),
                }),
            }));

        public void WriteIncidents(DateTimeOffset generatedAt, params (string Id, string Severity, string Status)[] incidents) =>
            File.WriteAllText(Path.Combine(Folder, EvidenceFiles.Incidents), JsonSerializer.Serialize(new
            {
                generatedAt, incidents = incidents.Select(i => new { id = i.Id, title = "Printer queue", severity = i.Severity, status = i.Status, openedAt = Now.AddDays(-5) }),
            }));

        public void WriteRegulatory(ReleaseInfo release, bool openControls, string? failedTest = null, bool sbom = true)
        {
            var log = Evidence.Hazards;
            // A control not built yet, on H-11 (whose last one, the drill, was the open one until it was built).
            log = openControls
                ? new HazardLog(log.Hazards.Select(h => h.Id == "H-11" ? h with { Controls = [.. h.Controls, new HazardControl("A control not built yet.", "open", [])] } : h).ToList())
                : new HazardLog(log.Hazards.Select(h => h with { Controls = h.Controls.Where(c => !c.IsOpen).ToList() }).ToList());
            var run = Evidence.AllHazardTests(except: failedTest is null ? null : new Dictionary<string, string> { [failedTest] = "Failed" });
            var soup = Evidence.Soup(("Dapper", "SQL")) with { Sbom = sbom ? new SbomCheck("sbom.cdx.json", "1.6", 1, []) : null };
            RegulatoryFile.Build("intended use", log, soup, run, release, Now.AddHours(-1)).Write(RegulatoryFolder);
        }

        public ReadinessInputs Inputs(bool shortForm = false) => new()
        {
            ShortForm = shortForm,
            RehearsalReport = Path.GetDirectoryName(Rehearsal),
            EvidenceFolder = Folder,
            RegulatoryFile = Path.Combine(RegulatoryFolder, Evidence.Release.FolderName),
            AuditVerification = Verification,
            Expiries = Expiries,
        };

        public ReadinessReport Evaluate(ReadinessSettings? settings = null, bool shortForm = false) =>
            new ReadinessGate(settings ?? new ReadinessSettings { GoLive = GoLive }, Evidence.Release, Now, DateOnly.FromDateTime(Now.UtcDateTime)).Evaluate(Inputs(shortForm));
    }

    private static Criterion Of(ReadinessReport report, string name) => report.Criteria.Single(c => c.Name == name);

    [Fact]
    [Hazard("H-12")]
    public void Complete_fresh_evidence_on_this_release_is_GO()
    {
        var region = new Region();
        var report = region.Evaluate();

        Assert.True(report.Go, string.Join("\n", report.Criteria.Select(c => $"{c.Name}: {c.Verdict} {c.Reason}")));
        Assert.Equal("GO", report.Answer);
        Assert.Equal(7, report.Criteria.Count);
        Assert.All(report.Criteria, c => Assert.Equal(Verdict.Go, c.Verdict));
        var performance = Of(report, ReadinessGate.Performance);
        Assert.Equal(2.0, performance.AgeDays(Now));
        Assert.Equal([new PlotBar("search", 12.5, 20), new PlotBar("chart", 60, 100)], performance.Plot);

        var (json, html) = ReadinessReportWriter.Write(report, Evidence.Temp());
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal("GO", doc.RootElement.GetProperty("answer").GetString());
        Assert.Equal("go", doc.RootElement.GetProperty("criteria")[0].GetProperty("verdict").GetString());
        Assert.Contains("<svg", File.ReadAllText(html));
    }

    [Fact]
    [Hazard("H-12")]
    public void Every_criterion_is_NO_GO_evidence_missing_when_its_evidence_is_absent()
    {
        var report = new ReadinessGate(new ReadinessSettings(), Evidence.Release, Now, new DateOnly(2026, 12, 5))
            .Evaluate(new ReadinessInputs { EvidenceFolder = Evidence.Temp() });

        Assert.False(report.Go);
        Assert.Equal("NO-GO", report.Answer);
        Assert.All(report.Criteria, c =>
        {
            Assert.Equal(Verdict.NoGo, c.Verdict);
            Assert.Contains("evidence missing", c.Reason);
        });
    }

    [Fact]
    [Hazard("H-05")]
    public void Performance_is_NO_GO_when_the_rehearsal_report_is_stale_misses_a_budget_or_is_from_another_release()
    {
        var region = new Region();
        region.WriteRehearsal(Now.AddDays(-15), Commit, chartP99: 60);
        var stale = Of(region.Evaluate(), ReadinessGate.Performance);
        Assert.Equal(Verdict.NoGo, stale.Verdict);
        Assert.Contains("stale: 15 days old", stale.Reason);

        region.WriteRehearsal(Now.AddDays(-1), Commit, chartP99: 140);
        var over = Of(region.Evaluate(), ReadinessGate.Performance);
        Assert.Equal("chart p99 140 ms > 100 ms", over.Reason);
        Assert.Equal("1 of 2 budgets met, 0 errors, 1,000,000 patients, commit 0123456789ab", over.Measured);

        region.WriteRehearsal(Now.AddDays(-1), "fedcba9876543210", chartP99: 60, patients: 10_000);
        var elsewhere = Of(region.Evaluate(), ReadinessGate.Performance);
        Assert.Contains("from another release (fedcba987654)", elsewhere.Reason);
        Assert.Contains("run at 10,000 patients, below the region's 1,000,000", elsewhere.Reason);
    }

    [Fact]
    [Hazard("H-11")]
    public void Reliability_is_NO_GO_when_a_drill_is_missing_failed_or_lost_anything()
    {
        var region = new Region();
        region.WriteDrill("failover", Now.AddDays(-1), Commit, passed: true, lost: 2);
        region.WriteDrill("crash-points", Now.AddDays(-1), Commit, passed: false, lost: 0);
        File.Delete(Path.Combine(region.Folder, EvidenceFiles.DowntimeDrill));

        var reliability = Of(region.Evaluate(), ReadinessGate.Reliability);

        Assert.Equal(Verdict.NoGo, reliability.Verdict);
        Assert.Contains("downtime-drill: evidence missing", reliability.Reason);
        Assert.Contains("failover lost 2", reliability.Reason);
        Assert.Contains("crash-points failed", reliability.Reason);
        Assert.Contains("crash-points: checks failed: snapshot readable without server", reliability.Reason);
    }

    [Fact]
    [Hazard("H-10")]
    public void Training_is_NO_GO_when_one_unit_is_below_the_threshold_and_names_it()
    {
        var region = new Region();
        region.WriteTraining(Now.AddDays(-1), ("SE2321000016-MED1", "nurse", 20, 19), ("SE2321000016-AKUT", "nurse", 30, 26), ("SE2321000016-AKUT", "physician", 8, 8));

        var training = Of(region.Evaluate(), ReadinessGate.Training);

        Assert.Equal(Verdict.NoGo, training.Verdict);
        Assert.Equal("below the threshold or invalid: AKUT (SE2321000016-AKUT) nurse: 26 of 30 (87%)", training.Reason.Replace(" %", "%"));
        Assert.Equal(Verdict.Go, Of(region.Evaluate(new ReadinessSettings { GoLive = GoLive, TrainingThreshold = 0.85 }), ReadinessGate.Training).Verdict);
    }

    [Fact]
    [Hazard("H-10")]
    public void Training_reads_the_training_installations_own_report_and_is_NO_GO_for_its_untrained_unit()
    {
        var region = new Region();
        void WriteReport(int akutReady) => File.WriteAllText(Path.Combine(region.Folder, EvidenceFiles.Training), new TrainingReportResult(Now.AddDays(-1), "1.2", null,
        [
            new UnitFigures("SE2321000016-MED1", "Medicin 1", [new RoleFigures(Role.Physician, 4, 4, 7, 28, 1.0, 300, 0)], []),
            new UnitFigures("SE2321000016-AKUT", "Akuten", [new RoleFigures(Role.Nurse, 10, akutReady, 6, 55, 0.9167, 250, 0)], []),
        ]).ToJson());

        WriteReport(akutReady: 7);
        var training = Of(region.Evaluate(), ReadinessGate.Training);
        Assert.Equal(Verdict.NoGo, training.Verdict);
        Assert.Equal("below the threshold or invalid: Akuten (SE2321000016-AKUT) Nurse: 7 of 10 (70%)", training.Reason.Replace(" %", "%"));

        WriteReport(akutReady: 10);
        Assert.Equal(Verdict.Go, Of(region.Evaluate(), ReadinessGate.Training).Verdict);

        // A file of another shape reads as units without ids or counts: NO-GO, never a GO over nobody.
        File.WriteAllText(Path.Combine(region.Folder, EvidenceFiles.Training),
            """{"generatedAt":"2026-12-04T08:00:00Z","units":[{"hsaId":"SE2321000016-AKUT","roles":[{"role":"Nurse","people":10,"ready":2}]}]}""");
        training = Of(region.Evaluate(), ReadinessGate.Training);
        Assert.Equal(Verdict.NoGo, training.Verdict);
        Assert.Contains("without its id", training.Reason);
    }

    [Fact]
    [Hazard("H-09")]
    public void Licences_are_NO_GO_when_an_entry_expires_inside_the_margin_of_go_live_day()
    {
        var region = new Region();
        region.Expiries.Add(new ExpiryEntry(Guid.NewGuid(), "licence", "Sub-vendor integration engine", "Procurement: Per", GoLive.AddDays(89), "register"));

        var licences = Of(region.Evaluate(), ReadinessGate.Licences);
        Assert.Equal(Verdict.NoGo, licences.Verdict);
        Assert.Equal("licence Sub-vendor integration engine (owner Procurement: Per) expires 2027-05-01, 89 days after go-live", licences.Reason);
        Assert.Equal(Verdict.Go, Of(region.Evaluate(new ReadinessSettings { GoLive = GoLive, MarginDays = 89 }), ReadinessGate.Licences).Verdict);

        region.Expiries.Add(new ExpiryEntry(null, "key", "OIDC signing keys", "https://idp", null, "configuration", Problem: "could not be checked: refused"));
        Assert.Contains("OIDC signing keys: could not be checked", Of(region.Evaluate(new ReadinessSettings { GoLive = GoLive, MarginDays = 89 }), ReadinessGate.Licences).Reason);
    }

    [Fact]
    [Hazard("H-08")]
    public void The_regulatory_file_is_NO_GO_when_it_is_missing_from_another_release_or_has_open_controls()
    {
        var region = new Region();
        region.WriteRegulatory(Evidence.Release, openControls: true);
        var open = Of(region.Evaluate(), ReadinessGate.Regulatory);
        Assert.Equal(Verdict.NoGo, open.Verdict);
        Assert.StartsWith("1 open control(s): H-11", open.Reason);

        // The full form wants the SOUP list checked against the release's CycloneDX SBOM; the short form reports it.
        region.WriteRegulatory(Evidence.Release, openControls: false, sbom: false);
        Assert.Equal("the SOUP list was not checked against a CycloneDX SBOM (regulatory-file --sbom)", Of(region.Evaluate(), ReadinessGate.Regulatory).Reason);
        var shortForm = Of(region.Evaluate(shortForm: true), ReadinessGate.Regulatory);
        Assert.Equal(Verdict.Go, shortForm.Verdict);
        Assert.Contains("no SBOM", shortForm.Measured);

        var identity = Evidence.Hazards.Hazards[0].Controls[0].Tests[0];
        region.WriteRegulatory(Evidence.Release, openControls: false, failedTest: identity);
        var report = region.Evaluate();
        Assert.Contains($"H-01 (A lab result is filed to the wrong patient, or to none): {identity} failed.", Of(report, ReadinessGate.Regulatory).Reason);
        Assert.Contains("identity-injection test failed", Of(report, ReadinessGate.Integrity).Reason);

        Directory.Delete(region.RegulatoryFolder, recursive: true);
        region.WriteRegulatory(Evidence.Release with { Commit = "fedcba9876543210fedcba9876543210fedcba98" }, openControls: false);
        var inputs = region.Inputs() with { RegulatoryFile = Directory.GetDirectories(region.RegulatoryFolder).Single() };
        var other = new ReadinessGate(new ReadinessSettings { GoLive = GoLive }, Evidence.Release, Now, GoLive).Evaluate(inputs);
        Assert.StartsWith("built for another release (1.4.0, fedcba987654; this is 1.4.0, 0123456789ab)", Of(other, ReadinessGate.Regulatory).Reason);

        Assert.Equal("evidence missing", Of(region.Evaluate(), ReadinessGate.Regulatory).Reason);
    }

    [Fact]
    [Hazard("H-12")]
    public void Open_incidents_of_the_blocking_severity_are_NO_GO()
    {
        var region = new Region();
        region.WriteIncidents(Now.AddDays(-1), ("INC-9", "high", "open"), ("INC-7", "medium", "open"));
        var incidents = Of(region.Evaluate(), ReadinessGate.Incidents);
        Assert.Equal(Verdict.NoGo, incidents.Verdict);
        Assert.Equal("blocking: INC-9 (high): Printer queue", incidents.Reason);
        Assert.Equal("2 open: 0 critical, 1 high, 1 medium, 0 low", incidents.Measured);
        Assert.Equal(Verdict.Go, Of(region.Evaluate(new ReadinessSettings { GoLive = GoLive, BlockingSeverity = "critical" }), ReadinessGate.Incidents).Verdict);
    }

    [Fact]
    public void The_short_form_checks_what_CI_produces_and_leaves_a_regions_evidence_not_checked()
    {
        var region = new Region();
        region.WriteRegulatory(Evidence.Release, openControls: true);
        var inputs = region.Inputs(shortForm: true) with { AuditVerification = null, EvidenceFolder = null, RehearsalReport = null };
        var report = new ReadinessGate(new ReadinessSettings { GoLive = GoLive }, Evidence.Release, Now, GoLive).Evaluate(inputs);

        Assert.True(report.Go, string.Join("\n", report.Criteria.Select(c => $"{c.Name}: {c.Verdict} {c.Reason}")));
        Assert.Equal("GO (short form)", report.Answer);
        Assert.Equal([ReadinessGate.Performance, ReadinessGate.Reliability, ReadinessGate.Training, ReadinessGate.Incidents],
            report.Criteria.Where(c => c.Verdict == Verdict.NotChecked).Select(c => c.Name));

        region.WriteRegulatory(Evidence.Release, openControls: true, failedTest: Evidence.Hazards.Hazards[2].Controls[0].Tests[0]);
        Assert.False(new ReadinessGate(new ReadinessSettings { GoLive = GoLive }, Evidence.Release, Now, GoLive).Evaluate(inputs).Go);
    }
}
