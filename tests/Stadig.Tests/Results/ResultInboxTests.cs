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
        Assert.Empty(await region.Services.Inbox.UnattestedAsync(elsewhere, TimeSpan.FromHours(24)));
        Assert.Equal(2, (await region.Services.Inbox.UnattestedAsync(secretary, TimeSpan.FromHours(24))).Count);
        await Assert.ThrowsAsync<ForbiddenException>(() => region.Services.Inbox.AttestAsync(secretary, [inbox[0].ReportId]));
        await Assert.ThrowsAsync<ForbiddenException>(() => region.Services.Inbox.AttestAsync(elsewhere, [inbox[0].ReportId]));

        clock.Advance(TimeSpan.FromHours(25));
        Assert.All(await region.Services.Inbox.UnattestedAsync(region.Physician, TimeSpan.FromHours(24)), i => Assert.True(i.Overdue));
        Assert.Equal(2, await region.Services.Inbox.AttestAsync(region.Physician, inbox.Select(i => i.ReportId).ToList()));

        Assert.Empty(await region.Services.Inbox.UnattestedAsync(region.Physician, TimeSpan.FromHours(24)));
        await using var c = await region.Database.OpenAsync();
        Assert.Equal(2, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM diagnostic_report WHERE patient_id = @patientId AND attested_by = @by", new { patientId, by = region.Physician.StaffId }));
        Assert.Equal(2, await region.AuditCountAsync(patientId, "Attest", "Allowed"));
        Assert.Equal(0, await region.Services.Inbox.AttestAsync(region.Physician, [inbox[0].ReportId]));
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
