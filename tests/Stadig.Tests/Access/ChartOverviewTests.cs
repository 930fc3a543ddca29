using Dapper;
using Stadig.Organisation;
using Stadig.Seeding;
using Stadig.Storage;

namespace Stadig.Tests.Access;

public class ChartOverviewTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_seeded_patient_with_records_opens_with_warnings_notes_results_and_encounters(DatabaseEngine engine)
    {
        var database = await TestDatabases.CreateAsync(engine);
        var services = CoreServices.Create(database, TimeProvider.System);
        await new RegionSeeder(database, TimeProvider.System).SeedAsync(new SeedOptions { Patients = 80, Seed = 3 }, CancellationToken.None);
        await using var c = await database.OpenUnscopedAsync();
        var patientId = await c.QueryFirstAsync<Guid>(
            "SELECT p.id FROM patient p WHERE EXISTS (SELECT 1 FROM note n WHERE n.patient_id = p.id) AND EXISTS (SELECT 1 FROM lab_result r WHERE r.patient_id = p.id) ORDER BY p.identifier");
        var unit = (await services.Staff.UnitsAsync()).First(u => u.Kind == UnitKind.Ward);
        var member = await services.Staff.AddStaffAsync("SE2321000016-TEST1", "test1", "Test Ett", "Läkare", null, false);
        await services.Staff.AddAssignmentAsync(member.Id, unit.Id, Role.Physician, Purpose.CareAndTreatment);
        var caller = new Stadig.Access.Caller(member.Id, member.HsaId, member.DisplayName, Role.Physician, unit.Id, unit.HsaId, Purpose.CareAndTreatment);
        await services.Access.RecordCareRelationAsync(caller, patientId, "Test");

        var overview = await services.Chart.OverviewAsync(caller, patientId);

        Assert.Equal(patientId, overview.Patient.Id);
        Assert.NotEmpty(overview.Notes);
        Assert.NotEmpty(overview.Results);
    }
}
