using System.Data.Common;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Fhir.Search;
using Stadig.Storage;

namespace Stadig.Fhir.Store;

/// <summary>
/// New resources written ahead of the transaction that makes them visible (fhir_resource_staging,
/// fhir_search_staging; migration 0023): a lab message of 10,000 results is published by a few
/// INSERT … SELECT in its filing transaction instead of ~150,000 index rows sent there. The patient is
/// not known while staging (the filing transaction decides it), so a staged resource names its
/// subject by <see cref="Subject"/> and its time stamps by a placeholder; <see cref="FileAsync"/> puts
/// in the patient and the moment of filing.
/// </summary>
internal static class FhirStaging
{
    /// <summary>The stamp staged content carries in meta.lastUpdated and in DiagnosticReport.issued until it is filed.</summary>
    public static readonly DateTimeOffset Placeholder = DateTimeOffset.UnixEpoch;

    /// <summary>The subject reference of a resource staged by <paramref name="attempt"/>: unguessable, so no lab text can equal it.</summary>
    public static string Subject(Guid attempt) => $"Patient/staged-{attempt:N}";

    /// <summary>One staging attempt of a message, and the batch (staging transaction) its rows belong to.</summary>
    public sealed record Target(Guid Attempt, Guid MessageId, int Batch);

    /// <summary>Resources stamped, serialized and indexed for staging: the work done before the transaction that writes them.</summary>
    public sealed record Prepared(IReadOnlyList<(string Type, string Id, Guid UnitId, int Group, string Content)> Resources,
        IReadOnlyList<(string Type, string Id, int Group, FhirSearchValue Value)> Index);

    /// <summary>Stamps, serializes and indexes new resources (each to become version 1): CPU only, outside any transaction.</summary>
    public static Prepared Prepare(IEnumerable<(JsonObject Resource, string Id, Guid UnitId, int Group)> resources)
    {
        var rows = new List<(string, string, Guid, int, string)>();
        var index = new List<(string, string, int, FhirSearchValue)>();
        foreach (var (resource, id, unitId, group) in resources)
        {
            var row = FhirResourceStore.Stamp(Records.FhirRecordPublisher.Tagged(resource, id), id, null, unitId, Placeholder, 1);
            rows.Add((row.ResourceType, id, unitId, group, row.Content));
            index.AddRange(FhirSearchIndexer.Extract(resource).Select(v => (row.ResourceType, id, group, v)));
        }
        return new Prepared(rows, index);
    }

    /// <summary>Writes prepared resources and their index rows where no reader looks.</summary>
    public static async Task StageAsync(DbConnection connection, DbTransaction transaction, Target target, Prepared prepared)
    {
        foreach (var chunk in prepared.Resources.Chunk(100))
        {
            var b = new BulkStatement(connection);
            var (attempt, message, batch) = (b.Guid(target.Attempt), b.Guid(target.MessageId), b.Add(target.Batch, System.Data.DbType.Int32));
            b.Sql.Append("INSERT INTO fhir_resource_staging (attempt_id, message_id, batch, patient_group, resource_type, id, unit_id, content) VALUES ");
            for (var i = 0; i < chunk.Length; i++)
            {
                var (type, id, unitId, group, content) = chunk[i];
                b.Sql.Append(i == 0 ? "(" : ", (").AppendJoin(", ", attempt, message, batch, b.Add(group, System.Data.DbType.Int32), b.Text(type),
                    b.Text(id), b.Guid(unitId), b.Text(content)).Append(')');
            }
            await b.ExecuteAsync(transaction);
        }
        foreach (var chunk in prepared.Index.Chunk(200))
        {
            var b = new BulkStatement(connection);
            var (attempt, message, batch) = (b.Guid(target.Attempt), b.Guid(target.MessageId), b.Add(target.Batch, System.Data.DbType.Int32));
            b.Sql.Append("INSERT INTO fhir_search_staging (attempt_id, message_id, batch, patient_group, resource_type, id, param, system, value, low, high, number) VALUES ");
            for (var i = 0; i < chunk.Length; i++)
            {
                var (type, id, group, value) = chunk[i];
                b.Sql.Append(i == 0 ? "(" : ", (").AppendJoin(", ", attempt, message, batch, b.Add(group, System.Data.DbType.Int32), b.Text(type), b.Text(id),
                    b.Text(value.Param), b.Text(value.System), b.Text(value.Value), b.Time(value.Low), b.Time(value.High), b.Double(value.Number)).Append(')');
            }
            await b.ExecuteAsync(transaction);
        }
    }

