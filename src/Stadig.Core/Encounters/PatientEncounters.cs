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

    public bool IsOpenAdmission => Kind == EncounterKinds.Inpatient && EndedAt is null;
}

/// <summary>One current inpatient on the ward list: bed, who, since when.</summary>
public sealed record WardPatient(Guid EncounterId, string? Bed, DateTimeOffset AdmittedAt, Patient Patient);

/// <summary>
/// Encounters (vårdkontakter): outpatient visits, admissions to a ward with a bed, transfers and
/// discharges, and the ward list. Every read and write goes through the checkpoint.
/// </summary>
public sealed class PatientEncounters(Database database, PatientCheckpoint checkpoint, AccessControl access, TimeProvider clock)
{
    public const int MaxBedLength = 20;

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
        return (await LoadAsync(id, cancellationToken))!;
    }

    /// <summary>
    /// Admits the patient to <paramref name="wardUnitId"/> in <paramref name="bed"/>. Refused when the
    /// patient already has an open admission, or the bed holds another patient's open admission.
    /// </summary>
    public async Task<Encounter> AdmitAsync(Caller caller, Guid patientId, Guid wardUnitId, string? bed, CancellationToken cancellationToken = default)
    {
        RequireRole(caller);
        var cleanBed = CleanBed(bed);
        await RequireWardAsync(wardUnitId, cancellationToken);
        // An occupied bed is known before any relation is recorded for an admission that cannot happen
        // (checked again in the transaction, where a unique index settles a race).
        await using (var connection = await database.OpenAsync(cancellationToken))
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
        return (await LoadAsync(id, cancellationToken))!;
    }

    /// <summary>Ends the open admission and opens one at <paramref name="toWardUnitId"/>/<paramref name="bed"/>, in one transaction.</summary>
    public async Task<Encounter> TransferAsync(Caller caller, Guid patientId, Guid toWardUnitId, string? bed, CancellationToken cancellationToken = default)
    {
        RequireRole(caller);
        var cleanBed = CleanBed(bed);
        await RequireWardAsync(toWardUnitId, cancellationToken);
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
        return (await LoadAsync(id, cancellationToken))!;
    }

    /// <summary>Ends the patient's open admission.</summary>
    public async Task<Encounter> DischargeAsync(Caller caller, Guid patientId, CancellationToken cancellationToken = default)
    {
        RequireRole(caller);
        var ended = await checkpoint.WriteAsync(caller, patientId, "Encounter", AuditActivity.Write, async (connection, transaction, grant) =>
        {
            var current = await OpenAdmissionAsync(connection, transaction, patientId);
            if (current is null || !grant.Context.MaySee(current.UnitId))
                throw new InvalidInputException("encounter", "Patienten är inte inskriven, och kan därför inte skrivas ut.");
            await connection.ExecuteAsync("UPDATE encounter SET ended_at = @now, ended_by = @staffId WHERE id = @id AND ended_at IS NULL",
                new { now = clock.GetUtcNow(), staffId = caller.StaffId, id = current.Id }, transaction);
            await EncounterAsFhir.PublishAsync(connection, transaction, current.Id, clock.GetUtcNow());
            return current.Id;
        }, cancellationToken);
        return (await LoadAsync(ended, cancellationToken))!;
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
        await using var connection = await database.OpenAsync(cancellationToken);
        var rows = (await connection.QueryAsync(
            $"""
            SELECT e.id AS EncounterId, e.bed AS Bed, e.started_at AS AdmittedAt, {PatientColumnsOf("p")}
            FROM encounter e JOIN patient p ON p.id = e.patient_id
            WHERE e.unit_id = @unitId AND e.ended_at IS NULL AND e.kind = @kind
            """,
            (WardRow row, Patient patient) => new WardPatient(row.EncounterId, row.Bed, row.AdmittedAt, patient),
            new { unitId = caller.UnitId, kind = EncounterKinds.Inpatient }, splitOn: "Id")).ToList();
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
    public async Task<IReadOnlyList<CareUnit>> WardsAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return (await connection.QueryAsync<CareUnit>(
            "SELECT id AS Id, provider_id AS ProviderId, hsa_id AS HsaId, name AS Name, kind AS Kind FROM care_unit WHERE kind = @kind ORDER BY name",
            new { kind = nameof(UnitKind.Ward) })).ToList();
    }

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

    private async Task RequireWardAsync(Guid unitId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
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
               e.started_at AS StartedAt, e.ended_at AS EndedAt, e.transferred_from_id AS TransferredFromId
        FROM encounter e JOIN care_unit u ON u.id = e.unit_id
        """;

    private async Task<Encounter?> LoadAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<Encounter>($"{Select} WHERE e.id = @id", new { id });
    }
}
