using Dapper;
using Stadig.Common;
using Stadig.Encounters;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Tests.Encounters;

/// <summary>Discharge (utskrivning): a stated time and destination, checked; what is missing is told; undone within the window; all audited.</summary>
public class DischargeTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 4, 8, 0, 0, TimeSpan.Zero);

    private static async Task<(TestRegion Region, FixedClock Clock, Guid PatientId)> AdmittedAsync(DatabaseEngine engine)
    {
        var clock = new FixedClock(Start);
        var region = await TestRegion.CreateAsync(engine, clock);
        var patient = (await region.Patients.RegisterAsync(region.Physician, "19121212-1212", new("Öström", "Anna"))).PatientId;
        await region.Services.Encounters.AdmitAsync(region.Physician, patient, region.Ward.Id, "7");
        clock.Advance(TimeSpan.FromHours(26));
        return (region, clock, patient);
    }

    private static async Task<long> AuditedAsync(TestRegion region, Guid patientId, string resource, string outcome)
    {
        await using var c = await region.Database.OpenUnscopedAsync();
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM audit_event WHERE patient_id = @patientId AND resource = @resource AND outcome = @outcome",
            new { patientId, resource, outcome });
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_discharge_keeps_the_stated_time_and_destination_and_is_audited(DatabaseEngine engine)
    {
        var (region, clock, patient) = await AdmittedAsync(engine);
        var leftAt = clock.GetUtcNow().AddHours(-2);

        var discharged = await region.Services.Encounters.DischargeAsync(region.Physician, patient, new DischargeDetails(leftAt, DischargeDestination.OtherCareProvider));

        Assert.Equal(leftAt, discharged.EndedAt);
        Assert.Equal(nameof(DischargeDestination.OtherCareProvider), discharged.DischargeDestination);
        Assert.Equal(clock.GetUtcNow(), discharged.DischargeRecordedAt);
        Assert.Equal(1, await AuditedAsync(region, patient, "Discharge", "Allowed"));
        Assert.Empty(await region.Services.Encounters.WardListAsync(region.Physician));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_time_in_the_future_or_before_the_admission_or_no_destination_is_refused_by_name_and_nothing_changes(DatabaseEngine engine)
    {
        var (region, clock, patient) = await AdmittedAsync(engine);
        var encounters = region.Services.Encounters;

        var future = await Assert.ThrowsAsync<InvalidInputException>(() =>
            encounters.DischargeAsync(region.Physician, patient, new DischargeDetails(clock.GetUtcNow().AddMinutes(5), DischargeDestination.Home)));
        Assert.Equal("at", future.Field);
        Assert.Contains("framtiden", future.Message);
        var early = await Assert.ThrowsAsync<InvalidInputException>(() =>
            encounters.DischargeAsync(region.Physician, patient, new DischargeDetails(Start.AddMinutes(-1), DischargeDestination.Home)));
        Assert.Equal("at", early.Field);
        // Shown in the region's zone (Stockholm, UTC+1 in December), not the host's.
        Assert.Contains("2026-12-04 09:00", early.Message);
        var nowhere = await Assert.ThrowsAsync<InvalidInputException>(() =>
            encounters.DischargeAsync(region.Physician, patient, new DischargeDetails(clock.GetUtcNow(), null)));
        Assert.Equal("destination", nowhere.Field);

        Assert.True((await encounters.ListAsync(region.Physician, patient)).Single().IsOpenAdmission);
        Assert.Equal(0, await AuditedAsync(region, patient, "Discharge", "Allowed"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_transfer_continues_the_stay_so_the_discharge_may_go_back_to_the_first_admission(DatabaseEngine engine)
    {
        var (region, clock, patient) = await AdmittedAsync(engine);
        var provider = (await region.Staff.UnitsAsync())[0].ProviderId;
        var ward2 = await region.Staff.AddUnitAsync(provider, "SE2321000016-0019", "Kirurgavdelning 3", UnitKind.Ward);
        await region.Services.Encounters.TransferAsync(region.Physician, patient, ward2.Id, "1");
        clock.Advance(TimeSpan.FromHours(1));

        var prepared = await region.Services.Encounters.PrepareDischargeAsync(region.Physician, patient);
        Assert.Equal(Start, prepared.AdmittedAt);
        Assert.Equal(ward2.Id, prepared.Admission!.UnitId);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_preparation_names_the_stays_unsigned_notes_and_a_missing_discharge_summary(DatabaseEngine engine)
    {
        var (region, _, patient) = await AdmittedAsync(engine);
        var draft = await region.Notes.CreateDraftAsync(region.Physician, patient, "Daganteckning");

        var prepared = await region.Services.Encounters.PrepareDischargeAsync(region.Physician, patient);
        Assert.Equal(patient, prepared.Patient.Id);
        Assert.Equal([draft.Id], prepared.UnsignedNotes.Select(n => n.Id));
        Assert.False(prepared.HasDischargeSummary);

        var epikris = await region.Notes.CreateDraftAsync(region.Physician, patient, "Epikris");
        var saved = await region.Notes.SaveDraftAsync(region.Physician, epikris.Id, epikris.Version, [new("Sammanfattning", "Utskriven i gott skick.")]);
        await region.Notes.SignAsync(region.Physician, epikris.Id, saved.Version);
        var readsBefore = await region.AuditCountAsync(patient, "Read", "Allowed");
        prepared = await region.Services.Encounters.PrepareDischargeAsync(region.Physician, patient);
        Assert.True(prepared.HasDischargeSummary);
        Assert.Equal([draft.Id], prepared.UnsignedNotes.Select(n => n.Id));
        // The form's banner, admission and checks: one audited read.
        Assert.Equal(readsBefore + 1, await region.AuditCountAsync(patient, "Read", "Allowed"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_discharge_is_undone_within_the_window_audited_and_not_after_it(DatabaseEngine engine)
    {
        var (region, clock, patient) = await AdmittedAsync(engine);
        var encounters = region.Services.Encounters;
        var nurse = await region.AddCallerAsync("ssk", Role.Nurse, region.Ward);
        await encounters.DischargeAsync(region.Physician, patient, new DischargeDetails(clock.GetUtcNow(), DischargeDestination.Home));
        clock.Advance(TimeSpan.FromMinutes(encounters.Options.UndoDischargeMinutes - 1));

        // Another person of a role that discharges may undo it (the ward's next round notices the mistake).
        var reopened = await encounters.UndoDischargeAsync(nurse, patient);
        Assert.True(reopened.IsOpenAdmission);
        Assert.Equal("7", reopened.Bed);
        Assert.Null(reopened.DischargeDestination);
        Assert.Equal(1, await AuditedAsync(region, patient, "DischargeUndo", "Allowed"));
        Assert.Single(await encounters.WardListAsync(region.Physician));

        await encounters.DischargeAsync(region.Physician, patient, new DischargeDetails(clock.GetUtcNow(), DischargeDestination.Home));
        clock.Advance(TimeSpan.FromMinutes(encounters.Options.UndoDischargeMinutes + 1));
        var late = await Assert.ThrowsAsync<InvalidInputException>(() => encounters.UndoDischargeAsync(region.Physician, patient));
        Assert.Contains($"{encounters.Options.UndoDischargeMinutes} minuter", late.Message);
        Assert.False((await encounters.ListAsync(region.Physician, patient)).Single().IsOpenAdmission);

        var lab = await region.AddCallerAsync("lab", Role.LabStaff, region.Ward);
        await Assert.ThrowsAsync<ForbiddenException>(() => encounters.UndoDischargeAsync(lab, patient));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_undo_is_refused_once_the_patient_is_admitted_again_or_the_bed_is_taken(DatabaseEngine engine)
    {
        var (region, clock, patient) = await AdmittedAsync(engine);
        var encounters = region.Services.Encounters;
        await encounters.DischargeAsync(region.Physician, patient, new DischargeDetails(clock.GetUtcNow(), DischargeDestination.Home));
        var other = (await region.Patients.RegisterAsync(region.Physician, TestNumbers.Personnummer(1980, 1, 1), new("Berg", "Bo"))).PatientId;
        await encounters.AdmitAsync(region.Physician, other, region.Ward.Id, "7");

        await Assert.ThrowsAsync<ConflictException>(() => encounters.UndoDischargeAsync(region.Physician, patient));
        Assert.False((await encounters.ListAsync(region.Physician, patient)).Single().IsOpenAdmission);
    }
}
