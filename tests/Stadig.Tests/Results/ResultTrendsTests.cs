using Dapper;
using Stadig.Common;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Tests.Results;

public class ResultTrendsTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    [Hazard("H-02")]
    public async Task A_trend_comes_with_its_patient_for_the_banner_under_one_audited_access(DatabaseEngine engine)
    {
        var clock = new FixedClock(new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero));
        var (region, ingest) = await ResultInboxTests.RegionWithLabAsync(engine, clock);
        var number = TestNumbers.Personnummer(1950, 3, 14);
        var patientId = (await region.Patients.RegisterAsync(region.Physician, number, new PatientDetails("Öberg", "Lina"))).PatientId;
        await ingest.IngestAsync(ResultInboxTests.Oru("R1", number, "Öberg^Lina", "Kalium", "N"));
        clock.Advance(TimeSpan.FromHours(1));
        await ingest.IngestAsync(ResultInboxTests.Oru("R2", number, "Öberg^Lina", "Kalium", "HH"));
        var elsewhere = await region.AddCallerAsync("annan", Role.Physician, region.Clinic);
        Task<long> ReadsAsync(string outcome) => region.AuditCountAsync(patientId, "Read", outcome);
        var before = await ReadsAsync("Allowed");

        var trend = await region.Services.Trends.TrendAsync(region.Physician, patientId, "K");

        Assert.Equal([4.1, 6.9], trend.Points.Select(p => p.Value).Order()); // both messages carry the same observation time
        Assert.Equal(patientId, trend.Patient.Id);
        Assert.Equal("Öberg", trend.Patient.FamilyName);
        Assert.Equal(before + 1, await ReadsAsync("Allowed"));
        var refused = await ReadsAsync("Denied");
        await Assert.ThrowsAnyAsync<StadigException>(() => region.Services.Trends.TrendAsync(elsewhere, patientId, "K"));
        Assert.Equal(refused + 1, await ReadsAsync("Denied"));
    }

    private static string Hb(string controlId, string number, string code, string system, string value, string unit, string range, string day) =>
        $"MSH|^~\\&|LABSYS|KLINKEM|STADIG|REGION|{day}0755+0100||ORU^R01^ORU_R01|{controlId}|P|2.5\r" +
        $"PID|1||{number.Replace("-", "")}^^^^PN||Holm^Per\r" +
        $"OBR|1|P{controlId}|F{controlId}|BLODSTATUS^Blodstatus^L|||{day}0700+0100\r" +
        $"OBX|1|NM|{code}^Hemoglobin^{system}||{value}|{unit}|{range}|N|||F|||{day}0700+0100\r";

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Results_sent_with_a_LOINC_or_a_local_code_join_the_NPU_trend_with_the_catalogue_range_for_a_man_where_the_lab_sent_none(DatabaseEngine engine)
    {
        var clock = new FixedClock(new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero));
        var (region, ingest) = await ResultInboxTests.RegionWithLabAsync(engine, clock);
        var number = TestNumbers.Personnummer(1961, 4, 2, 983);
        var patientId = (await region.Patients.RegisterAsync(region.Physician, number, new PatientDetails("Holm", "Per"))).PatientId;
        await ingest.IngestAsync(Hb("H1", number, "NPU28309", "NPU", "141", "g/L", "", "20261101"));
        await ingest.IngestAsync(Hb("H2", number, "718-7", "LN", "128", "g/L", "", "20261105"));
        await ingest.IngestAsync(Hb("H3", number, "HB", "L", "131", "g/l", "", "20261110"));
        // The lab's own range wins; a value in g/dL is another quantity and stays out of this trend.
        await ingest.IngestAsync(Hb("H4", number, "NPU28309", "NPU", "150", "g/L", "130-165", "20261115"));
        await ingest.IngestAsync(Hb("H5", number, "718-7", "LN", "13.9", "g/dL", "", "20261118"));

        var trend = await region.Services.Trends.TrendAsync(region.Physician, patientId, "NPU28309");

        Assert.Equal("NPU28309", trend.AnalysisCode);
        Assert.Equal("g/L", trend.Unit);
        Assert.Equal([141, 128, 131, 150], trend.Points.Select(p => p.Value));
        Assert.Equal(["NPU28309", "718-7", "HB", "NPU28309"], trend.Points.Select(p => p.AnalysisCode));
        // A man's interval (134–170), not a woman's (117–153), where the lab sent none.
        Assert.Equal([(134.0, 170.0, true), (134.0, 170.0, true), (134.0, 170.0, true), (130.0, 165.0, false)],
            trend.Points.Select(p => (p.ReferenceLow!.Value, p.ReferenceHigh!.Value, p.ReferenceFromCatalogue)));
        // Asked for by the code it came with, a result finds the same trend.
        Assert.Equal(4, (await region.Services.Trends.TrendAsync(region.Physician, patientId, "HB")).Points.Count);
        Assert.Equal(4, (await region.Services.Trends.TrendAsync(region.Physician, patientId, "718-7")).Points.Count);
    }
}
