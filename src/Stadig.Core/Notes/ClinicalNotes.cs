using System.Data.Common;
using System.Text;
using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Downtime;
using Stadig.Fhir.Records;
using Stadig.Organisation;
using Stadig.Storage;

using Stadig.Telemetry;

namespace Stadig.Notes;

/// <summary>Someone else saved the draft first. Carries what is stored now, so both texts can be shown.</summary>
public sealed class NoteConflictException(Note current)
    : ConflictException("Någon annan har sparat anteckningen sedan du öppnade den. Båda texterna visas; inget har skrivits över.")
{
    public Note Current { get; } = current;
}

/// <summary>
/// Clinical notes (journalanteckningar): drafts saved with a version, signing with a content hash,
/// countersigning, amendments as new linked notes. Every read and write goes through the checkpoint.
/// </summary>
public sealed class ClinicalNotes(Database database, PatientCheckpoint checkpoint, TimeProvider clock, RegionTime? regionTime = null)
{
    private readonly RegionTime _time = regionTime ?? RegionTime.Sweden;

    public const int MaxKeywordLength = 20_000;
    public const int MaxNoteLength = 100_000;

    public static bool MayWrite(Role role) => role is Role.Physician or Role.Nurse or Role.MedicalSecretary;

    /// <summary>Physicians sign every note type; nurses their own kinds of notes, never an epikris; secretaries only their administrative notes.</summary>
    public static bool MaySign(Role role, string noteType) =>
        role == Role.Physician || (role == Role.Nurse && noteType != NoteTypes.DischargeSummary)
        || (role == Role.MedicalSecretary && noteType == NoteTypes.Administrative);

    /// <summary>
    /// Starts a draft. With <paramref name="backEntry"/> the note is one written on paper during a
    /// downtime and entered afterwards (efterregistrering): it is marked so, in the same transaction,
    /// and shown at its clinical time; a time outside every registered downtime period is refused.
    /// </summary>
    public async Task<Note> CreateDraftAsync(Caller caller, Guid patientId, string noteType, Guid? responsibleSignerId = null, string? clientRequestId = null,
        BackEntryClaim? backEntry = null, CancellationToken cancellationToken = default)
    {
        if (!MayWrite(caller.Role)) throw new ForbiddenException("Din roll får inte skriva journalanteckningar.");
        var type = NoteTypes.Find(noteType) ?? throw new InvalidInputException("noteType", $"Okänd anteckningstyp \"{noteType}\".");
        // Refused here, not only left out of the menu: a posted form or an integration names any type.
        if (!NoteTypes.MayStart(caller.Role, type, responsibleSignerId is not null))
            throw new ForbiddenException($"Din roll ({caller.Role.Swedish()}) skriver inte {type.Name}.");
        var id = Guid.CreateVersion7();
        var created = await checkpoint.WriteAsync(caller, patientId, "Note", AuditActivity.Write, async (connection, transaction, _) =>
        {
            var now = clock.GetUtcNow();
            var inserted = await connection.ExecuteAsync(
                """
                INSERT INTO note (id, patient_id, unit_id, note_type, status, author_id, created_at, version, updated_at, updated_by, responsible_signer_id, client_request_id)
                VALUES (@id, @patientId, @unitId, @type, 'Draft', @staffId, @now, 1, @now, @staffId, @signer, @clientRequestId)
                ON CONFLICT (client_request_id) DO NOTHING
                """,
                new { id, patientId, unitId = caller.UnitId, type = type.Name, staffId = caller.StaffId, now, signer = responsibleSignerId ?? (caller.Role == Role.Physician ? caller.StaffId : null), clientRequestId },
                transaction);
            if (inserted == 0)
                return await connection.QuerySingleAsync<Guid>("SELECT id FROM note WHERE client_request_id = @clientRequestId", new { clientRequestId }, transaction);
            await WriteKeywordsAsync(connection, transaction, id, patientId, type.Keywords.Select(k => new NoteKeyword(k, "")).ToList());
            if (backEntry is not null)
                await BackEntries.MarkAsync(connection, transaction, caller, patientId, BackEntryRecord.Note, id, BackEntryEvent.Note, backEntry, now, _time);
            return id;
        }, cancellationToken);
        return await LoadAsync(caller, created, cancellationToken) ?? throw new NotFoundException("Anteckningen finns inte.");
    }

