using System.Data.Common;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Fhir.Store;
using Stadig.Organisation;

namespace Stadig.Fhir.Records;

/// <summary>
/// The staff directory as FHIR: the care provider and each care unit an <c>Organization</c>
/// (a unit <c>partOf</c> its provider), each staff member a <c>Practitioner</c> and each assignment
/// (medarbetaruppdrag) a <c>PractitionerRole</c>. Ids are the directory rows' own Guids; the HSA-id is
/// the identifier. Only what a directory shows: HSA-id and name (no username, login or password
/// state). Directory resources belong to no patient; a unit's resources are owned by that unit,
/// a person's by Stadig (Guid.Empty).
/// </summary>
public static class DirectoryAsFhir
{
    public const string HsaSystem = "urn:oid:1.2.752.29.4.19";
    public const string RoleSystem = "https://stadig.se/fhir/CodeSystem/role";
    public const string UnitKindSystem = "https://stadig.se/fhir/CodeSystem/care-unit-kind";

    /// <summary>A directory row as the mappers read it (one class for all four kinds; unused fields stay empty).</summary>
    public sealed class Row
    {
        public Guid Id { get; init; }
        public string HsaId { get; init; } = "";
        public string Name { get; init; } = "";
        public Guid? ProviderId { get; init; }
        public string? ProviderHsaId { get; init; }
        public string? Kind { get; init; }
        public Guid StaffId { get; init; }
        public string StaffHsaId { get; init; } = "";
        public string StaffName { get; init; } = "";
        public Guid UnitId { get; init; }
        public string UnitHsaId { get; init; } = "";
        public string UnitName { get; init; } = "";
        public string Role { get; init; } = "";
    }

    private const string ProviderSelect = "SELECT id AS Id, hsa_id AS HsaId, name AS Name FROM care_provider";
    private const string UnitSelect =
        "SELECT u.id AS Id, u.hsa_id AS HsaId, u.name AS Name, u.kind AS Kind, u.provider_id AS ProviderId, p.hsa_id AS ProviderHsaId FROM care_unit u JOIN care_provider p ON p.id = u.provider_id";
    private const string StaffSelect = "SELECT id AS Id, hsa_id AS HsaId, display_name AS Name FROM staff";
    private const string AssignmentSelect =
        """
        SELECT a.id AS Id, a.role AS Role, s.id AS StaffId, s.hsa_id AS StaffHsaId, s.display_name AS StaffName,
               u.id AS UnitId, u.hsa_id AS UnitHsaId, u.name AS UnitName
        FROM assignment a JOIN staff s ON s.id = a.staff_id JOIN care_unit u ON u.id = a.unit_id
        """;

    public static JsonObject Provider(Row provider) => new()
    {
        ["resourceType"] = "Organization",
        ["identifier"] = new JsonArray(Hsa(provider.HsaId)),
        ["active"] = true,
        ["name"] = provider.Name,
    };

    public static JsonObject Unit(Row unit)
    {
        var organization = new JsonObject
        {
            ["resourceType"] = "Organization",
            ["identifier"] = new JsonArray(Hsa(unit.HsaId)),
            ["active"] = true,
        };
        if (unit.Kind is { Length: > 0 } kind && Enum.TryParse<UnitKind>(kind, out var parsed))
        {
            organization["type"] = new JsonArray(new JsonObject
            {
                ["coding"] = new JsonArray(new JsonObject { ["system"] = UnitKindSystem, ["code"] = kind, ["display"] = parsed.Swedish() }),
            });
        }
        organization["name"] = unit.Name;
        if (unit.ProviderId is { } providerId)
            organization["partOf"] = Reference("Organization", providerId, unit.ProviderHsaId);
        return organization;
    }

    public static JsonObject Practitioner(Row staff) => new()
    {
        ["resourceType"] = "Practitioner",
        ["identifier"] = new JsonArray(Hsa(staff.HsaId)),
        ["active"] = true,
        ["name"] = new JsonArray(new JsonObject { ["text"] = staff.Name }),
    };

    public static JsonObject PractitionerRole(Row assignment)
    {
        var role = Enum.TryParse<Role>(assignment.Role, out var parsed) ? parsed.Swedish() : assignment.Role;
        return new JsonObject
        {
            ["resourceType"] = "PractitionerRole",
            ["active"] = true,
            ["practitioner"] = Reference("Practitioner", assignment.StaffId, assignment.StaffHsaId, assignment.StaffName),
            ["organization"] = Reference("Organization", assignment.UnitId, assignment.UnitHsaId, assignment.UnitName),
            ["code"] = new JsonArray(new JsonObject
            {
                ["coding"] = new JsonArray(new JsonObject { ["system"] = RoleSystem, ["code"] = assignment.Role, ["display"] = role }),
            }),
        };
    }

    /// <summary>Publishes the care provider with <paramref name="providerId"/> (on the transaction that wrote it).</summary>
    public static async Task PublishProviderAsync(DbConnection connection, DbTransaction transaction, Guid providerId, DateTimeOffset now)
    {
        var row = await connection.QuerySingleAsync<Row>(ProviderSelect + " WHERE id = @providerId", new { providerId }, transaction);
        await FhirRecordPublisher.PublishAsync(connection, transaction, Provider(row), row.Id.ToString(), null, Guid.Empty, now);
    }

