using Stadig.Access;
using Stadig.Audit;
using Stadig.Chart;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Tests.Infrastructure;

/// <summary>A small organisation built per test: one provider, a ward and a clinic, a physician on the ward.</summary>
public sealed class TestRegion
{
    public required CoreServices Services { get; init; }
    public required CareUnit Ward { get; init; }
    public required CareUnit Clinic { get; init; }
    public required Caller Physician { get; init; }

    public Database Database => Services.Database;
    public StaffDirectory Staff => Services.Staff;
    public PatientRegistry Patients => Services.Patients;
    public AccessControl Access => Services.Access;
    public PatientChart Chart => Services.Chart;
    public AuditLog Audit => Services.Audit;
    public Stadig.Notes.ClinicalNotes Notes => Services.Notes;

    public static async Task<TestRegion> CreateAsync(DatabaseEngine engine, TimeProvider? clock = null, int? schemaVersion = null) =>
        await OnAsync(await TestDatabases.CreateAsync(engine, schemaVersion), clock);

    /// <summary>The region on a database of the test's own (one pooled connection, say), migrated.</summary>
    public static async Task<TestRegion> OnAsync(Database database, TimeProvider? clock = null)
    {
        var services = CoreServices.Create(database, clock ?? TimeProvider.System);
        var provider = await services.Staff.AddProviderAsync("SE2321000016-0001", "Testregionen");
        var ward = await services.Staff.AddUnitAsync(provider.Id, "SE2321000016-0002", "Medicinavdelning 1", UnitKind.Ward);
        var clinic = await services.Staff.AddUnitAsync(provider.Id, "SE2321000016-0003", "Medicinmottagningen", UnitKind.OutpatientClinic);
        var region = new TestRegion { Services = services, Ward = ward, Clinic = clinic, Physician = null! };
        return new TestRegion { Services = services, Ward = ward, Clinic = clinic, Physician = await region.AddCallerAsync("lakare", Role.Physician, ward) };
    }

    /// <summary>A region with one registered patient (Per Ek, 19121212-1212), registered by its physician.</summary>
    public static async Task<(TestRegion Region, Guid PatientId)> WithPatientAsync(DatabaseEngine engine)
    {
        var region = await CreateAsync(engine);
        var id = (await region.Patients.RegisterAsync(region.Physician, "19121212-1212", new PatientDetails("Ek", "Per"))).PatientId;
        return (region, id);
    }

    /// <summary>A new person with one assignment at <paramref name="unit"/>, as the caller they act as.</summary>
    public async Task<Caller> AddCallerAsync(string username, Role role, CareUnit unit, Purpose purpose = Purpose.CareAndTreatment)
    {
        var member = await Staff.AddStaffAsync($"SE2321000016-{username.ToUpperInvariant()}", username, $"Test {username}", role.Swedish(), null, isDemo: false);
        await Staff.AddAssignmentAsync(member.Id, unit.Id, role, purpose);
        return new Caller(member.Id, member.HsaId, member.DisplayName, role, unit.Id, unit.HsaId, purpose);
    }

    /// <summary>How many events of the activity and outcome the audit log holds for the patient (e.g. "Read", "Allowed").</summary>
    public async Task<long> AuditCountAsync(Guid patientId, string activity, string outcome)
    {
        await using var c = await Database.OpenUnscopedAsync();
        return await Dapper.SqlMapper.ExecuteScalarAsync<long>(c,
            "SELECT COUNT(*) FROM audit_event WHERE patient_id = @patientId AND activity = @activity AND outcome = @outcome", new { patientId, activity, outcome });
    }
}
