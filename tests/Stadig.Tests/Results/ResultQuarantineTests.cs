using Dapper;
using Stadig.Common;
using Stadig.LabResults;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Patients.Identifiers;
using Stadig.Storage;

namespace Stadig.Tests.Results;

public class ResultQuarantineTests
{
    private static string Oru(string controlId, string number, string name) =>
        $"MSH|^~\\&|LABSYS|KLINKEM|STADIG|REGION|20261123075500+0100||ORU^R01^ORU_R01|{controlId}|P|2.5\r" +
        $"PID|1||{number.Replace("-", "")}^^^^PN||{name}\r" +
        "OBR|1|P200|L100|BLODSTATUS^Blodstatus^L|||20261123070000+0100\r" +
        "OBX|1|NM|HB^Hemoglobin^L||128|g/L|117-153|N|||F\r";

    private static async Task<(TestRegion Region, IngestOruMessage Ingest, Stadig.Access.Caller LabStaff)> LabAsync(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        var labUnit = await region.Staff.AddUnitAsync(region.Ward.ProviderId, "SE2321000016-0099", "Klinisk kemi", UnitKind.Lab);
        var integration = await LabIntegration.CallerAsync(region.Staff, labUnit);
        var ingest = new IngestOruMessage(region.Database, region.Audit, new PatientMatcher(new PatientIdentifierRules(TimeProvider.System)), integration, TimeProvider.System);
        var labStaff = await region.AddCallerAsync("bma", Role.LabStaff, labUnit);
        return (region, ingest, labStaff);
    }

    private static async Task<T> OneAsync<T>(TestRegion region, string sql, object parameters)
    {
        await using var c = await region.Database.OpenUnscopedAsync();
        return await c.QuerySingleAsync<T>(sql, parameters);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Lab_staff_file_a_quarantined_result_to_the_checked_patient_and_it_is_traced(DatabaseEngine engine)
    {
        var (region, ingest, labStaff) = await LabAsync(engine);
        var number = TestNumbers.Personnummer(1950, 3, 14);
        var patientId = (await region.Patients.RegisterAsync(region.Physician, number, new PatientDetails("Öberg", "Lina"))).PatientId;
        // The lab misspelt the name: the result must not be filed on its own.
        var outcome = await ingest.IngestAsync(Oru("Q1", number, "Öbergh^Lina"));
        Assert.Equal(Hl7MessageState.Quarantined, outcome.State);

        var item = Assert.Single(await region.Services.Quarantine.ListOpenAsync(labStaff));
        Assert.Equal("NameMismatch", item.ReasonCode);
        Assert.Contains("Öbergh", item.Name);
        await Assert.ThrowsAsync<InvalidInputException>(() => region.Services.Quarantine.FileToPatientAsync(labStaff, item.Id, number, " "));

        await region.Services.Quarantine.FileToPatientAsync(labStaff, item.Id, number, "Stavfel i efternamnet, personnummer och födelsedatum stämmer");

        Assert.Empty(await region.Services.Quarantine.ListOpenAsync(labStaff));
        Assert.Equal(1, await OneAsync<long>(region, "SELECT COUNT(*) FROM lab_result WHERE patient_id = @patientId", new { patientId }));
        Assert.Equal("Filed", await OneAsync<string>(region, "SELECT state FROM hl7_message WHERE id = @id", new { id = outcome.MessageId }));
        Assert.Equal(labStaff.StaffId, await OneAsync<Guid>(region, "SELECT resolved_by FROM result_quarantine WHERE id = @id", new { id = item.Id }));
        Assert.Equal(1, await OneAsync<long>(region,
            "SELECT COUNT(*) FROM audit_event WHERE patient_id = @patientId AND resource = 'DiagnosticReport' AND staff_id = @staff", new { patientId, staff = labStaff.StaffId }));
        await Assert.ThrowsAsync<ConflictException>(() => region.Services.Quarantine.RejectAsync(labStaff, item.Id, "igen"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_rejected_result_keeps_its_message_and_only_lab_staff_resolve(DatabaseEngine engine)
    {
        var (region, ingest, labStaff) = await LabAsync(engine);
        var outcome = await ingest.IngestAsync(Oru("Q2", TestNumbers.Personnummer(1961, 1, 2), "Okänd^Person"));
        var item = Assert.Single(await region.Services.Quarantine.ListOpenAsync(labStaff));

        await Assert.ThrowsAsync<ForbiddenException>(() => region.Services.Quarantine.ListOpenAsync(region.Physician));
        await Assert.ThrowsAsync<ForbiddenException>(() => region.Services.Quarantine.RejectAsync(region.Physician, item.Id, "fel"));
        await region.Services.Quarantine.RejectAsync(labStaff, item.Id, "Provet tillhör ingen av regionens patienter; labbet kontaktat");

        Assert.Equal("Rejected", await OneAsync<string>(region, "SELECT state FROM hl7_message WHERE id = @id", new { id = outcome.MessageId }));
        Assert.NotEmpty(await OneAsync<string>(region, "SELECT raw_text FROM hl7_message WHERE id = @id", new { id = outcome.MessageId }));
        Assert.Empty(await region.Services.Quarantine.ListOpenAsync(labStaff));
    }
}