    public static async Task PublishUnitAsync(DbConnection connection, DbTransaction transaction, Guid unitId, DateTimeOffset now)
    {
        var row = await connection.QuerySingleAsync<Row>(UnitSelect + " WHERE u.id = @unitId", new { unitId }, transaction);
        await FhirRecordPublisher.PublishAsync(connection, transaction, Unit(row), row.Id.ToString(), null, row.Id, now);
    }

    public static async Task PublishStaffAsync(DbConnection connection, DbTransaction transaction, Guid staffId, DateTimeOffset now)
    {
        var row = await connection.QuerySingleAsync<Row>(StaffSelect + " WHERE id = @staffId", new { staffId }, transaction);
        await FhirRecordPublisher.PublishAsync(connection, transaction, Practitioner(row), row.Id.ToString(), null, Guid.Empty, now);
    }

    public static async Task PublishAssignmentAsync(DbConnection connection, DbTransaction transaction, Guid assignmentId, DateTimeOffset now)
    {
        var row = await connection.QuerySingleAsync<Row>(AssignmentSelect + " WHERE a.id = @assignmentId", new { assignmentId }, transaction);
        await FhirRecordPublisher.PublishAsync(connection, transaction, PractitionerRole(row), row.Id.ToString(), null, row.UnitId, now);
    }

    // Backfill, one directory table at a time in this order (a unit refers to its provider, a role to its person and unit):
    // keyset paging on the row id; re-running publishes nothing new (the publisher skips unchanged content).
    // Each returns how many rows the batch read and the cursor for the next batch (null when the table is done).

    public static Task<(int Rows, Guid? Next)> BackfillProvidersBatchAsync(DbConnection connection, DbTransaction transaction, Guid? after, int batchSize, DateTimeOffset now) =>
        BackfillAsync(connection, transaction, ProviderSelect, "id", after, batchSize, row => (Provider(row), Guid.Empty), now);

    public static Task<(int Rows, Guid? Next)> BackfillUnitsBatchAsync(DbConnection connection, DbTransaction transaction, Guid? after, int batchSize, DateTimeOffset now) =>
        BackfillAsync(connection, transaction, UnitSelect, "u.id", after, batchSize, row => (Unit(row), row.Id), now);

    public static Task<(int Rows, Guid? Next)> BackfillStaffBatchAsync(DbConnection connection, DbTransaction transaction, Guid? after, int batchSize, DateTimeOffset now) =>
        BackfillAsync(connection, transaction, StaffSelect, "id", after, batchSize, row => (Practitioner(row), Guid.Empty), now);

    public static Task<(int Rows, Guid? Next)> BackfillAssignmentsBatchAsync(DbConnection connection, DbTransaction transaction, Guid? after, int batchSize, DateTimeOffset now) =>
        BackfillAsync(connection, transaction, AssignmentSelect, "a.id", after, batchSize, row => (PractitionerRole(row), row.UnitId), now);

    private static async Task<(int Rows, Guid? Next)> BackfillAsync(DbConnection connection, DbTransaction transaction, string select, string idColumn,
        Guid? after, int batchSize, Func<Row, (JsonObject Resource, Guid Unit)> map, DateTimeOffset now)
    {
        var rows = (await connection.QueryAsync<Row>(
            $"{select} WHERE {idColumn} > @after ORDER BY {idColumn} LIMIT @batchSize",
            new { after = after ?? Guid.Empty, batchSize }, transaction)).AsList();
        foreach (var row in rows)
        {
            var (resource, unit) = map(row);
            await FhirRecordPublisher.PublishAsync(connection, transaction, resource, row.Id.ToString(), null, unit, now);
        }
        return (rows.Count, rows.Count < batchSize ? null : rows[^1].Id);
    }

    /// <summary>A reference to a directory resource by id, with the HSA-id as its identifier (readable without resolving).</summary>
    public static JsonObject Reference(string type, Guid id, string? hsaId, string? display = null)
    {
        var reference = new JsonObject { ["reference"] = $"{type}/{id}", ["type"] = type };
        if (hsaId is { Length: > 0 }) reference["identifier"] = Hsa(hsaId);
        if (display is { Length: > 0 }) reference["display"] = display;
        return reference;
    }

    /// <summary>
    /// A reference for a clinical record to a directory resource: literal when that resource is
    /// published, else by HSA-id only (the directory not yet backfilled), so it never dangles.
    /// </summary>
    public static async Task<JsonObject> ReferenceIfPublishedAsync(DbConnection connection, DbTransaction transaction, string type, Guid id, string hsaId, string? display)
    {
        if (await FhirResourceStore.ExistsAsync(connection, transaction, type, id.ToString())) return Reference(type, id, hsaId, display);
        var reference = new JsonObject { ["type"] = type, ["identifier"] = Hsa(hsaId) };
        if (display is { Length: > 0 }) reference["display"] = display;
        return reference;
    }

    public static JsonObject Hsa(string hsaId) => new() { ["system"] = HsaSystem, ["value"] = hsaId };
}
