using Dapper;
using Stadig.Access;
using Stadig.Common;
using Stadig.Encounters;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Tests.Encounters;

public class PatientEncountersTests
{
    private static async Task<(TestRegion Region, CareUnit Ward2, Caller Nurse2)> RegionAsync(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        var provider = (await region.Staff.UnitsAsync())[0].ProviderId;
        var ward2 = await region.Staff.AddUnitAsync(provider, "SE2321000016-0009", "Kirurgavdelning 2", UnitKind.Ward);
        var nurse2 = await region.AddCallerAsync("ssk2", Role.Nurse, ward2);
        return (region, ward2, nurse2);
    }

    private static async Task<Guid> PatientAsync(TestRegion region, Caller registeredBy, string identifier, string family, ProtectedIdentity protectedIdentity = ProtectedIdentity.None) =>
        (await region.Patients.RegisterAsync(registeredBy, identifier, new(family, "Test", ProtectedIdentity: protectedIdentity))).PatientId;

    private static async Task<long> AuditedAsync(TestRegion region, Caller caller, Guid? patientId, string resource, string outcome)
    {
        await using var c = await region.Database.OpenUnscopedAsync();
        return await c.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM audit_event WHERE staff_id = @s AND resource = @resource AND outcome = @outcome AND (patient_id = @p OR (@p IS NULL AND patient_id IS NULL))",
            new { s = caller.StaffId, resource, outcome, p = patientId });
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_second_open_admission_is_refused_and_a_discharged_patient_may_be_admitted_again(DatabaseEngine engine)
    {
        var (region, _, _) = await RegionAsync(engine);
        var patient = await PatientAsync(region, region.Physician, "19121212-1212", "Öström");
        var first = await region.Services.Encounters.AdmitAsync(region.Physician, patient, region.Ward.Id, "3");
        Assert.True(first.IsOpenAdmission);
        Assert.Equal("3", first.Bed);

        await Assert.ThrowsAsync<ConflictException>(() => region.Services.Encounters.AdmitAsync(region.Physician, patient, region.Ward.Id, "4"));

        var discharged = await region.Services.Encounters.DischargeAsync(region.Physician, patient);
        Assert.NotNull(discharged.EndedAt);
        var again = await region.Services.Encounters.AdmitAsync(region.Physician, patient, region.Ward.Id, "3");
        Assert.True(again.IsOpenAdmission);
        Assert.Equal(2, (await region.Services.Encounters.ListAsync(region.Physician, patient)).Count(e => e.Kind == EncounterKinds.Inpatient));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_bed_held_by_another_patients_open_admission_is_refused(DatabaseEngine engine)
    {
        var (region, ward2, nurse2) = await RegionAsync(engine);
        var anna = await PatientAsync(region, region.Physician, "19121212-1212", "Öström");
        var bo = await PatientAsync(region, region.Physician, TestNumbers.Personnummer(1980, 1, 1), "Berg");
        await region.Services.Encounters.AdmitAsync(region.Physician, anna, region.Ward.Id, "5");

        var refused = await Assert.ThrowsAsync<ConflictException>(() => region.Services.Encounters.AdmitAsync(region.Physician, bo, region.Ward.Id, "5"));
        Assert.Contains("5", refused.Message);
        // The same bed number on another ward is another bed.
        await region.Services.Encounters.AdmitAsync(nurse2, bo, ward2.Id, "5");
        Assert.DoesNotContain(await region.Services.Encounters.ListAsync(nurse2, bo), e => e.UnitId == region.Ward.Id);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Two_admissions_to_the_same_bed_at_once_admit_exactly_one_patient(DatabaseEngine engine)
    {
        var (region, _, _) = await RegionAsync(engine);
        var anna = await PatientAsync(region, region.Physician, "19121212-1212", "Öström");
        var bo = await PatientAsync(region, region.Physician, TestNumbers.Personnummer(1980, 1, 1), "Berg");

        var attempts = await Task.WhenAll(new[] { anna, bo }.Select(async patient =>
        {
            try { await region.Services.Encounters.AdmitAsync(region.Physician, patient, region.Ward.Id, "9"); return true; }
            catch (ConflictException) { return false; }
        }));

        Assert.Single(attempts, admitted => admitted);
        Assert.Single(await region.Services.Encounters.WardListAsync(region.Physician));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_transfer_ends_the_admission_and_opens_one_at_the_new_ward_or_changes_nothing(DatabaseEngine engine)
    {
        var (region, ward2, nurse2) = await RegionAsync(engine);
        var anna = await PatientAsync(region, region.Physician, "19121212-1212", "Öström");
        var bo = await PatientAsync(region, region.Physician, TestNumbers.Personnummer(1980, 1, 1), "Berg");
        var admission = await region.Services.Encounters.AdmitAsync(region.Physician, anna, region.Ward.Id, "1");
        await region.Services.Encounters.AdmitAsync(nurse2, bo, ward2.Id, "7");

        // Bed 7 on ward 2 is taken: the transfer fails as a whole, and Anna is still in bed 1.
        await Assert.ThrowsAsync<ConflictException>(() => region.Services.Encounters.TransferAsync(region.Physician, anna, ward2.Id, "7"));
        var unchanged = await region.Services.Encounters.ListAsync(region.Physician, anna);
        Assert.Single(unchanged);
        Assert.True(unchanged[0].IsOpenAdmission);

        var moved = await region.Services.Encounters.TransferAsync(region.Physician, anna, ward2.Id, "8");
        Assert.Equal(ward2.Id, moved.UnitId);
        Assert.Equal(admission.Id, moved.TransferredFromId);
        var all = await region.Services.Encounters.ListAsync(nurse2, anna);
        Assert.Single(all, e => e.IsOpenAdmission);
        Assert.Contains(all, e => e.Id == admission.Id && e.EndedAt == moved.StartedAt);
        Assert.DoesNotContain(await region.Services.Encounters.WardListAsync(region.Physician), w => w.Patient.Id == anna);
        Assert.Contains(await region.Services.Encounters.WardListAsync(nurse2), w => w.Patient.Id == anna && w.Bed == "8");
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_ward_list_shows_current_inpatients_of_the_callers_unit_only(DatabaseEngine engine)
    {
        var (region, ward2, nurse2) = await RegionAsync(engine);
        var inBed = await PatientAsync(region, region.Physician, "19121212-1212", "Öström");
        var discharged = await PatientAsync(region, region.Physician, TestNumbers.Personnummer(1980, 1, 1), "Berg");
        var visitor = await PatientAsync(region, region.Physician, TestNumbers.Personnummer(1990, 2, 2), "Dahl");
        var elsewhere = await PatientAsync(region, nurse2, TestNumbers.Personnummer(1970, 3, 3), "Ek");
        await region.Services.Encounters.AdmitAsync(region.Physician, inBed, region.Ward.Id, "2");
        await region.Services.Encounters.AdmitAsync(region.Physician, discharged, region.Ward.Id, "3");
        await region.Services.Encounters.DischargeAsync(region.Physician, discharged);
        await region.Services.Encounters.RegisterVisitAsync(region.Physician, visitor);
        await region.Services.Encounters.AdmitAsync(nurse2, elsewhere, ward2.Id, "2");

        var list = await region.Services.Encounters.WardListAsync(region.Physician);

        var only = Assert.Single(list);
        Assert.Equal(inBed, only.Patient.Id);
        Assert.Equal("2", only.Bed);
        Assert.Equal(1, await AuditedAsync(region, region.Physician, null, "WardList", "Allowed"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_protected_identity_on_the_ward_list_is_shown_to_the_ward_that_admitted_the_patient(DatabaseEngine engine)
    {
        var (region, _, _) = await RegionAsync(engine);
        var patient = await PatientAsync(region, region.Physician, "19121212-1212", "Hemlig", ProtectedIdentity.SkyddadFolkbokforing);
        await region.Services.Encounters.AdmitAsync(region.Physician, patient, region.Ward.Id, "1");
        var row = Assert.Single(await region.Services.Encounters.WardListAsync(region.Physician));
        Assert.False(row.Patient.Masked);
        Assert.Equal("Hemlig", row.Patient.FamilyName);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_encounter_gives_the_unit_a_care_relation_so_the_chart_opens(DatabaseEngine engine)
    {
        var (region, ward2, nurse2) = await RegionAsync(engine);
        // Registered at ward 1; ward 2 has no relation and cannot open the chart.
        var patient = await PatientAsync(region, region.Physician, "19121212-1212", "Öström");
        await Assert.ThrowsAsync<NotFoundException>(() => region.Chart.OverviewAsync(nurse2, patient));

        // The patient arrives at ward 2: admitting there records the relation ("Inskrivning") first.
        await region.Services.Encounters.AdmitAsync(nurse2, patient, ward2.Id, "4");
        var chart = await region.Chart.OverviewAsync(nurse2, patient);
        Assert.Contains(chart.Encounters, e => e.UnitId == ward2.Id && e.Bed == "4");
        await using var c = await region.Database.OpenUnscopedAsync();
        Assert.Equal("Inskrivning", await c.ExecuteScalarAsync<string>("SELECT reason FROM care_relation WHERE patient_id = @patient AND unit_id = @unit", new { patient, unit = ward2.Id }));

        // A visit at the clinic does the same for the clinic ("Besök").
        var clinicNurse = await region.AddCallerAsync("mottagning", Role.Nurse, region.Clinic);
        await region.Services.Encounters.RegisterVisitAsync(clinicNurse, patient);
        Assert.NotNull(await region.Chart.OverviewAsync(clinicNurse, patient));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_stranger_gets_not_found_or_forbidden_and_each_refusal_is_audited(DatabaseEngine engine)
    {
        var (region, ward2, nurse2) = await RegionAsync(engine);
        var patient = await PatientAsync(region, region.Physician, "19121212-1212", "Öström");
        await region.Services.Encounters.AdmitAsync(region.Physician, patient, region.Ward.Id, "1");

        await Assert.ThrowsAsync<NotFoundException>(() => region.Services.Encounters.ListAsync(nurse2, patient));
        Assert.Equal(1, await AuditedAsync(region, nurse2, patient, "Encounter", "Denied"));
        // Admitting to a unit other than one's own needs a relation, like every write.
        await Assert.ThrowsAsync<ForbiddenException>(() => region.Services.Encounters.AdmitAsync(nurse2, patient, region.Ward.Id, "2"));
        await Assert.ThrowsAsync<ForbiddenException>(() => region.Services.Encounters.TransferAsync(nurse2, patient, ward2.Id, "2"));
        await Assert.ThrowsAsync<ForbiddenException>(() => region.Services.Encounters.DischargeAsync(nurse2, patient));
        Assert.Equal(3, await AuditedAsync(region, nurse2, patient, "Encounter", "Denied"));
        Assert.Equal(1, await AuditedAsync(region, nurse2, patient, "Discharge", "Denied"));
        Assert.True((await region.Services.Encounters.ListAsync(region.Physician, patient)).Single().IsOpenAdmission);

        // Roles outside care may not register encounters at all.
        var lab = await region.AddCallerAsync("lab", Role.LabStaff, region.Ward);
        await Assert.ThrowsAsync<ForbiddenException>(() => region.Services.Encounters.DischargeAsync(lab, patient));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Bad_input_gets_a_clear_message_and_nothing_is_stored(DatabaseEngine engine)
    {
        var (region, _, _) = await RegionAsync(engine);
        var patient = await PatientAsync(region, region.Physician, "19121212-1212", "Öström");
        await Assert.ThrowsAsync<InvalidInputException>(() => region.Services.Encounters.AdmitAsync(region.Physician, patient, region.Ward.Id, " "));
        await Assert.ThrowsAsync<InvalidInputException>(() => region.Services.Encounters.AdmitAsync(region.Physician, patient, region.Clinic.Id, "1"));
        await Assert.ThrowsAsync<InvalidInputException>(() => region.Services.Encounters.DischargeAsync(region.Physician, patient));
        await Assert.ThrowsAsync<InvalidInputException>(() => region.Services.Encounters.TransferAsync(region.Physician, patient, region.Ward.Id, "2"));
        Assert.Empty(await region.Services.Encounters.ListAsync(region.Physician, patient));
    }
}
