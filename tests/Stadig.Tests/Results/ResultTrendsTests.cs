using Dapper;
using Stadig.Common;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Tests.Results;

public class ResultTrendsTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
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
}
