using System.Data.Common;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Fhir.Search;
using Stadig.Storage;

namespace Stadig.Fhir.Store;

/// <summary>
/// Reads and writes the stored versions of FHIR resources. It decides nothing about access: the
/// FHIR use cases call it with the checkpoint's grant in hand, on their connection and transaction,
/// so a resource, its version, its search index and the audit event are one write.
/// </summary>
public static class FhirResourceStore
{
    internal const string Columns =
        "resource_type AS ResourceType, id AS Id, version_id AS VersionId, patient_id AS PatientId, unit_id AS UnitId, last_updated AS LastUpdated, deleted AS Deleted, content AS Content";

    /// <summary>The patient's stored Patient resource, the newest (parameter @patientId).</summary>
    internal const string PatientOfSql =
        $"SELECT {Columns} FROM fhir_resource WHERE resource_type = 'Patient' AND patient_id = @patientId ORDER BY last_updated DESC LIMIT 1";

    /// <summary>The current resources in the patient's compartment, oldest first (parameter @patientId).</summary>
    internal const string CompartmentSql =
        $"SELECT {Columns} FROM fhir_resource WHERE patient_id = @patientId AND resource_type <> 'Patient' AND NOT deleted ORDER BY resource_type, last_updated, id";

    public static Task<FhirResourceRow?> CurrentAsync(DbConnection connection, DbTransaction? transaction, string type, string id) =>
        connection.QuerySingleOrDefaultAsync<FhirResourceRow>(
            $"SELECT {Columns} FROM fhir_resource WHERE resource_type = @type AND id = @id", new { type, id }, transaction);

    /// <summary>
    /// The patient's stored Patient resource (<see cref="PatientOfAsync"/>) and the current row of <c>{type}/{id}</c>
    /// (<see cref="CurrentAsync"/>), in one round trip: what a record's publish reads before it writes.
    /// </summary>
    public static async Task<(FhirResourceRow? Patient, FhirResourceRow? Current)> PatientOfAndCurrentAsync(DbConnection connection, DbTransaction? transaction,
        Guid patientId, string type, string id)
    {
        using var grid = await connection.QueryMultipleAsync(
            $"""
            {PatientOfSql};
            SELECT {Columns} FROM fhir_resource WHERE resource_type = @type AND id = @id
            """, new { patientId, type, id }, transaction);
        return (await grid.ReadSingleOrDefaultAsync<FhirResourceRow>(), await grid.ReadSingleOrDefaultAsync<FhirResourceRow>());
    }

    public static Task<FhirResourceRow?> VersionAsync(DbConnection connection, DbTransaction? transaction, string type, string id, int version) =>
        connection.QuerySingleOrDefaultAsync<FhirResourceRow>(
            $"SELECT {Columns} FROM fhir_resource_version WHERE resource_type = @type AND id = @id AND version_id = @version", new { type, id, version }, transaction);

    /// <summary>Every version of one resource, newest first.</summary>
    public static async Task<IReadOnlyList<FhirResourceRow>> HistoryAsync(DbConnection connection, string type, string id, int limit) =>
        (await connection.QueryAsync<FhirResourceRow>(
            $"SELECT {Columns} FROM fhir_resource_version WHERE resource_type = @type AND id = @id ORDER BY version_id DESC LIMIT @limit",
            new { type, id, limit })).AsList();

    /// <summary>Versions of every resource of a type, newest first, optionally since a moment and within some patients' compartments.</summary>
    public static async Task<IReadOnlyList<FhirResourceRow>> TypeHistoryAsync(DbConnection connection, string type, DateTimeOffset? since, int limit) =>
        (await connection.QueryAsync<FhirResourceRow>(
            $"""
             SELECT {Columns} FROM fhir_resource_version
             WHERE resource_type = @type AND (@noSince OR last_updated > @since)
             ORDER BY last_updated DESC, id, version_id DESC LIMIT @limit
             """,
            new { type, noSince = since is null, since = since ?? DateTimeOffset.MinValue, limit })).AsList();

    /// <summary>
    /// Stores <paramref name="resource"/> as the next version (1 for a new one): sets meta.versionId
    /// and meta.lastUpdated in it, keeps the version, and replaces the search index rows.
    /// <paramref name="version"/> forces the version number (a Patient's follows its registry row).
    /// </summary>
    public static async Task<FhirResourceRow> PutAsync(DbConnection connection, DbTransaction transaction, JsonObject resource, string id,
        Guid? patientId, Guid unitId, DateTimeOffset now, int? version = null) =>
        await PutAsync(connection, transaction, resource, id, patientId, unitId, now, version,
            await CurrentAsync(connection, transaction, resource["resourceType"]!.GetValue<string>(), id));

