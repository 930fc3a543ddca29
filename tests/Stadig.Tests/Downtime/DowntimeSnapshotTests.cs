using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Dapper;
using Stadig.Audit;
using Stadig.Downtime;
using Stadig.Storage;
using UglyToad.PdfPig;
using UglyToad.PdfPig.Exceptions;

namespace Stadig.Tests.Downtime;

/// <summary>Downtime snapshots (issue 19, item 1): per unit, encrypted, audited, pruned, flagged when stale, and made while writes are refused.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class DowntimeSnapshotTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    [Hazard("H-11")]
    public async Task A_units_snapshot_holds_only_its_own_patients_with_their_chart_essentials_and_respects_blocks_and_protected_identity(DatabaseEngine engine)
    {
        var s = await SnapshotScenario.CreateAsync(engine);

        var outcomes = await s.Snapshots.GenerateAsync(cancellationToken: Ct);

        var ward = outcomes.Single(o => o.Unit.Id == s.Ward.Id);
        Assert.Equal(SnapshotProblem.None, ward.Problem);
        Assert.Equal(2, ward.Patients);
        Assert.StartsWith(SnapshotFiles.UnitFolder(s.Settings.Folder!, s.Ward.HsaId), ward.File);
        var raw = await File.ReadAllTextAsync(ward.File!, Ct);
        // Nothing of a patient is in clear in the file: only the unit and the time.
        foreach (var secret in new[] { "Öberg", "Cecilia", "Penicillin", "19121212", "Mår bättre" }) Assert.DoesNotContain(secret, raw);
        Assert.Contains("Medicinavdelning 1", raw);
        Assert.Contains("2026-12-05 10:00", raw);
        Assert.ThrowsAny<CryptographicException>(() => SnapshotCipher.Open(SnapshotScenario.SurgeryKey, SnapshotScenario.SealedIn(ward.File!)));

        var record = SnapshotScenario.Open(ward.File!, SnapshotScenario.WardKey);
        var rows = record.QuerySelectorAll("#ward-list tbody tr").Select(r => r.TextContent).ToList();
        Assert.Equal(2, rows.Count);
        Assert.Contains("Öberg, Anna", rows[0]);
        Assert.Contains("Lind, Cecilia", rows[1]);
        var text = record.Body!.TextContent;
        Assert.DoesNotContain("Berg, Bertil", text);
        var patients = record.QuerySelectorAll("section.patient").ToList();
        Assert.Equal(2, patients.Count);
        // The snapshot's time on every page.
        Assert.All(patients, p => Assert.Equal("Ögonblicksbild 2026-12-05 10:00", p.QuerySelector(".stamp")!.TextContent));
        var anna = patients[0].TextContent;
        Assert.Contains("Överkänslighet: Penicillin", anna);
        Assert.Contains("I10", anna);
        Assert.Contains("Alvedon", anna);
        // Due in the day after 10:00 region time: this evening's and tomorrow morning's doses.
        Assert.Contains("20:00, 08:00", patients[0].QuerySelector("table.medications tbody tr")!.TextContent);
        Assert.Contains("Mår bättre, äter själv.\nIngen feber.", anna);
        // Inner secrecy as in the chart: the blocked clinic's warning is left out, and its existence said.
        Assert.DoesNotContain("Mottagningens spärrade uppgift", text);
        Assert.Contains("Spärrade uppgifter finns", anna);
        // A protected identity: the ward's own patient is named as in the chart, marked, and no address is carried at all.
        var cecilia = patients[1].TextContent;
        Assert.Contains("Skyddad identitet", cecilia);
        Assert.DoesNotContain("Skyddad identitet", anna);
        Assert.DoesNotContain("Hemliga vägen", text);
        Assert.DoesNotContain("Gömstad", text);

        var surgery = outcomes.Single(o => o.Unit.Id == s.Surgery.Id);
        var surgical = SnapshotScenario.Open(surgery.File!, SnapshotScenario.SurgeryKey).Body!.TextContent;
        Assert.Contains("Berg, Bertil", surgical);
        Assert.DoesNotContain("Öberg", surgical);
        Assert.DoesNotContain("Cecilia", surgical);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    [Hazard("H-11")]
    public async Task The_pdf_beside_the_html_opens_only_with_the_units_key_and_prints_the_same_patients_with_the_time_on_every_page_and_long_notes_whole(DatabaseEngine engine)
    {
        var s = await SnapshotScenario.CreateAsync(engine, surgeryKey: false, longNote: true);

        var outcome = (await s.Snapshots.GenerateAsync(s.Ward.HsaId, cancellationToken: Ct)).Single();

        Assert.Equal(SnapshotProblem.None, outcome.Problem);
        Assert.Equal(SnapshotFiles.PdfFor(outcome.File!), outcome.Pdf);
        Assert.Equal(Path.GetDirectoryName(outcome.File), Path.GetDirectoryName(outcome.Pdf));
        var bytes = await File.ReadAllBytesAsync(outcome.Pdf!, Ct);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(Path.Combine(SnapshotFiles.UnitFolder(s.Settings.Folder!, s.Ward.HsaId), SnapshotFiles.LatestPdfName), Ct));
        // Encrypted: nothing opens without the ward's key, not even with another ward's.
        Assert.ThrowsAny<PdfDocumentEncryptedException>(() => PdfDocument.Open(bytes));
        Assert.ThrowsAny<PdfDocumentEncryptedException>(() => PdfDocument.Open(bytes, new ParsingOptions { Password = SnapshotScenario.SurgeryKey }));

        using var pdf = PdfDocument.Open(bytes, new ParsingOptions { Password = SnapshotScenario.WardKey });
        var pages = pdf.GetPages().Select(p => p.Text).ToList();
        // The ward list, Anna's pages (her long note runs over several), Cecilia's page.
        Assert.True(pages.Count >= 4, $"{pages.Count} pages");
        for (var i = 0; i < pages.Count; i++)
        {
            Assert.Contains("Reservrutin: Medicinavdelning 1", pages[i]);
            Assert.Contains("Ögonblicksbild 2026-12-05 10:00", pages[i]);
            Assert.Contains("Reservutskrift – inaktuell efter 2026-12-05 10:00", pages[i]);
            Assert.Contains($"Sida {i + 1} av {pages.Count}", pages[i]);
        }
        Assert.Contains("Avdelningslista", pages[0]);
        Assert.Contains("Öberg, Anna", pages[0]);
        Assert.Contains("Lind, Cecilia", pages[0]);
        var all = string.Join("\n", pages);
        Assert.DoesNotContain("Berg, Bertil", all);
        var anna = pages.FindIndex(p => p.Contains("Överkänslighet:", StringComparison.Ordinal));
        var cecilia = pages.FindLastIndex(p => p.Contains("Lind, Cecilia", StringComparison.Ordinal));
        Assert.Equal(1, anna);
        Assert.Equal(pages.Count - 1, cecilia);
        var annasPages = string.Join("\n", pages[anna..cecilia]);
        Assert.Contains("Penicillin", annasPages);
        Assert.Contains("I10", annasPages);
        Assert.Contains("Alvedon", annasPages);
        Assert.Contains("20:00, 08:00", annasPages);
        Assert.Contains("Mår bättre, äter själv.", annasPages);
        // Inner secrecy and protected identity as in the HTML file: the blocked clinic's warning left out and said to exist, no address.
        Assert.DoesNotContain("Mottagningens spärrade uppgift", all);
        Assert.Contains("Spärrade uppgifter finns", annasPages);
        Assert.Contains("Skyddad identitet", pages[cecilia]);
        Assert.DoesNotContain("Skyddad identitet", annasPages);
        Assert.DoesNotContain("Hemliga vägen", all);
        Assert.DoesNotContain("Gömstad", all);
        // A page continuing a patient names them at the top.
        Assert.All(pages[(anna + 1)..cecilia], p => Assert.Contains("Öberg, Anna, 19121212-1212 (forts.)", p));
        // The long note is whole, in order, over more than one page: every word once, none cut.
        var words = pages.SelectMany(p => Regex.Matches(p, @"ord\d+").Select(m => m.Value)).ToList();
        Assert.Equal(SnapshotScenario.LongNote, words);
        Assert.True(pages.Count(p => p.Contains("ord", StringComparison.Ordinal)) >= 2);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Each_generation_is_audited_with_the_system_as_actor_the_unit_and_each_patient_it_holds(DatabaseEngine engine)
    {
        var s = await SnapshotScenario.CreateAsync(engine);

        var outcome = (await s.Snapshots.GenerateAsync(s.Ward.HsaId, cancellationToken: Ct)).Single();

        await using var c = await s.Database.OpenUnscopedAsync(Ct);
        var events = (await c.QueryAsync<AuditEvent>($"SELECT {AuditLog.Columns} FROM audit_event WHERE resource = @resource",
            new { resource = UnitSnapshotReader.Resource })).ToList();
        Assert.All(events, e =>
        {
            Assert.Equal("SYSTEM", e.StaffHsaId);
            Assert.Null(e.StaffId);
            Assert.Equal(s.Ward.Id, e.UnitId);
            Assert.Equal(AuditActivity.Read, e.Activity);
            Assert.Equal(AuditOutcome.Allowed, e.Outcome);
            Assert.Equal(SnapshotScenario.Start, e.OccurredAt);
        });
        Assert.Equal(new[] { s.Anna, s.Cecilia }.Order(), events.Where(e => e.PatientId is not null).Select(e => e.PatientId!.Value).Order());
        Assert.True(events.Single(e => e.PatientId == s.Cecilia).Flags.HasFlag(AuditFlags.ProtectedIdentity));
        var generation = Assert.Single(events, e => e.PatientId is null);
        Assert.Contains($"{s.Ward.HsaId}: 2 patienter", generation.Detail);
        Assert.Contains($"filer {Path.GetFileName(outcome.File)} och {Path.GetFileName(outcome.Pdf)}", generation.Detail);
        Assert.Equal(2, outcome.Patients);
        // The surgical ward's patient was not read for this unit.
        Assert.Equal(0, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM audit_event WHERE resource = @resource AND patient_id = @bertil",
            new { resource = UnitSnapshotReader.Resource, bertil = s.Bertil }));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Older_generations_are_pruned_the_schedule_skips_a_fresh_unit_and_a_snapshot_older_than_twice_the_interval_is_stale(DatabaseEngine engine)
    {
        var s = await SnapshotScenario.CreateAsync(engine, kept: 2, surgeryKey: false);
        var files = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            files.Add((await s.Snapshots.GenerateAsync(s.Ward.HsaId, cancellationToken: Ct)).Single().File!);
            s.Clock.Advance(TimeSpan.FromMinutes(1));
        }

        var kept = SnapshotFiles.Generations(s.Settings.Folder!, s.Ward.HsaId);
        Assert.Equal(files.Skip(1).Reverse(), kept.Select(g => g.Path));
        Assert.False(File.Exists(files[0]));
        // Each generation's PDF goes with its HTML file.
        Assert.False(File.Exists(SnapshotFiles.PdfFor(files[0])));
        Assert.All(kept, g => Assert.True(File.Exists(g.PdfPath)));
        Assert.Equal(2, Directory.GetFiles(SnapshotFiles.UnitFolder(s.Settings.Folder!, s.Ward.HsaId), SnapshotFiles.Prefix + "2*.pdf").Length);
        Assert.Equal(await File.ReadAllTextAsync(files[2], Ct), await File.ReadAllTextAsync(Path.Combine(SnapshotFiles.UnitFolder(s.Settings.Folder!, s.Ward.HsaId), SnapshotFiles.LatestName), Ct));

        // The schedule on another node a few minutes later: the ward's snapshot is fresh, so none is made.
        s.Clock.Advance(TimeSpan.FromMinutes(5));
        var due = await s.Snapshots.GenerateAsync(onlyDue: true, cancellationToken: Ct);
        Assert.DoesNotContain(due, o => o.Unit.Id == s.Ward.Id);
        Assert.Equal(SnapshotProblem.NoKey, due.Single(o => o.Unit.Id == s.Surgery.Id).Problem);

        var last = kept[0].TakenAt;
        s.Clock.Advance(last + TimeSpan.FromMinutes(29) - s.Clock.GetUtcNow());
        var fresh = await s.Snapshots.StatusAsync(Ct);
        Assert.False(fresh.Single(u => u.Unit.Id == s.Ward.Id).Stale);
        Assert.Equal(last, fresh.Single(u => u.Unit.Id == s.Ward.Id).LastAt);
        var surgery = fresh.Single(u => u.Unit.Id == s.Surgery.Id);
        Assert.True(surgery.Stale);
        Assert.Null(surgery.LastAt);
        Assert.Equal(SnapshotProblem.NoKey, surgery.Problem);

        s.Clock.Advance(TimeSpan.FromMinutes(2));
        Assert.True((await s.Snapshots.StatusAsync(Ct)).Single(u => u.Unit.Id == s.Ward.Id).Stale);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    [Hazard("H-11")]
    public async Task A_snapshot_is_made_while_the_database_refuses_writes_its_audit_events_held_in_the_spool_until_writes_return(DatabaseEngine engine)
    {
        var s = await SnapshotScenario.CreateAsync(engine);
        var spool = Directory.CreateTempSubdirectory("stadig-spool-").FullName;
        s.Database.Writes.AuditSpoolFolder = spool;
        await RefusedWrites.RefuseAsync(engine, s.ConnectionString);
        s.Database.ClearPool();
        SnapshotOutcome outcome;
        try
        {
            outcome = (await s.Snapshots.GenerateAsync(s.Ward.HsaId, cancellationToken: Ct)).Single();
        }
        finally
        {
            await RefusedWrites.AcceptAsync(engine, s.ConnectionString);
            s.Database.ClearPool();
        }

        Assert.Equal(SnapshotProblem.None, outcome.Problem);
        Assert.Contains("Öberg, Anna", SnapshotScenario.Open(outcome.File!, SnapshotScenario.WardKey).Body!.TextContent);
        // Each patient's read and the generation (and the ward list) wait on disk, none in the log yet.
        Assert.True(AuditSpool.Count(spool) >= 3);
        await using (var c = await s.Database.OpenUnscopedAsync(Ct))
            Assert.Equal(0, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM audit_event WHERE resource = @resource", new { resource = UnitSnapshotReader.Resource }));

        s.Database.Writes.DatabaseAccepted();
        await AuditSpool.ReplayAsync(spool, s.Services.Audit, Ct);
        await using (var c = await s.Database.OpenUnscopedAsync(Ct))
            Assert.Equal(3, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM audit_event WHERE resource = @resource", new { resource = UnitSnapshotReader.Resource }));
        Assert.True((await new AuditVerifier(s.Database).VerifyAsync(Ct)).Intact);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_snapshot_verb_makes_the_named_units_snapshot_and_refuses_an_unknown_unit_by_name(DatabaseEngine engine)
    {
        var s = await SnapshotScenario.CreateAsync(engine);
        string[] settings = ["--database", s.ConnectionString, $"--Stadig:Downtime:Snapshots:Folder={s.Settings.Folder}",
            $"--Stadig:Downtime:Snapshots:KeyFolder={s.Settings.KeyFolder}", $"--Stadig:Downtime:AuditSpoolFolder={Directory.CreateTempSubdirectory("stadig-spool-").FullName}"];

        Assert.Equal(0, await Stadig.Hosting.StadigCommandLine.RunAsync(["snapshot", "--unit", s.Surgery.HsaId, .. settings]));

        var generation = Assert.Single(SnapshotFiles.Generations(s.Settings.Folder!, s.Surgery.HsaId));
        Assert.Contains("Berg, Bertil", SnapshotScenario.Open(generation.Path, SnapshotScenario.SurgeryKey).Body!.TextContent);
        Assert.Empty(SnapshotFiles.Generations(s.Settings.Folder!, s.Ward.HsaId));
        Assert.Equal(1, await Stadig.Hosting.StadigCommandLine.RunAsync(["snapshot", "--unit", "SE2321000016-9999", .. settings]));
    }

    [Fact]
    public void A_key_file_others_may_read_or_a_short_key_is_refused_and_the_key_is_never_part_of_the_reason()
    {
        var folder = Directory.CreateTempSubdirectory("stadig-keys-").FullName;
        Assert.Equal(SnapshotProblem.NoKeyFolder, SnapshotKeys.Read(null, "SE1").Problem);
        Assert.Equal(SnapshotProblem.NoKey, SnapshotKeys.Read(folder, "SE1").Problem);
        SnapshotKeys.Write(folder, "SE1", "kort");
        Assert.Equal(SnapshotProblem.KeyTooShort, SnapshotKeys.Read(folder, "SE1").Problem);
        SnapshotKeys.Write(folder, "SE1", "  en lång och bra nyckel  \n");
        Assert.Equal("en lång och bra nyckel", SnapshotKeys.Read(folder, "SE1").Key);
        File.SetUnixFileMode(SnapshotKeys.PathFor(folder, "SE1"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        Assert.Equal(SnapshotProblem.KeyReadableByOthers, SnapshotKeys.Read(folder, "SE1").Problem);
    }
}
