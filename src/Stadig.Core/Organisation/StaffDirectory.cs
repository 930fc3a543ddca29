using Dapper;
using Stadig.Common;
using Stadig.Fhir.Records;
using Stadig.Storage;

namespace Stadig.Organisation;

/// <summary>
/// Care provider, care units, staff and their assignments. Holds no patient data. Each addition is
/// published as FHIR (Organization, Practitioner, PractitionerRole) in the transaction that writes it.
/// </summary>
public sealed class StaffDirectory(Database database, TimeProvider clock)
{
    public async Task<CareProvider> AddProviderAsync(string hsaId, string name, CancellationToken cancellationToken = default)
    {
        RequireHsaId(hsaId, "hsaId");
        var provider = new CareProvider { Id = Guid.NewGuid(), HsaId = hsaId, Name = RequireText(name, "name") };
        await database.InUnscopedTransactionAsync(async (c, t) =>
        {
            await c.ExecuteAsync("INSERT INTO care_provider (id, hsa_id, name) VALUES (@Id, @HsaId, @Name)", provider, t);
            await DirectoryAsFhir.PublishProviderAsync(c, t, provider.Id, clock.GetUtcNow());
            return 0;
        }, cancellationToken);
        return provider;
    }

    public async Task<CareUnit> AddUnitAsync(Guid providerId, string hsaId, string name, UnitKind kind, CancellationToken cancellationToken = default)
    {
        RequireHsaId(hsaId, "hsaId");
        var unit = new CareUnit { Id = Guid.NewGuid(), ProviderId = providerId, HsaId = hsaId, Name = RequireText(name, "name"), Kind = kind };
        await database.InUnscopedTransactionAsync(async (c, t) =>
        {
            await c.ExecuteAsync(
                "INSERT INTO care_unit (id, provider_id, hsa_id, name, kind) VALUES (@Id, @ProviderId, @HsaId, @Name, @Kind)",
                new { unit.Id, unit.ProviderId, unit.HsaId, unit.Name, Kind = kind.ToString() }, t);
            await DirectoryAsFhir.PublishUnitAsync(c, t, unit.Id, clock.GetUtcNow());
            return 0;
        }, cancellationToken);
        return unit;
    }

    public async Task<StaffMember> AddStaffAsync(string hsaId, string username, string displayName, string title, string? passwordHash, bool isDemo, CancellationToken cancellationToken = default)
    {
        RequireHsaId(hsaId, "hsaId");
        var staff = new StaffMember
        {
            Id = Guid.NewGuid(), HsaId = hsaId, Username = RequireText(username, "username").ToLowerInvariant(),
            DisplayName = RequireText(displayName, "displayName"), Title = title, PasswordHash = passwordHash,
            IsDemo = isDemo, CreatedAt = clock.GetUtcNow(),
        };
        await database.InUnscopedTransactionAsync(async (c, t) =>
        {
            await c.ExecuteAsync(
                """
                INSERT INTO staff (id, hsa_id, username, display_name, title, password_hash, failed_logins, is_demo, created_at)
                VALUES (@Id, @HsaId, @Username, @DisplayName, @Title, @PasswordHash, 0, @IsDemo, @CreatedAt)
                """, staff, t);
            await DirectoryAsFhir.PublishStaffAsync(c, t, staff.Id, staff.CreatedAt);
            return 0;
        }, cancellationToken);
        return staff;
    }

    public async Task<Assignment> AddAssignmentAsync(Guid staffId, Guid unitId, Role role, Purpose purpose, CancellationToken cancellationToken = default)
    {
        var id = Guid.NewGuid();
        await database.InUnscopedTransactionAsync(async (c, t) =>
        {
            await c.ExecuteAsync(
                "INSERT INTO assignment (id, staff_id, unit_id, role, purpose) VALUES (@id, @staffId, @unitId, @role, @purpose)",
                new { id, staffId, unitId, role = role.ToString(), purpose = purpose.ToString() }, t);
            await DirectoryAsFhir.PublishAssignmentAsync(c, t, id, clock.GetUtcNow());
            return 0;
        }, cancellationToken);
        return (await AssignmentsOfAsync(staffId, cancellationToken)).Single(a => a.Id == id);
    }