    /// <summary>
    /// As above, with the current row already read on this transaction (null: there is none).
    /// <paramref name="answer"/> gives a Patient's read answer for the row as stored, with the registry
    /// version it was made at, kept beside the row (migration 0032); any other write of the row clears it.
    /// </summary>
    public static async Task<FhirResourceRow> PutAsync(DbConnection connection, DbTransaction transaction, JsonObject resource, string id,
        Guid? patientId, Guid unitId, DateTimeOffset now, int? version, FhirResourceRow? current,
        Func<FhirResourceRow, (string Text, int RegistryVersion)>? answer = null)
    {
        var type = resource["resourceType"]!.GetValue<string>();
        var row = Stamp(resource, id, patientId, unitId, now, version ?? (current?.VersionId ?? 0) + 1);
        string? answerText = null;
        var registryVersion = 0;
        if (answer is not null) (answerText, registryVersion) = answer(row);
        // The current row and its version in one round trip. Only a Patient's row keeps an answer
        // (and has it replaced or cleared by every write); other types' statements leave it out.
        var answered = type == "Patient";
        var sql = new System.Text.StringBuilder(
            (current is null
                ? $"""
                   INSERT INTO fhir_resource (resource_type, id, version_id, patient_id, unit_id, last_updated, deleted, content{(answered ? ", answer, answer_registry_version, answer_of_version" : "")})
                   VALUES (@ResourceType, @Id, @VersionId, @PatientId, @UnitId, @LastUpdated, @Deleted, @Content{(answered ? ", @answerText, @answerRegistryVersion, @answerOfVersion" : "")});
                   """
                : $"""
                   UPDATE fhir_resource SET version_id = @VersionId, patient_id = @PatientId, unit_id = @UnitId, last_updated = @LastUpdated, deleted = @Deleted, content = @Content
                       {(answered ? ", answer = @answerText, answer_registry_version = @answerRegistryVersion, answer_of_version = @answerOfVersion" : "")}
                   WHERE resource_type = @ResourceType AND id = @Id;
                   """)
            + """

            INSERT INTO fhir_resource_version (resource_type, id, version_id, patient_id, unit_id, last_updated, deleted, content)
            VALUES (@ResourceType, @Id, @VersionId, @PatientId, @UnitId, @LastUpdated, @Deleted, @Content);
            """);
        var parameters = new DynamicParameters(new
        {
            row.ResourceType, row.Id, row.VersionId, row.PatientId, row.UnitId, row.LastUpdated, row.Deleted, row.Content, answerText,
            answerRegistryVersion = answerText is null ? (int?)null : registryVersion, answerOfVersion = answerText is null ? (int?)null : row.VersionId,
        });
        // The row, its version and its search index in one round trip.
        await FhirSearchIndexWriter.ReplaceAfterAsync(connection, transaction, sql, parameters, type, id, patientId, FhirSearchIndexer.Extract(resource),
            isNew: current is null, CancellationToken.None);
        return row;
    }

    /// <summary>Sets meta.versionId and meta.lastUpdated in <paramref name="resource"/> and gives the row that stores it.</summary>
    internal static FhirResourceRow Stamp(JsonObject resource, string id, Guid? patientId, Guid unitId, DateTimeOffset now, int version)
    {
        resource["id"] = id;
        var meta = resource["meta"] as JsonObject ?? new JsonObject();
        resource.Remove("meta");
        meta["versionId"] = version.ToString(System.Globalization.CultureInfo.InvariantCulture);
        meta["lastUpdated"] = FhirJson.Instant(now);
        resource["meta"] = meta;
        return new FhirResourceRow
        {
            ResourceType = resource["resourceType"]!.GetValue<string>(), Id = id, VersionId = version, PatientId = patientId, UnitId = unitId,
            LastUpdated = now, Deleted = false, Content = FhirJson.Serialize(FhirJson.Ordered(resource)),
        };
    }

