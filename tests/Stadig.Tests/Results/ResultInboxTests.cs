using Dapper;
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
    private static string Oru(string controlId, string number, string name, string service, string flag) =>
        $"MSH|^~\\&|LABSYS|KLINKEM|STADIG|REGION|20261123075500+0100||ORU^R01^ORU_R01|{controlId}|P|2.5\r" +
        $"PID|1||{number.Replace("-", "")}^^^^PN||{name}\r" +
        $"OBR|1|P{controlId}|F{controlId}|{service}^{service}^L\r" +
        $"OBX|1|NM|K^P-Kalium^L||{(flag == "HH" ? "6.9" : "4.1")}|mmol/L|3.5-4.4|{flag}|||F\r";

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_unit_sees_unattested_results_critical_first_and_a_physician_attests_them_with_who_and_when(DatabaseEngine engine)
    {
        var clock = new FixedClock(new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero));
        var region = await TestRegion.CreateAsync(engine, clock);
        var labUnit = await region.Staff.AddUnitAsync(region.Ward.ProviderId, "SE2321000016-0099", "Klinisk kemi", UnitKind.Lab);
        var ingest = new IngestOruMessage(region.Database, region.Audit, new PatientMatcher(new PatientIdentifierRules(clock)),
            await LabIntegration.CallerAsync(region.Staff, labUnit), clock);
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
        Assert.Equal(2, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM audit_event WHERE patient_id = @patientId AND activity = 'Attest' AND outcome = 'Allowed'", new { patientId }));
        Assert.Equal(0, await region.Services.Inbox.AttestAsync(region.Physician, [inbox[0].ReportId]));
    }
}
