using Dapper;
using Stadig.Common;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Storage;
using Stadig.Warnings;

namespace Stadig.Tests.Warnings;

public class PatientWarningsTests
{
    private static Task<(TestRegion Region, Guid PatientId)> PatientAsync(DatabaseEngine engine) => TestRegion.WithPatientAsync(engine);

    private static async Task<long> RowsAsync(TestRegion region, Guid patientId)
    {
        await using var c = await region.Database.OpenUnscopedAsync();
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM warning WHERE patient_id = @patientId", new { patientId });
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_hypersensitivity_is_recorded_with_agent_reaction_severity_and_certainty_and_listed(DatabaseEngine engine)
    {
        var (region, patientId) = await PatientAsync(engine);
        var added = await region.Services.Warnings.AddAsync(region.Physician, patientId,
            new NewWarning("Hypersensitivity", "Överkänslighet mot penicillin: anafylaxi.", "Penicillin", "Anafylaxi", "LifeThreatening", "Confirmed"));

        Assert.True(added.IsActive);
        Assert.Equal(("Penicillin", "Anafylaxi", "LifeThreatening", "Confirmed"), (added.Agent, added.Reaction, added.Severity, added.Certainty));
        var listed = Assert.Single(await region.Services.Warnings.ListAsync(region.Physician, patientId));
        Assert.Equal(added.Id, listed.Id);
        Assert.Equal(region.Ward.Id, listed.UnitId);
        Assert.Equal([added.Id], (await region.Chart.OverviewAsync(region.Physician, patientId)).Warnings.Select(w => w.Id));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Bad_input_names_the_field_and_nothing_is_saved(DatabaseEngine engine)
    {
        var (region, patientId) = await PatientAsync(engine);
        var warnings = region.Services.Warnings;

        Assert.Equal("agent", (await Assert.ThrowsAsync<InvalidInputException>(() => warnings.AddAsync(region.Physician, patientId, new NewWarning("Hypersensitivity", "Allergi", Agent: " ")))).Field);
        Assert.Equal("text", (await Assert.ThrowsAsync<InvalidInputException>(() => warnings.AddAsync(region.Physician, patientId, new NewWarning("SeriousDisease", "  ")))).Field);
        Assert.Equal("text", (await Assert.ThrowsAsync<InvalidInputException>(() => warnings.AddAsync(region.Physician, patientId, new NewWarning("Treatment", new string('x', PatientWarnings.MaxTextLength + 1))))).Field);
        Assert.Equal("category", (await Assert.ThrowsAsync<InvalidInputException>(() => warnings.AddAsync(region.Physician, patientId, new NewWarning("Okänd", "Text")))).Field);
        Assert.Equal("category", (await Assert.ThrowsAsync<InvalidInputException>(() => warnings.AddAsync(region.Physician, patientId, new NewWarning("3", "Text")))).Field);
        Assert.Equal("severity", (await Assert.ThrowsAsync<InvalidInputException>(() => warnings.AddAsync(region.Physician, patientId, new NewWarning("Hypersensitivity", "x", "Jod", Severity: "Farlig")))).Field);
        Assert.Equal("certainty", (await Assert.ThrowsAsync<InvalidInputException>(() => warnings.AddAsync(region.Physician, patientId, new NewWarning("Hypersensitivity", "x", "Jod", Certainty: "Kanske")))).Field);

        Assert.Equal(0, await RowsAsync(region, patientId));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Inactivating_needs_a_reason_and_keeps_the_warning_as_history_after_the_active_ones(DatabaseEngine engine)
    {
        var (region, patientId) = await PatientAsync(engine);
        var nurse = await region.AddCallerAsync("ssk", Role.Nurse, region.Ward);
        var warnings = region.Services.Warnings;
        var mrsa = await warnings.AddAsync(nurse, patientId, new NewWarning("CommunicableDisease", "Bärare av MRSA."));
        var pacemaker = await warnings.AddAsync(region.Physician, patientId, new NewWarning("Treatment", "Pacemaker."));

        Assert.Equal("reason", (await Assert.ThrowsAsync<InvalidInputException>(() => warnings.InactivateAsync(nurse, mrsa.Id, " "))).Field);
        var inactivated = await warnings.InactivateAsync(nurse, mrsa.Id, "Tre negativa odlingar.");
        await Assert.ThrowsAsync<ConflictException>(() => warnings.InactivateAsync(region.Physician, mrsa.Id, "Igen"));

        Assert.False(inactivated.IsActive);
        Assert.Equal((nurse.StaffId, "Tre negativa odlingar."), (inactivated.InactivatedBy!.Value, inactivated.InactivationReason));
        var list = await warnings.ListAsync(region.Physician, patientId);
        Assert.Equal([pacemaker.Id, mrsa.Id], list.Select(w => w.Id));
        Assert.Equal("Bärare av MRSA.", list[1].Text);
        Assert.Equal(2, await RowsAsync(region, patientId));
        // The chart and banner show only what is still valid.
        Assert.Equal([pacemaker.Id], (await region.Chart.OverviewAsync(region.Physician, patientId)).Warnings.Select(w => w.Id));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Only_physicians_and_nurses_add_or_inactivate_others_read(DatabaseEngine engine)
    {
        var (region, patientId) = await PatientAsync(engine);
        var secretary = await region.AddCallerAsync("sekr", Role.MedicalSecretary, region.Ward);
        var warning = await region.Services.Warnings.AddAsync(region.Physician, patientId, new NewWarning("RestrictionOfCare", "Avstår blodtransfusion."));

        await Assert.ThrowsAsync<ForbiddenException>(() => region.Services.Warnings.AddAsync(secretary, patientId, new NewWarning("Unstructured", "Text")));
        await Assert.ThrowsAsync<ForbiddenException>(() => region.Services.Warnings.InactivateAsync(secretary, warning.Id, "Fel"));
        Assert.Equal([warning.Id], (await region.Services.Warnings.ListAsync(secretary, patientId)).Select(w => w.Id));
        Assert.True((await region.Services.Warnings.ListAsync(region.Physician, patientId)).Single().IsActive);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Another_units_warnings_are_hidden_without_the_care_purpose_and_cannot_be_inactivated(DatabaseEngine engine)
    {
        var (region, patientId) = await PatientAsync(engine);
        var wardWarning = await region.Services.Warnings.AddAsync(region.Physician, patientId, new NewWarning("SeriousDisease", "Addisons sjukdom."));
        var clinicQuality = await region.AddCallerAsync("kvalitet", Role.Nurse, region.Clinic, Purpose.QualityAssurance);
        await region.Access.RecordCareRelationAsync(clinicQuality, patientId, "Granskning");
        var own = await region.Services.Warnings.AddAsync(clinicQuality, patientId, new NewWarning("Unstructured", "Hörselnedsättning."));

        Assert.Equal([own.Id], (await region.Services.Warnings.ListAsync(clinicQuality, patientId)).Select(w => w.Id));
        await Assert.ThrowsAsync<NotFoundException>(() => region.Services.Warnings.InactivateAsync(clinicQuality, wardWarning.Id, "Fel"));
        Assert.True((await region.Services.Warnings.ListAsync(region.Physician, patientId)).Single(w => w.Id == wardWarning.Id).IsActive);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_stranger_without_a_care_relation_is_refused_and_the_refusal_is_audited(DatabaseEngine engine)
    {
        var (region, patientId) = await PatientAsync(engine);
        var warning = await region.Services.Warnings.AddAsync(region.Physician, patientId, new NewWarning("Treatment", "Waran."));
        var stranger = await region.AddCallerAsync("fremling", Role.Physician, region.Clinic);

        await Assert.ThrowsAsync<NotFoundException>(() => region.Services.Warnings.ListAsync(stranger, patientId));
        await Assert.ThrowsAsync<ForbiddenException>(() => region.Services.Warnings.AddAsync(stranger, patientId, new NewWarning("Treatment", "x")));
        await Assert.ThrowsAsync<ForbiddenException>(() => region.Services.Warnings.InactivateAsync(stranger, warning.Id, "x"));

        await using var c = await region.Database.OpenUnscopedAsync();
        var denied = (await c.QueryAsync<string>("SELECT activity FROM audit_event WHERE staff_id = @s AND patient_id = @patientId AND resource = 'Warning' AND outcome = 'Denied'",
            new { s = stranger.StaffId, patientId })).ToList();
        Assert.Equal(3, denied.Count);
        Assert.Equal(1, await RowsAsync(region, patientId));
    }
}
