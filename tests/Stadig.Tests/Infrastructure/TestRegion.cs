using Stadig.Access;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Patients.Identifiers;
using Stadig.Storage;

namespace Stadig.Tests.Infrastructure;

/// <summary>A minimal organisation built per test: one provider, two units, one physician.</summary>
public sealed class TestRegion
{
    public required Database Database { get; init; }
    public required StaffDirectory Staff { get; init; }
    public required PatientRegistry Patients { get; init; }
    public required CareUnit Ward { get; init; }
    public required CareUnit Clinic { get; init; }
    public required Caller Physician { get; init; }

    public static async Task<TestRegion> CreateAsync(DatabaseEngine engine)
    {
        var database = await TestDatabases.CreateAsync(engine);
        var clock = TimeProvider.System;
        var staff = new StaffDirectory(database, clock);
        var provider = await staff.AddProviderAsync("SE2321000016-0001", "Testregionen");
        var ward = await staff.AddUnitAsync(provider.Id, "SE2321000016-0002", "Medicinavdelning 1", UnitKind.Ward);
        var clinic = await staff.AddUnitAsync(provider.Id, "SE2321000016-0003", "Medicinmottagningen", UnitKind.OutpatientClinic);
        var doctor = await staff.AddStaffAsync("SE2321000016-0004", "lakare", "Lena Läkare", "Överläkare", null, isDemo: false);
        await staff.AddAssignmentAsync(doctor.Id, ward.Id, Role.Physician, Purpose.CareAndTreatment);
        return new TestRegion
        {
            Database = database, Staff = staff,
            Patients = new PatientRegistry(database, new PatientIdentifierRules(clock), clock),
            Ward = ward, Clinic = clinic,
            Physician = new Caller(doctor.Id, doctor.HsaId, doctor.DisplayName, Role.Physician, ward.Id, ward.HsaId, Purpose.CareAndTreatment),
        };
    }
}
