using Stadig.Common;
using Stadig.Notes;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Tests.Notes;

/// <summary>The note work around writing: templates by profession, the worklist with its patients, discarding an empty draft, limits named.</summary>
public class NoteWorkTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Each_role_starts_only_its_professions_note_types_and_the_server_refuses_the_rest(DatabaseEngine engine)
    {
        var (region, patientId) = await TestRegion.WithPatientAsync(engine);
        var nurse = await region.AddCallerAsync("ssk", Role.Nurse, region.Ward);
        var secretary = await region.AddCallerAsync("sekr", Role.MedicalSecretary, region.Ward);
        var lab = await region.AddCallerAsync("lab", Role.LabStaff, region.Ward);

        var nursing = await region.Notes.CreateDraftAsync(nurse, patientId, "Omvårdnadsanteckning");
        Assert.Equal(["Omvårdnadsstatus", "Omvårdnadsdiagnos", "Mål", "Omvårdnadsåtgärd", "Omvårdnadsresultat"], nursing.Keywords.Select(k => k.Keyword));
        await Assert.ThrowsAsync<ForbiddenException>(() => region.Notes.CreateDraftAsync(nurse, patientId, "Epikris"));
        await Assert.ThrowsAsync<ForbiddenException>(() => region.Notes.CreateDraftAsync(nurse, patientId, "Inskrivningsanteckning"));
        await Assert.ThrowsAsync<ForbiddenException>(() => region.Notes.CreateDraftAsync(region.Physician, patientId, "Omvårdnadsanteckning"));
        // A secretary writes administrative notes, and a physician's note only as dictation for a named signer.
        await region.Notes.CreateDraftAsync(secretary, patientId, NoteTypes.Administrative);
        await Assert.ThrowsAsync<ForbiddenException>(() => region.Notes.CreateDraftAsync(secretary, patientId, "Besöksanteckning"));
        await region.Notes.CreateDraftAsync(secretary, patientId, "Besöksanteckning", responsibleSignerId: region.Physician.StaffId);
        await Assert.ThrowsAsync<ForbiddenException>(() => region.Notes.CreateDraftAsync(lab, patientId, NoteTypes.Administrative));

        Assert.DoesNotContain(NoteTypes.For(Role.Nurse), t => t.Name is "Epikris" or "Inskrivningsanteckning" or "Besöksanteckning");
        Assert.Contains(NoteTypes.For(Role.Nurse), t => t.Keywords.Contains("Omvårdnadsdiagnos"));
        Assert.Equal([NoteTypes.Administrative], NoteTypes.For(Role.MedicalSecretary).Select(t => t.Name));
        Assert.Empty(NoteTypes.For(Role.LabStaff));
        Assert.DoesNotContain(NoteTypes.For(Role.Physician), t => t.Name == "Omvårdnadsanteckning");
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_worklist_names_each_notes_patient_and_holds_what_waits_for_the_caller_and_the_callers_own_drafts(DatabaseEngine engine)
    {
        var (region, patientId) = await TestRegion.WithPatientAsync(engine);
        var other = (await region.Patients.RegisterAsync(region.Physician, TestNumbers.Personnummer(1970, 3, 3), new("Berg", "Bo"))).PatientId;
        var nurse = await region.AddCallerAsync("ssk", Role.Nurse, region.Ward);
        await region.Access.RecordCareRelationAsync(nurse, other, "Omvårdnad");
        var own = await region.Notes.CreateDraftAsync(region.Physician, patientId, "Daganteckning");
        var nursing = await region.Notes.CreateDraftAsync(nurse, other, "Omvårdnadsanteckning");
        var before = await region.AuditCountAsync(patientId, "Read", "Allowed");

        var items = await region.Notes.WorklistAsync(region.Physician);

        var row = Assert.Single(items);
        Assert.Equal(own.Id, row.Note.Id);
        Assert.Equal("Ek", row.Patient.FamilyName);
        Assert.Equal("19121212-1212", row.Patient.IdentifierDisplay);
        // A nurse has no one to sign for her: her own drafts are her worklist.
        var nurses = Assert.Single(await region.Notes.WorklistAsync(nurse));
        Assert.Equal((nursing.Id, "Berg"), (nurses.Note.Id, nurses.Patient.FamilyName));
        // A list of patients is audited as one registry read, not as reads of each chart.
        Assert.Equal(before, await region.AuditCountAsync(patientId, "Read", "Allowed"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_draft_named_for_the_caller_from_a_unit_the_patient_blocked_is_not_on_the_callers_worklist(DatabaseEngine engine)
    {
        var (region, patientId) = await TestRegion.WithPatientAsync(engine);
        var secretary = await region.AddCallerAsync("sekr", Role.MedicalSecretary, region.Clinic);
        await region.Access.RecordCareRelationAsync(secretary, patientId, "Mottagningsbesök");
        var dictated = await region.Notes.CreateDraftAsync(secretary, patientId, "Besöksanteckning", responsibleSignerId: region.Physician.StaffId);
        Assert.Contains(await region.Notes.WorklistAsync(region.Physician), n => n.Note.Id == dictated.Id);
        Assert.Contains(await region.Notes.UnsignedForSignerAsync(region.Physician), n => n.Id == dictated.Id);

        await region.Access.BlockAsync(region.Physician, patientId, region.Clinic.Id, "Patienten begär spärr");

        // The worklist carried the note's text; the chart would not show it, so neither may the list.
        Assert.DoesNotContain(await region.Notes.WorklistAsync(region.Physician), n => n.Note.Id == dictated.Id);
        Assert.DoesNotContain(await region.Notes.UnsignedForSignerAsync(region.Physician), n => n.Id == dictated.Id);
        await Assert.ThrowsAsync<NotFoundException>(() => region.Notes.GetAsync(region.Physician, dictated.Id));
        // The clinic, whose note it is, still has it.
        Assert.Contains(await region.Notes.WorklistAsync(secretary), n => n.Note.Id == dictated.Id);

        // Another patient's consent (the ward may read the clinic's notes on that patient) opens nothing of this one's,
        // and this patient's block hides nothing of another's: each is the row's own patient's.
        var other = (await region.Patients.RegisterAsync(region.Physician, TestNumbers.Personnummer(1971, 3, 4), new PatientDetails("Annan", "Patient"))).PatientId;
        await region.Access.RecordCareRelationAsync(secretary, other, "Mottagningsbesök");
        await region.Access.RecordConsentAsync(region.Physician, other, region.Ward.Id, region.Clinic.Id, DateTimeOffset.UtcNow.AddDays(30), "Patienten samtycker");
        var othersDictated = await region.Notes.CreateDraftAsync(secretary, other, "Besöksanteckning", responsibleSignerId: region.Physician.StaffId);
        Assert.DoesNotContain(await region.Notes.WorklistAsync(region.Physician), n => n.Note.Id == dictated.Id);
        Assert.DoesNotContain(await region.Notes.UnsignedForSignerAsync(region.Physician), n => n.Id == dictated.Id);
        Assert.Contains(await region.Notes.WorklistAsync(region.Physician), n => n.Note.Id == othersDictated.Id);
        Assert.Contains(await region.Notes.UnsignedForSignerAsync(region.Physician), n => n.Id == othersDictated.Id);
        var third = (await region.Patients.RegisterAsync(region.Physician, TestNumbers.Personnummer(1972, 5, 6), new PatientDetails("Tredje", "Patient"))).PatientId;
        await region.Access.RecordCareRelationAsync(secretary, third, "Mottagningsbesök");
        var thirdsDictated = await region.Notes.CreateDraftAsync(secretary, third, "Besöksanteckning", responsibleSignerId: region.Physician.StaffId);
        Assert.Contains(await region.Notes.WorklistAsync(region.Physician), n => n.Note.Id == thirdsDictated.Id);
        Assert.Contains(await region.Notes.UnsignedForSignerAsync(region.Physician), n => n.Id == thirdsDictated.Id);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Only_an_own_empty_draft_is_discarded_audited_and_gone_from_the_lists(DatabaseEngine engine)
    {
        var (region, patientId) = await TestRegion.WithPatientAsync(engine);
        var colleague = await region.AddCallerAsync("kollega", Role.Physician, region.Ward);
        await region.Access.RecordCareRelationAsync(colleague, patientId, "Rond");
        var empty = await region.Notes.CreateDraftAsync(region.Physician, patientId, "Daganteckning");
        var written = await region.Notes.CreateDraftAsync(region.Physician, patientId, "Daganteckning");
        await region.Notes.SaveDraftAsync(region.Physician, written.Id, written.Version, [new("Aktuellt", "Feber sedan i går.")]);

        await Assert.ThrowsAsync<ForbiddenException>(() => region.Notes.DiscardEmptyDraftAsync(colleague, empty.Id));
        var refused = await Assert.ThrowsAsync<InvalidInputException>(() => region.Notes.DiscardEmptyDraftAsync(region.Physician, written.Id));
        Assert.Contains("innehåller text", refused.Message);
        var deletesBefore = await region.AuditCountAsync(patientId, "Delete", "Allowed");

        await region.Notes.DiscardEmptyDraftAsync(region.Physician, empty.Id);

        Assert.Equal(deletesBefore + 1, await region.AuditCountAsync(patientId, "Delete", "Allowed"));
        Assert.Equal([written.Id], (await region.Notes.WorklistAsync(region.Physician)).Select(i => i.Note.Id));
        Assert.DoesNotContain((await region.Chart.OverviewAsync(region.Physician, patientId)).Notes, n => n.Id == empty.Id);
        // Kept, not deleted: the record shows it as discarded, and it takes no more text.
        Assert.True((await region.Notes.GetAsync(region.Physician, empty.Id)).IsDiscarded);
        await Assert.ThrowsAsync<ConflictException>(() => region.Notes.SaveDraftAsync(region.Physician, empty.Id, empty.Version + 1, [new("Aktuellt", "x")]));
        Assert.False((await region.Notes.GetAsync(region.Physician, written.Id)).IsDiscarded);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_text_over_the_limit_is_refused_naming_the_field_and_the_limit(DatabaseEngine engine)
    {
        var (region, patientId) = await TestRegion.WithPatientAsync(engine);
        var draft = await region.Notes.CreateDraftAsync(region.Physician, patientId, "Telefonkontakt");

        var refused = await Assert.ThrowsAsync<InvalidInputException>(() => region.Notes.SaveDraftAsync(region.Physician, draft.Id, draft.Version,
            [new("Kontaktorsak", "ok"), new("Bedömning", new string('x', ClinicalNotes.MaxKeywordLength + 1))]));

        Assert.Equal("keywords[1]", refused.Field);
        Assert.Equal(ClinicalNotes.MaxKeywordLength, refused.MaxLength);
        Assert.Contains("Bedömning", refused.Message);
        Assert.Equal(draft.Version, (await region.Notes.GetAsync(region.Physician, draft.Id)).Version);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_save_leaves_exactly_the_keywords_it_was_given_whether_one_changed_they_moved_shrank_or_grew(DatabaseEngine engine)
    {
        var (region, patientId) = await TestRegion.WithPatientAsync(engine);
        var note = await region.Notes.CreateDraftAsync(region.Physician, patientId, "Daganteckning");
        NoteKeyword[][] saves =
        [
            [new("Aktuellt", "Feber."), new("Bedömning", "Pneumoni."), new("Åtgärd", "Antibiotika.")],
            [new("Aktuellt", "Feber och hosta."), new("Bedömning", "Pneumoni."), new("Åtgärd", "Antibiotika.")],  // one changed
            [new("Åtgärd", "Antibiotika."), new("Aktuellt", "Feber och hosta.")],                                  // given in another order, fewer
            [new("Åtgärd", "Antibiotika.")],                                                                       // fewer still
            [new("Aktuellt", "Feberfri."), new("Bedömning", "Pneumoni, i regress."), new("Åtgärd", "Hem i morgon.")], // more again, all changed
        ];
        foreach (var keywords in saves)
        {
            note = await region.Notes.SaveDraftAsync(region.Physician, note.Id, note.Version, keywords);
            var stored = await region.Notes.GetAsync(region.Physician, note.Id);
            // In the note type's order, whatever order they came in.
            Assert.Equal(keywords.Select(k => (k.Keyword, k.Text)).Order(), stored.Keywords.Select(k => (k.Keyword, k.Text)).Order());
            Assert.Equal(note.Keywords.Select(k => (k.Keyword, k.Text)), stored.Keywords.Select(k => (k.Keyword, k.Text)));
            Assert.Equal(note.Version, stored.Version);
        }
    }

    [Fact]
    public async Task A_save_that_waited_for_a_merge_moving_its_note_writes_the_new_keywords_on_the_patient_the_note_moved_to()
    {
        // PostgreSQL only: the save must be held at its UPDATE by another transaction's row lock, which SQLite's one writer cannot show.
        var (region, patientId) = await TestRegion.WithPatientAsync(DatabaseEngine.Postgres);
        var target = (await region.Patients.RegisterAsync(region.Physician, TestNumbers.Personnummer(1960, 5, 5), new PatientDetails("Ek", "Per"))).PatientId;
        var note = await region.Notes.CreateDraftAsync(region.Physician, patientId, "Daganteckning");
        note = await region.Notes.SaveDraftAsync(region.Physician, note.Id, note.Version, [new("Aktuellt", "Feber.")]);
        var cancel = TestContext.Current.CancellationToken;

        // A merge's part in the note, as PatientRegistry.Merge writes it, holding the note's row while the save starts.
        await using var merge = await region.Database.OpenUnscopedAsync(cancel);
        await using var moving = await merge.BeginTransactionAsync(cancel);
        await Dapper.SqlMapper.ExecuteAsync(merge, "SELECT 1 FROM note WHERE id = @id FOR UPDATE", new { id = note.Id }, moving);
        var save = region.Notes.SaveDraftAsync(region.Physician, note.Id, note.Version,
            [new("Aktuellt", "Feber."), new("Bedömning", "Pneumoni."), new("Åtgärd", "Antibiotika.")], cancel);
        await using (var watch = await region.Database.OpenUnscopedAsync(cancel))
            while (!save.IsCompleted && await Dapper.SqlMapper.ExecuteScalarAsync<long>(watch,
                       "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'UPDATE note SET%'") == 0)
                cancel.ThrowIfCancellationRequested();
        await Dapper.SqlMapper.ExecuteAsync(merge,
            "UPDATE note SET patient_id = @target WHERE id = @id; UPDATE note_keyword SET patient_id = @target WHERE note_id = @id", new { id = note.Id, target }, moving);
        await moving.CommitAsync(cancel);
        await save;

        await using var check = await region.Database.OpenUnscopedAsync(cancel);
        var owners = (await Dapper.SqlMapper.QueryAsync<Guid>(check, "SELECT patient_id FROM note_keyword WHERE note_id = @id", new { id = note.Id })).ToList();
        Assert.Equal(3, owners.Count);
        Assert.All(owners, owner => Assert.Equal(target, owner));
    }

    [Fact]
    public async Task On_PostgreSQL_a_note_is_loaded_on_plans_made_once_per_connection_and_leaves_the_session_as_it_was()
    {
        // One connection in the pool, so that every load below runs in the same session.
        var database = new Database(DatabaseEngine.Postgres, await TestDatabases.CreateMigratedConnectionStringAsync(DatabaseEngine.Postgres) + ";Maximum Pool Size=1");
        var region = await TestRegion.OnAsync(database);
        var patientId = (await region.Patients.RegisterAsync(region.Physician, "19121212-1212", new PatientDetails("Ek", "Per"))).PatientId;
        var note = await region.Notes.CreateDraftAsync(region.Physician, patientId, "Daganteckning");

        // Each save loads the note before and after it is written; a read loads it again.
        for (var i = 0; i < 3; i++)
            note = await region.Notes.SaveDraftAsync(region.Physician, note.Id, note.Version, [new("Aktuellt", $"Version {i}")]);
        Assert.Equal("Version 2", (await region.Notes.GetAsync(region.Physician, note.Id)).Keywords.Single(k => k.Keyword == "Aktuellt").Text);

        await using var connection = await database.OpenUnscopedAsync(TestContext.Current.CancellationToken);
        var plans = (await Dapper.SqlMapper.QueryAsync<(long Generic, long Custom)>(connection,
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE 'SELECT note_id AS NoteId, keyword AS Keyword%'")).ToList();
        var load = Assert.Single(plans);
        Assert.True(load.Generic >= 4, $"generic plans: {load.Generic}");
        Assert.Equal(0, load.Custom);
        // The save's own statements too: the guarded UPDATE and the keywords written in place.
        var saves = (await Dapper.SqlMapper.QueryAsync<(string Statement, long Generic, long Custom)>(connection,
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE 'UPDATE note SET version%' OR statement LIKE 'INSERT INTO note_keyword%' OR statement LIKE 'DELETE FROM note_keyword%'")).ToList();
        Assert.Equal(3, saves.Count);
        Assert.All(saves, save => Assert.True(save.Generic == 3 && save.Custom == 0, $"{save.Statement[..20]}: generic {save.Generic}, custom {save.Custom}"));
        // SET LOCAL lasted until the load's own transaction ended.
        Assert.Equal("force_custom_plan", await Dapper.SqlMapper.ExecuteScalarAsync<string>(connection, "SHOW plan_cache_mode"));
    }
}

