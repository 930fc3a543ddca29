using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;
using Stadig.LabResults;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Patients.Identifiers;
using Stadig.Storage;

namespace Stadig.Tests.Results;

public class ResultInboxTests
{
    /// <summary>A region with a lab unit whose results come in over HL7 v2, at the clock's time.</summary>
    internal static async Task<(TestRegion Region, IngestOruMessage Ingest)> RegionWithLabAsync(DatabaseEngine engine, FixedClock clock)
    {
        var region = await TestRegion.CreateAsync(engine, clock);
        var labUnit = await region.Staff.AddUnitAsync(region.Ward.ProviderId, "SE2321000016-0099", "Klinisk kemi", UnitKind.Lab);
        return (region, new IngestOruMessage(region.Database, region.Audit, new PatientMatcher(new PatientIdentifierRules(clock)),
            await LabIntegration.CallerAsync(region.Staff, labUnit), clock));
    }

    internal static string Oru(string controlId, string number, string name, string service, string flag) =>
        $"MSH|^~\\&|LABSYS|KLINKEM|STADIG|REGION|20261123075500+0100||ORU^R01^ORU_R01|{controlId}|P|2.5\r" +
        $"PID|1||{number.Replace("-", "")}^^^^PN||{name}\r" +
        $"OBR|1|P{controlId}|F{controlId}|{service}^{service}^L\r" +
        $"OBX|1|NM|K^P-Kalium^L||{(flag == "HH" ? "6.9" : "4.1")}|mmol/L|3.5-4.4|{flag}|||F\r";

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_unit_sees_unattested_results_critical_first_and_a_physician_attests_them_with_who_and_when(DatabaseEngine engine)
    {
        var clock = new FixedClock(new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero));
        var (region, ingest) = await RegionWithLabAsync(engine, clock);
        var number = TestNumbers.Personnummer(1950, 3, 14);
        var patientId = (await region.Patients.RegisterAsync(region.Physician, number, new PatientDetails("Öberg", "Lina"))).PatientId;
        await ingest.IngestAsync(Oru("R1", number, "Öberg^Lina", "Elstatus", "N"));
        clock.Advance(TimeSpan.FromMinutes(5));
        await ingest.IngestAsync(Oru("R2", number, "Öberg^Lina", "Kalium", "HH"));
        var secretary = await region.AddCallerAsync("sekr", Role.MedicalSecretary, region.Ward);
        var elsewhere = await region.AddCallerAsync("annan", Role.Physician, region.Clinic);

        var inbox = await region.Services.Inbox.UnattestedAsync(region.Physician, TimeSpan.FromHours(24));
        Assert.Equal(["Kalium", "Elstatus"], inbox.Select(i => i.ServiceName));
        Assert.Equal(1, inbox[0].Critical);
        Assert.Equal("P-Kalium 6,9 mmol/L (HH)", inbox[0].Summary);
        Assert.Equal([false, true], inbox.Select(i => i.MayAttestFromList));
        Assert.Empty(await region.Services.Inbox.UnattestedAsync(elsewhere, TimeSpan.FromHours(24)));
        Assert.Equal(2, (await region.Services.Inbox.UnattestedAsync(secretary, TimeSpan.FromHours(24))).Count);
        await Assert.ThrowsAsync<ForbiddenException>(() => region.Services.Inbox.AttestAsync(secretary, [inbox[1].ReportId]));
        await Assert.ThrowsAsync<ForbiddenException>(() => region.Services.Reports.AttestAsync(secretary, inbox[0].ReportId, "x"));

        clock.Advance(TimeSpan.FromHours(25));
        Assert.All(await region.Services.Inbox.UnattestedAsync(region.Physician, TimeSpan.FromHours(24)), i => Assert.True(i.Overdue));
        Assert.Equal(1, await region.Services.Inbox.AttestAsync(region.Physician, [inbox[1].ReportId]));
        var critical = await region.Services.Reports.OpenAsync(region.Physician, inbox[0].ReportId);
        Assert.True(await region.Services.Reports.AttestAsync(region.Physician, critical.Id, critical.SeenVersion));

