using System.Data.Common;
using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Fhir.Records;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Encounters;

/// <summary>The kinds of encounter (vårdkontakt) as stored in <c>encounter.kind</c>.</summary>
public static class EncounterKinds
{
    public const string Outpatient = "Outpatient";
    public const string Inpatient = "Inpatient";
}

public sealed record Encounter
{
    public Guid Id { get; init; }
    public Guid PatientId { get; init; }
    public Guid UnitId { get; init; }
    public string UnitName { get; init; } = "";
    public string Kind { get; init; } = "";
    public string? Bed { get; init; }
    public DateTimeOffset StartedAt { get; init; }
    public DateTimeOffset? EndedAt { get; init; }
    public Guid? TransferredFromId { get; init; }
    public string? DischargeDestination { get; init; }
    public DateTimeOffset? DischargeRecordedAt { get; init; }

    public bool IsOpenAdmission => Kind == EncounterKinds.Inpatient && EndedAt is null;
}

/// <summary>A discharge as the clinician states it: when the patient left, and where to.</summary>
public sealed record DischargeDetails(DateTimeOffset At, DischargeDestination? Destination);

/// <summary>An unsigned note of the admission, as the discharge form warns about it.</summary>
public sealed record UnsignedNote(Guid Id, string NoteType, DateTimeOffset CreatedAt, string AuthorName);

/// <summary>What the discharge form shows: the patient for the banner, the admission, and what is still missing.</summary>
public sealed record DischargePreparation(Patient Patient, Encounter? Admission, DateTimeOffset AdmittedAt,
    IReadOnlyList<UnsignedNote> UnsignedNotes, bool HasDischargeSummary)
{
    /// <summary>The banner's attention signals, read under the form's grant and audit event.</summary>
    public IReadOnlyList<Stadig.Chart.RecordEntry>? Signals { get; init; }
}

/// <summary>One current inpatient on the ward list: bed, who, since when.</summary>
public sealed record WardPatient(Guid EncounterId, string? Bed, DateTimeOffset AdmittedAt, Patient Patient);

