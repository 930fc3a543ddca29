using Dapper;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Fhir.Records;
using Stadig.Storage;

namespace Stadig.Access;

public sealed record HiddenRecords(Guid UnitId, string UnitName, long Count, bool Blocked);

/// <summary>
/// The use cases that change who may see what: recorded care relations, the patient's blocks and
/// consents, emergency access, and the care provider's unit groups. Each is audited.
/// </summary>
public sealed class AccessControl(Database database, PatientCheckpoint checkpoint, AuditLog audit, TimeProvider clock)
{
    /// <summary>The clinical tables that hold a unit's records, for finding where hidden data exists.</summary>
    internal static readonly string[] UnitRecordTables = ["encounter", "note", "diagnostic_report", "lab_result", "warning", "problem"];

    /// <summary>
    /// Records that the caller's unit has a care relation with the patient (e.g. a patient at the
    /// desk with no booking yet). Flagged for log review, since the person vouches for it themselves.
    /// </summary>
    public async Task RecordCareRelationAsync(Caller caller, Guid patientId, string reason, CancellationToken cancellationToken = default)
    {
        if (!RolePermissions.WorksWithRegistry(caller.Role)) throw new ForbiddenException("Din roll får inte registrera vårdrelationer.");
        var why = Required(reason, "reason", "Ange skälet till vårdrelationen.");
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await database.BeginAsync(connection, cancellationToken);
        var exists = await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM patient WHERE id = @patientId", new { patientId }, transaction);
        if (exists == 0) throw new NotFoundException("Patienten finns inte.");
        var now = clock.GetUtcNow();
        await connection.ExecuteAsync(
            "INSERT INTO care_relation (id, patient_id, unit_id, reason, created_at, created_by, ends_at) VALUES (@id, @patientId, @unitId, @why, @now, @staffId, @endsAt)",
            new { id = Guid.NewGuid(), patientId, unitId = caller.UnitId, why, now, staffId = caller.StaffId, endsAt = now.AddDays(checkpoint.Options.CareRelationDays) },
            transaction);
        await audit.AppendAsync(new AuditEntry(caller, patientId, AuditActivity.Write, "CareRelation", AuditOutcome.Allowed, AuditFlags.ExplicitCareRelation, why), connection, transaction);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>The patient blocks one unit's records from everyone outside it.</summary>
    public Task BlockAsync(Caller caller, Guid patientId, Guid unitId, CancellationToken cancellationToken = default) =>
        checkpoint.WriteAsync(caller, patientId, "Block", AuditActivity.Write, async (connection, transaction, _) =>
            await connection.ExecuteAsync(
                "INSERT INTO patient_block (id, patient_id, blocked_unit_id, created_at, created_by) VALUES (@id, @patientId, @unitId, @now, @staffId)",
                new { id = Guid.NewGuid(), patientId, unitId, now = clock.GetUtcNow(), staffId = caller.StaffId }, transaction),
            cancellationToken);

    public Task LiftBlockAsync(Caller caller, Guid patientId, Guid unitId, CancellationToken cancellationToken = default) =>
        checkpoint.WriteAsync(caller, patientId, "Block", AuditActivity.Write, async (connection, transaction, _) =>
            await connection.ExecuteAsync(
                "UPDATE patient_block SET lifted_at = @now WHERE patient_id = @patientId AND blocked_unit_id = @unitId AND lifted_at IS NULL",
                new { patientId, unitId, now = clock.GetUtcNow() }, transaction),
            cancellationToken);

    /// <summary>The patient consents that <paramref name="viewerUnitId"/> sees the records of <paramref name="sourceUnitId"/> (all units when null) until <paramref name="expiresAt"/>.</summary>
    public Task RecordConsentAsync(Caller caller, Guid patientId, Guid viewerUnitId, Guid? sourceUnitId, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        if (expiresAt <= clock.GetUtcNow()) throw new InvalidInputException("expiresAt", "Samtycket måste gälla en tid framåt.");
        var id = Guid.CreateVersion7();
        return checkpoint.WriteAsync(caller, patientId, "Consent", AuditActivity.Write, async (connection, transaction, _) =>
        {
            await connection.ExecuteAsync(
                """
                INSERT INTO consent (id, patient_id, viewer_unit_id, source_unit_id, recorded_at, recorded_by, expires_at)
                VALUES (@id, @patientId, @viewerUnitId, @sourceUnitId, @now, @staffId, @expiresAt)
                """,
                new { id, patientId, viewerUnitId, sourceUnitId, now = clock.GetUtcNow(), staffId = caller.StaffId, expiresAt }, transaction);
            return await ConsentAsFhir.PublishAsync(connection, transaction, id, clock.GetUtcNow());
        }, cancellationToken);
    }

    /// <summary>
    /// Emergency access, step one: where does data exist that the caller cannot see now? Shows
    /// units and counts, never content. Audited.
    /// </summary>
    public async Task<IReadOnlyList<HiddenRecords>> RevealAsync(Caller caller, Guid patientId, CancellationToken cancellationToken = default)
    {
        if (!RolePermissions.MayOpenInEmergency(caller.Role)) throw new ForbiddenException("Din roll får inte använda nödåtkomst.");
        var context = await checkpoint.ContextAsync(caller, patientId, cancellationToken) ?? throw new NotFoundException("Patienten finns inte.");
        await audit.AppendAsync(new AuditEntry(caller, patientId, AuditActivity.Read, "EmergencyReveal", AuditOutcome.Allowed, AuditFlags.Emergency), cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);
        var union = string.Join(" UNION ALL ", UnitRecordTables.Select(t => $"SELECT unit_id FROM {t} WHERE patient_id = @patientId"));
        var perUnit = await connection.QueryAsync<(Guid UnitId, string Name, long Count)>(
            $"SELECT r.unit_id, u.name, COUNT(*) FROM ({union}) r JOIN care_unit u ON u.id = r.unit_id GROUP BY r.unit_id, u.name ORDER BY u.name",
            new { patientId });
        return perUnit.Where(u => !context.MaySee(u.UnitId))
            .Select(u => new HiddenRecords(u.UnitId, u.Name, u.Count, context.BlockedUnits.Contains(u.UnitId)))
            .ToList();
    }

    /// <summary>Emergency access, step two: opens the whole record for a limited time, with a mandatory reason. Flagged for review.</summary>
    public async Task OpenInEmergencyAsync(Caller caller, Guid patientId, string reason, CancellationToken cancellationToken = default)
    {
        if (!RolePermissions.MayOpenInEmergency(caller.Role)) throw new ForbiddenException("Din roll får inte använda nödåtkomst.");
        var why = Required(reason, "reason", "Nödåtkomst kräver ett skäl.");
        var now = clock.GetUtcNow();
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await database.BeginAsync(connection, cancellationToken);
        var exists = await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM patient WHERE id = @patientId", new { patientId }, transaction);
        if (exists == 0) throw new NotFoundException("Patienten finns inte.");
        await connection.ExecuteAsync(
            "INSERT INTO emergency_access (id, patient_id, staff_id, unit_id, reason, opened_at, expires_at) VALUES (@id, @patientId, @staffId, @unitId, @why, @now, @expires)",
            new { id = Guid.NewGuid(), patientId, staffId = caller.StaffId, unitId = caller.UnitId, why, now, expires = now.AddHours(checkpoint.Options.EmergencyAccessHours) },
            transaction);
        await audit.AppendAsync(new AuditEntry(caller, patientId, AuditActivity.EmergencyOpen, "Patient", AuditOutcome.Allowed, AuditFlags.Emergency, why), connection, transaction);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>The care provider groups units whose staff see each other's records by default.</summary>
    public async Task GroupUnitsAsync(string groupName, IEnumerable<Guid> unitIds, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        foreach (var unitId in unitIds)
            await connection.ExecuteAsync("INSERT INTO unit_group_member (group_name, unit_id) VALUES (@groupName, @unitId) ON CONFLICT DO NOTHING", new { groupName, unitId });
    }

    private static string Required(string? value, string field, string message) =>
        string.IsNullOrWhiteSpace(value) ? throw new InvalidInputException(field, message) : value.Trim();
}
