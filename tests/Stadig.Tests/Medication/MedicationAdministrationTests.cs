using Dapper;
using Stadig.Access;
using Stadig.Common;
using Stadig.Medication;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Tests.Medication;

public class MedicationAdministrationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string Catalogue =
        """
        npl_id;name;substances;strength;dose_form;route;atc_code;max_daily_dose;high_risk
        ;Alvedon;Paracetamol;500 mg;filmdragerad tablett;oral;N02BE01;4 g;nej
        ;Morfin;Morfin;10 mg;tablett;oral;N02AA01;;ja

        """;

    /// <summary>08:00 in Stockholm (winter time) on a Tuesday: the morning round.</summary>
    private static readonly DateTimeOffset Morning = new(2026, 3, 10, 7, 0, 0, TimeSpan.Zero);

    private sealed record Fixture(TestRegion Region, FixedClock Clock, Guid PatientId, Caller Nurse, Guid Alvedon, Guid Morfin)
    {
        public MedicationAdministration Administration => Region.Services.Administration;
        public MedicationList Medication => Region.Services.Medication;

        public async Task<WardDoses> BedAsync(Caller? caller = null) =>
            (await Administration.WardAsync(caller ?? Nurse, Ct)).Single(b => b.Bed.Patient.Id == PatientId);
    }

    private static async Task<Fixture> CreateAsync(DatabaseEngine engine)
    {
        var clock = new FixedClock(Morning);
        var region = await TestRegion.CreateAsync(engine, clock);
        var patientId = (await region.Patients.RegisterAsync(region.Physician, "19121212-1212", new Stadig.Patients.PatientDetails("Ek", "Per"))).PatientId;
        await region.Services.Encounters.AdmitAsync(region.Physician, patientId, region.Ward.Id, "3", Ct);
        await region.Services.Catalogue.ImportAsync(CatalogueFile.Read(new StringReader(Catalogue)), null, Ct);
        var nurse = await region.AddCallerAsync("ssk", Role.Nurse, region.Ward);
        Guid Find(IReadOnlyList<MedicationProduct> found, string name) => found.Single(p => p.Name == name).Id;
        return new Fixture(region, clock, patientId, nurse,
            Find(await region.Services.Catalogue.SearchAsync("Alvedon", cancellationToken: Ct), "Alvedon"),
            Find(await region.Services.Catalogue.SearchAsync("Morfin", cancellationToken: Ct), "Morfin"));
    }

    private static MedicationDraft Scheduled(Guid product, params string[] times) => new()
    {
        ProductId = product, DoseValue = 1, DoseUnit = "tablett", Indication = "Smärta",
        TimesOfDay = times.Select(t => TimeOnly.Parse(t, System.Globalization.CultureInfo.InvariantCulture)).ToList(),
    };

    private static MedicationDraft AsNeeded(Guid product, double max) =>
        new() { ProductId = product, DoseValue = 1, DoseUnit = "tablett", AsNeeded = true, MaxDosesPer24h = max, Indication = "Smärta" };

    private static DateTimeOffset Local(int hour, int minute = 0, int day = 10) => new DateTimeOffset(2026, 3, day, hour, minute, 0, TimeSpan.FromHours(1)).ToUniversalTime();

    private static async Task<long> RowsAsync(TestRegion region, Guid patientId)
    {
        await using var c = await region.Database.OpenUnscopedAsync(Ct);
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM medication_administration WHERE patient_id = @patientId", new { patientId });
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_scheduled_dose_is_due_within_the_window_around_its_time_and_overdue_after_it_on_the_ward_list(DatabaseEngine engine)
    {
        var f = await CreateAsync(engine);
        var order = await f.Medication.PrescribeAsync(f.Region.Physician, f.PatientId, Scheduled(f.Alvedon, "08:00", "12:00", "20:00"), cancellationToken: Ct);
        var interval = await f.Medication.PrescribeAsync(f.Region.Physician, f.PatientId, Scheduled(f.Morfin) with { IntervalHours = 6, TimesOfDay = [] },
            cancellationToken: Ct);

        var bed = await f.BedAsync();
        Assert.Equal("3", bed.Bed.Bed);
        Assert.Equal([(order.Id, Local(8), DoseState.Due), (interval.Id, Morning, DoseState.Due)],
            bed.Doses.Select(d => (d.Order.Id, d.ScheduledAt, d.State)).OrderBy(d => d.Item1 == order.Id ? 0 : 1));
        Assert.True(bed.Doses.Single(d => d.Order.Id == interval.Id).Order.HighRisk);

        // 09:01: an hour and a minute after its time the 08:00 dose is overdue; the noon dose is not yet due.
        f.Clock.Advance(TimeSpan.FromMinutes(61));
        bed = await f.BedAsync();
        Assert.Equal(DoseState.Overdue, bed.Doses.Single(d => d.Order.Id == order.Id).State);
        Assert.Equal(2, bed.Overdue);

        // 11:30: the noon dose is due, the morning's still overdue, the 6-hourly one's next (14:00) not yet.
        f.Clock.Advance(TimeSpan.FromMinutes(149));
        bed = await f.BedAsync();
        Assert.Equal([(Local(8), DoseState.Overdue), (Local(12), DoseState.Due)],
            bed.Doses.Where(d => d.Order.Id == order.Id).Select(d => (d.ScheduledAt, d.State)));

        // What the patient takes on their own is on the list, not on the round, until it is prescribed here.
        var own = await f.Medication.PrescribeAsync(f.Region.Physician, f.PatientId, Scheduled(f.Alvedon, "08:00") with { PrescriberText = "Vårdcentralen" },
            "Patientens egna", MedicationOrigin.PatientOwn, cancellationToken: Ct);
        Assert.DoesNotContain((await f.BedAsync()).Doses, d => d.Order.Id == own.Id);
        await Assert.ThrowsAsync<ConflictException>(() => f.Administration.RecordAsync(f.Nurse, own.Id, new DoseInput { ScheduledAt = Local(8) }, Ct));

        // A paused ordination has nothing due; a dose of it cannot be recorded.
        await f.Medication.PauseAsync(f.Region.Physician, order.Id, "Inför operation", Ct);
        Assert.DoesNotContain((await f.BedAsync()).Doses, d => d.Order.Id == order.Id);
        await Assert.ThrowsAsync<ConflictException>(() => f.Administration.RecordAsync(f.Nurse, order.Id, new DoseInput { ScheduledAt = Local(12) }, Ct));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_nurse_records_given_given_late_and_not_given_with_a_reason_and_a_correction_is_a_new_row(DatabaseEngine engine)
    {
        var f = await CreateAsync(engine);
        var order = await f.Medication.PrescribeAsync(f.Region.Physician, f.PatientId, Scheduled(f.Alvedon, "08:00", "12:00", "20:00"), cancellationToken: Ct);
        f.Clock.Advance(TimeSpan.FromMinutes(10));

        var given = await f.Administration.RecordAsync(f.Nurse, order.Id, new DoseInput { ScheduledAt = Local(8) }, Ct);
        Assert.Equal(("Given", 1.0, "tablett", Local(8, 10), f.Nurse.StaffId, "Test ssk"),
            (given.Outcome, given.DoseValue!.Value, given.DoseUnit, given.GivenAt!.Value, given.GivenBy, given.GivenByName));
        var recorded = Assert.Single((await f.BedAsync()).Doses);
        Assert.Equal((DoseState.Recorded, given.Id), (recorded.State, recorded.Record!.Id));
        var twice = await Assert.ThrowsAsync<ConflictException>(() => f.Administration.RecordAsync(f.Nurse, order.Id, new DoseInput { ScheduledAt = Local(8) }, Ct));
        Assert.Contains("redan dokumenterad", twice.Message);

        // Given at 13:30 for noon: late. A time that is no dose of the ordination, or a time to come, is refused by name.
        f.Clock.Advance(TimeSpan.FromMinutes(320));
        var late = await f.Administration.RecordAsync(f.Nurse, order.Id, new DoseInput { ScheduledAt = Local(12), Reason = "Patienten på röntgen" }, Ct);
        Assert.Equal(("GivenLate", "Patienten på röntgen"), (late.Outcome, late.Reason));
        Assert.Equal("scheduledAt", (await Assert.ThrowsAsync<InvalidInputException>(() =>
            f.Administration.RecordAsync(f.Nurse, order.Id, new DoseInput { ScheduledAt = Local(10) }, Ct))).Field);
        Assert.Equal("givenAt", (await Assert.ThrowsAsync<InvalidInputException>(() =>
            f.Administration.RecordAsync(f.Nurse, order.Id, new DoseInput { ScheduledAt = Local(12), GivenAt = Local(15) }, Ct))).Field);
        Assert.Equal("doseValue", (await Assert.ThrowsAsync<InvalidInputException>(() =>
            f.Administration.RecordAsync(f.Nurse, order.Id, new DoseInput { ScheduledAt = Local(12), DoseValue = 2 }, Ct))).Field);

        // 20:05: not given needs a reason.
        f.Clock.Advance(TimeSpan.FromMinutes(395));
        Assert.Equal("reason", (await Assert.ThrowsAsync<InvalidInputException>(() =>
            f.Administration.RecordAsync(f.Nurse, order.Id, new DoseInput { ScheduledAt = Local(20), Given = false }, Ct))).Field);
        var notGiven = await f.Administration.RecordAsync(f.Nurse, order.Id, new DoseInput { ScheduledAt = Local(20), Given = false, Reason = "Patienten sov" }, Ct);
        Assert.Equal(("NotGiven", (double?)null, (DateTimeOffset?)null), (notGiven.Outcome, notGiven.DoseValue, notGiven.GivenAt));

        // The patient woke: the record is corrected by a new row; the first stays, marked as corrected.
        f.Clock.Advance(TimeSpan.FromMinutes(15));
        Assert.Equal("correctionReason", (await Assert.ThrowsAsync<InvalidInputException>(() =>
            f.Administration.CorrectAsync(f.Nurse, notGiven.Id, new DoseInput { GivenAt = Local(20, 15) }, " ", Ct))).Field);
        var corrected = await f.Administration.CorrectAsync(f.Nurse, notGiven.Id, new DoseInput { GivenAt = Local(20, 15) }, "Patienten vaknade och tog dosen", Ct);
        Assert.Equal(("Given", notGiven.Id, Local(20), "Patienten vaknade och tog dosen"),
            (corrected.Outcome, corrected.CorrectsId!.Value, corrected.ScheduledAt!.Value, corrected.CorrectionReason));
        await Assert.ThrowsAsync<ConflictException>(() => f.Administration.CorrectAsync(f.Nurse, notGiven.Id, new DoseInput(), "Igen", Ct));

        var history = await f.Medication.HistoryAsync(f.Nurse, order.Id, Ct);
        Assert.Equal([corrected.Id, notGiven.Id, late.Id, given.Id], history.Administrations.Select(a => a.Id));
        Assert.Equal([true, false, true, true], history.Administrations.Select(a => a.Stands));
        Assert.Equal(corrected.Id, history.Administrations[1].CorrectedById);
        Assert.Equal(DoseState.Recorded, (await f.BedAsync()).Doses.Single(d => d.ScheduledAt == Local(20)).State);
        Assert.Equal(4, await RowsAsync(f.Region, f.PatientId));

        // Each is published over FHIR as it is recorded; the corrected one as entered-in-error.
        await using var connection = await f.Region.Database.OpenUnscopedAsync(Ct);
        var statuses = (await connection.QueryAsync<(string Id, string Content)>(
            "SELECT id, content FROM fhir_resource WHERE resource_type = 'MedicationAdministration' AND patient_id = @patient AND NOT deleted",
            new { patient = f.PatientId }))
            .ToDictionary(r => r.Id, r => System.Text.Json.Nodes.JsonNode.Parse(r.Content)!["status"]!.GetValue<string>());
        Assert.Equal(4, statuses.Count);
        Assert.Equal("entered-in-error", statuses[notGiven.Id.ToString()]);
        Assert.Equal("completed", statuses[corrected.Id.ToString()]);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_as_needed_dose_needs_its_reason_and_the_24_hour_maximum_is_enforced_naming_the_maximum_and_what_was_given(DatabaseEngine engine)
    {
        var f = await CreateAsync(engine);
        var order = await f.Medication.PrescribeAsync(f.Region.Physician, f.PatientId, AsNeeded(f.Alvedon, 2), cancellationToken: Ct);

        Assert.Equal("reason", (await Assert.ThrowsAsync<InvalidInputException>(() => f.Administration.RecordAsync(f.Nurse, order.Id, new DoseInput(), Ct))).Field);
        Assert.Equal("scheduledAt", (await Assert.ThrowsAsync<InvalidInputException>(() =>
            f.Administration.RecordAsync(f.Nurse, order.Id, new DoseInput { ScheduledAt = Morning, Reason = "Huvudvärk" }, Ct))).Field);
        var first = await f.Administration.RecordAsync(f.Nurse, order.Id, new DoseInput { Reason = "Huvudvärk" }, Ct);
        f.Clock.Advance(TimeSpan.FromHours(5));
        await f.Administration.RecordAsync(f.Nurse, order.Id, new DoseInput { Reason = "Huvudvärk igen" }, Ct);
        Assert.Equal((null, "Huvudvärk"), (first.ScheduledAt, first.Reason));
        var asNeeded = Assert.Single((await f.BedAsync()).AsNeeded);
        Assert.Equal((2, true), (asNeeded.GivenLast24h.Count, asNeeded.AtMaximum));

        f.Clock.Advance(TimeSpan.FromHours(10));
        var refused = await Assert.ThrowsAsync<ConflictException>(() => f.Administration.RecordAsync(f.Nurse, order.Id, new DoseInput { Reason = "Värk" }, Ct));
        Assert.Contains("Högst 2 doser per dygn", refused.Message);
        Assert.Contains("2026-03-10 08:00", refused.Message);
        Assert.Contains("2026-03-10 13:00", refused.Message);
        // Recorded afterwards for an earlier time, the same rule holds.
        await Assert.ThrowsAsync<ConflictException>(() => f.Administration.RecordAsync(f.Nurse, order.Id, new DoseInput { Reason = "Värk", GivenAt = Local(10) }, Ct));
        Assert.Equal(2, await RowsAsync(f.Region, f.PatientId));

        // A day after the first dose, one more may be given; a dose not given does not count.
        f.Clock.Advance(TimeSpan.FromHours(9));
        await f.Administration.RecordAsync(f.Nurse, order.Id, new DoseInput { Reason = "Värk" }, Ct);
        Assert.Equal(3, await RowsAsync(f.Region, f.PatientId));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_high_risk_dose_needs_a_second_nurse_of_the_unit_who_is_not_the_one_giving_it(DatabaseEngine engine)
    {
        var f = await CreateAsync(engine);
        var order = await f.Medication.PrescribeAsync(f.Region.Physician, f.PatientId, Scheduled(f.Morfin, "08:00"), cancellationToken: Ct);
        var second = await f.Region.AddCallerAsync("ssk2", Role.Nurse, f.Region.Ward);
        var elsewhere = await f.Region.AddCallerAsync("ssk3", Role.Nurse, f.Region.Clinic);
        async Task<string> RefusedAsync(Guid? checker) => (await Assert.ThrowsAsync<InvalidInputException>(() =>
            f.Administration.RecordAsync(f.Nurse, order.Id, new DoseInput { ScheduledAt = Local(8), CheckedBy = checker }, Ct))).Message;

        Assert.Contains("andra sjuksköterska", await RefusedAsync(null));
        Assert.Contains("annan sjuksköterska än den som ger", await RefusedAsync(f.Nurse.StaffId));
        Assert.Contains("sjuksköterska på enheten", await RefusedAsync(f.Region.Physician.StaffId));
        Assert.Contains("sjuksköterska på enheten", await RefusedAsync(elsewhere.StaffId));
        Assert.Equal(0, await RowsAsync(f.Region, f.PatientId));

        var given = await f.Administration.RecordAsync(f.Nurse, order.Id, new DoseInput { ScheduledAt = Local(8), CheckedBy = second.StaffId }, Ct);
        Assert.Equal((second.StaffId, "Test ssk2", Morning), (given.CheckedBy!.Value, given.CheckedByName, given.CheckedAt!.Value));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Only_nurses_record_doses_every_read_and_write_is_audited_and_a_caller_without_care_relation_gets_nothing(DatabaseEngine engine)
    {
        var f = await CreateAsync(engine);
        var order = await f.Medication.PrescribeAsync(f.Region.Physician, f.PatientId, Scheduled(f.Alvedon, "08:00"), cancellationToken: Ct);
        var secretary = await f.Region.AddCallerAsync("sekr", Role.MedicalSecretary, f.Region.Ward);
        var denied = await f.Region.AuditCountAsync(f.PatientId, "Write", "Denied");

        await Assert.ThrowsAsync<ForbiddenException>(() => f.Administration.RecordAsync(secretary, order.Id, new DoseInput { ScheduledAt = Local(8) }, Ct));
        await Assert.ThrowsAsync<ForbiddenException>(() => f.Administration.RecordAsync(f.Region.Physician, order.Id, new DoseInput { ScheduledAt = Local(8) }, Ct));
        Assert.Equal(denied + 2, await f.Region.AuditCountAsync(f.PatientId, "Write", "Denied"));
        Assert.Equal(0, await RowsAsync(f.Region, f.PatientId));

        // The secretary sees the round, as the rest of the chart; the ward list's read is audited per patient shown.
        var reads = await f.Region.AuditCountAsync(f.PatientId, "Read", "Allowed");
        Assert.Single((await f.BedAsync(secretary)).Doses);
        Assert.Equal(reads + 1, await f.Region.AuditCountAsync(f.PatientId, "Read", "Allowed"));
        var writes = await f.Region.AuditCountAsync(f.PatientId, "Write", "Allowed");
        await f.Administration.RecordAsync(f.Nurse, order.Id, new DoseInput { ScheduledAt = Local(8) }, Ct);
        Assert.Equal(writes + 1, await f.Region.AuditCountAsync(f.PatientId, "Write", "Allowed"));

        // A nurse of another unit has no care relation: nothing read, nothing written.
        var stranger = await f.Region.AddCallerAsync("annan", Role.Nurse, f.Region.Clinic);
        await Assert.ThrowsAsync<NotFoundException>(() => f.Administration.DoseAsync(stranger, order.Id, Local(8), cancellationToken: Ct));
        await Assert.ThrowsAsync<ForbiddenException>(() => f.Administration.RecordAsync(stranger, order.Id, new DoseInput { ScheduledAt = Local(8) }, Ct));
        Assert.Empty(await f.Administration.WardAsync(stranger, Ct));
        Assert.Equal(1, await RowsAsync(f.Region, f.PatientId));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_dose_given_on_paper_during_a_downtime_is_entered_at_the_papers_time_marked_with_its_period_and_refused_outside_one(DatabaseEngine engine)
    {
        var f = await CreateAsync(engine);
        var order = await f.Medication.PrescribeAsync(f.Region.Physician, f.PatientId, Scheduled(f.Alvedon, "08:00"), cancellationToken: Ct);
        // Stadig was down from 07:30 to 09:30; the 08:00 dose was given at 08:05 and written on paper. Entered at 10:00.
        f.Clock.Advance(TimeSpan.FromHours(2));
        var admin = await f.Region.AddCallerAsync("drift", Role.Administrator, f.Region.Ward);
        var period = await f.Region.Services.DowntimePeriods.RegisterAsync(admin, Local(7, 30), Local(9, 30), "Databasen stannade.", Ct);

        var outside = await Assert.ThrowsAsync<InvalidInputException>(() => f.Administration.RecordAsync(f.Nurse, order.Id,
            new DoseInput { ScheduledAt = Local(8), BackEntry = new Stadig.Downtime.BackEntryClaim(Local(9, 45)) }, Ct));
        Assert.Equal("clinicalAt", outside.Field);
        Assert.Equal(0, await RowsAsync(f.Region, f.PatientId));

        var given = await f.Administration.RecordAsync(f.Nurse, order.Id,
            new DoseInput { ScheduledAt = Local(8), BackEntry = new Stadig.Downtime.BackEntryClaim(Local(8, 5)) }, Ct);

        Assert.Equal((Local(8, 5), nameof(AdministrationOutcome.Given), Local(10)), (given.GivenAt, given.Outcome, given.RecordedAt));
        await using var c = await f.Region.Database.OpenUnscopedAsync(Ct);
        var mark = Assert.Single(await Stadig.Downtime.BackEntries.OfRecordAsync(c, null, given.Id));
        Assert.Equal((Stadig.Downtime.BackEntryEvent.Administration, Local(8, 5), Local(10), period.Id), (mark.Event, mark.ClinicalAt, mark.EnteredAt, mark.DowntimePeriodId));
    }
}
