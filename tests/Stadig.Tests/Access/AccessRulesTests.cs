using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Tests.Access;

/// <summary>Each access rule of Patientdatalagen as Stadig applies it, on both engines.</summary>
public class AccessRulesTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);

    private static async Task<(TestRegion Region, FixedClock Clock)> RegionAsync(DatabaseEngine engine)
    {
        var clock = new FixedClock(Start);
        return (await TestRegion.CreateAsync(engine, clock), clock);
    }

    /// <summary>A patient registered by someone at the clinic (so the clinic, not the ward, has the relation).</summary>
    private static async Task<(Guid PatientId, Caller ClinicNurse)> PatientOfTheClinicAsync(TestRegion region, string number = "19121212-1212", ProtectedIdentity protection = ProtectedIdentity.None)
    {
        var nurse = await region.AddCallerAsync("ssk" + Guid.NewGuid().ToString("N")[..6], Role.Nurse, region.Clinic);
        var id = (await region.Patients.RegisterAsync(nurse, number, new PatientDetails("Öberg", "Lina", ProtectedIdentity: protection))).PatientId;
        return (id, nurse);
    }

    private static async Task AddRecordAsync(TestRegion region, Guid patientId, CareUnit unit, string table = "warning", DateTimeOffset? endedAt = null)
    {
        await using var c = await region.Database.OpenUnscopedAsync();
        if (table == "encounter")
            await c.ExecuteAsync("INSERT INTO encounter (id, patient_id, unit_id, kind, started_at, ended_at) VALUES (@id, @patientId, @unit, 'Outpatient', @start, @endedAt)",
                new { id = Guid.NewGuid(), patientId, unit = unit.Id, start = Start.AddDays(-1), endedAt });
        else
            await c.ExecuteAsync("INSERT INTO warning (id, patient_id, unit_id, category, text, created_at, created_by) VALUES (@id, @patientId, @unit, 'Hypersensitivity', @text, @now, @by)",
                new { id = Guid.NewGuid(), patientId, unit = unit.Id, text = $"Penicillin ({unit.Name})", now = Start, by = region.Physician.StaffId });
    }

    private static async Task<IReadOnlyList<AuditEvent>> EventsAsync(TestRegion region, Guid patientId)
    {
        await using var c = await region.Database.OpenUnscopedAsync();
        return (await c.QueryAsync<AuditEvent>($"SELECT {AuditLog.Columns} FROM audit_event WHERE patient_id = @patientId ORDER BY chain_seq", new { patientId })).ToList();
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Without_a_care_relation_a_read_is_not_found_a_write_is_forbidden_and_both_are_audited_as_denied(DatabaseEngine engine)
    {
        var (region, _) = await RegionAsync(engine);
        var (patientId, _) = await PatientOfTheClinicAsync(region);

        await Assert.ThrowsAsync<NotFoundException>(() => region.Chart.OverviewAsync(region.Physician, patientId));
        await Assert.ThrowsAsync<NotFoundException>(() => region.Patients.GetAsync(region.Physician, patientId));
        await Assert.ThrowsAsync<ForbiddenException>(() => region.Patients.UpdateAsync(region.Physician, patientId, 1, new PatientDetails("X", "Y")));

        var denied = (await EventsAsync(region, patientId)).Where(e => e.StaffId == region.Physician.StaffId).ToList();
        Assert.Equal(3, denied.Count);
        Assert.All(denied, e => Assert.Equal(AuditOutcome.Denied, e.Outcome));
        Assert.All(denied, e => Assert.True(e.Flags.HasFlag(AuditFlags.NoCareRelation)));
        Assert.Equal("Öberg", (await region.Patients.SearchAsync(region.Physician, "oberg")).Patients.Single().FamilyName);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_encounter_gives_its_unit_a_care_relation_that_ends_after_the_configured_time(DatabaseEngine engine)
    {
        var (region, clock) = await RegionAsync(engine);
        var (patientId, _) = await PatientOfTheClinicAsync(region);
        await AddRecordAsync(region, patientId, region.Ward, "encounter", endedAt: Start);

        Assert.Equal(patientId, (await region.Chart.OverviewAsync(region.Physician, patientId)).Patient.Id);
        clock.Advance(TimeSpan.FromDays(91));
        await Assert.ThrowsAsync<NotFoundException>(() => region.Chart.OverviewAsync(region.Physician, patientId));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_recorded_care_relation_opens_the_record_and_is_flagged_for_review(DatabaseEngine engine)
    {
        var (region, clock) = await RegionAsync(engine);
        var (patientId, _) = await PatientOfTheClinicAsync(region);
        await Assert.ThrowsAsync<InvalidInputException>(() => region.Access.RecordCareRelationAsync(region.Physician, patientId, " "));

        await region.Access.RecordCareRelationAsync(region.Physician, patientId, "Akut besök");

        Assert.Equal("Öberg", (await region.Patients.GetAsync(region.Physician, patientId)).FamilyName);
        var recorded = (await EventsAsync(region, patientId)).Single(e => e.Resource == "CareRelation");
        Assert.True(recorded.Flags.HasFlag(AuditFlags.ExplicitCareRelation));
        Assert.Equal("Akut besök", recorded.Detail);
        clock.Advance(TimeSpan.FromDays(91));
        await Assert.ThrowsAsync<NotFoundException>(() => region.Patients.GetAsync(region.Physician, patientId));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Inner_secrecy_other_units_records_need_the_care_purpose_or_consent(DatabaseEngine engine)
    {
        var (region, _) = await RegionAsync(engine);
        var (patientId, clinicNurse) = await PatientOfTheClinicAsync(region);
        await AddRecordAsync(region, patientId, region.Clinic);
        await AddRecordAsync(region, patientId, region.Ward);
        var wardQuality = await region.AddCallerAsync("kvalitet", Role.Nurse, region.Ward, Purpose.QualityAssurance);
        await region.Access.RecordCareRelationAsync(region.Physician, patientId, "Inskriven");
        await region.Access.RecordCareRelationAsync(wardQuality, patientId, "Granskning");

        // Care and treatment: the other unit's records are shown alongside the own unit's.
        Assert.Equal(2, (await region.Chart.OverviewAsync(region.Physician, patientId)).Warnings.Count);
        // Another purpose: only the own unit's records.
        var quality = await region.Chart.OverviewAsync(wardQuality, patientId);
        Assert.Equal([region.Ward.Id], quality.Warnings.Select(w => w.UnitId));
        // The patient's consent opens the clinic's records to the ward for that purpose too.
        await region.Access.RecordConsentAsync(clinicNurse, patientId, region.Ward.Id, region.Clinic.Id, Start.AddDays(30), "Patienten samtycker vid besök");
        Assert.Equal(2, (await region.Chart.OverviewAsync(wardQuality, patientId)).Warnings.Count);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Grouped_units_see_each_others_records_by_default(DatabaseEngine engine)
    {
        var (region, _) = await RegionAsync(engine);
        var (patientId, _) = await PatientOfTheClinicAsync(region);
        await AddRecordAsync(region, patientId, region.Clinic);
        var wardQuality = await region.AddCallerAsync("kval2", Role.Nurse, region.Ward, Purpose.QualityAssurance);
        await region.Access.RecordCareRelationAsync(wardQuality, patientId, "Granskning");
        Assert.Empty((await region.Chart.OverviewAsync(wardQuality, patientId)).Warnings);

        await region.Access.GroupUnitsAsync(Caller.System, "Medicinkliniken", [region.Ward.Id, region.Clinic.Id]);

        Assert.Single((await region.Chart.OverviewAsync(wardQuality, patientId)).Warnings);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_block_hides_a_units_records_shows_that_blocked_data_exists_and_consent_lifts_it(DatabaseEngine engine)
    {
        var (region, _) = await RegionAsync(engine);
        var (patientId, clinicNurse) = await PatientOfTheClinicAsync(region);
        await AddRecordAsync(region, patientId, region.Clinic);
        await region.Access.RecordCareRelationAsync(region.Physician, patientId, "Inskriven");
        await region.Access.BlockAsync(clinicNurse, patientId, region.Clinic.Id, "Patienten begär spärr");

        var ward = await region.Chart.OverviewAsync(region.Physician, patientId);
        Assert.Empty(ward.Warnings);
        Assert.True(ward.BlockedRecordsWithheld);
        // The blocked unit itself still sees its own records.
        var clinic = await region.Chart.OverviewAsync(clinicNurse, patientId);
        Assert.Single(clinic.Warnings);
        Assert.False(clinic.BlockedRecordsWithheld);

        await region.Access.RecordConsentAsync(clinicNurse, patientId, region.Ward.Id, region.Clinic.Id, Start.AddDays(1), "Patienten samtycker vid besök");
        var consented = await region.Chart.OverviewAsync(region.Physician, patientId);
        Assert.Single(consented.Warnings);
        Assert.False(consented.BlockedRecordsWithheld);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Emergency_access_takes_two_steps_and_a_reason_opens_everything_and_expires(DatabaseEngine engine)
    {
        var (region, clock) = await RegionAsync(engine);
        var (patientId, clinicNurse) = await PatientOfTheClinicAsync(region);
        await AddRecordAsync(region, patientId, region.Clinic);
        await region.Access.BlockAsync(clinicNurse, patientId, region.Clinic.Id, "Patienten begär spärr");
        await Assert.ThrowsAsync<NotFoundException>(() => region.Chart.OverviewAsync(region.Physician, patientId));

        // Step one shows where, not what.
        var hidden = Assert.Single(await region.Access.RevealAsync(region.Physician, patientId));
        Assert.Equal(region.Clinic.Id, hidden.UnitId);
        Assert.True(hidden.Blocked);
        await Assert.ThrowsAsync<NotFoundException>(() => region.Chart.OverviewAsync(region.Physician, patientId));

        // Step two needs a reason.
        await Assert.ThrowsAsync<InvalidInputException>(() => region.Access.OpenInEmergencyAsync(region.Physician, patientId, ""));
        await region.Access.OpenInEmergencyAsync(region.Physician, patientId, "Medvetslös, inkommen med ambulans");
        var opened = await region.Chart.OverviewAsync(region.Physician, patientId);
        Assert.Single(opened.Warnings);
        Assert.True(opened.OpenedInEmergency);

        var events = await EventsAsync(region, patientId);
        Assert.Contains(events, e => e.Activity == AuditActivity.EmergencyOpen && e.Flags.HasFlag(AuditFlags.Emergency) && e.Detail == "Medvetslös, inkommen med ambulans");
        Assert.Contains(events, e => e.Resource == "ChartOverview" && e.Outcome == AuditOutcome.Allowed && e.Flags.HasFlag(AuditFlags.Emergency));

        clock.Advance(TimeSpan.FromHours(5));
        await Assert.ThrowsAsync<NotFoundException>(() => region.Chart.OverviewAsync(region.Physician, patientId));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Protected_identity_is_masked_in_searches_without_a_care_relation_and_its_views_are_flagged(DatabaseEngine engine)
    {
        var (region, _) = await RegionAsync(engine);
        var (patientId, clinicNurse) = await PatientOfTheClinicAsync(region, protection: ProtectedIdentity.SkyddadFolkbokforing);

        var masked = (await region.Patients.SearchAsync(region.Physician, "191212121212")).Patients.Single();
        Assert.True(masked.Masked);
        Assert.DoesNotContain("Öberg", masked.FamilyName);
        Assert.Null(masked.AddressLine);
        Assert.DoesNotContain((await region.Patients.SearchAsync(region.Physician, "oberg")).Patients, p => p.FamilyName == "Öberg");

        var shown = (await region.Patients.SearchAsync(clinicNurse, "191212121212")).Patients.Single();
        Assert.Equal("Öberg", shown.FamilyName);
        await region.Patients.GetAsync(clinicNurse, patientId);
        Assert.Contains(await EventsAsync(region, patientId), e => e.Resource == "Patient" && e.Activity == AuditActivity.Read && e.Flags.HasFlag(AuditFlags.ProtectedIdentity));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Roles_log_auditors_never_read_records_and_only_physicians_and_nurses_open_in_emergency(DatabaseEngine engine)
    {
        var (region, _) = await RegionAsync(engine);
        var (patientId, _) = await PatientOfTheClinicAsync(region);
        var auditor = await region.AddCallerAsync("granskare", Role.LogAuditor, region.Clinic, Purpose.Administration);
        var secretary = await region.AddCallerAsync("sekr", Role.MedicalSecretary, region.Clinic);

        await Assert.ThrowsAsync<NotFoundException>(() => region.Patients.GetAsync(auditor, patientId));
        await Assert.ThrowsAsync<ForbiddenException>(() => region.Patients.SearchAsync(auditor, "oberg"));
        await Assert.ThrowsAsync<ForbiddenException>(() => region.Access.RecordCareRelationAsync(auditor, patientId, "nyfiken"));
        Assert.Equal("Öberg", (await region.Patients.GetAsync(secretary, patientId)).FamilyName);
        await Assert.ThrowsAsync<ForbiddenException>(() => region.Access.RevealAsync(secretary, patientId));
        await Assert.ThrowsAsync<ForbiddenException>(() => region.Access.OpenInEmergencyAsync(secretary, patientId, "skäl"));
    }

    /// <summary>
    /// On PostgreSQL a read through <c>ReadWithAsync</c> (the registry's patient, the chart) is decided and audited by
    /// one statement (PatientCheckpoint.OneTrip.cs, issue 23); <c>ReadAsync</c> still decides in two steps. Both
    /// must come to the same answer and the same audit event for every kind of caller, and the chains stay intact.
    /// </summary>
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_read_decided_in_one_statement_is_answered_and_audited_as_the_two_step_rule_decides(DatabaseEngine engine)
    {
        var (region, _) = await RegionAsync(engine);
        var (open, clinicNurse) = await PatientOfTheClinicAsync(region);
        var (shielded, _) = await PatientOfTheClinicAsync(region, TestNumbers.Personnummer(1985, 3, 2), ProtectedIdentity.SkyddadFolkbokforing);
        var auditor = await region.AddCallerAsync("granskare", Role.LogAuditor, region.Clinic, Purpose.Administration);
        var checkpoint = region.Services.Checkpoint;

        async Task<(AuditOutcome, AuditFlags)> LastAsync(Guid patientId)
        {
            var last = (await EventsAsync(region, patientId)).Last();
            return (last.Outcome, last.Flags);
        }
        async Task SameAsync(Caller caller, Guid patientId, AuditOutcome outcome, AuditFlags flags)
        {
            Exception? oneStatement = await Record.ExceptionAsync(() => region.Patients.GetAsync(caller, patientId));
            var audited = await LastAsync(patientId);
            Exception? twoSteps = await Record.ExceptionAsync(() => checkpoint.ReadAsync(caller, patientId, "Patient"));
            Assert.Equal((outcome, flags), audited);
            Assert.Equal(audited, await LastAsync(patientId));
            Assert.Equal(twoSteps?.GetType(), oneStatement?.GetType());
            Assert.Equal(outcome == AuditOutcome.Allowed ? null : typeof(NotFoundException), oneStatement?.GetType());
        }

        await SameAsync(clinicNurse, open, AuditOutcome.Allowed, AuditFlags.None);
        await SameAsync(clinicNurse, shielded, AuditOutcome.Allowed, AuditFlags.ProtectedIdentity);
        await SameAsync(region.Physician, open, AuditOutcome.Denied, AuditFlags.NoCareRelation);
        await SameAsync(auditor, open, AuditOutcome.Denied, AuditFlags.NoCareRelation);
        await region.Access.OpenInEmergencyAsync(region.Physician, open, "Medvetslös");
        await region.Access.OpenInEmergencyAsync(region.Physician, shielded, "Medvetslös");
        await SameAsync(region.Physician, open, AuditOutcome.Allowed, AuditFlags.Emergency);
        await SameAsync(region.Physician, shielded, AuditOutcome.Allowed, AuditFlags.Emergency | AuditFlags.ProtectedIdentity);
        // A patient no one has: refused as before, and on the system chain.
        await Assert.ThrowsAsync<NotFoundException>(() => region.Patients.GetAsync(clinicNurse, Guid.NewGuid()));

        Assert.True((await new AuditVerifier(region.Database).VerifyAsync()).Intact);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task When_the_audit_event_cannot_be_written_nothing_is_returned(DatabaseEngine engine)
    {
        var (region, _) = await RegionAsync(engine);
        var (patientId, clinicNurse) = await PatientOfTheClinicAsync(region);
        Assert.Equal("Öberg", (await region.Patients.GetAsync(clinicNurse, patientId)).FamilyName);

        // The audit log stops accepting events (a full disk, a broken constraint, a revoked grant...).
        await using (var c = await region.Database.OpenUnscopedAsync())
        {
            if (engine == DatabaseEngine.Postgres)
                await c.ExecuteAsync("""
                    CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit unavailable'; END $$;
                    CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_event FOR EACH ROW EXECUTE FUNCTION refuse_audit();
                    """);
            else
                await c.ExecuteAsync("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_event BEGIN SELECT RAISE(ABORT, 'audit unavailable'); END;");
        }

        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => region.Patients.GetAsync(clinicNurse, patientId));
        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => region.Chart.OverviewAsync(clinicNurse, patientId));
        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => region.Patients.SearchAsync(clinicNurse, "oberg"));
        // A write whose audit event fails is not stored either.
        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => region.Patients.UpdateAsync(clinicNurse, patientId, 1, new PatientDetails("Öberg", "Lina", City: "Mora")));
        await using var check = await region.Database.OpenUnscopedAsync();
        Assert.Null(await check.ExecuteScalarAsync<string?>("SELECT city FROM patient WHERE id = @patientId", new { patientId }));
    }
}
