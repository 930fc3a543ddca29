using Dapper;
using Stadig.Common;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Problems;
using Stadig.Storage;

namespace Stadig.Tests.Problems;

public class PatientProblemsTests
{
    private static Task<(TestRegion Region, Guid PatientId)> PatientAsync(DatabaseEngine engine) => TestRegion.WithPatientAsync(engine);

    private static async Task<long> RowsAsync(TestRegion region, Guid patientId)
    {
        await using var c = await region.Database.OpenUnscopedAsync();
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM problem WHERE patient_id = @patientId", new { patientId });
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_code_from_the_list_takes_its_title_and_is_listed_with_its_onset_date(DatabaseEngine engine)
    {
        var (region, patientId) = await PatientAsync(engine);
        var added = await region.Services.Problems.AddAsync(region.Physician, patientId, " i10 ", onsetDate: new DateOnly(2019, 5, 2));

        Assert.Equal(("I10", "Essentiell hypertoni", PatientProblems.Active), (added.Code, added.Text, added.Status));
        var listed = Assert.Single(await region.Services.Problems.ListAsync(region.Physician, patientId));
        Assert.Equal(new DateOnly(2019, 5, 2), listed.OnsetDate);
        Assert.Equal(region.Physician.StaffId, listed.RecordedBy);
        Assert.Equal(["I10"], (await region.Chart.OverviewAsync(region.Physician, patientId)).Problems.Select(p => p.Code));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_valid_code_outside_the_list_needs_a_text_and_bad_codes_are_named(DatabaseEngine engine)
    {
        var (region, patientId) = await PatientAsync(engine);
        var problems = region.Services.Problems;

        Assert.Equal("text", (await Assert.ThrowsAsync<InvalidInputException>(() => problems.AddAsync(region.Physician, patientId, "Q21.1"))).Field);
        Assert.Equal("code", (await Assert.ThrowsAsync<InvalidInputException>(() => problems.AddAsync(region.Physician, patientId, "1234", "Något"))).Field);
        Assert.Equal("code", (await Assert.ThrowsAsync<InvalidInputException>(() => problems.AddAsync(region.Physician, patientId, "", "Något"))).Field);
        Assert.Equal("text", (await Assert.ThrowsAsync<InvalidInputException>(() => problems.AddAsync(region.Physician, patientId, "I10", new string('x', PatientProblems.MaxTextLength + 1)))).Field);
        Assert.Equal("onsetDate", (await Assert.ThrowsAsync<InvalidInputException>(() => problems.AddAsync(region.Physician, patientId, "I10", onsetDate: new DateOnly(3000, 1, 1)))).Field);
        Assert.Equal(0, await RowsAsync(region, patientId));

        var free = await problems.AddAsync(region.Physician, patientId, "Q21.1", "Förmaksseptumdefekt");
        Assert.Equal(("Q21.1", "Förmaksseptumdefekt"), (free.Code, free.Text));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Resolving_keeps_the_problem_after_the_active_ones_and_only_physicians_write(DatabaseEngine engine)
    {
        var (region, patientId) = await PatientAsync(engine);
        var nurse = await region.AddCallerAsync("ssk", Role.Nurse, region.Ward);
        var problems = region.Services.Problems;
        var pneumonia = await problems.AddAsync(region.Physician, patientId, "J18.9");
        var diabetes = await problems.AddAsync(region.Physician, patientId, "E11.9");

        await Assert.ThrowsAsync<ForbiddenException>(() => problems.AddAsync(nurse, patientId, "I10"));
        await Assert.ThrowsAsync<ForbiddenException>(() => problems.ResolveAsync(nurse, pneumonia.Id));
        var resolved = await problems.ResolveAsync(region.Physician, pneumonia.Id);
        await Assert.ThrowsAsync<ConflictException>(() => problems.ResolveAsync(region.Physician, pneumonia.Id));

        Assert.Equal((PatientProblems.Resolved, region.Physician.StaffId), (resolved.Status, resolved.ResolvedBy!.Value));
        Assert.Equal([diabetes.Id, pneumonia.Id], (await problems.ListAsync(nurse, patientId)).Select(p => p.Id));
        Assert.Equal([diabetes.Id], (await region.Chart.OverviewAsync(region.Physician, patientId)).Problems.Select(p => p.Id));
        Assert.Equal(2, await RowsAsync(region, patientId));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Another_units_problems_are_hidden_without_the_care_purpose(DatabaseEngine engine)
    {
        var (region, patientId) = await PatientAsync(engine);
        var wardProblem = await region.Services.Problems.AddAsync(region.Physician, patientId, "I48.9");
        var clinicQuality = await region.AddCallerAsync("kvalitet", Role.Physician, region.Clinic, Purpose.QualityAssurance);
        await region.Access.RecordCareRelationAsync(clinicQuality, patientId, "Granskning");
        var own = await region.Services.Problems.AddAsync(clinicQuality, patientId, "J44.9");

        Assert.Equal([own.Id], (await region.Services.Problems.ListAsync(clinicQuality, patientId)).Select(p => p.Id));
        Assert.Equal([own.Id], (await region.Chart.OverviewAsync(clinicQuality, patientId)).Problems.Select(p => p.Id));
        await Assert.ThrowsAsync<NotFoundException>(() => region.Services.Problems.ResolveAsync(clinicQuality, wardProblem.Id));
        Assert.True((await region.Services.Problems.ListAsync(region.Physician, patientId)).Single(p => p.Id == wardProblem.Id).IsActive);
        await using var c = await region.Database.OpenUnscopedAsync();
        Assert.Equal(1, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM audit_event WHERE staff_id = @s AND resource = 'Problem' AND outcome = 'Denied'", new { s = clinicQuality.StaffId }));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_stranger_without_a_care_relation_is_refused_and_the_refusal_is_audited(DatabaseEngine engine)
    {
        var (region, patientId) = await PatientAsync(engine);
        var problem = await region.Services.Problems.AddAsync(region.Physician, patientId, "N39.0");
        var stranger = await region.AddCallerAsync("fremling", Role.Physician, region.Clinic);

        await Assert.ThrowsAsync<NotFoundException>(() => region.Services.Problems.ListAsync(stranger, patientId));
        await Assert.ThrowsAsync<ForbiddenException>(() => region.Services.Problems.AddAsync(stranger, patientId, "I10"));
        await Assert.ThrowsAsync<ForbiddenException>(() => region.Services.Problems.ResolveAsync(stranger, problem.Id));

        await using var c = await region.Database.OpenUnscopedAsync();
        Assert.Equal(3, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM audit_event WHERE staff_id = @s AND patient_id = @patientId AND resource = 'Problem' AND outcome = 'Denied'",
            new { s = stranger.StaffId, patientId }));
        Assert.Equal(1, await RowsAsync(region, patientId));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Merging_a_reservnummer_patient_moves_the_problems(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        var unknown = (await region.Patients.RegisterAsync(region.Physician, "991234567890", new PatientDetails("Okänd", "Man") { Sex = Stadig.Patients.Identifiers.Sex.Male })).PatientId;
        var known = (await region.Patients.RegisterAsync(region.Physician, "19121212-1212", new PatientDetails("Holm", "Per"))).PatientId;
        var problem = await region.Services.Problems.AddAsync(region.Physician, unknown, "S72.0");

        await region.Patients.MergeAsync(region.Physician, unknown, known, "Identifierad via legitimation");

        Assert.Equal([problem.Id], (await region.Services.Problems.ListAsync(region.Physician, known)).Select(p => p.Id));
        Assert.Equal(0, await RowsAsync(region, unknown));
    }
}