    /// <summary>The current rows of many resources of one type, by id (those that exist).</summary>
    public static async Task<Dictionary<string, FhirResourceRow>> CurrentManyAsync(DbConnection connection, DbTransaction? transaction, string type,
        IEnumerable<string> ids)
    {
        var found = new Dictionary<string, FhirResourceRow>(StringComparer.Ordinal);
        foreach (var chunk in ids.Distinct(StringComparer.Ordinal).Chunk(500))
        {
            var parameters = new DynamicParameters();
            parameters.AddText("type", type);
            for (var i = 0; i < chunk.Length; i++) parameters.AddText($"id{i}", chunk[i]);
            var list = string.Join(", ", chunk.Select((_, i) => $"@id{i}"));
            foreach (var row in await connection.QueryAsync<FhirResourceRow>(
                $"SELECT {Columns} FROM fhir_resource WHERE resource_type = @type AND id IN ({list})", parameters, transaction))
                found[row.Id] = row;
        }
        return found;
    }

    /// <summary>
    /// Stores resources that have no version yet (each becomes version 1) with their search index rows,
    /// a hundred resources a statement: a lab message of thousands of results is a few hundred
    /// statements instead of four round trips a result (docs/benchmarks.md, lab results).
    /// </summary>
    public static async Task InsertNewAsync(DbConnection connection, DbTransaction transaction,
        IReadOnlyList<(JsonObject Resource, string Id, Guid? PatientId, Guid UnitId)> resources, DateTimeOffset now)
    {
        var index = new List<(string Type, string Id, Guid? PatientId, FhirSearchValue Value)>();
        foreach (var chunk in resources.Chunk(100))
        {
            var b = new BulkStatement(connection);
            var (at, deleted) = (b.Time(now), b.Add(false, System.Data.DbType.Boolean));
            var values = new System.Text.StringBuilder();
            for (var i = 0; i < chunk.Length; i++)
            {
                var (resource, id, patientId, unitId) = chunk[i];
                var row = Stamp(resource, id, patientId, unitId, now, 1);
                values.Append(i == 0 ? "(" : ", (")
                    .AppendJoin(", ", b.Text(row.ResourceType), b.Text(id), "1", b.Guid(patientId), b.Guid(unitId), at, deleted, b.Text(row.Content)).Append(')');
                index.AddRange(FhirSearchIndexer.Extract(resource).Select(v => (row.ResourceType, id, patientId, v)));
            }
            const string columns = "(resource_type, id, version_id, patient_id, unit_id, last_updated, deleted, content)";
            b.Sql.Append($"INSERT INTO fhir_resource {columns} VALUES {values}; INSERT INTO fhir_resource_version {columns} VALUES {values}");
            await b.ExecuteAsync(transaction);
        }
        await FhirSearchIndexWriter.InsertManyAsync(connection, transaction, index);
    }

    /// <summary>Marks a resource deleted (a version without content that vread and history still show).</summary>
    public static async Task<FhirResourceRow?> DeleteAsync(DbConnection connection, DbTransaction transaction, string type, string id, DateTimeOffset now)
    {
        var current = await CurrentAsync(connection, transaction, type, id);
        if (current is null || current.Deleted) return current;
        var row = new FhirResourceRow
        {
            ResourceType = type, Id = id, VersionId = current.VersionId + 1, PatientId = current.PatientId, UnitId = current.UnitId, LastUpdated = now, Deleted = true, Content = current.Content,
        };
        await connection.ExecuteAsync(
            $"UPDATE fhir_resource SET version_id = @VersionId, last_updated = @LastUpdated, deleted = @Deleted{(type == "Patient" ? ", answer = NULL" : "")} WHERE resource_type = @ResourceType AND id = @Id",
            row, transaction);
        await connection.ExecuteAsync(
            """
            INSERT INTO fhir_resource_version (resource_type, id, version_id, patient_id, unit_id, last_updated, deleted, content)
            VALUES (@ResourceType, @Id, @VersionId, @PatientId, @UnitId, @LastUpdated, @Deleted, @Content)
            """, row, transaction);
        await FhirSearchIndexWriter.DeleteAsync(connection, transaction, type, id);
        return row;
    }