    public async Task<IReadOnlyList<CareUnit>> UnitsAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        return (await connection.QueryAsync<CareUnit>(
            "SELECT id AS Id, provider_id AS ProviderId, hsa_id AS HsaId, name AS Name, kind AS Kind FROM care_unit ORDER BY name")).ToList();
    }

    public async Task<StaffMember?> FindByUsernameAsync(string username, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<StaffMember>(StaffSelect + " WHERE username = @username",
            new { username = username.Trim().ToLowerInvariant() });
    }

    public async Task<StaffMember?> FindByIdAsync(Guid id, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<StaffMember>(StaffSelect + " WHERE id = @id", new { id });
    }

    public async Task<StaffMember?> FindByHsaIdAsync(string hsaId, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<StaffMember>(StaffSelect + " WHERE hsa_id = @hsaId", new { hsaId });
    }

    /// <summary>
    /// A person and their assignments in one round trip: a bearer token's caller is looked up on
    /// every request (never taken on trust), so this is on every FHIR call's path.
    /// </summary>
    public async Task<(StaffMember Member, IReadOnlyList<Assignment> Assignments)?> FindWithAssignmentsByHsaIdAsync(string hsaId,
        CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        using var found = await connection.QueryMultipleAsync(
            StaffSelect + " WHERE hsa_id = @hsaId;\n" +
            """
            SELECT a.id AS Id, a.staff_id AS StaffId, a.unit_id AS UnitId, u.hsa_id AS UnitHsaId, u.name AS UnitName,
                   a.role AS Role, a.purpose AS Purpose
            FROM assignment a JOIN care_unit u ON u.id = a.unit_id JOIN staff s ON s.id = a.staff_id
            WHERE s.hsa_id = @hsaId ORDER BY u.name, a.role
            """, new { hsaId });
        var member = await found.ReadSingleOrDefaultAsync<StaffMember>();
        var assignments = (await found.ReadAsync<Assignment>()).ToList();
        return member is null ? null : (member, assignments);
    }

    public async Task<IReadOnlyList<StaffMember>> StaffAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        return (await connection.QueryAsync<StaffMember>(StaffSelect + " ORDER BY display_name")).ToList();
    }

    public async Task<IReadOnlyList<Assignment>> AssignmentsOfAsync(Guid staffId, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        return (await connection.QueryAsync<Assignment>(
            """
            SELECT a.id AS Id, a.staff_id AS StaffId, a.unit_id AS UnitId, u.hsa_id AS UnitHsaId, u.name AS UnitName,
                   a.role AS Role, a.purpose AS Purpose
            FROM assignment a JOIN care_unit u ON u.id = a.unit_id
            WHERE a.staff_id = @staffId ORDER BY u.name, a.role
            """, new { staffId })).ToList();
    }

    public async Task RecordSuccessfulLoginAsync(Guid staffId, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        await connection.ExecuteAsync("UPDATE staff SET failed_logins = 0, locked_until = NULL WHERE id = @staffId", new { staffId });
    }

    public async Task SetPasswordHashAsync(Guid staffId, string passwordHash, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        await connection.ExecuteAsync("UPDATE staff SET password_hash = @passwordHash WHERE id = @staffId", new { staffId, passwordHash });
    }

    private const string StaffSelect =
        """
        SELECT id AS Id, hsa_id AS HsaId, username AS Username, display_name AS DisplayName, title AS Title,
               password_hash AS PasswordHash, failed_logins AS FailedLogins, locked_until AS LockedUntil,
               is_demo AS IsDemo, created_at AS CreatedAt
        FROM staff
        """;

    private static string RequireText(string? value, string field) =>
        string.IsNullOrWhiteSpace(value) ? throw new InvalidInputException(field, $"{field} saknas.") : value.Trim();

    /// <summary>HSA-ids look like SE + organisation number + '-' + local part (e.g. SE2321000016-1234).</summary>
    private static void RequireHsaId(string? hsaId, string field)
    {
        if (string.IsNullOrWhiteSpace(hsaId) || !System.Text.RegularExpressions.Regex.IsMatch(hsaId, @"^SE[0-9]{10}-[A-Za-z0-9]{1,20}$"))
            throw new InvalidInputException(field, $"HSA-id \"{hsaId}\" har fel format (väntat SE + 10 siffror + '-' + lokal del).");
    }
}
