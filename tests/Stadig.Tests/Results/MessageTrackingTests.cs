using Stadig.Common;
using Stadig.LabResults;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Patients.Identifiers;
using Stadig.Storage;

namespace Stadig.Tests.Results;

public class MessageTrackingTests
{
    private static string Oru(string controlId, string number, string name) =>
        $"MSH|^~\\&|LABSYS|KLINKEM|STADIG|REGION|20261123075500+0100||ORU^R01^ORU_R01|{controlId}|P|2.5\r" +
        $"PID|1||{number.Replace("-", "")}^^^^PN||{name}\r" +
        "OBR|1|P200|L100|BLODSTATUS^Blodstatus^L\r" +
        "OBX|1|NM|HB^Hemoglobin^L||128|g/L|117-153|N|||F\r";

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    [Hazard("H-07")]
    public async Task Every_message_is_counted_in_its_state_and_an_open_quarantine_item_becomes_stuck_after_the_threshold(DatabaseEngine engine)
    {
        var clock = new FixedClock(new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero));
        var region = await TestRegion.CreateAsync(engine, clock);
        var labUnit = await region.Staff.AddUnitAsync(region.Ward.ProviderId, "SE2321000016-0099", "Klinisk kemi", UnitKind.Lab);
        var integration = await LabIntegration.CallerAsync(region.Staff, labUnit);
        var ingest = new IngestOruMessage(region.Database, region.Audit, new PatientMatcher(new PatientIdentifierRules(clock)), integration, clock);
        var admin = await region.AddCallerAsync("drift", Role.Administrator, labUnit, Purpose.Administration);
        var number = TestNumbers.Personnummer(1950, 3, 14);
        await region.Patients.RegisterAsync(region.Physician, number, new PatientDetails("Öberg", "Lina"));

        await ingest.IngestAsync(Oru("T1", number, "Öberg^Lina"));          // filed
        await ingest.IngestAsync(Oru("T2", number, "Fel^Namn"));            // quarantined
        await ingest.IngestAsync("MSH|^~\\&|LABSYS|KLINKEM|STADIG|REGION|20261123||ADT^A01|T3|P|2.5\r"); // rejected: not ORU

        var now = await region.Services.Messages.OverviewAsync(admin, TimeSpan.FromMinutes(15));
        Assert.Equal(1, now.Counts.Single(c => c.State == "Filed").Count);
        Assert.Equal(1, now.Counts.Single(c => c.State == "Quarantined").Count);
        Assert.Equal(1, now.Counts.Single(c => c.State == "Rejected").Count);
        Assert.Equal(clock.GetUtcNow(), now.OldestUnfinished);
        Assert.Empty(now.Stuck);

        clock.Advance(TimeSpan.FromMinutes(16));
        var later = await region.Services.Messages.OverviewAsync(admin, TimeSpan.FromMinutes(15));
        var stuck = Assert.Single(later.Stuck);
        Assert.Equal("T2", stuck.ControlId);
        Assert.Equal("Quarantined", stuck.State);

        await Assert.ThrowsAsync<ForbiddenException>(() => region.Services.Messages.OverviewAsync(region.Physician, TimeSpan.FromMinutes(15)));
    }
}
