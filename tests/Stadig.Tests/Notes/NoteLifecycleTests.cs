using Dapper;
using Stadig.Common;
using Stadig.Notes;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Tests.Notes;

public class NoteLifecycleTests
{
    /// <summary>Every character class that must survive: Swedish letters, line breaks, negations, markup characters, symbols.</summary>
    public const string Fidelity = "Ingen feber. Inga bröstsmärtor – inget.\nÅÄÖ åäö é ü\n<b>inte fet</b> & \"citat\" 'apostrof'\n± µg ≥ 5 ≤ 3 → 37,5 °C\n\tindrag";

    private static Task<(TestRegion Region, Guid PatientId)> PatientAsync(DatabaseEngine engine) => TestRegion.WithPatientAsync(engine);

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_note_is_drafted_under_its_template_keywords_saved_and_signed_with_a_content_hash(DatabaseEngine engine)
    {
        var (region, patientId) = await PatientAsync(engine);
        var draft = await region.Notes.CreateDraftAsync(region.Physician, patientId, "Besöksanteckning");
        Assert.Equal(["Aktuellt", "Anamnes", "Status", "Bedömning", "Åtgärd"], draft.Keywords.Select(k => k.Keyword));

        var saved = await region.Notes.SaveDraftAsync(region.Physician, draft.Id, draft.Version,
            [new("Bedömning", "Ingen misstanke om infektion."), new("Aktuellt", Fidelity)]);
        Assert.Equal(["Aktuellt", "Bedömning"], saved.Keywords.Select(k => k.Keyword));
        Assert.Equal(Fidelity, saved.Keywords[0].Text);

        var signed = await region.Notes.SignAsync(region.Physician, draft.Id, saved.Version);
        Assert.True(signed.IsSigned);
        Assert.Equal(region.Physician.StaffId, signed.SignerId);
        Assert.True(signed.IntegrityIntact);
        Assert.Equal(NoteContentHash.Compute(signed.Keywords.Select(k => (k.Keyword, k.Text))), signed.ContentSha256);
        Assert.Equal(Fidelity, (await region.Notes.GetAsync(region.Physician, draft.Id)).Keywords[0].Text);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_editors_sign_saves_and_signs_the_text_on_screen_in_one_step_or_changes_nothing(DatabaseEngine engine)
    {
        var (region, patientId) = await PatientAsync(engine);
        var nurse = await region.AddCallerAsync("ssk", Role.Nurse, region.Ward);
        var draft = await region.Notes.CreateDraftAsync(region.Physician, patientId, "Besöksanteckning");
        var saved = await region.Notes.SaveDraftAsync(region.Physician, draft.Id, draft.Version, [new("Aktuellt", "Första utkastet")]);

        // A stale version is a conflict: nothing saved, nothing signed.
        await Assert.ThrowsAsync<NoteConflictException>(() =>
            region.Notes.SaveAndSignAsync(region.Physician, draft.Id, draft.Version, [new("Aktuellt", "Gammal skärm")]));
        // Empty text is not signed.
        await Assert.ThrowsAsync<InvalidInputException>(() =>
            region.Notes.SaveAndSignAsync(region.Physician, draft.Id, saved.Version, [new("Aktuellt", "")]));
        var unchanged = await region.Notes.GetAsync(region.Physician, draft.Id);
        Assert.False(unchanged.IsSigned);
        Assert.Equal(saved.Version, unchanged.Version);
        Assert.Equal("Första utkastet", unchanged.Keywords.Single(k => k.Keyword == "Aktuellt").Text);

        await region.Notes.SaveAndSignAsync(region.Physician, draft.Id, saved.Version, [new("Bedömning", "Ingen fraktur."), new("Aktuellt", Fidelity)]);

        var signed = await region.Notes.GetAsync(region.Physician, draft.Id);
        Assert.True(signed.IsSigned);
        Assert.True(signed.IntegrityIntact);
        Assert.Equal(region.Physician.StaffId, signed.SignerId);
        Assert.Equal(saved.Version + 2, signed.Version);
        Assert.Equal(["Aktuellt", "Bedömning"], signed.Keywords.Where(k => k.Text.Length > 0).Select(k => k.Keyword));
        Assert.Equal(Fidelity, signed.Keywords.Single(k => k.Keyword == "Aktuellt").Text);
        Assert.Equal(NoteContentHash.Compute(signed.Keywords.Select(k => (k.Keyword, k.Text))), signed.ContentSha256);
        await Assert.ThrowsAsync<ConflictException>(() =>
            region.Notes.SaveAndSignAsync(nurse, draft.Id, signed.Version, [new("Aktuellt", "Efteråt")]));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_note_page_reads_the_note_and_its_patient_in_one_audited_access(DatabaseEngine engine)
    {
        var (region, patientId) = await PatientAsync(engine);
        var draft = await region.Notes.CreateDraftAsync(region.Physician, patientId, "Daganteckning");
        var elsewhere = await region.AddCallerAsync("annan", Role.Physician, region.Clinic);
        Task<long> ReadsAsync(string outcome) => region.AuditCountAsync(patientId, "Read", outcome);
        var before = await ReadsAsync("Allowed");

        var (note, patient, _) = await region.Notes.GetWithPatientAsync(region.Physician, draft.Id);

        Assert.Equal(draft.Id, note.Id);
        Assert.Equal(patientId, patient.Id);
        Assert.Equal(before + 1, await ReadsAsync("Allowed"));
        // Without a care relation: refused, and the refusal is audited.
        var refusedBefore = await ReadsAsync("Denied");
        await Assert.ThrowsAnyAsync<StadigException>(() => region.Notes.GetWithPatientAsync(elsewhere, draft.Id));
        Assert.Equal(refusedBefore + 1, await ReadsAsync("Denied"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    [Hazard("H-03")]
    public async Task A_second_save_from_a_stale_version_is_a_conflict_that_shows_both_texts_and_overwrites_nothing(DatabaseEngine engine)
    {
        var (region, patientId) = await PatientAsync(engine);
        var nurse = await region.AddCallerAsync("ssk", Role.Nurse, region.Ward);
        var draft = await region.Notes.CreateDraftAsync(region.Physician, patientId, "Daganteckning");
        await region.Notes.SaveDraftAsync(region.Physician, draft.Id, draft.Version, [new("Aktuellt", "Läkarens text")]);

        var conflict = await Assert.ThrowsAsync<NoteConflictException>(() =>
            region.Notes.SaveDraftAsync(nurse, draft.Id, draft.Version, [new("Aktuellt", "Sjuksköterskans text")]));

        Assert.Equal("Läkarens text", conflict.Current.Keywords.Single(k => k.Keyword == "Aktuellt").Text);
        Assert.Equal("Läkarens text", (await region.Notes.GetAsync(region.Physician, draft.Id)).Keywords.Single(k => k.Keyword == "Aktuellt").Text);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_signed_note_never_changes_an_amendment_is_a_new_linked_version_and_history_keeps_both(DatabaseEngine engine)
    {
        var (region, patientId) = await PatientAsync(engine);
        var draft = await region.Notes.CreateDraftAsync(region.Physician, patientId, "Besöksanteckning");
        var saved = await region.Notes.SaveDraftAsync(region.Physician, draft.Id, draft.Version, [new("Bedömning", "Ingen fraktur.")]);
        var original = await region.Notes.SignAsync(region.Physician, draft.Id, saved.Version);

        await Assert.ThrowsAsync<ConflictException>(() => region.Notes.SaveDraftAsync(region.Physician, original.Id, original.Version, [new("Bedömning", "Fraktur.")]));
        var amendment = await region.Notes.AmendAsync(region.Physician, original.Id);
        Assert.Equal(original.Id, amendment.AmendsNoteId);
        Assert.Equal("Ingen fraktur.", amendment.Keywords.Single(k => k.Keyword == "Bedömning").Text);
        var amended = await region.Notes.SaveDraftAsync(region.Physician, amendment.Id, amendment.Version, [new("Bedömning", "Ingen fraktur. Tillägg: lätt svullnad.")]);
        await region.Notes.SignAsync(region.Physician, amendment.Id, amended.Version);
        await Assert.ThrowsAsync<ConflictException>(() => region.Notes.AmendAsync(region.Physician, original.Id));

        var history = await region.Notes.HistoryAsync(region.Physician, amendment.Id);
        Assert.Equal([original.Id, amendment.Id], history.Select(n => n.Id));
        Assert.Equal("Ingen fraktur.", history[0].Keywords.Single(k => k.Keyword == "Bedömning").Text);
        Assert.All(history, n => Assert.True(n.IsSigned && n.IntegrityIntact));
        Assert.Equal(history.Select(n => n.Id), (await region.Notes.HistoryAsync(region.Physician, original.Id)).Select(n => n.Id));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_secretary_writes_for_the_physician_who_finds_it_in_the_worklist_and_signs(DatabaseEngine engine)
    {
        var (region, patientId) = await PatientAsync(engine);
        var secretary = await region.AddCallerAsync("sekr", Role.MedicalSecretary, region.Ward);
        var dictated = await region.Notes.CreateDraftAsync(secretary, patientId, "Epikris", responsibleSignerId: region.Physician.StaffId);
        var saved = await region.Notes.SaveDraftAsync(secretary, dictated.Id, dictated.Version, [new("Sammanfattning", "Inlagd för pneumoni, utskriven i gott skick.")]);

        await Assert.ThrowsAsync<ForbiddenException>(() => region.Notes.SignAsync(secretary, dictated.Id, saved.Version));
        var worklist = await region.Notes.UnsignedForSignerAsync(region.Physician);
        Assert.Equal([dictated.Id], worklist.Select(n => n.Id));

        await region.Notes.SignAsync(region.Physician, dictated.Id, saved.Version);
        Assert.Empty(await region.Notes.UnsignedForSignerAsync(region.Physician));

        var colleague = await region.AddCallerAsync("kollega", Role.Physician, region.Ward);
        await Assert.ThrowsAsync<InvalidInputException>(() => region.Notes.CountersignAsync(region.Physician, dictated.Id));
        var countersigned = await region.Notes.CountersignAsync(colleague, dictated.Id);
        Assert.Equal(colleague.StaffId, countersigned.CountersignerId);
        Assert.True(countersigned.IntegrityIntact);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Bad_input_is_named_and_nothing_is_half_saved(DatabaseEngine engine)
    {
        var (region, patientId) = await PatientAsync(engine);
        await Assert.ThrowsAsync<InvalidInputException>(() => region.Notes.CreateDraftAsync(region.Physician, patientId, "Okänd typ"));
        var draft = await region.Notes.CreateDraftAsync(region.Physician, patientId, "Telefonkontakt");
        var empty = await Assert.ThrowsAsync<InvalidInputException>(() => region.Notes.SignAsync(region.Physician, draft.Id, draft.Version));
        Assert.Equal("keywords", empty.Field);
        await Assert.ThrowsAsync<InvalidInputException>(() => region.Notes.SaveDraftAsync(region.Physician, draft.Id, draft.Version, [new("Status", "x")]));
        await Assert.ThrowsAsync<InvalidInputException>(() => region.Notes.SaveDraftAsync(region.Physician, draft.Id, draft.Version,
            [new("Kontaktorsak", "ok"), new("Bedömning", new string('x', ClinicalNotes.MaxKeywordLength + 1))]));
        await Assert.ThrowsAsync<InvalidInputException>(() => region.Notes.AmendAsync(region.Physician, draft.Id));
        var unchanged = await region.Notes.GetAsync(region.Physician, draft.Id);
        Assert.Equal(draft.Version, unchanged.Version);
        Assert.All(unchanged.Keywords, k => Assert.Equal("", k.Text));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_retried_create_with_the_same_client_request_id_makes_one_note(DatabaseEngine engine)
    {
        var (region, patientId) = await PatientAsync(engine);
        var first = await region.Notes.CreateDraftAsync(region.Physician, patientId, "Daganteckning", clientRequestId: "req-1");
        var retry = await region.Notes.CreateDraftAsync(region.Physician, patientId, "Daganteckning", clientRequestId: "req-1");
        Assert.Equal(first.Id, retry.Id);
        await using var c = await region.Database.OpenUnscopedAsync();
        Assert.Equal(1, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM note WHERE patient_id = @patientId", new { patientId }));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    [Hazard("H-04")]
    public async Task A_signed_note_whose_stored_text_was_altered_fails_its_integrity_check(DatabaseEngine engine)
    {
        var (region, patientId) = await PatientAsync(engine);
        var draft = await region.Notes.CreateDraftAsync(region.Physician, patientId, "Besöksanteckning");
        var saved = await region.Notes.SaveDraftAsync(region.Physician, draft.Id, draft.Version, [new("Bedömning", "Inget patologiskt.")]);
        await region.Notes.SignAsync(region.Physician, draft.Id, saved.Version);

        // The failure the design guards against: a word lost between storage and screen.
        await using (var c = await region.Database.OpenUnscopedAsync())
            await c.ExecuteAsync("UPDATE note_keyword SET text = 'patologiskt.' WHERE note_id = @id AND keyword = 'Bedömning'", new { id = draft.Id });

        Assert.False((await region.Notes.GetAsync(region.Physician, draft.Id)).IntegrityIntact);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Another_patients_note_id_reads_as_not_found_without_a_care_relation(DatabaseEngine engine)
    {
        var (region, patientId) = await PatientAsync(engine);
        var draft = await region.Notes.CreateDraftAsync(region.Physician, patientId, "Daganteckning");
        var stranger = await region.AddCallerAsync("fremling", Role.Physician, region.Clinic);
        await Assert.ThrowsAsync<NotFoundException>(() => region.Notes.GetAsync(stranger, draft.Id));
        await Assert.ThrowsAsync<NotFoundException>(() => region.Notes.SaveDraftAsync(stranger, draft.Id, draft.Version, [new("Aktuellt", "x")]));
        await Assert.ThrowsAsync<NotFoundException>(() => region.Notes.GetAsync(region.Physician, Guid.NewGuid()));
    }
}
