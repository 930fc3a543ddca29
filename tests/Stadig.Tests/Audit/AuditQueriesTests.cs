using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Tests.Audit;

public class AuditQueriesTests
{
    private static async Task<(TestRegion Region, AuditQueries Queries, Caller Auditor)> RegionAsync(DatabaseEngine engine, int unusualVolume = 50)
    {
        var region = await TestRegion.CreateAsync(engine);
        var queries = new AuditQueries(region.Database, region.Audit, TimeProvider.System, new AuditQueryOptions { UnusualVolumePatientsPerDay = unusualVolume });
        var auditor = await region.AddCallerAsync("granskare", Role.LogAuditor, region.Ward, Purpose.QualityAssurance);
        return (region, queries, auditor);
    }

    private static async Task<Patient> RegisterAndReadAsync(TestRegion region, Caller caller, string identifier, string family, string given = "Anna")
    {
        var registered = await region.Patients.RegisterAsync(caller, identifier, new PatientDetails(family, given));
        return await region.Patients.GetAsync(caller, registered.PatientId);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_log_auditor_finds_a_physicians_read_of_a_patient_newest_first(DatabaseEngine engine)
    {
        var (region, queries, auditor) = await RegionAsync(engine);
        var patient = await RegisterAndReadAsync(region, region.Physician, "19121212-1212", "Öström");

        var result = await queries.SearchAsync(auditor, new AuditFilter { StaffHsaId = region.Physician.HsaId, PatientId = patient.Id });

        Assert.NotEmpty(result.Items);
        Assert.All(result.Items, i => Assert.Equal(region.Physician.HsaId, i.Event.StaffHsaId));
        Assert.All(result.Items, i => Assert.Equal(patient.Id, i.Event.PatientId));
        var read = Assert.Single(result.Items, i => i.Event.Activity == AuditActivity.Read && i.Event.Resource == "Patient");
        Assert.Equal(AuditOutcome.Allowed, read.Event.Outcome);
        Assert.Equal("19121212-1212", read.PatientIdentifier);
        Assert.Equal("Öström, Anna", read.PatientName);
        Assert.Equal(result.Items.OrderByDescending(i => i.Event.OccurredAt).Select(i => i.Event.Id), result.Items.Select(i => i.Event.Id));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Filters_by_unit_activity_outcome_and_time_narrow_the_result(DatabaseEngine engine)
    {
        var (region, queries, auditor) = await RegionAsync(engine);
        var patient = await RegisterAndReadAsync(region, region.Physician, "19121212-1212", "Öström");
        var outsider = await region.AddCallerAsync("utanfor", Role.Physician, region.Clinic);
        await Assert.ThrowsAsync<NotFoundException>(() => region.Patients.GetAsync(outsider, patient.Id));

        var denied = await queries.SearchAsync(auditor, new AuditFilter { PatientId = patient.Id, Outcome = AuditOutcome.Denied });
        var clinic = await queries.SearchAsync(auditor, new AuditFilter { PatientId = patient.Id, UnitHsaId = region.Clinic.HsaId });
        var writes = await queries.SearchAsync(auditor, new AuditFilter { PatientId = patient.Id, Activity = AuditActivity.Write });
        var future = await queries.SearchAsync(auditor, new AuditFilter { PatientId = patient.Id, From = DateTimeOffset.UtcNow.AddDays(1) });
        var past = await queries.SearchAsync(auditor, new AuditFilter { PatientId = patient.Id, To = DateTimeOffset.UtcNow.AddDays(-1) });

        var refused = Assert.Single(denied.Items);
        Assert.Equal(outsider.HsaId, refused.Event.StaffHsaId);
        Assert.True(refused.Event.Flags.HasFlag(AuditFlags.NoCareRelation));
        Assert.True(refused.Flagged);
        Assert.Equal(refused.Event.Id, Assert.Single(clinic.Items).Event.Id);
        Assert.NotEmpty(writes.Items);
        Assert.All(writes.Items, i => Assert.Equal(AuditActivity.Write, i.Event.Activity));
        Assert.Empty(future.Items);
        Assert.Empty(past.Items);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_search_is_itself_in_the_log_under_the_auditor(DatabaseEngine engine)
    {
        var (region, queries, auditor) = await RegionAsync(engine);
        var patient = await RegisterAndReadAsync(region, region.Physician, "19121212-1212", "Öström");

        await queries.SearchAsync(auditor, new AuditFilter { PatientId = patient.Id });
        var own = await queries.SearchAsync(auditor, new AuditFilter { StaffHsaId = auditor.HsaId, PatientId = patient.Id });

        var search = Assert.Single(own.Items);
        Assert.Equal("AuditSearch", search.Event.Resource);
        Assert.Equal(AuditActivity.Read, search.Event.Activity);
        Assert.Equal(nameof(Role.LogAuditor), search.Event.Role);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Someone_who_is_not_a_log_auditor_may_not_search_and_the_attempt_is_logged(DatabaseEngine engine)
    {
        var (region, queries, auditor) = await RegionAsync(engine);
        var admin = await region.AddCallerAsync("admin", Role.Administrator, region.Ward, Purpose.Administration);

        await Assert.ThrowsAsync<ForbiddenException>(() => queries.SearchAsync(region.Physician, new AuditFilter()));
        await Assert.ThrowsAsync<ForbiddenException>(() => queries.SearchAsync(admin, new AuditFilter()));
        await Assert.ThrowsAsync<ForbiddenException>(() => queries.MarkReviewedAsync(admin, Guid.NewGuid(), "ok"));

        var attempts = await queries.SearchAsync(auditor, new AuditFilter { StaffHsaId = region.Physician.HsaId, Outcome = AuditOutcome.Denied });
        Assert.Equal("AuditSearch", Assert.Single(attempts.Items).Event.Resource);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_user_who_shares_the_patients_surname_is_flagged(DatabaseEngine engine)
    {
        var (region, queries, auditor) = await RegionAsync(engine);
        var member = await region.Staff.AddStaffAsync("SE2321000016-OSTROM", "mostrom", "Maria Öström", "Sjuksköterska", null, isDemo: false);
        await region.Staff.AddAssignmentAsync(member.Id, region.Ward.Id, Role.Nurse, Purpose.CareAndTreatment);
        var relative = new Caller(member.Id, member.HsaId, member.DisplayName, Role.Nurse, region.Ward.Id, region.Ward.HsaId, Purpose.CareAndTreatment);
        var sameName = await RegisterAndReadAsync(region, relative, "19121212-1212", "Lind-Öström");
        var otherName = await RegisterAndReadAsync(region, relative, TestNumbers.Personnummer(1950, 1, 1), "Berg");

        var same = await queries.SearchAsync(auditor, new AuditFilter { PatientId = sameName.Id, StaffHsaId = relative.HsaId });
        var other = await queries.SearchAsync(auditor, new AuditFilter { PatientId = otherName.Id, StaffHsaId = relative.HsaId });

        Assert.All(same.Items, i => Assert.True(i.Automatic.HasFlag(AutomaticFlags.SameSurname)));
        Assert.All(other.Items, i => Assert.False(i.Automatic.HasFlag(AutomaticFlags.SameSurname)));
        Assert.NotEmpty(same.Items);
        Assert.NotEmpty(other.Items);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Reading_more_patients_in_a_day_than_the_threshold_is_flagged_as_unusual_volume(DatabaseEngine engine)
    {
        var (region, queries, auditor) = await RegionAsync(engine, unusualVolume: 2);
        var busy = await region.AddCallerAsync("flitig", Role.Physician, region.Ward);
        var calm = await region.AddCallerAsync("lugn", Role.Physician, region.Ward);
        var patients = new List<Patient>();
        for (var day = 1; day <= 3; day++)
            patients.Add(await RegisterAndReadAsync(region, busy, TestNumbers.Personnummer(1960, 2, day), "Berg"));
        await region.Access.RecordCareRelationAsync(calm, patients[0].Id, "Test");
        await region.Patients.GetAsync(calm, patients[0].Id);

        var busyEvents = await queries.SearchAsync(auditor, new AuditFilter { StaffHsaId = busy.HsaId, Activity = AuditActivity.Read });
        var calmEvents = await queries.SearchAsync(auditor, new AuditFilter { StaffHsaId = calm.HsaId, Activity = AuditActivity.Read });

        Assert.Equal(3, busyEvents.Items.Count(i => i.Event.PatientId is not null));
        Assert.All(busyEvents.Items.Where(i => i.Event.PatientId is not null), i => Assert.True(i.Automatic.HasFlag(AutomaticFlags.UnusualVolume)));
        Assert.Single(calmEvents.Items, i => i.Event.PatientId is not null);
        Assert.All(calmEvents.Items, i => Assert.False(i.Automatic.HasFlag(AutomaticFlags.UnusualVolume)));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Flagged_only_leaves_out_events_without_any_flag(DatabaseEngine engine)
    {
        var (region, queries, auditor) = await RegionAsync(engine);
        var patient = await RegisterAndReadAsync(region, region.Physician, "19121212-1212", "Öström");
        var outsider = await region.AddCallerAsync("utanfor", Role.Physician, region.Clinic);
        await Assert.ThrowsAsync<NotFoundException>(() => region.Patients.GetAsync(outsider, patient.Id));

        var all = await queries.SearchAsync(auditor, new AuditFilter { PatientId = patient.Id });
        var flagged = await queries.SearchAsync(auditor, new AuditFilter { PatientId = patient.Id, FlaggedOnly = true });

        Assert.Contains(all.Items, i => !i.Flagged);
        Assert.All(flagged.Items, i => Assert.True(i.Flagged));
        Assert.Contains(flagged.Items, i => i.Event.StaffHsaId == outsider.HsaId);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Results_are_paged_and_say_when_more_exist(DatabaseEngine engine)
    {
        var (region, queries, auditor) = await RegionAsync(engine);
        var patient = await RegisterAndReadAsync(region, region.Physician, "19121212-1212", "Öström");
        await region.Patients.GetAsync(region.Physician, patient.Id);

        var first = await queries.SearchAsync(auditor, new AuditFilter { StaffHsaId = region.Physician.HsaId, PatientId = patient.Id, Limit = 1 });
        var second = await queries.SearchAsync(auditor, new AuditFilter { StaffHsaId = region.Physician.HsaId, PatientId = patient.Id, Limit = 1, Offset = 1 });
        var huge = await queries.SearchAsync(auditor, new AuditFilter { Limit = 100_000 });

        Assert.True(first.MoreExist);
        Assert.NotEqual(Assert.Single(first.Items).Event.Id, Assert.Single(second.Items).Event.Id);
        Assert.Equal(AuditQueries.MaxLimit, huge.Limit);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Marking_an_event_reviewed_stores_the_comment_and_logs_the_review(DatabaseEngine engine)
    {
        var (region, queries, auditor) = await RegionAsync(engine);
        var patient = await RegisterAndReadAsync(region, region.Physician, "19121212-1212", "Öström");
        var read = (await queries.SearchAsync(auditor, new AuditFilter { PatientId = patient.Id, StaffHsaId = region.Physician.HsaId, Activity = AuditActivity.Read })).Items[0];

        await queries.MarkReviewedAsync(auditor, read.Event.Id, "  Vårdrelation finns; åtkomsten är befogad.  ");

        var (item, reviews) = await queries.GetEventAsync(auditor, read.Event.Id);
        var review = Assert.Single(reviews);
        Assert.Equal("Vårdrelation finns; åtkomsten är befogad.", review.Comment);
        Assert.Equal(auditor.StaffId, review.ReviewedBy);
        Assert.Equal(1, item.ReviewCount);
        var logged = await queries.SearchAsync(auditor, new AuditFilter { StaffHsaId = auditor.HsaId, Activity = AuditActivity.Write });
        var reviewEvent = Assert.Single(logged.Items);
        Assert.Equal("AuditReview", reviewEvent.Event.Resource);
        Assert.Equal(read.Event.Id.ToString(), reviewEvent.Event.Detail);
        Assert.True((await new AuditVerifier(region.Database).VerifyAsync()).Intact);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_review_needs_a_comment_and_an_event_that_exists(DatabaseEngine engine)
    {
        var (region, queries, auditor) = await RegionAsync(engine);
        var patient = await RegisterAndReadAsync(region, region.Physician, "19121212-1212", "Öström");
        var read = (await queries.SearchAsync(auditor, new AuditFilter { PatientId = patient.Id })).Items[0];

        var blank = await Assert.ThrowsAsync<InvalidInputException>(() => queries.MarkReviewedAsync(auditor, read.Event.Id, "   "));
        await Assert.ThrowsAsync<NotFoundException>(() => queries.MarkReviewedAsync(auditor, Guid.NewGuid(), "Granskad"));

        Assert.Equal("comment", blank.Field);
        await using var connection = await region.Database.OpenUnscopedAsync();
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM audit_review WHERE audit_event_id = @id", new { id = read.Event.Id }));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_log_extract_lists_time_unit_and_activity_of_each_access_without_names_unless_asked(DatabaseEngine engine)
    {
        var (region, queries, auditor) = await RegionAsync(engine);
        var patient = await RegisterAndReadAsync(region, region.Physician, "19121212-1212", "Öström", "Åsa");
        var outsider = await region.AddCallerAsync("utanfor", Role.Physician, region.Clinic);
        await Assert.ThrowsAsync<NotFoundException>(() => region.Patients.GetAsync(outsider, patient.Id));

        var extract = await queries.LogExtractAsync(auditor, patient.Id);
        var named = await queries.LogExtractAsync(auditor, patient.Id, includeStaffNames: true);

        Assert.Equal("Öström, Åsa", extract.PatientName);
        Assert.Equal("19121212-1212", extract.PatientIdentifier);
        Assert.Contains(extract.Rows, r => r is { UnitName: "Medicinavdelning 1", ActivitySwedish: "Läsa" } && r.UnitHsaId == region.Ward.HsaId);
        Assert.Contains(extract.Rows, r => r.ActivitySwedish == "Skriva");
        Assert.DoesNotContain(extract.Rows, r => r.UnitHsaId == region.Clinic.HsaId); // refused: no access happened
        Assert.All(extract.Rows, r => Assert.Null(r.StaffName));
        Assert.Contains(named.Rows, r => r.StaffName == region.Physician.DisplayName);
        Assert.Equal(extract.Rows.OrderBy(r => r.OccurredAt).Select(r => r.OccurredAt), extract.Rows.Select(r => r.OccurredAt));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Administrators_and_log_auditors_may_produce_a_log_extract_and_doing_so_is_logged(DatabaseEngine engine)
    {
        var (region, queries, auditor) = await RegionAsync(engine);
        var admin = await region.AddCallerAsync("admin", Role.Administrator, region.Ward, Purpose.Administration);
        var nurse = await region.AddCallerAsync("ssk", Role.Nurse, region.Ward);
        var patient = await RegisterAndReadAsync(region, region.Physician, "19121212-1212", "Öström");

        await queries.LogExtractAsync(admin, patient.Id, producedAs: AuditActivity.Print);
        await Assert.ThrowsAsync<ForbiddenException>(() => queries.LogExtractAsync(nurse, patient.Id));
        await Assert.ThrowsAsync<ForbiddenException>(() => queries.LogExtractAsync(region.Physician, patient.Id));
        await Assert.ThrowsAsync<NotFoundException>(() => queries.LogExtractAsync(admin, Guid.NewGuid()));

        var byAdmin = await queries.SearchAsync(auditor, new AuditFilter { StaffHsaId = admin.HsaId, PatientId = patient.Id });
        var print = Assert.Single(byAdmin.Items);
        Assert.Equal(("LogExtract", AuditActivity.Print), (print.Event.Resource, print.Event.Activity));
        var byNurse = await queries.SearchAsync(auditor, new AuditFilter { StaffHsaId = nurse.HsaId, Outcome = AuditOutcome.Denied });
        Assert.Equal("LogExtract", Assert.Single(byNurse.Items).Event.Resource);
    }
}