    /// <summary>
    /// Saves a draft's text. <paramref name="expectedVersion"/> is the version the writer started from:
    /// if someone saved since, nothing is written and the answer carries both texts.
    /// </summary>
    public async Task<Note> SaveDraftAsync(Caller caller, Guid noteId, int expectedVersion, IReadOnlyList<NoteKeyword> keywords, CancellationToken cancellationToken = default)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try { return await SaveDraftTimedAsync(caller, noteId, expectedVersion, keywords, cancellationToken); }
        finally { StadigTelemetry.RecordSince(StadigTelemetry.AutosaveDuration, started); }
    }

    private async Task<Note> SaveDraftTimedAsync(Caller caller, Guid noteId, int expectedVersion, IReadOnlyList<NoteKeyword> keywords, CancellationToken cancellationToken)
    {
        if (!MayWrite(caller.Role)) throw new ForbiddenException("Din roll får inte skriva journalanteckningar.");
        var (note, context) = await FindForAsync(caller, noteId, AuditActivity.Write, cancellationToken);
        var clean = Validate(note.NoteType, keywords);
        var now = clock.GetUtcNow();
        await checkpoint.WriteAsync(context, "Note", AuditActivity.Write, async (connection, transaction, grant) =>
        {
            RequireVisible(grant, note);
            var parameters = new DynamicParameters(new { noteId, expectedVersion, now, staffId = caller.StaffId });
            if (!await UpdateWithTextAsync(connection, transaction, note.Id,
                    "UPDATE note SET version = version + 1, updated_at = @now, updated_by = @staffId WHERE id = @noteId AND version = @expectedVersion AND status = 'Draft'",
                    parameters, clean))
                await ThrowWhyNotAsync(caller, noteId, cancellationToken);
            return 0;
        }, cancellationToken);
        // The note as this transaction left it (the version it moved from was the one expected): an
        // autosave is on every clinician's critical path, and reading it back would be two round trips more.
        return note with { Version = expectedVersion + 1, UpdatedAt = now, Keywords = clean };
    }

    /// <summary>Signs the draft as it stands at <paramref name="expectedVersion"/>; from then on it never changes.</summary>
    public async Task<Note> SignAsync(Caller caller, Guid noteId, int expectedVersion, CancellationToken cancellationToken = default)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try { return await SignTimedAsync(caller, noteId, expectedVersion, cancellationToken); }
        finally { StadigTelemetry.RecordSince(StadigTelemetry.SignDuration, started); }
    }

    private async Task<Note> SignTimedAsync(Caller caller, Guid noteId, int expectedVersion, CancellationToken cancellationToken)
    {
        var (note, context) = await FindForAsync(caller, noteId, AuditActivity.Sign, cancellationToken);
        if (!MaySign(caller.Role, note.NoteType)) throw new ForbiddenException("Din roll får inte signera den här anteckningen.");
        var hash = SignableHash(note.Keywords);
        await checkpoint.WriteAsync(context, "Note", AuditActivity.Sign, async (connection, transaction, grant) =>
        {
            RequireVisible(grant, note);
            var now = clock.GetUtcNow();
            await MarkSignedAsync(connection, transaction, caller, noteId, expectedVersion, hash, now, saved: false, cancellationToken);
            await NoteAsFhir.PublishAsync(connection, transaction, noteId, now);
            return 0;
        }, cancellationToken);
        return (await LoadAsync(caller, noteId, cancellationToken))!;
    }

    /// <summary>
    /// Saves the text and signs it in one transaction: the editor's "Sign", so that what is on the
    /// screen is exactly what is signed, with one access decision and one audit event (the signing).
    /// Either both happen or neither. The version moves as a save and a sign would move it (+2).
    /// </summary>
    public async Task SaveAndSignAsync(Caller caller, Guid noteId, int expectedVersion, IReadOnlyList<NoteKeyword> keywords, CancellationToken cancellationToken = default)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try { await SaveAndSignTimedAsync(caller, noteId, expectedVersion, keywords, cancellationToken); }
        finally { StadigTelemetry.RecordSince(StadigTelemetry.SignDuration, started); }
    }

    private async Task SaveAndSignTimedAsync(Caller caller, Guid noteId, int expectedVersion, IReadOnlyList<NoteKeyword> keywords, CancellationToken cancellationToken)
    {
        if (!MayWrite(caller.Role)) throw new ForbiddenException("Din roll får inte skriva journalanteckningar.");
        var (note, context) = await FindForAsync(caller, noteId, AuditActivity.Sign, cancellationToken);
        if (!MaySign(caller.Role, note.NoteType)) throw new ForbiddenException("Din roll får inte signera den här anteckningen.");
        var clean = Validate(note.NoteType, keywords);
        // The keywords are stored as validated, in this order, so the hash is the stored text's.
        var hash = SignableHash(clean);
        await checkpoint.WriteAsync(context, "Note", AuditActivity.Sign, async (connection, transaction, grant) =>
        {
            RequireVisible(grant, note);
            var now = clock.GetUtcNow();
            if (!await UpdateWithTextAsync(connection, transaction, note.Id, MarkSignedSql, MarkSignedParameters(caller, noteId, expectedVersion, hash, now, saved: true), clean))
                await ThrowWhyNotAsync(caller, noteId, cancellationToken);
            await NoteAsFhir.PublishAsync(connection, transaction, noteId, now);
            return 0;
        }, cancellationToken);
    }

    /// <summary>The content hash a note is signed with; an empty note is not signed.</summary>
    private static string SignableHash(IReadOnlyList<NoteKeyword> keywords) =>
        keywords.All(k => k.Text.Length == 0)
            ? throw new InvalidInputException("keywords", "Anteckningen är tom och kan inte signeras.")
            : NoteContentHash.Compute(keywords.Select(k => (k.Keyword, k.Text)));

    /// <summary>
    /// Marks the draft signed at <paramref name="expectedVersion"/>: the version check makes sure what is
    /// signed is exactly what the signer saw. <paramref name="saved"/>: the text was saved in the same
    /// step, which moves the version and the last change as a save would.
    /// </summary>
    private async Task MarkSignedAsync(DbConnection connection, DbTransaction transaction, Caller caller, Guid noteId, int expectedVersion,
        string hash, DateTimeOffset now, bool saved, CancellationToken cancellationToken)
    {
        var signed = await connection.ExecuteAsync(MarkSignedSql, MarkSignedParameters(caller, noteId, expectedVersion, hash, now, saved), transaction);
        if (signed == 0) await ThrowWhyNotAsync(caller, noteId, cancellationToken);
    }

    private const string MarkSignedSql =
        """
        UPDATE note SET status = 'Signed', signer_id = @staffId, signed_at = @now, content_sha256 = @hash, version = version + @versionStep,
                        updated_at = CASE WHEN @saved THEN @now ELSE updated_at END, updated_by = CASE WHEN @saved THEN @staffId ELSE updated_by END
        WHERE id = @noteId AND version = @expectedVersion AND status = 'Draft'
        """;

    private static DynamicParameters MarkSignedParameters(Caller caller, Guid noteId, int expectedVersion, string hash, DateTimeOffset now, bool saved) =>
        new(new { noteId, expectedVersion, staffId = caller.StaffId, now, hash, saved, versionStep = saved ? 2 : 1 });

    /// <summary>
    /// A draft's change (<paramref name="update"/>: an UPDATE of the one note row, guarded by its expected
    /// version) and its new text, in one round trip: the UPDATE first, so it holds the note's row while
    /// the text is replaced. False when the guard matched nothing (someone saved or signed since): the
    /// text statements then ran for nothing, and the caller throws, which rolls the transaction back.
    /// </summary>
    /// <remarks>
    /// The keywords are written in place: a keyword whose text changed is updated, an unchanged one is
    /// left alone, and positions beyond the new list are deleted. An autosave changes one keyword of
    /// five; deleting and inserting all of them checked both foreign keys and wrote both indexes for
    /// each row, at every autosave (0.65 ms of 1.1 at 1,000,000 patients; docs/benchmarks.md, twelfth
    /// run), where an update of the text alone touches no index.
    /// On generic plans (<see cref="Database.OnGenericPlanAlone"/>), one per keyword count and
    /// connection: each statement finds its rows by key whatever the values, and planning the three
    /// took 0.35 ms of PostgreSQL's time at every autosave (1.9 s per overload run; docs/benchmarks.md,
    /// thirteenth run).
    /// </remarks>
    private async Task<bool> UpdateWithTextAsync(DbConnection connection, DbTransaction transaction, Guid noteId, string update,
        DynamicParameters parameters, IReadOnlyList<NoteKeyword> keywords)
    {
        var sql = new StringBuilder(update).Append(" RETURNING version;");
        // The patient as the note row says now, not as it was read before the UPDATE took the row: a
        // merge that moved the note in between would otherwise leave new keyword rows on the old patient.
        if (keywords.Count > 0)
            sql.Append('\n').Append(KeywordsInsert(parameters, noteId, "(SELECT n.patient_id FROM note n WHERE n.id = @noteId)", keywords))
                .Append("\nON CONFLICT (note_id, position) DO UPDATE SET keyword = excluded.keyword, text = excluded.text")
                .Append(" WHERE note_keyword.keyword <> excluded.keyword OR note_keyword.text <> excluded.text;");
        parameters.Add("keywordCount", keywords.Count);
        sql.Append("\nDELETE FROM note_keyword WHERE note_id = @noteId AND position >= @keywordCount;");
        using var results = await connection.QueryMultipleAsync(database.OnGenericPlanAlone(sql.ToString(), inTransaction: true), parameters, transaction);
        return (await results.ReadAsync<int>()).Any();
    }

    /// <summary>A second physician countersigns a signed note (e.g. a resident's). The content stays as it is.</summary>
    public async Task<Note> CountersignAsync(Caller caller, Guid noteId, CancellationToken cancellationToken = default)
    {
        if (caller.Role != Role.Physician) throw new ForbiddenException("Bara läkare kan kontrasignera.");
        var (note, context) = await FindForAsync(caller, noteId, AuditActivity.Sign, cancellationToken);
        if (!note.IsSigned) throw new InvalidInputException("noteId", "Anteckningen måste vara signerad innan den kontrasigneras.");
        if (note.SignerId == caller.StaffId) throw new InvalidInputException("noteId", "Du kan inte kontrasignera din egen signering.");
        await checkpoint.WriteAsync(context, "Note", AuditActivity.Sign, async (connection, transaction, grant) =>
        {
            RequireVisible(grant, note);
            var done = await connection.ExecuteAsync(
                "UPDATE note SET countersigner_id = @staffId, countersigned_at = @now WHERE id = @noteId AND status = 'Signed' AND countersigner_id IS NULL",
                new { noteId, staffId = caller.StaffId, now = clock.GetUtcNow() }, transaction);
            if (done == 0) throw new ConflictException("Anteckningen är redan kontrasignerad.");
            await NoteAsFhir.PublishAsync(connection, transaction, noteId, clock.GetUtcNow());
            return 0;
        }, cancellationToken);
        return (await LoadAsync(caller, noteId, cancellationToken))!;
    }

    /// <summary>Starts an amendment: a new draft linked to the signed note, with its text to edit. The signed note stays as it was.</summary>
    public async Task<Note> AmendAsync(Caller caller, Guid noteId, string? clientRequestId = null, CancellationToken cancellationToken = default)
    {
        if (!MayWrite(caller.Role)) throw new ForbiddenException("Din roll får inte skriva journalanteckningar.");
        var (original, context) = await FindForAsync(caller, noteId, AuditActivity.Write, cancellationToken);
        if (!original.IsSigned) throw new InvalidInputException("noteId", "Bara en signerad anteckning kan ändras genom en ny version; ett utkast ändras direkt.");
        if (NoteTypes.Find(original.NoteType) is { } type && !NoteTypes.MayStart(caller.Role, type, original.SignerId is not null))
            throw new ForbiddenException($"Din roll ({caller.Role.Swedish()}) skriver inte {type.Name}.");
        var id = Guid.CreateVersion7();
        var created = await checkpoint.WriteAsync(context, "Note", AuditActivity.Write, async (connection, transaction, grant) =>
        {
            RequireVisible(grant, original);
            var newer = await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM note WHERE amends_note_id = @noteId AND status <> 'Discarded'", new { noteId }, transaction);
            if (newer > 0) throw new ConflictException("Anteckningen har redan en nyare version; ändra den senaste.");
            var now = clock.GetUtcNow();
            var inserted = await connection.ExecuteAsync(
                """
                INSERT INTO note (id, patient_id, encounter_id, unit_id, note_type, status, author_id, created_at, version, updated_at, updated_by, responsible_signer_id, amends_note_id, client_request_id)
                VALUES (@id, @patientId, NULL, @unitId, @type, 'Draft', @staffId, @now, 1, @now, @staffId, @signer, @noteId, @clientRequestId)
                ON CONFLICT (client_request_id) DO NOTHING
                """,
                new { id, patientId = original.PatientId, unitId = caller.UnitId, type = original.NoteType, staffId = caller.StaffId, now,
                      signer = caller.Role == Role.Physician ? caller.StaffId : original.SignerId, noteId, clientRequestId }, transaction);
            if (inserted == 0)
                return await connection.QuerySingleAsync<Guid>("SELECT id FROM note WHERE client_request_id = @clientRequestId", new { clientRequestId }, transaction);
            await WriteKeywordsAsync(connection, transaction, id, original.PatientId, original.Keywords);
            // A new version of a note from paper is still that note: it keeps its clinical time and back-entry mark.
            await connection.ExecuteAsync(
                """
                INSERT INTO back_entry (id, patient_id, record_type, record_id, event, downtime_period_id, clinical_at, entered_at, entered_by, unit_id)
                SELECT @markId, patient_id, record_type, @id, event, downtime_period_id, clinical_at, entered_at, entered_by, unit_id
                FROM back_entry WHERE record_id = @noteId AND event = 'Note'
                """, new { markId = Guid.CreateVersion7(), id, noteId }, transaction);
            return id;
        }, cancellationToken);
        return (await LoadAsync(caller, created, cancellationToken))!;
    }

    /// <summary>One note, through the checkpoint; a note of a unit the caller may not see reads as not found.</summary>
    public async Task<Note> GetAsync(Caller caller, Guid noteId, CancellationToken cancellationToken = default) =>
        (await ReadAsync(caller, noteId, cancellationToken)).Note;

    /// <summary>
    /// One note and its patient for the banner, as the note page shows them: one access decision and
    /// one audited read, instead of one for the note and another for the patient.
    /// </summary>
    /// <returns>The note, its patient and the banner's attention signals, under one grant and audit event.</returns>
    public async Task<(Note Note, Patients.Patient Patient, IReadOnlyList<Chart.RecordEntry> Signals)> GetWithPatientAsync(Caller caller, Guid noteId,
        CancellationToken cancellationToken = default)
    {
        var (note, grant) = await ReadAsync(caller, noteId, cancellationToken);
        await using var connection = await grant.OpenAsync(cancellationToken);
        var patient = await Patients.PatientRegistry.FindInAsync(grant, connection, null) ?? throw new NotFoundException("Patienten finns inte.");
        return (note, patient, await Chart.PatientRecord.SignalsAsync(connection, database.Engine, grant.Context));
    }

    /// <summary>The note, read through the checkpoint (allowed and audited once), and the grant that allowed it.</summary>
    private async Task<(Note Note, PatientAccessGrant Grant)> ReadAsync(Caller caller, Guid noteId, CancellationToken cancellationToken)
    {
        // The note first: it names its patient, so there is no separate lookup of the patient's id.
        var note = await LoadAsync(caller, noteId, cancellationToken) ?? throw new NotFoundException("Anteckningen finns inte.");
        var grant = await checkpoint.ReadAsync(caller, note.PatientId, "Note", cancellationToken);
        if (!grant.Context.MaySee(note.UnitId)) throw await checkpoint.RefuseAsync(caller, note.PatientId, "Note", AuditActivity.Read, cancellationToken);
        return (note, grant);
    }

    /// <summary>Every version of the note, oldest first: the original and each amendment, with who and when.</summary>
    public async Task<IReadOnlyList<Note>> HistoryAsync(Caller caller, Guid noteId, CancellationToken cancellationToken = default) =>
        (await HistoryAsync(caller, noteId, withPatient: false, cancellationToken)).Versions;

    /// <summary>The history page: the versions, the patient and the banner's attention signals, under one grant and audit event.</summary>
    public async Task<(IReadOnlyList<Note> Versions, Patients.Patient Patient, IReadOnlyList<Chart.RecordEntry> Signals)> HistoryWithPatientAsync(Caller caller, Guid noteId,
        CancellationToken cancellationToken = default)
    {
        var (versions, patient, signals) = await HistoryAsync(caller, noteId, withPatient: true, cancellationToken);
        return (versions, patient!, signals!);
    }

    private async Task<(IReadOnlyList<Note> Versions, Patients.Patient? Patient, IReadOnlyList<Chart.RecordEntry>? Signals)> HistoryAsync(Caller caller, Guid noteId,
        bool withPatient, CancellationToken cancellationToken)
    {
        var patientId = await PatientOfAsync(caller, noteId, cancellationToken);
        var grant = await checkpoint.ReadAsync(caller, patientId, "NoteHistory", cancellationToken);
        await using var connection = await grant.OpenAsync(cancellationToken);
        var links = (await connection.QueryAsync<(Guid Id, Guid? Amends)>(
            "SELECT id, amends_note_id FROM note WHERE patient_id = @patientId AND (amends_note_id IS NOT NULL AND status <> 'Discarded' OR id = @noteId)",
            new { patientId, noteId })).ToList();
        var root = noteId;
        while (links.FirstOrDefault(l => l.Id == root).Amends is { } older) root = older;
        var chain = new List<Guid> { root };
        while (links.FirstOrDefault(l => l.Amends == chain[^1]) is { Id: var next } && next != Guid.Empty) chain.Add(next);
        var versions = await LoadManyAsync(caller, chain, cancellationToken);
        // A note the caller may not see has no history for them either: refused and audited, as the note itself is.
        if (versions.FirstOrDefault(n => n.Id == noteId) is not { } asked || !grant.Context.MaySee(asked.UnitId))
            throw await checkpoint.RefuseAsync(caller, patientId, "NoteHistory", AuditActivity.Read, cancellationToken);
        var visible = versions.Where(n => grant.Context.MaySee(n.UnitId)).ToList();
        if (!withPatient) return (visible, null, null);
        var patient = await Patients.PatientRegistry.FindInAsync(grant, connection, null) ?? throw new NotFoundException("Patienten finns inte.");
        return (visible, patient, await Chart.PatientRecord.SignalsAsync(connection, database.Engine, grant.Context));
    }

    /// <summary>Unsigned notes waiting for the caller's signature, oldest first (the signing worklist).</summary>
    public async Task<IReadOnlyList<Note>> UnsignedForSignerAsync(Caller caller, CancellationToken cancellationToken = default)
    {
        await checkpoint.AuditRegistryAsync(caller, "NoteWorklist", "osignerade anteckningar", cancellationToken: cancellationToken);
        var scope = checkpoint.Scope(caller);
        await using var connection = await scope.OpenAsync(cancellationToken);
        // Only what the checkpoint lets the caller see: a draft named for them from a unit the patient blocked is not theirs to read.
        var ids = (await connection.QueryAsync<Guid>(
            $"SELECT n.id FROM note n WHERE n.responsible_signer_id = @staffId AND n.status = 'Draft' AND {scope.VisibleRowsSql("n.patient_id", "n.unit_id")} ORDER BY n.created_at LIMIT 200",
            scope.Parameters())).ToList();
        return await LoadManyAsync(caller, ids, cancellationToken);
    }

    /// <summary>
    /// The caller's worklist of unsigned notes: those waiting for the caller's signature and the
    /// caller's own drafts, oldest first, each with its patient (name and identifier on every row). A list
    /// of patients: audited once; a protected identity is masked unless the caller's unit has a care relation.
    /// </summary>
    public async Task<IReadOnlyList<WorklistNote>> WorklistAsync(Caller caller, CancellationToken cancellationToken = default)
    {
        var scope = checkpoint.Scope(caller);
        await using var connection = await scope.OpenAsync(cancellationToken);
        // Filtered by the checkpoint's rule before the limit, as the inbox is: a draft from a unit the caller may not see is left out.
        var ids = (await connection.QueryAsync<Guid>(
            $"""
            SELECT n.id FROM note n
            WHERE n.status = 'Draft' AND (n.responsible_signer_id = @staffId OR n.author_id = @staffId) AND {scope.VisibleRowsSql("n.patient_id", "n.unit_id")}
            ORDER BY n.created_at LIMIT 200
            """, scope.Parameters())).ToList();
        var notes = await LoadManyAsync(caller, ids, cancellationToken);
        var patientIds = notes.Select(n => n.PatientId).Distinct().ToList();
        var parameters = new DynamicParameters();
        database.AddIds(parameters, "ids", patientIds);
        var patients = patientIds.Count == 0 ? [] : (await connection.QueryAsync<Patients.Patient>(
            $"SELECT {Patients.PatientRegistry.PatientColumns} FROM patient WHERE {database.AnyOf("id", "ids")}", parameters)).ToDictionary(p => p.Id);
        var flags = AuditFlags.None;
        var shown = new Dictionary<Guid, Patients.Patient>();
        foreach (var (id, patient) in patients)
        {
            if (patient.ProtectedIdentity == Patients.ProtectedIdentity.None) { shown[id] = patient; continue; }
            var context = await checkpoint.ContextAsync(caller, id, cancellationToken);
            shown[id] = context?.HasCareRelation == true ? patient : patient.AsMasked();
            flags |= AuditFlags.ProtectedIdentity;
        }
        // Audited before anything is shown; a role that may not list patients is refused here.
        await checkpoint.AuditRegistryAsync(caller, "NoteWorklist", $"{notes.Count} osignerade anteckningar", flags, cancellationToken);
        return notes.Where(n => shown.ContainsKey(n.PatientId)).Select(n => new WorklistNote(n, shown[n.PatientId])).ToList();
    }

    /// <summary>
    /// Discards the caller's own empty draft (opened by mistake), so it leaves the worklist. Only an
    /// empty one: once anything is written the record keeps it (append-only) and the draft is signed
    /// or corrected. The draft is marked discarded, not deleted, and the discard is audited (Radera).
    /// </summary>
    public async Task DiscardEmptyDraftAsync(Caller caller, Guid noteId, CancellationToken cancellationToken = default)
    {
        var (note, context) = await FindForAsync(caller, noteId, AuditActivity.Delete, cancellationToken);
        if (note.AuthorId != caller.StaffId) throw new ForbiddenException("Bara den som skapade utkastet kan kasta det.");
        if (note.IsSigned) throw new ConflictException("Anteckningen är signerad och kan inte kastas.");
        if (note.IsDiscarded) return;
        if (!note.IsEmpty)
            throw new InvalidInputException("noteId", "Utkastet innehåller text och kan inte kastas: det som skrivits i journalen finns kvar. Signera det, eller skriv under ett sökord varför det inte gäller.");
        await checkpoint.WriteAsync(context, "Note", AuditActivity.Delete, async (connection, transaction, grant) =>
        {
            RequireVisible(grant, note);
            // Still empty, and still a draft, at the moment of the change: a save in between wins.
            var discarded = await connection.ExecuteAsync(
                """
                UPDATE note SET status = 'Discarded', version = version + 1, updated_at = @now, updated_by = @staffId
                WHERE id = @noteId AND status = 'Draft' AND author_id = @staffId
                  AND NOT EXISTS (SELECT 1 FROM note_keyword k WHERE k.note_id = @noteId AND k.text <> '')
                """, new { noteId, staffId = caller.StaffId, now = clock.GetUtcNow() }, transaction);
            if (discarded == 0) throw new ConflictException("Utkastet har ändrats sedan du öppnade listan och kastades inte.");
            return 0;
        }, cancellationToken);
    }

    /// <summary>
    /// The note a write is about, if the caller may reach it, and the access facts that decided so, which the
    /// write then uses (<see cref="PatientCheckpoint.WriteAsync{T}(PatientAccessContext, string, AuditActivity, Func{DbConnection, DbTransaction, PatientAccessGrant, Task{T}}, CancellationToken)"/>)
    /// rather than gathering them again; a refusal is audited and reads as not found.
    /// </summary>
    private async Task<(Note Note, PatientAccessContext Context)> FindForAsync(Caller caller, Guid noteId, AuditActivity activity, CancellationToken cancellationToken)
    {
        // The note first: it names its patient, so the access facts are one more round trip, not two.
        var note = await LoadAsync(caller, noteId, cancellationToken) ?? throw new NotFoundException("Anteckningen finns inte, eller så saknar du vårdrelation.");
        var context = await checkpoint.ContextAsync(caller, note.PatientId, cancellationToken);
        if (context is null || !context.MayOpen || !context.MaySee(note.UnitId))
            throw await checkpoint.RefuseAsync(caller, note.PatientId, "Note", activity, cancellationToken);
        return (note, context);
    }

    private static void RequireVisible(PatientAccessGrant grant, Note note)
    {
        if (!grant.Context.MaySee(note.UnitId)) throw new NotFoundException("Anteckningen finns inte, eller så saknar du vårdrelation.");
    }

    private async Task<Guid> PatientOfAsync(Caller caller, Guid noteId, CancellationToken cancellationToken)
    {
        await using var connection = await checkpoint.Scope(caller).OpenAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<Guid?>("SELECT patient_id FROM note WHERE id = @noteId", new { noteId })
            ?? throw new NotFoundException("Anteckningen finns inte, eller så saknar du vårdrelation.");
    }

    private async Task ThrowWhyNotAsync(Caller caller, Guid noteId, CancellationToken cancellationToken)
    {
        var current = await LoadAsync(caller, noteId, cancellationToken) ?? throw new NotFoundException("Anteckningen finns inte.");
        if (current.IsSigned) throw new ConflictException("Anteckningen är redan signerad och kan inte ändras. Skapa en ny version.");
        if (current.IsDiscarded) throw new ConflictException("Utkastet är kastat och kan inte ändras. Skapa en ny anteckning.");
        throw new NoteConflictException(current);
    }

    /// <summary>Checks keywords against the note type's template and normalises text to NFC with \n line breaks.</summary>
    private static List<NoteKeyword> Validate(string noteType, IReadOnlyList<NoteKeyword> keywords)
    {
        var template = NoteTypes.Find(noteType)?.Keywords ?? throw new InvalidInputException("noteType", $"Okänd anteckningstyp \"{noteType}\".");
        var clean = new List<NoteKeyword>();
        for (var i = 0; i < keywords.Count; i++)
        {
            var k = keywords[i];
            // The field as the client sent it (its position), so the editor can point at the text box.
            var field = $"keywords[{i}]";
            if (!template.Contains(k.Keyword)) throw new InvalidInputException("keywords", $"Sökordet \"{k.Keyword}\" hör inte till {noteType}.");
            if (clean.Any(c => c.Keyword == k.Keyword)) throw new InvalidInputException("keywords", $"Sökordet \"{k.Keyword}\" förekommer två gånger.");
            var text = (k.Text ?? "").Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n').NormalizeText(NormalizationForm.FormC);
            if (text.Length > MaxKeywordLength)
                throw new InvalidInputException(field, $"Texten under \"{k.Keyword}\" är {text.Length} tecken; högst {MaxKeywordLength} får plats.", MaxKeywordLength);
            if (text.Any(c => char.IsControl(c) && c is not '\n' and not '\t')) throw new InvalidInputException(field, $"Texten under \"{k.Keyword}\" innehåller otillåtna tecken.");
            clean.Add(new NoteKeyword(k.Keyword, text));
        }
        if (clean.Sum(k => k.Text.Length) > MaxNoteLength) throw new InvalidInputException("keywords", $"Anteckningen är längre än {MaxNoteLength} tecken.", MaxNoteLength);
        // Template order, whatever order the client sent.
        return clean.OrderBy(k => template.ToList().IndexOf(k.Keyword)).ToList();
    }

    /// <summary>All of a note's keywords in one statement: an autosave is on every clinician's critical path.</summary>
    private static async Task WriteKeywordsAsync(DbConnection connection, DbTransaction transaction, Guid noteId, Guid patientId, IReadOnlyList<NoteKeyword> keywords)
    {
        if (keywords.Count == 0) return;
        var parameters = new DynamicParameters();
        parameters.Add("kw_patient", patientId);
        await connection.ExecuteAsync(KeywordsInsert(parameters, noteId, "@kw_patient", keywords), parameters, transaction);
    }

    /// <summary>
    /// The INSERT of a note's keywords, its values added to <paramref name="parameters"/> (as @noteId, @kN, @tN);
    /// <paramref name="patient"/> is the SQL of their patient id.
    /// </summary>
    private static string KeywordsInsert(DynamicParameters parameters, Guid noteId, string patient, IReadOnlyList<NoteKeyword> keywords)
    {
        parameters.Add("noteId", noteId);
        var rows = new List<string>(keywords.Count);
        for (var i = 0; i < keywords.Count; i++)
        {
            parameters.Add($"k{i}", keywords[i].Keyword);
            parameters.Add($"t{i}", keywords[i].Text);
            rows.Add($"(@noteId, {patient}, {i}, @k{i}, @t{i})");
        }
        return $"INSERT INTO note_keyword (note_id, patient_id, position, keyword, text) VALUES {string.Join(", ", rows)}";
    }

    private async Task<Note?> LoadAsync(Caller caller, Guid noteId, CancellationToken cancellationToken) =>
        (await LoadManyAsync(caller, [noteId], cancellationToken)).FirstOrDefault();

    /// <summary>
    /// Notes with their keywords in two queries whatever their number, in the order of <paramref name="noteIds"/>,
    /// read in the caller's scope: each caller decides (a note's patient is known only once it is read) or has just written them.
    /// </summary>
    private async Task<IReadOnlyList<Note>> LoadManyAsync(Caller caller, IReadOnlyList<Guid> noteIds, CancellationToken cancellationToken)
    {
        if (noteIds.Count == 0) return [];
        await using var connection = await checkpoint.Scope(caller).OpenAsync(cancellationToken);
        var parameters = new DynamicParameters();
        database.AddIds(parameters, "ids", noteIds);
        using var results = await connection.QueryMultipleAsync(LoadBatch, parameters);
        var notes = (await results.ReadAsync<Note>()).ToDictionary(n => n.Id);
        var keywords = (await results.ReadAsync<KeywordRow>()).ToLookup(k => k.NoteId, k => new NoteKeyword(k.Keyword, k.Text));
        foreach (var mark in await results.ReadAsync<BackEntryMark>())
            if (notes.TryGetValue(mark.RecordId, out var marked)) notes[mark.RecordId] = marked with { BackEntry = mark };
        return noteIds.Where(notes.ContainsKey).Select(id => notes[id] with { Keywords = keywords[id].ToList() }).ToList();
    }

    private string? _loadBatch, _loadBatchInScratch;

    /// <summary>
    /// The notes, their keywords and a back-entered note's mark in one batch: one round trip, on the
    /// autosave's path too. On generic plans (<see cref="Database.OnGenericPlan"/>): each is a lookup by
    /// key whatever the ids, and planning the three took 0.55 ms against 0.3 ms of running them, at
    /// every autosave and every note opened (docs/benchmarks.md, twelfth run).
    /// </summary>
    private string LoadBatch => Database.InScratch
        ? _loadBatchInScratch ??= database.OnGenericPlan(LoadSql, inTransaction: true)
        : _loadBatch ??= database.OnGenericPlan(LoadSql);

    private string LoadSql =>
            $"""
            SELECT n.id AS Id, n.patient_id AS PatientId, n.unit_id AS UnitId, u.name AS UnitName, n.note_type AS NoteType, n.status AS Status,
                   n.version AS Version, n.author_id AS AuthorId, a.display_name AS AuthorName, n.responsible_signer_id AS ResponsibleSignerId,
                   n.signer_id AS SignerId, s.display_name AS SignerName, n.signed_at AS SignedAt, n.countersigner_id AS CountersignerId,
                   n.countersigned_at AS CountersignedAt, n.content_sha256 AS ContentSha256, n.amends_note_id AS AmendsNoteId,
                   n.created_at AS CreatedAt, n.updated_at AS UpdatedAt
            FROM note n JOIN care_unit u ON u.id = n.unit_id JOIN staff a ON a.id = n.author_id LEFT JOIN staff s ON s.id = n.signer_id
            WHERE {database.AnyOf("n.id", "ids")};
            SELECT note_id AS NoteId, keyword AS Keyword, text AS Text FROM note_keyword WHERE {database.AnyOf("note_id", "ids")} ORDER BY note_id, position;
            SELECT b.record_id AS RecordId, b.event AS Event, b.clinical_at AS ClinicalAt, b.entered_at AS EnteredAt, bs.display_name AS EnteredByName,
                   b.downtime_period_id AS DowntimePeriodId, bp.started_at AS DowntimeFrom, bp.ended_at AS DowntimeTo, bp.description AS DowntimeDescription
            FROM back_entry b JOIN staff bs ON bs.id = b.entered_by JOIN downtime_period bp ON bp.id = b.downtime_period_id
            WHERE {database.AnyOf("b.record_id", "ids")} AND b.event = 'Note'
            """;

    private sealed class KeywordRow
    {
        public Guid NoteId { get; init; }
        public string Keyword { get; init; } = "";
        public string Text { get; init; } = "";
    }
}