/// <summary>
/// Encounters (vårdkontakter): outpatient visits, admissions to a ward with a bed, transfers and
/// discharges, and the ward list. Every read and write goes through the checkpoint.
/// </summary>
public sealed partial class PatientEncounters(Database database, PatientCheckpoint checkpoint, AccessControl access, EncounterOptions options,
    RegionTime time, TimeProvider clock)
{
    public const int MaxBedLength = 20;

    public EncounterOptions Options => options;

    public static bool MayManage(Role role) => role is Role.Physician or Role.Nurse or Role.MedicalSecretary;

    /// <summary>An outpatient visit at the caller's unit, starting now.</summary>
    public async Task<Encounter> RegisterVisitAsync(Caller caller, Guid patientId, CancellationToken cancellationToken = default)
    {
        RequireRole(caller);
        await EnsureArrivalRelationAsync(caller, patientId, caller.UnitId, "Besök", cancellationToken);
        var id = Guid.CreateVersion7();
        await checkpoint.WriteAsync(caller, patientId, "Encounter", AuditActivity.Write, async (connection, transaction, _) =>
        {
            await InsertAsync(connection, transaction, id, patientId, caller.UnitId, EncounterKinds.Outpatient, null, null, caller);
            await EncounterAsFhir.PublishAsync(connection, transaction, id, clock.GetUtcNow());
            return 0;
        }, cancellationToken);
        return (await LoadAsync(caller, id, cancellationToken))!;
    }

    /// <summary>
    /// Admits the patient to <paramref name="wardUnitId"/> in <paramref name="bed"/>. Refused when the
    /// patient already has an open admission, or the bed holds another patient's open admission.
    /// </summary>
    public async Task<Encounter> AdmitAsync(Caller caller, Guid patientId, Guid wardUnitId, string? bed, CancellationToken cancellationToken = default)
    {
        RequireRole(caller);
        var cleanBed = CleanBed(bed);
        await RequireWardAsync(caller, wardUnitId, cancellationToken);
        // An occupied bed is known before any relation is recorded for an admission that cannot happen
        // (checked again in the transaction, where a unique index settles a race).
        await using (var connection = await checkpoint.Scope(caller).OpenAsync(cancellationToken))
        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
            await RequireBedFreeAsync(connection, transaction, wardUnitId, cleanBed);
        await EnsureArrivalRelationAsync(caller, patientId, wardUnitId, "Inskrivning", cancellationToken);
        var id = Guid.CreateVersion7();
        await checkpoint.WriteAsync(caller, patientId, "Encounter", AuditActivity.Write, async (connection, transaction, _) =>
        {
            if (await OpenAdmissionAsync(connection, transaction, patientId) is not null)
                throw new ConflictException("Patienten är redan inskriven. Flytta eller skriv ut patienten först.");
            await RequireBedFreeAsync(connection, transaction, wardUnitId, cleanBed);
            await InsertAsync(connection, transaction, id, patientId, wardUnitId, EncounterKinds.Inpatient, cleanBed, null, caller);
            await EncounterAsFhir.PublishAsync(connection, transaction, id, clock.GetUtcNow());
            return 0;
        }, cancellationToken);
        return (await LoadAsync(caller, id, cancellationToken))!;
    }

    /// <summary>Ends the open admission and opens one at <paramref name="toWardUnitId"/>/<paramref name="bed"/>, in one transaction.</summary>
    public async Task<Encounter> TransferAsync(Caller caller, Guid patientId, Guid toWardUnitId, string? bed, CancellationToken cancellationToken = default)
    {
        RequireRole(caller);
        var cleanBed = CleanBed(bed);
        await RequireWardAsync(caller, toWardUnitId, cancellationToken);
        var id = Guid.CreateVersion7();
        await checkpoint.WriteAsync(caller, patientId, "Encounter", AuditActivity.Write, async (connection, transaction, grant) =>
        {
            var current = await OpenAdmissionAsync(connection, transaction, patientId);
            if (current is null || !grant.Context.MaySee(current.UnitId))
                throw new InvalidInputException("encounter", "Patienten är inte inskriven, och kan därför inte flyttas.");
            if (current.UnitId == toWardUnitId && current.Bed == cleanBed)
                throw new InvalidInputException("bed", "Patienten ligger redan i den sängen.");
            var now = clock.GetUtcNow();
            await connection.ExecuteAsync("UPDATE encounter SET ended_at = @now, ended_by = @staffId WHERE id = @id",
                new { now, staffId = caller.StaffId, id = current.Id }, transaction);
            await EncounterAsFhir.PublishAsync(connection, transaction, current.Id, now);
            await RequireBedFreeAsync(connection, transaction, toWardUnitId, cleanBed);
            await InsertAsync(connection, transaction, id, patientId, toWardUnitId, EncounterKinds.Inpatient, cleanBed, current.Id, caller, now);
            await EncounterAsFhir.PublishAsync(connection, transaction, id, now);
            return 0;
        }, cancellationToken);
        return (await LoadAsync(caller, id, cancellationToken))!;
    }

    /// <summary>Discharges now, home: for integrations and tests; the clinician's form states time and destination.</summary>
    public Task<Encounter> DischargeAsync(Caller caller, Guid patientId, CancellationToken cancellationToken = default) =>
        DischargeAsync(caller, patientId, new DischargeDetails(clock.GetUtcNow(), DischargeDestination.Home), cancellationToken);

    /// <summary>
    /// Ends the patient's open admission at the stated time, with where the patient went. Refused: a
    /// time in the future, a time before the admission (transfers included), no destination. Audited
    /// as a write to "Discharge"; undone within <see cref="EncounterOptions.UndoDischargeMinutes"/>.
    /// </summary>
    public Task<Encounter> DischargeAsync(Caller caller, Guid patientId, DischargeDetails details, CancellationToken cancellationToken = default) =>
        DischargeAsync(caller, patientId, details, backEntry: null, cancellationToken);

    private async Task<Encounter> DischargeAsync(Caller caller, Guid patientId, DischargeDetails details, Downtime.BackEntryClaim? backEntry,
        CancellationToken cancellationToken)
    {
        RequireRole(caller);
        if (details.Destination is not { } destination || !Enum.IsDefined(destination))
            throw new InvalidInputException("destination", "Ange vart patienten skrivs ut: hem, annan enhet, annan vårdgivare eller avliden.");
        var ended = await checkpoint.WriteAsync(caller, patientId, "Discharge", AuditActivity.Write, async (connection, transaction, grant) =>
        {
            var current = await OpenAdmissionAsync(connection, transaction, patientId);
            if (current is null || !grant.Context.MaySee(current.UnitId))
                throw new InvalidInputException("encounter", "Patienten är inte inskriven, och kan därför inte skrivas ut.");
            var admittedAt = await AdmittedAtAsync(connection, transaction, current);
            var at = CheckDischargeTime(details.At, admittedAt);
            var now = clock.GetUtcNow();
            await connection.ExecuteAsync(
                """
                UPDATE encounter SET ended_at = @at, ended_by = @staffId, discharge_destination = @destination, discharge_recorded_at = @now
                WHERE id = @id AND ended_at IS NULL
                """,
                new { at = at < current.StartedAt ? current.StartedAt : at, now, staffId = caller.StaffId, destination = destination.ToString(), id = current.Id }, transaction);
            if (backEntry is not null)
                await Downtime.BackEntries.MarkAsync(connection, transaction, caller, patientId, Downtime.BackEntryRecord.Encounter, current.Id,
                    Downtime.BackEntryEvent.Discharge, backEntry, now, time);
            await EncounterAsFhir.PublishAsync(connection, transaction, current.Id, now);
            return current.Id;
        }, cancellationToken);
        return (await LoadAsync(caller, ended, cancellationToken))!;
    }

    /// <summary>
    /// The discharge time as stated, checked: not in the future, not before the admission began. Times
    /// are compared to the minute, as the form states them, so "now" right after admitting is accepted.
    /// </summary>
    public DateTimeOffset CheckDischargeTime(DateTimeOffset at, DateTimeOffset admittedAt)
    {
        var now = clock.GetUtcNow();
        if (at > now)
            throw new InvalidInputException("at", $"Utskrivningstiden {time.Format(at)} ligger i framtiden. Ange när patienten lämnade avdelningen (senast {time.Format(now)}).");
        if (at < Minute(admittedAt))
            throw new InvalidInputException("at", $"Utskrivningstiden {time.Format(at)} är före inskrivningen {time.Format(admittedAt)}. Ange en tid efter inskrivningen.");
        return at;
    }

    private static DateTimeOffset Minute(DateTimeOffset t) => new(t.Ticks - t.Ticks % TimeSpan.TicksPerMinute, t.Offset);

    /// <summary>
    /// What the discharge form shows, in one audited read: the patient (for the banner), the open
    /// admission, when the stay began (before any transfers), its unsigned notes and whether it has a
    /// discharge summary. Only notes of units the caller may see are counted.
    /// </summary>
    public async Task<DischargePreparation> PrepareDischargeAsync(Caller caller, Guid patientId, CancellationToken cancellationToken = default)
    {
        var grant = await checkpoint.ReadAsync(caller, patientId, "Discharge", cancellationToken);
        await using var connection = await grant.OpenAsync(cancellationToken);
        var prepared = await PrepareDischargeInAsync(grant, connection, patientId, cancellationToken);
        // The banner's signals under the same grant and audit event, once the form's snapshot is read.
        return prepared with { Signals = await Chart.PatientRecord.SignalsAsync(connection, database.Engine, grant.Context) };
    }

    private async Task<DischargePreparation> PrepareDischargeInAsync(PatientAccessGrant grant, System.Data.Common.DbConnection connection, Guid patientId,
        CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var patient = await PatientRegistry.FindInAsync(grant, connection, transaction) ?? throw new NotFoundException("Patienten finns inte.");
        var admission = await OpenAdmissionAsync(connection, transaction, patientId);
        if (admission is null || !grant.Context.MaySee(admission.UnitId))
            return new DischargePreparation(patient, null, default, [], false);
        var admittedAt = await AdmittedAtAsync(connection, transaction, admission);
        var notes = (await connection.QueryAsync<NoteRow>(
            """
            SELECT n.id AS Id, n.unit_id AS UnitId, n.note_type AS NoteType, n.status AS Status, n.created_at AS CreatedAt, s.display_name AS AuthorName
            FROM note n JOIN staff s ON s.id = n.author_id
            WHERE n.patient_id = @patientId AND n.created_at >= @admittedAt AND n.status <> 'Discarded'
            ORDER BY n.created_at
            """, new { patientId, admittedAt }, transaction)).Where(n => grant.Context.MaySee(n.UnitId)).ToList();
        await Database.CommitAsync(transaction, cancellationToken);
        return new DischargePreparation(patient, admission, admittedAt,
            notes.Where(n => n.Status == "Draft").Select(n => new UnsignedNote(n.Id, n.NoteType, n.CreatedAt, n.AuthorName)).ToList(),
            notes.Any(n => n.NoteType == Notes.NoteTypes.DischargeSummary));
    }

    /// <summary>Whether the discharge may still be undone: recorded within the window, and the caller's role may discharge.</summary>
    public bool MayUndoDischarge(Role role, DateTimeOffset? recordedAt) =>
        MayManage(role) && recordedAt is { } at && clock.GetUtcNow() - at <= TimeSpan.FromMinutes(options.UndoDischargeMinutes);

    /// <summary>
    /// Undoes the patient's latest discharge: the admission is open again, in the same bed, as if the
    /// discharge had not happened; the discharge and its undo both stay in the audit log. Refused after
    /// the window, and when the patient has been admitted again or the bed is taken.
    /// </summary>
    public async Task<Encounter> UndoDischargeAsync(Caller caller, Guid patientId, CancellationToken cancellationToken = default)
    {
        RequireRole(caller);
        var reopened = await checkpoint.WriteAsync(caller, patientId, "DischargeUndo", AuditActivity.Write, async (connection, transaction, grant) =>
        {
            var last = await connection.QuerySingleOrDefaultAsync<Encounter?>(
                $"{Select} WHERE e.patient_id = @patientId AND e.kind = @kind AND e.discharge_recorded_at IS NOT NULL ORDER BY e.discharge_recorded_at DESC LIMIT 1",
                new { patientId, kind = EncounterKinds.Inpatient }, transaction);
            if (last is null || last.EndedAt is null || !grant.Context.MaySee(last.UnitId))
                throw new InvalidInputException("encounter", "Det finns ingen utskrivning att ångra.");
            if (!MayUndoDischarge(caller.Role, last.DischargeRecordedAt))
                throw new InvalidInputException("encounter",
                    $"Utskrivningen registrerades {time.Format(last.DischargeRecordedAt!.Value)} och kan bara ångras inom {options.UndoDischargeMinutes} minuter. Skriv in patienten på nytt.");
            if (await OpenAdmissionAsync(connection, transaction, patientId) is not null)
                throw new ConflictException("Patienten är inskriven igen, så utskrivningen kan inte ångras.");
            if (last.Bed is { } bed) await RequireBedFreeAsync(connection, transaction, last.UnitId, bed);
            try
            {
                await connection.ExecuteAsync(
                    """
                    UPDATE encounter SET ended_at = NULL, ended_by = NULL, discharge_destination = NULL, discharge_recorded_at = NULL
                    WHERE id = @id AND ended_at IS NOT NULL
                    """, new { id = last.Id }, transaction);
                // An undone discharge was never made, back-entered or not: its mark goes with its fields (the audit log keeps both steps).
                await connection.ExecuteAsync("DELETE FROM back_entry WHERE record_id = @id AND event = 'Discharge'", new { id = last.Id }, transaction);
            }
            catch (DbException e) when (database.IsUniqueViolation(e))
            {
                throw new ConflictException("Sängen är upptagen eller patienten redan inskriven.");
            }
            await EncounterAsFhir.PublishAsync(connection, transaction, last.Id, clock.GetUtcNow());
            return last.Id;
        }, cancellationToken);
        return (await LoadAsync(caller, reopened, cancellationToken))!;
    }

    /// <summary>When the stay began: a transfer continues the admission it ended, so follow the chain back.</summary>
    private static async Task<DateTimeOffset> AdmittedAtAsync(DbConnection connection, DbTransaction transaction, Encounter admission)
    {
        var started = admission.StartedAt;
        var from = admission.TransferredFromId;
        for (var hops = 0; from is { } id && hops < 100; hops++)
        {
            var previous = await connection.QuerySingleOrDefaultAsync<Encounter?>($"{Select} WHERE e.id = @id", new { id }, transaction);
            if (previous is null) break;
            (started, from) = (previous.StartedAt, previous.TransferredFromId);
        }
        return started;
    }

    private sealed class NoteRow
    {
        public Guid Id { get; init; }
        public Guid UnitId { get; init; }
        public string NoteType { get; init; } = "";
        public string Status { get; init; } = "";
        public DateTimeOffset CreatedAt { get; init; }
        public string AuthorName { get; init; } = "";
    }

    /// <summary>The patient's encounters the caller may see, newest first.</summary>
    public async Task<IReadOnlyList<Encounter>> ListAsync(Caller caller, Guid patientId, CancellationToken cancellationToken = default) =>
        await checkpoint.ListVisibleAsync<Encounter>(caller, patientId, "Encounter", $"{Select} WHERE e.patient_id = @patientId ORDER BY e.started_at DESC",
            e => e.UnitId, cancellationToken);

    /// <summary>
    /// The caller's unit's current inpatients (open admissions), by bed. A list of patients: audited
    /// once; a protected identity is masked unless the unit has a care relation (an admission there gives one).
    /// </summary>
    public async Task<IReadOnlyList<WardPatient>> WardListAsync(Caller caller, CancellationToken cancellationToken = default)
    {
        var scope = checkpoint.Scope(caller);
        var parameters = scope.Parameters();
        parameters.Add("kind", EncounterKinds.Inpatient);
        await using var connection = await scope.OpenAsync(cancellationToken);
        var rows = (await connection.QueryAsync(
            $"""
            SELECT e.id AS EncounterId, e.bed AS Bed, e.started_at AS AdmittedAt, {PatientColumnsOf("p")}
            FROM encounter e JOIN patient p ON p.id = e.patient_id
            WHERE e.unit_id = @unitId AND e.ended_at IS NULL AND e.kind = @kind AND {scope.VisibleRowsSql("e.patient_id", "e.unit_id")}
            """,
            (WardRow row, Patient patient) => new WardPatient(row.EncounterId, row.Bed, row.AdmittedAt, patient),
            parameters, splitOn: "Id")).ToList();
        var shown = new List<WardPatient>(rows.Count);
        var flags = AuditFlags.None;
        foreach (var row in rows)
        {
            if (row.Patient.ProtectedIdentity == ProtectedIdentity.None) { shown.Add(row); continue; }
            var context = await checkpoint.ContextAsync(caller, row.Patient.Id, cancellationToken);
            shown.Add(context?.HasCareRelation == true ? row : row with { Patient = row.Patient.AsMasked() });
            flags |= AuditFlags.ProtectedIdentity;
        }
        // Audited before anything is shown; a role that may not list patients is refused here.
        await checkpoint.AuditRegistryAsync(caller, "WardList", $"{shown.Count} inskrivna", flags, cancellationToken);
        return shown.OrderBy(w => w.Bed ?? "", StringComparer.Create(System.Globalization.CultureInfo.GetCultureInfo("sv-SE"), System.Globalization.CompareOptions.NumericOrdering))
            .ThenBy(w => w.AdmittedAt).ToList();
    }

    /// <summary>The ward units, for choosing where to admit or transfer.</summary>
    public async Task<IReadOnlyList<CareUnit>> WardsAsync(CancellationToken cancellationToken = default) =>
        // The directory's, not the record's: no patient scope is needed.
        (await new StaffDirectory(database, clock).UnitsAsync(cancellationToken)).Where(u => u.Kind == UnitKind.Ward).ToList();

    private sealed class WardRow
    {
        public Guid EncounterId { get; init; }
        public string? Bed { get; init; }
        public DateTimeOffset AdmittedAt { get; init; }
    }

    private static string PatientColumnsOf(string alias) =>
        string.Join(", ", PatientRegistry.PatientColumns.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(c => $"{alias}.{c}"));

    /// <summary>
    /// A patient arriving at a ward or a clinic often has no care relation there yet: the visit or
    /// admission is what creates it. So when the encounter is at the caller's own unit, the relation
    /// is recorded first (audited and flagged for log review like any self-declared relation), and the
    /// write then passes the checkpoint like every other. Admitting to another unit needs an existing
    /// relation, as every write does.
    /// </summary>
    private async Task EnsureArrivalRelationAsync(Caller caller, Guid patientId, Guid encounterUnitId, string reason, CancellationToken cancellationToken)
    {
        if (encounterUnitId != caller.UnitId) return;
        var context = await checkpoint.ContextAsync(caller, patientId, cancellationToken);
        if (context is null || context.HasCareRelation) return;
        await access.RecordCareRelationAsync(caller, patientId, reason, cancellationToken);
    }

    private static void RequireRole(Caller caller)
    {
        if (!MayManage(caller.Role)) throw new ForbiddenException("Din roll får inte registrera vårdkontakter.");
    }

    private static string CleanBed(string? bed)
    {
        var clean = (bed ?? "").Trim();
        if (clean.Length == 0) throw new InvalidInputException("bed", "Ange säng.");
        if (clean.Length > MaxBedLength || clean.Any(char.IsControl)) throw new InvalidInputException("bed", $"Sängen anges med högst {MaxBedLength} tecken.");
        return clean;
    }

    private async Task RequireWardAsync(Caller caller, Guid unitId, CancellationToken cancellationToken)
    {
        await using var connection = await checkpoint.Scope(caller).OpenAsync(cancellationToken);
        var kind = await connection.QuerySingleOrDefaultAsync<string?>("SELECT kind FROM care_unit WHERE id = @unitId", new { unitId });
        if (kind != nameof(UnitKind.Ward)) throw new InvalidInputException("unit", "Välj en vårdavdelning.");
    }

    private static async Task RequireBedFreeAsync(DbConnection connection, DbTransaction transaction, Guid unitId, string bed)
    {
        var taken = await connection.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM encounter WHERE unit_id = @unitId AND bed = @bed AND kind = @kind AND ended_at IS NULL",
            new { unitId, bed, kind = EncounterKinds.Inpatient }, transaction);
        if (taken > 0) throw new ConflictException($"Säng {bed} är upptagen av en annan patient.");
    }

    private static Task<Encounter?> OpenAdmissionAsync(DbConnection connection, DbTransaction transaction, Guid patientId) =>
        connection.QuerySingleOrDefaultAsync<Encounter?>($"{Select} WHERE e.patient_id = @patientId AND e.kind = @kind AND e.ended_at IS NULL",
            new { patientId, kind = EncounterKinds.Inpatient }, transaction);

    private async Task InsertAsync(DbConnection connection, DbTransaction transaction, Guid id, Guid patientId, Guid unitId, string kind, string? bed,
        Guid? transferredFrom, Caller caller, DateTimeOffset? at = null)
    {
        try
        {
            await connection.ExecuteAsync(
                """
                INSERT INTO encounter (id, patient_id, unit_id, kind, bed, started_at, transferred_from_id, started_by)
                VALUES (@id, @patientId, @unitId, @kind, @bed, @now, @transferredFrom, @staffId)
                """,
                new { id, patientId, unitId, kind, bed, now = at ?? clock.GetUtcNow(), transferredFrom, staffId = caller.StaffId }, transaction);
        }
        catch (DbException e) when (database.IsUniqueViolation(e))
        {
            // Someone admitted the patient, or filled the bed, between the check and the insert.
            throw new ConflictException("Sängen är upptagen eller patienten redan inskriven.");
        }
    }

    private const string Select =
        """
        SELECT e.id AS Id, e.patient_id AS PatientId, e.unit_id AS UnitId, u.name AS UnitName, e.kind AS Kind, e.bed AS Bed,
               e.started_at AS StartedAt, e.ended_at AS EndedAt, e.transferred_from_id AS TransferredFromId,
               e.discharge_destination AS DischargeDestination, e.discharge_recorded_at AS DischargeRecordedAt
        FROM encounter e JOIN care_unit u ON u.id = e.unit_id
        """;

    /// <summary>An encounter just written through the checkpoint, read back in the caller's scope.</summary>
    private async Task<Encounter?> LoadAsync(Caller caller, Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await checkpoint.Scope(caller).OpenAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<Encounter>($"{Select} WHERE e.id = @id", new { id });
    }
}
