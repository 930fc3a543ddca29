using Stadig.Access;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Tests.Access;

/// <summary>A worklist's decision for many patients at once is the chart's decision for each.</summary>
public class CheckpointWorklistTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_facts_gathered_for_many_patients_are_those_gathered_for_each_alone(DatabaseEngine engine)
    {
        var clock = new FixedClock(new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero));
        var region = await TestRegion.CreateAsync(engine, clock);
        var nurse = await region.AddCallerAsync("ssk", Role.Nurse, region.Clinic);
        async Task<Guid> RegisterAsync(Caller by, int day, ProtectedIdentity protection = ProtectedIdentity.None) =>
            (await region.Patients.RegisterAsync(by, TestNumbers.Personnummer(1960, 5, day), new PatientDetails("Test", $"Dag{day}", ProtectedIdentity: protection))).PatientId;
        var related = await RegisterAsync(region.Physician, 1);
        var blocked = await RegisterAsync(region.Physician, 2, ProtectedIdentity.Sekretessmarkering);
        await region.Access.BlockAsync(region.Physician, blocked, region.Clinic.Id, "Patienten begär spärr");
        var consented = await RegisterAsync(nurse, 3);
        await region.Access.RecordConsentAsync(nurse, consented, region.Ward.Id, region.Clinic.Id, clock.GetUtcNow().AddDays(30), "Patienten samtycker");
        var emergency = await RegisterAsync(nurse, 4);
        await region.Access.OpenInEmergencyAsync(region.Physician, emergency, "Medvetslös");
        var stranger = await RegisterAsync(nurse, 5);
        await region.Access.GroupUnitsAsync(Caller.System, "Medicinkliniken", [region.Ward.Id]);
        var ids = new[] { related, blocked, consented, emergency, stranger, Guid.NewGuid() };

        var many = await region.Services.Checkpoint.ContextsAsync(region.Physician, ids);

        Assert.False(many.ContainsKey(ids[^1]));
        foreach (var id in ids[..^1])
        {
            var one = (await region.Services.Checkpoint.ContextAsync(region.Physician, id))!;
            var both = many[id];
            Assert.Equal((one.ProtectedIdentity, one.HasCareRelation, one.EmergencyOpen), (both.ProtectedIdentity, both.HasCareRelation, both.EmergencyOpen));
            Assert.Equal(one.OwnUnits.Order(), both.OwnUnits.Order());
            Assert.Equal(one.BlockedUnits.Order(), both.BlockedUnits.Order());
            Assert.Equal(one.ConsentedSources.Order(), both.ConsentedSources.Order());
            Assert.Equal(one.MaySee(region.Clinic.Id), both.MaySee(region.Clinic.Id));
        }
        Assert.Equal([true, true, false, false, false], ids[..^1].Select(id => many[id].HasCareRelation));
        Assert.True(many[emergency].EmergencyOpen);
        Assert.Equal([region.Clinic.Id], many[blocked].BlockedUnits);
        Assert.Equal<Guid?>([region.Clinic.Id], many[consented].ConsentedSources);
    }
}