    /// <summary>The Patient resource linked to a registry row, if one was stored through the API.</summary>
    /// <summary>The stored Patient with this id, whether a registry patient has it as its id, and that patient's stored Patient: one round trip.</summary>
    public static async Task<(FhirResourceRow? Own, bool RegistryPatientExists, FhirResourceRow? OfRegistry)> PatientByIdOrRegistryIdAsync(
        DbConnection connection, DbTransaction? transaction, string id, Guid registryId)
    {
        using var grid = await connection.QueryMultipleAsync(
            $"""
             SELECT {Columns} FROM fhir_resource WHERE resource_type = 'Patient' AND id = @id;
             SELECT COUNT(*) FROM patient WHERE id = @registryId;
             SELECT {Columns} FROM fhir_resource WHERE resource_type = 'Patient' AND patient_id = @registryId ORDER BY last_updated DESC LIMIT 1;
             """, new { id, registryId }, transaction);
        var own = await grid.ReadSingleOrDefaultAsync<FhirResourceRow>();
        var exists = await grid.ReadSingleAsync<long>() > 0;
        var ofRegistry = await grid.ReadSingleOrDefaultAsync<FhirResourceRow>();
        return (own, exists, ofRegistry);
    }

    /// <summary>
    /// <see cref="PatientByIdOrRegistryIdAsync"/>'s two readings of a uuid, and the registry row, as
    /// statements to run after the checkpoint's facts (parameters @id and @patientId, the uuid as a
    /// registry id): read back with <see cref="ReadPatientByIdOrRegistryIdAsync"/>.
    /// </summary>
    private const string AnswerColumns = "answer AS Answer, answer_registry_version AS AnswerRegistryVersion, answer_of_version AS AnswerOfVersion";

    internal const string PatientByIdOrRegistryIdSql =
        $"""
         SELECT {Columns}, {AnswerColumns} FROM fhir_resource WHERE resource_type = 'Patient' AND id = @id;
         SELECT {Columns}, {AnswerColumns} FROM fhir_resource WHERE resource_type = 'Patient' AND patient_id = @patientId ORDER BY last_updated DESC LIMIT 1;
         SELECT {Stadig.Patients.PatientRegistry.PatientColumns} FROM patient WHERE id = @patientId;
         """;

    /// <summary>
    /// The uuid read as a registry id stands (SQL over @id and @patientId, as <see cref="PatientByIdOrRegistryIdSql"/>):
    /// no live Patient stored under that id belongs to another registry patient.
    /// </summary>
    internal const string NoOtherPatientStoredUnderIdSql =
        "NOT EXISTS (SELECT 1 FROM fhir_resource o WHERE o.resource_type = 'Patient' AND o.id = @id AND o.patient_id IS NOT NULL AND NOT o.deleted AND o.patient_id <> @patientId)";

    /// <summary>
    /// The stored Patients of a page of registry patients (<paramref name="patientIds"/>: a query of their ids), the
    /// newest of each, as <see cref="PatientOfAsync"/> reads one: for a search to read them with its page.
    /// </summary>
    internal static string PatientsOfSql(string patientIds) =>
        $"""
         SELECT * FROM (SELECT {Columns}, row_number() OVER (PARTITION BY patient_id ORDER BY last_updated DESC) AS newest
             FROM fhir_resource WHERE resource_type = 'Patient' AND patient_id IN ({patientIds})) AS stored WHERE newest = 1
         """;

    internal static async Task<(FhirResourceRow? Own, FhirResourceRow? OfRegistry, Stadig.Patients.Patient? Registry)> ReadPatientByIdOrRegistryIdAsync(SqlMapper.GridReader grid) =>
        (await grid.ReadSingleOrDefaultAsync<FhirResourceRow>(), await grid.ReadSingleOrDefaultAsync<FhirResourceRow>(),
            await grid.ReadSingleOrDefaultAsync<Stadig.Patients.Patient>());

    public static Task<FhirResourceRow?> PatientOfAsync(DbConnection connection, DbTransaction? transaction, Guid patientId) =>
        connection.QuerySingleOrDefaultAsync<FhirResourceRow>(
            PatientOfSql, new { patientId }, transaction);

    /// <summary>The current resources in one patient's compartment (for $everything and export), oldest first.</summary>
    public static async Task<IReadOnlyList<FhirResourceRow>> CompartmentAsync(DbConnection connection, Guid patientId, IReadOnlyCollection<string>? types) =>
        (await connection.QueryAsync<FhirResourceRow>(
            CompartmentSql, new { patientId })).Where(r => types is null || types.Contains(r.ResourceType)).ToList();

    /// <summary>Whether a resource exists (and is not deleted); for reference checks.</summary>
    public static async Task<bool> ExistsAsync(DbConnection connection, DbTransaction? transaction, string type, string id) =>
        await connection.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM fhir_resource WHERE resource_type = @type AND id = @id AND NOT deleted", new { type, id }, transaction) > 0;
}
