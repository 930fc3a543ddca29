using Dapper;
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
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_scopes_visibility_sql_sees_exactly_what_the_checkpoint_lets_each_caller_see(DatabaseEngine engine)
    {
        var clock = new FixedClock(new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero));
        var region = await TestRegion.CreateAsync(engine, clock);
        var annex = await region.Staff.AddUnitAsync(region.Ward.ProviderId, "SE2321000016-0009", "Medicinavdelning 2", UnitKind.Ward);
        var nurse = await region.AddCallerAsync("ssk", Role.Nurse, region.Clinic);
        var reviewer = await region.AddCallerAsync("kvalitet", Role.Physician, region.Ward, Purpose.QualityAssurance);
        var auditor = await region.AddCallerAsync("granskare", Role.LogAuditor, region.Ward);
        var secretary = await region.AddCallerAsync("sekr", Role.MedicalSecretary, annex);
        async Task<Guid> RegisterAsync(Caller by, int day) =>
            (await region.Patients.RegisterAsync(by, TestNumbers.Personnummer(1961, 6, day), new PatientDetails("Test", $"Dag{day}"))).PatientId;
        var related = await RegisterAsync(region.Physician, 1);
        var blocked = await RegisterAsync(region.Physician, 2);
        await region.Access.BlockAsync(region.Physician, blocked, region.Clinic.Id, "Patienten begär spärr");
        var consented = await RegisterAsync(nurse, 3);
        await region.Access.RecordConsentAsync(nurse, consented, region.Ward.Id, region.Clinic.Id, clock.GetUtcNow().AddDays(30), "Patienten samtycker");
        var blockedButConsented = await RegisterAsync(region.Physician, 4);
        await region.Access.BlockAsync(region.Physician, blockedButConsented, region.Clinic.Id, "Patienten begär spärr");
        await region.Access.RecordConsentAsync(region.Physician, blockedButConsented, region.Ward.Id, null, clock.GetUtcNow().AddDays(30), "Patienten samtycker");
        var emergency = await RegisterAsync(nurse, 5);
        await region.Access.OpenInEmergencyAsync(region.Physician, emergency, "Medvetslös");
        var stranger = await RegisterAsync(nurse, 6);
        var annexOnly = await RegisterAsync(secretary, 7);
        await region.Access.GroupUnitsAsync(Caller.System, "Medicinkliniken", [region.Ward.Id, annex.Id]);
        // Care relations with the ward from each branch of the rule, and from neither: an open stay, a
        // stay ended within the window, one ended before it, and a recorded relation that has ended.
        var now = clock.GetUtcNow();
        var window = TimeSpan.FromDays(region.Services.Checkpoint.Options.CareRelationDays);
        async Task<Guid> AtWardAsync(int day, DateTimeOffset? stayEnded = null, DateTimeOffset? relationEnded = null)
        {
            var patientId = await RegisterAsync(secretary, day);
            await using var connection = await region.Database.OpenUnscopedAsync();
            if (relationEnded is { } ends)
                await connection.ExecuteAsync(
                    "INSERT INTO care_relation (id, patient_id, unit_id, reason, created_at, created_by, ends_at) VALUES (@id, @patientId, @unit, 'Test', @created, @staff, @ends)",
                    new { id = Guid.NewGuid(), patientId, unit = region.Ward.Id, created = ends - window, staff = region.Physician.StaffId, ends });
            else
                await connection.ExecuteAsync(
                    "INSERT INTO encounter (id, patient_id, unit_id, kind, started_at, ended_at) VALUES (@id, @patientId, @unit, 'Outpatient', @started, @ended)",
                    new { id = Guid.NewGuid(), patientId, unit = region.Ward.Id, started = (stayEnded ?? now) - TimeSpan.FromDays(2), ended = stayEnded });
            return patientId;
        }
        var staying = await AtWardAsync(8);
        var leftLately = await AtWardAsync(9, stayEnded: now - window + TimeSpan.FromDays(1));
        var leftLongAgo = await AtWardAsync(10, stayEnded: now - window - TimeSpan.FromDays(1));
        var relationOver = await AtWardAsync(11, relationEnded: now - TimeSpan.FromDays(1));
        Guid[] patients = [related, blocked, consented, blockedButConsented, emergency, stranger, annexOnly, staying, leftLately, leftLongAgo, relationOver];
        Guid[] units = [region.Ward.Id, region.Clinic.Id, annex.Id];

        var compared = 0;
        var seen = 0;
        foreach (var caller in new[] { region.Physician, nurse, reviewer, auditor, secretary })
        {
            var scope = region.Services.Checkpoint.Scope(caller);
            await using var connection = await scope.OpenAsync();
            foreach (var patientId in patients)
            {
                var context = await region.Services.Checkpoint.ContextAsync(caller, patientId);
                foreach (var unitId in units)
                {
                    var parameters = scope.Parameters();
                    parameters.Add("rowPatient", patientId);
                    parameters.Add("rowUnit", unitId);
                    // One row of a patient written at a unit, as a list would filter it.
                    var bySql = await connection.ExecuteScalarAsync<long>(
                        $"SELECT COUNT(*) FROM patient x WHERE x.id = @rowPatient AND {scope.VisibleRowsSql("x.id", "@rowUnit")}", parameters);
                    Assert.True((bySql == 1) == context!.MaySee(unitId), $"{caller.HsaId} on patient {Array.IndexOf(patients, patientId)} at unit {Array.IndexOf(units, unitId)}");
                    compared++;
                    seen += (int)bySql;
                }
            }
        }
        Assert.Equal(5 * patients.Length * units.Length, compared);
        Assert.InRange(seen, 1, compared - 1);
        var physiciansWard = (await region.Services.Checkpoint.ContextsAsync(region.Physician, [staying, leftLately, leftLongAgo, relationOver]))
            .ToDictionary(c => c.Key, c => c.Value.HasCareRelation);
        Assert.Equal([true, true, false, false], new[] { staying, leftLately, leftLongAgo, relationOver }.Select(id => physiciansWard[id]));
    }

    /// <summary>A bare column inside the consent and block subqueries would be theirs (a consent of any patient opened every patient's rows).</summary>
    [Fact]
    public void The_visibility_sql_refuses_a_column_without_its_table()
    {
        Assert.Throws<ArgumentException>(() => PatientCheckpoint.VisibleRowsSql(Caller.System, "patient_id", "n.unit_id"));
        Assert.Throws<ArgumentException>(() => PatientCheckpoint.VisibleRowsSql(Caller.System, "n.patient_id", "unit_id"));
        Assert.NotEmpty(PatientCheckpoint.VisibleRowsSql(Caller.System, "n.patient_id", "@rowUnit"));
    }
}
