using System.Data.Common;
using Dapper;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Fhir.Records;
using Stadig.Storage;

namespace Stadig.Access;

public sealed record HiddenRecords(Guid UnitId, string UnitName, long Count, bool Blocked);

public sealed class PatientBlock
{
    public Guid Id { get; init; }
    public Guid UnitId { get; init; }
    public string UnitName { get; init; } = "";
    public DateTimeOffset CreatedAt { get; init; }
    public string CreatedByName { get; init; } = "";
    public string? Reason { get; init; }
}

public sealed class PatientConsent
{
    public Guid Id { get; init; }
    public Guid ViewerUnitId { get; init; }
    public string ViewerUnitName { get; init; } = "";
    public Guid? SourceUnitId { get; init; }
    public string? SourceUnitName { get; init; }
    public DateTimeOffset RecordedAt { get; init; }
    public DateTimeOffset ExpiresAt { get; init; }
    public string RecordedByName { get; init; } = "";
    public string? Reason { get; init; }
}

public sealed record PatientBlocksAndConsents(IReadOnlyList<PatientBlock> Blocks, IReadOnlyList<PatientConsent> Consents);

public sealed class UnitGroupMember
{
    public string GroupName { get; init; } = "";
    public Guid UnitId { get; init; }
    public string UnitName { get; init; } = "";
}

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
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        await using var transaction = await database.BeginAsync(connection, cancellationToken);
        var exists = await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM patient WHERE id = @patientId", new { patientId }, transaction);
        if (exists == 0) throw new NotFoundException("Patienten finns inte.");
        var now = clock.GetUtcNow();
        await connection.ExecuteAsync(
            "INSERT INTO care_relation (id, patient_id, unit_id, reason, created_at, created_by, ends_at) VALUES (@id, @patientId, @unitId, @why, @now, @staffId, @endsAt)",
            new { id = Guid.NewGuid(), patientId, unitId = caller.UnitId, why, now, staffId = caller.StaffId, endsAt = now.AddDays(checkpoint.Options.CareRelationDays) },
            transaction);
        await audit.AppendAsync(new AuditEntry(caller, patientId, AuditActivity.Write, "CareRelation", AuditOutcome.Allowed, AuditFlags.ExplicitCareRelation, why), connection, transaction);
        await Database.CommitAsync(transaction, cancellationToken);
    }

    /// <summary>
    /// The patient blocks one unit's records from everyone outside it. Set by the care unit's staff at
    /// the patient's own request (never on staff's initiative); the request is confirmed and its words kept.
    /// </summary>
    public Task BlockAsync(Caller caller, Guid patientId, Guid unitId, string reason, bool patientRequested = true, CancellationToken cancellationToken = default)
    {
        var why = PatientsRequest(reason, patientRequested);
        return checkpoint.WriteAsync(caller, patientId, "Block", AuditActivity.Write, async (connection, transaction, _) =>
        {
            await RequireUnitAsync(connection, transaction, unitId, "unitId");
            var active = await connection.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM patient_block WHERE patient_id = @patientId AND blocked_unit_id = @unitId AND lifted_at IS NULL", new { patientId, unitId }, transaction);
            if (active > 0) throw new ConflictException("Enhetens uppgifter är redan spärrade.");
            return await connection.ExecuteAsync(
                "INSERT INTO patient_block (id, patient_id, blocked_unit_id, created_at, created_by, reason) VALUES (@id, @patientId, @unitId, @now, @staffId, @why)",
                new { id = Guid.NewGuid(), patientId, unitId, now = clock.GetUtcNow(), staffId = caller.StaffId, why }, transaction);
        }, cancellationToken);
    }

    /// <summary>Lifts the patient's block of one unit, at the patient's request.</summary>
    public Task LiftBlockAsync(Caller caller, Guid patientId, Guid unitId, string reason, bool patientRequested = true, CancellationToken cancellationToken = default)
    {
        var why = PatientsRequest(reason, patientRequested);
        return checkpoint.WriteAsync(caller, patientId, "Block", AuditActivity.Write, async (connection, transaction, _) =>
        {
            var lifted = await connection.ExecuteAsync(
                "UPDATE patient_block SET lifted_at = @now, lifted_by = @staffId, lift_reason = @why WHERE patient_id = @patientId AND blocked_unit_id = @unitId AND lifted_at IS NULL",
                new { patientId, unitId, now = clock.GetUtcNow(), staffId = caller.StaffId, why }, transaction);
            return lifted == 0 ? throw new NotFoundException("Enheten har ingen aktiv spärr för patienten.") : lifted;
        }, cancellationToken);
    }

    /// <summary>The patient consents that <paramref name="viewerUnitId"/> sees the records of <paramref name="sourceUnitId"/> (all units when null) until <paramref name="expiresAt"/>.</summary>
    public Task RecordConsentAsync(Caller caller, Guid patientId, Guid viewerUnitId, Guid? sourceUnitId, DateTimeOffset expiresAt, string reason,
        bool patientRequested = true, CancellationToken cancellationToken = default)
    {
        var why = PatientsRequest(reason, patientRequested);
        if (expiresAt <= clock.GetUtcNow()) throw new InvalidInputException("expiresAt", "Samtycket måste gälla en tid framåt.");
        var id = Guid.CreateVersion7();
        return checkpoint.WriteAsync(caller, patientId, "Consent", AuditActivity.Write, async (connection, transaction, _) =>
        {
            await RequireUnitAsync(connection, transaction, viewerUnitId, "viewerUnitId");
            if (sourceUnitId is { } source) await RequireUnitAsync(connection, transaction, source, "sourceUnitId");
            await connection.ExecuteAsync(
                """
                INSERT INTO consent (id, patient_id, viewer_unit_id, source_unit_id, recorded_at, recorded_by, expires_at, reason)
                VALUES (@id, @patientId, @viewerUnitId, @sourceUnitId, @now, @staffId, @expiresAt, @why)
                """,
                new { id, patientId, viewerUnitId, sourceUnitId, now = clock.GetUtcNow(), staffId = caller.StaffId, expiresAt, why }, transaction);
            return await ConsentAsFhir.PublishAsync(connection, transaction, id, clock.GetUtcNow());
        }, cancellationToken);
    }

    /// <summary>The patient takes a consent back.</summary>
    public Task RevokeConsentAsync(Caller caller, Guid patientId, Guid consentId, string reason, bool patientRequested = true, CancellationToken cancellationToken = default)
    {
        var why = PatientsRequest(reason, patientRequested);
        return checkpoint.WriteAsync(caller, patientId, "Consent", AuditActivity.Write, async (connection, transaction, _) =>
        {
            var revoked = await connection.ExecuteAsync(
                "UPDATE consent SET revoked_at = @now, revoked_by = @staffId, revoke_reason = @why WHERE id = @consentId AND patient_id = @patientId AND revoked_at IS NULL",
                new { consentId, patientId, now = clock.GetUtcNow(), staffId = caller.StaffId, why }, transaction);
            if (revoked == 0) throw new NotFoundException("Patienten har inget sådant gällande samtycke.");
            return await ConsentAsFhir.PublishAsync(connection, transaction, consentId, clock.GetUtcNow());
        }, cancellationToken);
    }

    /// <summary>The patient's active blocks and consents, for the page that sets and lifts them. Read through the checkpoint, audited.</summary>
    public async Task<PatientBlocksAndConsents> BlocksAndConsentsAsync(Caller caller, Guid patientId, CancellationToken cancellationToken = default)
    {
        var grant = await checkpoint.ReadAsync(caller, patientId, "BlocksAndConsents", cancellationToken);
        await using var connection = await grant.OpenAsync(cancellationToken);
        var blocks = await connection.QueryAsync<PatientBlock>(
            """
            SELECT b.id AS Id, b.blocked_unit_id AS UnitId, u.name AS UnitName, b.created_at AS CreatedAt, s.display_name AS CreatedByName, b.reason AS Reason
            FROM patient_block b JOIN care_unit u ON u.id = b.blocked_unit_id JOIN staff s ON s.id = b.created_by
            WHERE b.patient_id = @patientId AND b.lifted_at IS NULL ORDER BY b.created_at
            """, new { patientId = grant.PatientId });
        var consents = await connection.QueryAsync<PatientConsent>(
            """
            SELECT c.id AS Id, c.viewer_unit_id AS ViewerUnitId, v.name AS ViewerUnitName, c.source_unit_id AS SourceUnitId, su.name AS SourceUnitName,
                   c.recorded_at AS RecordedAt, c.expires_at AS ExpiresAt, s.display_name AS RecordedByName, c.reason AS Reason
            FROM consent c JOIN care_unit v ON v.id = c.viewer_unit_id LEFT JOIN care_unit su ON su.id = c.source_unit_id JOIN staff s ON s.id = c.recorded_by
            WHERE c.patient_id = @patientId AND c.revoked_at IS NULL AND c.expires_at > @now ORDER BY c.recorded_at
            """, new { patientId = grant.PatientId, now = clock.GetUtcNow() });
        return new PatientBlocksAndConsents(blocks.ToList(), consents.ToList());
    }

    private static string PatientsRequest(string? reason, bool patientRequested)
    {
        if (!patientRequested) throw new InvalidInputException("patientRequested", "Spärrar och samtycken ändras bara på patientens egen begäran.");
        return Required(reason, "reason", "Ange patientens begäran (skälet).");
    }

    private static async Task RequireUnitAsync(DbConnection connection, DbTransaction transaction, Guid unitId, string field)
    {
        var exists = await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM care_unit WHERE id = @unitId", new { unitId }, transaction);
        if (exists == 0) throw new InvalidInputException(field, "Vårdenheten finns inte.");
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
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
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
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        await using var transaction = await database.BeginAsync(connection, cancellationToken);
        var exists = await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM patient WHERE id = @patientId", new { patientId }, transaction);
        if (exists == 0) throw new NotFoundException("Patienten finns inte.");
        await connection.ExecuteAsync(
            "INSERT INTO emergency_access (id, patient_id, staff_id, unit_id, reason, opened_at, expires_at) VALUES (@id, @patientId, @staffId, @unitId, @why, @now, @expires)",
            new { id = Guid.NewGuid(), patientId, staffId = caller.StaffId, unitId = caller.UnitId, why, now, expires = now.AddHours(checkpoint.Options.EmergencyAccessHours) },
            transaction);
        await audit.AppendAsync(new AuditEntry(caller, patientId, AuditActivity.EmergencyOpen, "Patient", AuditOutcome.Allowed, AuditFlags.Emergency, why), connection, transaction);
        await Database.CommitAsync(transaction, cancellationToken);
    }

    /// <summary>
    /// The care provider groups units whose staff see each other's records by default. It changes
    /// who sees what for every patient of those units, so it is the administrator's, and audited.
    /// </summary>
    public async Task GroupUnitsAsync(Caller caller, string groupName, IEnumerable<Guid> unitIds, CancellationToken cancellationToken = default)
    {
        await RequireUnitGroupsAsync(caller, cancellationToken);
        var name = Required(groupName, "groupName", "Ange gruppens namn.");
        var units = unitIds.Distinct().ToList();
        if (units.Count == 0) throw new InvalidInputException("unitIds", "Välj minst en vårdenhet.");
        await database.InUnscopedTransactionAsync(async (connection, transaction) =>
        {
            foreach (var unitId in units)
            {
                await RequireUnitAsync(connection, transaction, unitId, "unitIds");
                await connection.ExecuteAsync("INSERT INTO unit_group_member (group_name, unit_id) VALUES (@name, @unitId) ON CONFLICT DO NOTHING", new { name, unitId }, transaction);
            }
            await audit.AppendAsync(new AuditEntry(caller, null, AuditActivity.Write, "UnitGroup", Detail: $"{name}: +{string.Join(",", units)}"), connection, transaction);
            return 0;
        }, cancellationToken);
    }

    /// <summary>Takes one unit out of a group; audited like grouping.</summary>
    public async Task UngroupUnitAsync(Caller caller, string groupName, Guid unitId, CancellationToken cancellationToken = default)
    {
        await RequireUnitGroupsAsync(caller, cancellationToken);
        await database.InUnscopedTransactionAsync(async (connection, transaction) =>
        {
            var removed = await connection.ExecuteAsync("DELETE FROM unit_group_member WHERE group_name = @groupName AND unit_id = @unitId", new { groupName, unitId }, transaction);
            if (removed == 0) throw new NotFoundException("Enheten finns inte i gruppen.");
            await audit.AppendAsync(new AuditEntry(caller, null, AuditActivity.Write, "UnitGroup", Detail: $"{groupName}: -{unitId}"), connection, transaction);
            return 0;
        }, cancellationToken);
    }

    /// <summary>The care provider's unit groups, for the administrator's page.</summary>
    public async Task<IReadOnlyList<UnitGroupMember>> UnitGroupsAsync(Caller caller, CancellationToken cancellationToken = default)
    {
        if (!RolePermissions.Allows(caller.Role, RecordPart.UnitGroups, RecordActions.Read)) throw new ForbiddenException("Bara administratörer hanterar enhetsgrupper.");
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        return (await connection.QueryAsync<UnitGroupMember>(
            "SELECT g.group_name AS GroupName, g.unit_id AS UnitId, u.name AS UnitName FROM unit_group_member g JOIN care_unit u ON u.id = g.unit_id ORDER BY g.group_name, u.name")).ToList();
    }

    private async Task RequireUnitGroupsAsync(Caller caller, CancellationToken cancellationToken)
    {
        if (RolePermissions.Allows(caller.Role, RecordPart.UnitGroups, RecordActions.Write)) return;
        await audit.AppendAsync(new AuditEntry(caller, null, AuditActivity.Write, "UnitGroup", AuditOutcome.Denied), cancellationToken);
        throw new ForbiddenException("Bara administratörer hanterar enhetsgrupper.");
    }

    private static string Required(string? value, string field, string message) =>
        string.IsNullOrWhiteSpace(value) ? throw new InvalidInputException(field, message) : value.Trim();
}
