using System.Globalization;
using Stadig.Readiness;

namespace Stadig.Tests.Downtime.Drill;

/// <summary>
/// The downtime drill in its short form (issue 19, item 5): a small region, a few clinicians with think
/// times near zero, each stretch of the drill as long as it takes to see a few writes acknowledged (and,
/// while the primary is stopped, a few reads served and writes refused). bench/downtime-drill.sh runs the
/// same driver at full size through the STADIG_DRILL_* variables, as bench/crash.sh does for crash points.
/// </summary>
public class DowntimeDrillTests
{
    private static string? Setting(string name) => Environment.GetEnvironmentVariable("STADIG_DRILL_" + name) is { Length: > 0 } v ? v : null;

    private static double? Number(string name) => Setting(name) is { } v ? double.Parse(v, CultureInfo.InvariantCulture) : null;

    [Fact]
    [Hazard("H-11")]
    public async Task The_drill_keeps_reads_going_refuses_writes_cleanly_opens_the_snapshots_offline_restores_to_a_point_in_time_and_back_enters_losing_nothing()
    {
        var folder = Setting("REPORT") ?? Directory.CreateTempSubdirectory("stadig-drill-report-").FullName;
        var options = new DrillOptions
        {
            OutFolder = folder,
            Patients = (int)(Number("PATIENTS") ?? 150),
            Clinicians = (int)(Number("CLINICIANS") ?? 4),
            Quick = Number("THINK_SCALE") is null,
            ThinkScale = Number("THINK_SCALE") ?? 1,
            PhaseSeconds = Number("PHASE_SECONDS") ?? 0,
            PhaseEvents = (int)(Number("PHASE_EVENTS") ?? 3),
            Replica = Setting("NO_REPLICA") is null,
            ArchiveTimeoutSeconds = (int)(Number("ARCHIVE_TIMEOUT") ?? 60),
            SnapshotIntervalMinutes = (int)(Number("SNAPSHOT_INTERVAL") ?? 15),
            // The short form opens one ward's snapshot (the key's derivation in the page is most of its cost); the full one every ward's.
            SnapshotWards = (int)(Number("SNAPSHOT_WARDS") ?? 1),
            LabPerSecond = Number("LAB_RATE") ?? 2,
            FhirPerSecond = Number("FHIR_RATE") ?? 2,
            Command = Setting("COMMAND"),
        };
        var log = new StringWriter(CultureInfo.InvariantCulture);
        DowntimeDrillReport report;
        try
        {
            report = await new DowntimeDrill(options, log).RunAsync(TestContext.Current.CancellationToken);
        }
        finally
        {
            await File.WriteAllTextAsync(Path.Combine(folder, "drill.log"), log.ToString(), CancellationToken.None);
        }

        Assert.True(report.Passed, report.ToText() + "\n" + log);
        Assert.Equal(0, report.Lost);
        // The ward(s) read, each paper record, and both ends of the restore are in it.
        Assert.Equal(options.SnapshotWards == 0 ? 2 : options.SnapshotWards, report.Snapshots.Count); // the demo region has two wards
        // Each ward's PDF for printing too: refused without the key, decrypted with it, every current patient named.
        Assert.All(report.Snapshots, w => Assert.True(w.Pdf is { RefusedWithoutKey: true, Decrypted: true, Missing: 0, Pages: > 1 } pdf && pdf.Patients == w.CurrentPatients, report.ToText()));
        Assert.Equal(["note", "vital sign", "admission", "administration"], report.BackEntries.Select(b => b.Kind));
        Assert.True(report.Restore.AcknowledgedBeforeTarget > 0 && report.PrimaryStop.WritesRefused > 0, report.ToText());

        // The readiness gate reads it as H-11's drill evidence.
        var evidence = EvidenceFiles.Read<DrillReport>(Path.Combine(folder, EvidenceFiles.DowntimeDrill))!;
        Assert.Equal(("downtime-drill", true, 0, global::Stadig.Regulatory.ReleaseInfo.Current.Commit), (evidence.Kind, evidence.Passed, evidence.Lost, evidence.Commit));
        Assert.Equal(report.Checks.Count, evidence.Checks!.Count);
        Assert.Contains("PASS", await File.ReadAllTextAsync(Path.Combine(folder, "downtime-drill.html"), TestContext.Current.CancellationToken));
    }
}
