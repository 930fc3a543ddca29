using Dapper;
using Stadig.Access;
using Stadig.Chart;
using Stadig.Common;
using Stadig.Downtime;
using Stadig.Encounters;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Tests.Downtime;

/// <summary>
/// Back-entry after downtime (efterregistrering, issue 19 item 3), on both engines: the register of
/// downtime periods, paper records entered with their clinical time and marked with who, when and
/// for which period, the period rule, and the timeline showing them at their time with the mark.
/// </summary>
public class BackEntryTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 5, 10, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset DownFrom = Now.AddHours(-5);
    private static readonly DateTimeOffset DownTo = Now.AddHours(-1);

    private sealed record World(TestRegion Region, FixedClock Clock, Caller Admin, Caller Nurse, Guid Patient)
    {
        public DowntimePeriods Periods => Region.Services.DowntimePeriods;
    }

    private static async Task<World> WorldAsync(DatabaseEngine engine, bool registerPeriod = true)
    {
        var clock = new FixedClock(Now);
        var region = await TestRegion.CreateAsync(engine, clock);
        var admin = await region.AddCallerAsync("drift", Role.Administrator, region.Ward);
        var nurse = await region.AddCallerAsync("syster", Role.Nurse, region.Ward);
        var patient = (await region.Patients.RegisterAsync(region.Physician, "19121212-1212", new("Ek", "Per"))).PatientId;
        if (registerPeriod) await region.Services.DowntimePeriods.RegisterAsync(admin, DownFrom, DownTo, "Databasservern stannade.");
        return new World(region, clock, admin, nurse, patient);
    }

    private static async Task<long> CountAsync(TestRegion region, string sql, object parameters)
    {
        await using var c = await region.Database.OpenUnscopedAsync();
        return await c.ExecuteScalarAsync<long>(sql, parameters);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    [Hazard("H-11")]
    public async Task A_back_entered_note_keeps_its_clinical_time_apart_from_when_it_was_entered_and_says_who_entered_it_for_which_period(DatabaseEngine engine)
    {
        var w = await WorldAsync(engine);
        var onPaper = DownFrom.AddMinutes(75);

        var draft = await w.Region.Notes.CreateDraftAsync(w.Region.Physician, w.Patient, "Daganteckning", backEntry: new BackEntryClaim(onPaper));
        w.Clock.Advance(TimeSpan.FromMinutes(3));
        draft = await w.Region.Notes.SaveDraftAsync(w.Region.Physician, draft.Id, draft.Version, [new("Aktuellt", "Feber 39,2 under natten, skrivet på papper.")]);
        var signed = await w.Region.Notes.SignAsync(w.Region.Physician, draft.Id, draft.Version);

        var mark = Assert.IsType<BackEntryMark>(signed.BackEntry);
        Assert.Equal((onPaper, Now, w.Region.Physician.DisplayName), (mark.ClinicalAt, mark.EnteredAt, mark.EnteredByName));
        Assert.Equal((DownFrom, DownTo, "Databasservern stannade."), (mark.DowntimeFrom, mark.DowntimeTo, mark.DowntimeDescription));
        // Recorded now, signed now: the clinical time is the paper's, kept beside them, never in their place.
        Assert.Equal(Now, signed.CreatedAt);
        Assert.Equal(Now.AddMinutes(3), signed.SignedAt);
        var timeline = await w.Region.Services.Record.TimelineAsync(w.Region.Physician, w.Patient, new TimelineQuery([RecordKind.Note]));
        var entry = Assert.Single(timeline.Entries);
        Assert.Equal(onPaper, entry.At);
        Assert.Equal((Now, w.Region.Physician.DisplayName, DownFrom, DownTo), (entry.BackEntry!.EnteredAt, entry.BackEntry.EnteredByName, entry.BackEntry.DowntimeFrom, entry.BackEntry.DowntimeTo));
        // Written through the checkpoint: audited as every write of a note.
        Assert.Equal(2, await CountAsync(w.Region, "SELECT COUNT(*) FROM audit_event WHERE patient_id = @Patient AND resource = 'Note' AND activity = 'Write'", new { w.Patient }));
        Assert.Equal(1, await w.Region.AuditCountAsync(w.Patient, "Sign", "Allowed"));
        // A new version of the paper note is still the paper note: same clinical time, same mark.
        var amendment = await w.Region.Notes.AmendAsync(w.Region.Physician, signed.Id);
        Assert.Equal((onPaper, mark.DowntimePeriodId), (amendment.BackEntry!.ClinicalAt, amendment.BackEntry.DowntimePeriodId));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_note_written_live_is_not_marked_and_sits_at_its_signing_time_among_back_entered_ones(DatabaseEngine engine)
    {
        var w = await WorldAsync(engine);
        var live = await w.Region.Notes.CreateDraftAsync(w.Region.Physician, w.Patient, "Daganteckning");
        live = await w.Region.Notes.SaveDraftAsync(w.Region.Physician, live.Id, live.Version, [new("Aktuellt", "Skrivet i Stadig.")]);
        await w.Region.Notes.SignAsync(w.Region.Physician, live.Id, live.Version);
        var paper = await w.Region.Notes.CreateDraftAsync(w.Region.Physician, w.Patient, "Daganteckning", backEntry: new BackEntryClaim(DownTo.AddMinutes(-10)));

        var entries = (await w.Region.Services.Record.TimelineAsync(w.Region.Physician, w.Patient, new TimelineQuery([RecordKind.Note]))).Entries;

        Assert.Equal([live.Id, paper.Id], entries.Select(e => e.RecordId!.Value));
        Assert.Null(entries[0].BackEntry);
        Assert.NotNull(entries[1].BackEntry);
        Assert.Null((await w.Region.Notes.GetAsync(w.Region.Physician, live.Id)).BackEntry);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_back_entered_time_outside_every_registered_period_or_in_the_future_is_refused_with_the_reason_and_nothing_is_written(DatabaseEngine engine)
    {
        var w = await WorldAsync(engine);
        // A node's suggestion is not a registered period until an administrator registers it.
        var suggestedFrom = Now.AddDays(-2);
        await w.Periods.SuggestAsync(DowntimeCause.Database, suggestedFrom, suggestedFrom.AddHours(2));
        var vitals = w.Region.Services.VitalSigns;
        var encounters = w.Region.Services.Encounters;

        var before = await Assert.ThrowsAsync<InvalidInputException>(() =>
            w.Region.Notes.CreateDraftAsync(w.Region.Physician, w.Patient, "Daganteckning", backEntry: new BackEntryClaim(DownFrom.AddMinutes(-1))));
        var suggested = await Assert.ThrowsAsync<InvalidInputException>(() =>
            vitals.RecordAsync(w.Nurse, w.Patient, "8867-4", 88, new BackEntryClaim(suggestedFrom.AddHours(1))));
        var future = await Assert.ThrowsAsync<InvalidInputException>(() =>
            encounters.BackEnterAdmissionAsync(w.Nurse, w.Patient, w.Region.Ward.Id, "3", new BackEntryClaim(Now.AddMinutes(5))));

        Assert.Equal(("clinicalAt", "clinicalAt", "clinicalAt"), (before.Field, suggested.Field, future.Field));
        Assert.Contains("ligger inte inom något registrerat avbrott", before.Message);
        Assert.Contains("ligger inte inom något registrerat avbrott", suggested.Message);
        Assert.Contains("ligger i framtiden", future.Message);
        Assert.Equal(0, await CountAsync(w.Region, "SELECT COUNT(*) FROM note WHERE patient_id = @Patient", new { w.Patient }));
        Assert.Equal(0, await CountAsync(w.Region, "SELECT COUNT(*) FROM vital_sign WHERE patient_id = @Patient", new { w.Patient }));
        Assert.Equal(0, await CountAsync(w.Region, "SELECT COUNT(*) FROM encounter WHERE patient_id = @Patient", new { w.Patient }));
        Assert.Equal(0, await CountAsync(w.Region, "SELECT COUNT(*) FROM back_entry WHERE patient_id = @Patient", new { w.Patient }));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_admission_vital_signs_a_transfer_and_a_discharge_from_paper_are_stored_at_their_times_marked_and_shown_so_in_the_timeline(DatabaseEngine engine)
    {
        var w = await WorldAsync(engine);
        var encounters = w.Region.Services.Encounters;
        var (admitted, pulse, moved, discharged) = (DownFrom.AddMinutes(20), DownFrom.AddMinutes(50), DownFrom.AddHours(2), DownTo.AddMinutes(-15));

        var admission = await encounters.BackEnterAdmissionAsync(w.Nurse, w.Patient, w.Region.Ward.Id, "7", new BackEntryClaim(admitted));
        await w.Region.Services.VitalSigns.RecordAsync(w.Nurse, w.Patient, "8867-4", 112, new BackEntryClaim(pulse));
        var transfer = await encounters.BackEnterTransferAsync(w.Nurse, w.Patient, w.Region.Ward.Id, "2", new BackEntryClaim(moved));
        var discharge = await encounters.BackEnterDischargeAsync(w.Nurse, w.Patient, DischargeDestination.Home, new BackEntryClaim(discharged));

        Assert.Equal(admitted, admission.StartedAt);
        Assert.Equal((moved, admission.Id), (transfer.StartedAt, transfer.TransferredFromId));
        Assert.Equal((transfer.Id, discharged), (discharge.Id, discharge.EndedAt));
        var events = await CountAsync(w.Region, "SELECT COUNT(*) FROM back_entry WHERE patient_id = @Patient AND entered_at = @Now", new { w.Patient, Now });
        Assert.Equal(4, events);
        var timeline = (await w.Region.Services.Record.TimelineAsync(w.Nurse, w.Patient, new TimelineQuery([RecordKind.Encounter, RecordKind.Observation]))).Entries;
        Assert.Equal([discharge.Id.ToString(), pulse.ToString("O"), admission.Id.ToString()],
            timeline.Select(e => e.Kind == RecordKind.Observation ? e.At.ToString("O") : e.Key));
        Assert.All(timeline, e => Assert.Equal((Now, w.Nurse.DisplayName, DownFrom, DownTo),
            (e.BackEntry!.EnteredAt, e.BackEntry.EnteredByName, e.BackEntry.DowntimeFrom, e.BackEntry.DowntimeTo)));
        var observation = timeline.Single(e => e.Kind == RecordKind.Observation);
        Assert.Equal(("Puls", 112d, "/min"), (observation.Title, observation.Number!.Value, observation.NumberUnit));
        // The record's sections show the value too, with its mark.
        var sections = await w.Region.Services.Record.SectionsAsync(w.Nurse, w.Patient);
        Assert.NotNull(Assert.Single(sections.Observations, s => s.Latest.Code == "8867-4").Latest.BackEntry);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Back_entered_encounter_events_keep_the_live_rules_at_their_own_time(DatabaseEngine engine)
    {
        var w = await WorldAsync(engine);
        var encounters = w.Region.Services.Encounters;
        await encounters.BackEnterAdmissionAsync(w.Nurse, w.Patient, w.Region.Ward.Id, "7", new BackEntryClaim(DownFrom.AddHours(1)));

        var transferBeforeAdmission = await Assert.ThrowsAsync<InvalidInputException>(() =>
            encounters.BackEnterTransferAsync(w.Nurse, w.Patient, w.Region.Ward.Id, "8", new BackEntryClaim(DownFrom.AddMinutes(30))));
        var dischargeBeforeAdmission = await Assert.ThrowsAsync<InvalidInputException>(() =>
            encounters.BackEnterDischargeAsync(w.Nurse, w.Patient, DischargeDestination.Home, new BackEntryClaim(DownFrom.AddMinutes(30))));
        var admittedTwice = await Assert.ThrowsAsync<ConflictException>(() =>
            encounters.BackEnterAdmissionAsync(w.Nurse, w.Patient, w.Region.Ward.Id, "9", new BackEntryClaim(DownFrom.AddHours(2))));

        Assert.Equal("clinicalAt", transferBeforeAdmission.Field);
        Assert.Equal("at", dischargeBeforeAdmission.Field);
        Assert.Contains("redan inskriven", admittedTwice.Message);
        Assert.Equal(1, await CountAsync(w.Region, "SELECT COUNT(*) FROM back_entry WHERE patient_id = @Patient", new { w.Patient }));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Only_an_administrator_registers_a_downtime_period_each_registration_is_audited_and_overlaps_and_bad_times_are_refused(DatabaseEngine engine)
    {
        var w = await WorldAsync(engine, registerPeriod: false);

        await Assert.ThrowsAsync<ForbiddenException>(() => w.Periods.RegisterAsync(w.Region.Physician, DownFrom, DownTo, "Strömavbrott."));
        var period = await w.Periods.RegisterAsync(w.Admin, DownFrom, DownTo, "Strömavbrott.");
        var overlap = await Assert.ThrowsAsync<ConflictException>(() => w.Periods.RegisterAsync(w.Admin, DownTo.AddMinutes(-5), DownTo.AddMinutes(30), "Samma avbrott."));
        var backwards = await Assert.ThrowsAsync<InvalidInputException>(() => w.Periods.RegisterAsync(w.Admin, Now.AddMinutes(-10), Now.AddMinutes(-20), "Fel ordning."));
        var future = await Assert.ThrowsAsync<InvalidInputException>(() => w.Periods.RegisterAsync(w.Admin, Now.AddMinutes(-10), Now.AddMinutes(20), "Pågår."));
        var empty = await Assert.ThrowsAsync<InvalidInputException>(() => w.Periods.RegisterAsync(w.Admin, Now.AddMinutes(-20), Now.AddMinutes(-10), " "));

        Assert.Equal((w.Admin.StaffId, DownFrom, DownTo, "Manual"), (period.RegisteredBy, period.StartedAt, period.EndedAt, period.Cause));
        Assert.Contains("överlappar", overlap.Message);
        Assert.Equal(("endedAt", "endedAt", "description"), (backwards.Field, future.Field, empty.Field));
        Assert.Equal(1, await CountAsync(w.Region,
            "SELECT COUNT(*) FROM audit_event WHERE staff_id = @StaffId AND resource = 'downtime-period' AND patient_id IS NULL", new { w.Admin.StaffId }));
        Assert.Single(await w.Periods.ListAsync(), p => p.Id == period.Id);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_nodes_suggestion_is_registered_by_an_administrator_with_corrected_times_and_then_admits_back_entry(DatabaseEngine engine)
    {
        var w = await WorldAsync(engine, registerPeriod: false);
        await w.Periods.SuggestAsync(DowntimeCause.Operator, DownFrom.AddMinutes(2), DownTo);
        // Seen again by another node: not suggested twice.
        await w.Periods.SuggestAsync(DowntimeCause.Operator, DownFrom.AddMinutes(3), DownTo.AddMinutes(-1));
        var suggestion = Assert.Single(await w.Periods.ListAsync());
        Assert.False(suggestion.IsRegistered);

        var registered = await w.Periods.ConfirmAsync(w.Admin, suggestion.Id, DownFrom, DownTo, "Planerat underhåll, läsläge.");
        var note = await w.Region.Notes.CreateDraftAsync(w.Region.Physician, w.Patient, "Daganteckning", backEntry: new BackEntryClaim(DownFrom.AddMinutes(1)));

        Assert.True(registered.IsRegistered);
        Assert.Equal(("Operator", DownFrom, "Planerat underhåll, läsläge."), (registered.Cause, registered.StartedAt, registered.Description));
        Assert.Equal(registered.Id, note.BackEntry!.DowntimePeriodId);
        await Assert.ThrowsAsync<NotFoundException>(() => w.Periods.ConfirmAsync(w.Admin, suggestion.Id, DownFrom, DownTo, "Igen."));
    }
}