    /// <summary>
    /// Makes what <paramref name="attempt"/> staged for <paramref name="group"/> of a message current,
    /// on <paramref name="patientId"/>: three statements whatever the number of resources. Returns the
    /// number of resources filed.
    /// </summary>
    public static async Task<int> FileAsync(DbConnection connection, DbTransaction transaction, Guid messageId, Guid attempt, int group,
        Guid patientId, string patientReference, DateTimeOffset now)
    {
        var engine = FhirSqlValues.EngineOf(connection);
        var parameters = new DynamicParameters(new { group, deleted = false });
        parameters.AddGuid(engine, "messageId", messageId);
        parameters.AddGuid(engine, "attempt", attempt);
        parameters.AddGuid(engine, "patientId", patientId);
        parameters.AddTime(engine, "now", now);
        // The placeholders are replaced with their member name and quotes: they cannot match inside a string value.
        parameters.AddText("subjectToken", Member("reference", Subject(attempt)));
        parameters.AddText("subject", Member("reference", patientReference));
        parameters.AddText("stampToken", Member("lastUpdated", FhirJson.Instant(Placeholder)));
        parameters.AddText("stamp", Member("lastUpdated", FhirJson.Instant(now)));
        parameters.AddText("issuedToken", Member("issued", FhirJson.Instant(Placeholder)));
        parameters.AddText("issued", Member("issued", FhirJson.Instant(now)));
        parameters.AddText("indexToken", FhirSearchIndexer.NormalizeReference(Subject(attempt)));
        parameters.AddText("indexSubject", FhirSearchIndexer.NormalizeReference(patientReference));
        const string Staged = "FROM fhir_resource_staging WHERE message_id = @messageId AND attempt_id = @attempt AND patient_group = @group";
        const string Columns = "(resource_type, id, version_id, patient_id, unit_id, last_updated, deleted, content)";
        const string Values = "resource_type, id, 1, @patientId, unit_id, @now, @deleted, REPLACE(REPLACE(REPLACE(content, @subjectToken, @subject), @stampToken, @stamp), @issuedToken, @issued)";
        var filed = await connection.ExecuteAsync($"INSERT INTO fhir_resource {Columns} SELECT {Values} {Staged}", parameters, transaction);
        await connection.ExecuteAsync($"INSERT INTO fhir_resource_version {Columns} SELECT {Values} {Staged}", parameters, transaction);
        await connection.ExecuteAsync(
            """
            INSERT INTO fhir_search (resource_type, id, param, patient_id, system, value, low, high, number)
            SELECT resource_type, id, param, @patientId, system, CASE WHEN value = @indexToken THEN @indexSubject ELSE value END, low, high, number
            FROM fhir_search_staging WHERE message_id = @messageId AND attempt_id = @attempt AND patient_group = @group
            """, parameters, transaction);
        return filed;
    }

    /// <summary><c>"name":"value"</c> exactly as stored content spells it (the store's serializer escapes some characters).</summary>
    private static string Member(string name, string value) => FhirJson.Serialize(new JsonObject { [name] = value })[1..^1];

    /// <summary>
    /// Removes the last staging batch of what any attempt staged for a message (once it is filed or
    /// rejected; also leftovers of a crash); false when nothing is left. The caller runs each in its own
    /// transaction, so no long delete holds SQLite's write lock.
    /// </summary>
    public static async Task<bool> ClearBatchAsync(DbConnection c, DbTransaction t, Guid messageId)
    {
        var last = await c.QuerySingleOrDefaultAsync<int?>("SELECT MAX(batch) FROM fhir_resource_staging WHERE message_id = @messageId", new { messageId }, t);
        var lastIndex = await c.QuerySingleOrDefaultAsync<int?>("SELECT MAX(batch) FROM fhir_search_staging WHERE message_id = @messageId", new { messageId }, t);
        var top = Math.Max(last ?? -1, lastIndex ?? -1);
        if (top < 0) return false;
        await c.ExecuteAsync("DELETE FROM fhir_resource_staging WHERE message_id = @messageId AND batch = @top", new { messageId, top }, t);
        await c.ExecuteAsync("DELETE FROM fhir_search_staging WHERE message_id = @messageId AND batch = @top", new { messageId, top }, t);
        return true;
    }
}