        Assert.Empty(await region.Services.Inbox.UnattestedAsync(region.Physician, TimeSpan.FromHours(24)));
        await using var c = await region.Database.OpenUnscopedAsync();
        Assert.Equal(2, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM diagnostic_report WHERE patient_id = @patientId AND attested_by = @by", new { patientId, by = region.Physician.StaffId }));
        Assert.Equal(2, await region.AuditCountAsync(patientId, "Attest", "Allowed"));
        Assert.Equal(0, await region.Services.Inbox.AttestAsync(region.Physician, [inbox[1].ReportId]));
        Assert.False(await region.Services.Reports.AttestAsync(region.Physician, critical.Id, critical.SeenVersion));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_result_with_abnormal_values_is_attested_only_from_its_view_after_the_physician_has_opened_it(DatabaseEngine engine)
    {
        var clock = new FixedClock(new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero));
        var (region, ingest) = await RegionWithLabAsync(engine, clock);
        var number = TestNumbers.Personnummer(1950, 3, 14);
        var patientId = (await region.Patients.RegisterAsync(region.Physician, number, new PatientDetails("Öberg", "Lina"))).PatientId;
        await ingest.IngestAsync(Oru("N1", number, "Öberg^Lina", "Kalium", "N"));
        clock.Advance(TimeSpan.FromDays(1));
        await ingest.IngestAsync(Oru("C1", number, "Öberg^Lina", "Kalium", "HH"));
        var inbox = await region.Services.Inbox.UnattestedAsync(region.Physician, TimeSpan.FromHours(24));
        var (critical, normal) = (inbox.Single(i => i.Critical > 0).ReportId, inbox.Single(i => i.Critical == 0).ReportId);
        async Task<long> AttestedAsync()
        {
            await using var c = await region.Database.OpenUnscopedAsync();
            return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM diagnostic_report WHERE patient_id = @patientId AND attested_at IS NOT NULL", new { patientId });
        }

        // From the list: refused with a message naming the report, and nothing attested, not even the normal one sent with it.
        var fromList = await Assert.ThrowsAsync<InvalidInputException>(() => region.Services.Inbox.AttestAsync(region.Physician, [normal, critical]));
        Assert.Contains("avvikande värden", fromList.Message);
        Assert.Contains("Kalium", fromList.Message);
        Assert.Equal(0, await AttestedAsync());
        // From the view, but without having opened it: refused.
        var unseen = await Assert.ThrowsAsync<ForbiddenException>(() => region.Services.Reports.AttestAsync(region.Physician, critical, "any"));
        Assert.Contains("Öppna svaret", unseen.Message);
        Assert.Equal(0, await AttestedAsync());

        var reads = await region.AuditCountAsync(patientId, "Read", "Allowed");
        var report = await region.Services.Reports.OpenAsync(region.Physician, critical);
        Assert.Equal(reads + 1, await region.AuditCountAsync(patientId, "Read", "Allowed"));
        var line = Assert.Single(report.Lines);
        Assert.Equal(("P-Kalium", "6,9", "mmol/L", "3,5–4,4", "HH"), (line.Name, LabFormat.Value(line.Value, line.ValueText), LabFormat.Unit(line.Unit), line.Reference, line.AbnormalFlag));
        Assert.True(line.Critical);
        Assert.Equal("NPU03230", line.TrendKey);
        Assert.Equal([4.1], line.Earlier.Select(e => e.Value));
        Assert.Equal("Öberg", report.Patient.FamilyName);
        // The token is what the physician saw: another one (a correction came in since) is refused.
        await Assert.ThrowsAsync<ConflictException>(() => region.Services.Reports.AttestAsync(region.Physician, critical, "0000000000000000"));
        Assert.Equal(0, await AttestedAsync());

        Assert.True(await region.Services.Reports.AttestAsync(region.Physician, critical, report.SeenVersion));
        Assert.Equal(1, await AttestedAsync());
        Assert.Equal(1, await region.AuditCountAsync(patientId, "Attest", "Allowed"));
        var attested = await region.Services.Reports.OpenAsync(region.Physician, critical);
        Assert.Equal(region.Physician.DisplayName, attested.AttestedBy);
        Assert.Equal(1, await region.Services.Inbox.AttestAsync(region.Physician, [normal]));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_inbox_hides_results_of_a_blocked_unit_and_of_another_unit_under_inner_secrecy_and_they_cannot_be_attested(DatabaseEngine engine)
    {
        var clock = new FixedClock(new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero));
        var (region, ingest) = await RegionWithLabAsync(engine, clock);
        var (open, blocked) = (TestNumbers.Personnummer(1950, 3, 14), TestNumbers.Personnummer(1951, 4, 15));
        var openId = (await region.Patients.RegisterAsync(region.Physician, open, new PatientDetails("Öppen", "Anna"))).PatientId;
        var blockedId = (await region.Patients.RegisterAsync(region.Physician, blocked, new PatientDetails("Spärrad", "Berit"))).PatientId;
        await ingest.IngestAsync(Oru("O1", open, "Öppen^Anna", "Kalium öppen", "N"));
        await ingest.IngestAsync(Oru("S1", blocked, "Spärrad^Berit", "Kalium spärrad", "HH"));
        await using (var c = await region.Database.OpenUnscopedAsync())
        {
            var labUnit = await c.ExecuteScalarAsync<Guid>("SELECT unit_id FROM diagnostic_report WHERE patient_id = @blockedId", new { blockedId });
            await region.Access.BlockAsync(region.Physician, blockedId, labUnit, "Patienten begär spärr");
        }
        var blockedReport = await OneReportAsync(region, blockedId);
        // Same ward and care relations, but asking for quality assurance: other units' records are under inner secrecy.
        var quality = await region.AddCallerAsync("kvalitet", Role.Physician, region.Ward, Purpose.QualityAssurance);

        var inbox = await region.Services.Inbox.UnattestedAsync(region.Physician, TimeSpan.FromHours(24));

        Assert.Equal(["Kalium öppen"], inbox.Select(i => i.ServiceName));
        Assert.Empty(await region.Services.Inbox.UnattestedAsync(quality, TimeSpan.FromHours(24)));
        Assert.Null(await region.Services.Inbox.NextAsync(quality));
        Assert.Equal(inbox[0].ReportId, await region.Services.Inbox.NextAsync(region.Physician));
        var denied = await region.AuditCountAsync(blockedId, "Attest", "Denied");
        await Assert.ThrowsAsync<NotFoundException>(() => region.Services.Reports.OpenAsync(region.Physician, blockedReport));
        await Assert.ThrowsAsync<NotFoundException>(() => region.Services.Inbox.AttestAsync(region.Physician, [blockedReport]));
        await Assert.ThrowsAsync<NotFoundException>(() => region.Services.Reports.AttestAsync(region.Physician, blockedReport, "x"));
        Assert.True(await region.AuditCountAsync(blockedId, "Attest", "Denied") >= denied + 1);
        // A refused report among allowed ones: all or nothing.
        await Assert.ThrowsAsync<NotFoundException>(() => region.Services.Inbox.AttestAsync(quality, [inbox[0].ReportId]));
        await using (var c = await region.Database.OpenUnscopedAsync())
            Assert.Equal(0, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM diagnostic_report WHERE attested_at IS NOT NULL AND patient_id IN (@openId, @blockedId)", new { openId, blockedId }));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Older_reports_the_caller_may_not_see_do_not_push_a_visible_one_off_the_inbox(DatabaseEngine engine)
    {
        var clock = new FixedClock(new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero));
        var (region, ingest) = await RegionWithLabAsync(engine, clock);
        var (open, blocked) = (TestNumbers.Personnummer(1950, 3, 14), TestNumbers.Personnummer(1951, 4, 15));
        await region.Patients.RegisterAsync(region.Physician, open, new PatientDetails("Öppen", "Anna"));
        var blockedId = (await region.Patients.RegisterAsync(region.Physician, blocked, new PatientDetails("Spärrad", "Berit"))).PatientId;
        await ingest.IngestAsync(Oru("S1", blocked, "Spärrad^Berit", "Kalium spärrad", "N"));
        await ingest.IngestAsync(Oru("O1", open, "Öppen^Anna", "Kalium öppen", "N"));
        var template = await OneReportAsync(region, blockedId);
        await using (var c = await region.Database.OpenUnscopedAsync())
        {
            await region.Access.BlockAsync(region.Physician, blockedId,
                await c.ExecuteScalarAsync<Guid>("SELECT unit_id FROM diagnostic_report WHERE id = @template", new { template }), "Patienten begär spärr");
            // More hidden, older unattested reports than the inbox reads at once (500).
            await using var t = await c.BeginTransactionAsync();
            var copies = Enumerable.Range(1, 501).Select(i => new { id = Guid.NewGuid(), template, at = clock.GetUtcNow().AddHours(-1).AddSeconds(-i) });
            await c.ExecuteAsync(
                """
                INSERT INTO diagnostic_report (id, patient_id, unit_id, message_id, placer_order_number, filler_order_number, service_code, service_name, status, report_text, observed_at, created_at)
                SELECT @id, patient_id, unit_id, message_id, placer_order_number, filler_order_number, service_code, service_name, status, report_text, observed_at, @at
                FROM diagnostic_report WHERE id = @template
                """, copies, t);
            await t.CommitAsync();
        }

        var inbox = await region.Services.Inbox.UnattestedAsync(region.Physician, TimeSpan.FromHours(24));

        Assert.Equal(["Kalium öppen"], inbox.Select(i => i.ServiceName));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Each_patient_listed_in_the_inbox_is_audited_once_as_read_and_a_patient_not_shown_is_not(DatabaseEngine engine)
    {
        var clock = new FixedClock(new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero));
        var (region, ingest) = await RegionWithLabAsync(engine, clock);
        var numbers = new[] { TestNumbers.Personnummer(1950, 3, 14), TestNumbers.Personnummer(1951, 4, 15), TestNumbers.Personnummer(1952, 5, 16) };
        var ids = new List<Guid>();
        foreach (var (number, i) in numbers.Select((n, i) => (n, i)))
            ids.Add((await region.Patients.RegisterAsync(region.Physician, number, new PatientDetails($"Patient{i}", "Test"))).PatientId);
        await ingest.IngestAsync(Oru("A1", numbers[0], "Patient0^Test", "Prov A1", "N"));
        await ingest.IngestAsync(Oru("A2", numbers[0], "Patient0^Test", "Prov A2", "H"));
        await ingest.IngestAsync(Oru("B1", numbers[1], "Patient1^Test", "Prov B1", "N"));
        await ingest.IngestAsync(Oru("C1", numbers[2], "Patient2^Test", "Prov C1", "N"));
        await using (var c = await region.Database.OpenUnscopedAsync())
            await region.Access.BlockAsync(region.Physician, ids[2], await c.ExecuteScalarAsync<Guid>("SELECT unit_id FROM diagnostic_report WHERE patient_id = @id", new { id = ids[2] }), "Patienten begär spärr");
        async Task<long> InboxReadsAsync(Guid patientId)
        {
            await using var c = await region.Database.OpenUnscopedAsync();
            return await c.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM audit_event WHERE patient_id = @patientId AND resource = @Resource AND activity = 'Read' AND outcome = 'Allowed' AND staff_id = @staffId",
                new { patientId, ResultInbox.Resource, staffId = region.Physician.StaffId });
        }

        var listed = await region.Services.Inbox.UnattestedAsync(region.Physician, TimeSpan.FromHours(24));
        Assert.Equal(3, listed.Count);

        var reads = new List<long>();
        foreach (var id in ids) reads.Add(await InboxReadsAsync(id));
        Assert.Equal([1, 1, 0], reads);
        await using (var c = await region.Database.OpenUnscopedAsync())
            Assert.Equal(0, await c.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM audit_event WHERE patient_id IS NULL AND resource = @Resource AND staff_id = @staffId", new { ResultInbox.Resource, staffId = region.Physician.StaffId }));
        // Finding the next result shows no patient: nothing more is audited.
        Assert.NotNull(await region.Services.Inbox.NextAsync(region.Physician));
        Assert.Equal(1, await InboxReadsAsync(ids[0]));
    }

    private static async Task<Guid> OneReportAsync(TestRegion region, Guid patientId)
    {
        await using var c = await region.Database.OpenUnscopedAsync();
        return await c.ExecuteScalarAsync<Guid>("SELECT id FROM diagnostic_report WHERE patient_id = @patientId", new { patientId });
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_inbox_lists_reports_of_patients_with_an_encounter_or_an_active_care_relation_at_the_unit_and_no_others(DatabaseEngine engine)
    {
        var clock = new FixedClock(new DateTimeOffset(2026, 8, 1, 8, 0, 0, TimeSpan.Zero));
        var (region, ingest) = await RegionWithLabAsync(engine, clock);
        var clinic = await region.AddCallerAsync("mottagning", Role.Physician, region.Clinic);
        async Task<(string Number, Guid Id)> RegisterAsync(Caller by, string family, int day)
        {
            var number = TestNumbers.Personnummer(1960, 5, day);
            return (number, (await region.Patients.RegisterAsync(by, number, new PatientDetails(family, "Test"))).PatientId);
        }
        // The ward's care relation with one patient and its encounter with another end before the window.
        var expired = await RegisterAsync(region.Physician, "Förr", 1);
        var discharged = await RegisterAsync(clinic, "Utskriven", 2);
        await region.Services.Encounters.AdmitAsync(clinic, discharged.Id, region.Ward.Id, "1");
        await region.Services.Encounters.DischargeAsync(clinic, discharged.Id);
        clock.Advance(TimeSpan.FromDays(91));
        var byRelation = await RegisterAsync(region.Physician, "Relation", 3);
        var byEncounter = await RegisterAsync(clinic, "Vårdkontakt", 4);
        await region.Services.Encounters.AdmitAsync(clinic, byEncounter.Id, region.Ward.Id, "2");
        await region.Services.Encounters.DischargeAsync(clinic, byEncounter.Id);
        var admitted = await RegisterAsync(clinic, "Inskriven", 5);
        await region.Services.Encounters.AdmitAsync(clinic, admitted.Id, region.Ward.Id, "3");
        var otherUnit = await RegisterAsync(clinic, "Mottagning", 6);
        clock.Advance(TimeSpan.FromHours(1));
        foreach (var (number, family, i) in new[] { (expired, "Förr", 1), (discharged, "Utskriven", 2), (byRelation, "Relation", 3), (byEncounter, "Vårdkontakt", 4), (admitted, "Inskriven", 5), (otherUnit, "Mottagning", 6) })
        {
            await ingest.IngestAsync(Oru($"U{i}", number.Number, $"{family}^Test", $"Prov {family}", "N"));
            clock.Advance(TimeSpan.FromMinutes(1));
        }

        var ward = await region.Services.Inbox.UnattestedAsync(region.Physician, TimeSpan.FromHours(24));
        var clinicInbox = await region.Services.Inbox.UnattestedAsync(clinic, TimeSpan.FromHours(24));

        Assert.Equal(["Prov Relation", "Prov Vårdkontakt", "Prov Inskriven"], ward.Select(i => i.ServiceName));
        Assert.Equal(["Relation, Test", "Vårdkontakt, Test", "Inskriven, Test"], ward.Select(i => i.PatientName));
        Assert.Equal(["Prov Vårdkontakt", "Prov Inskriven", "Prov Mottagning"], clinicInbox.Select(i => i.ServiceName));
    }
}
