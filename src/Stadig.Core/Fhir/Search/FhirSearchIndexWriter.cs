using System.Data;
using System.Data.Common;
using System.Text;
using Dapper;
using Stadig.Storage;

namespace Stadig.Fhir.Search;

/// <summary>Keeps fhir_search in step with the current version of a resource, inside the caller's transaction.</summary>
public static class FhirSearchIndexWriter
{
    // Nine parameters a row: 100 rows stay far below either engine's limit on parameters per statement.
    private const int RowsPerInsert = 100;

    /// <param name="isNew">The resource had no index rows yet (its first version): nothing to delete.</param>
    public static Task ReplaceAsync(DbConnection connection, DbTransaction transaction, string resourceType, string id,
        Guid? patientId, IReadOnlyList<FhirSearchValue> values, CancellationToken cancellationToken = default, bool isNew = false) =>
        ReplaceAfterAsync(connection, transaction, new StringBuilder(), new DynamicParameters(), resourceType, id, patientId, values, isNew, cancellationToken);

    /// <summary>
    /// As <see cref="ReplaceAsync"/>, after the statements already in <paramref name="sql"/> (with their
    /// <paramref name="parameters"/>, none named <c>s_…</c>): the old rows' deletion and the first
    /// <see cref="RowsPerInsert"/> new ones go in that command, so a resource and its index are one round trip.
    /// </summary>
    internal static async Task ReplaceAfterAsync(DbConnection connection, DbTransaction transaction, StringBuilder sql, DynamicParameters parameters,
        string resourceType, string id, Guid? patientId, IReadOnlyList<FhirSearchValue> values, bool isNew, CancellationToken cancellationToken)
    {
        var engine = FhirSqlValues.EngineOf(connection);
        var chunks = values.Chunk(RowsPerInsert).ToList();
        parameters.AddText("s_type", resourceType);
        parameters.AddText("s_id", id);
        if (!isNew) sql.Append("\nDELETE FROM fhir_search WHERE resource_type = @s_type AND id = @s_id;");
        if (chunks.Count > 0) AppendInsert(sql, parameters, engine, patientId, chunks[0]);
        if (sql.Length > 0) await connection.ExecuteAsync(new CommandDefinition(sql.ToString(), parameters, transaction, cancellationToken: cancellationToken));
        foreach (var chunk in chunks.Skip(1))
        {
            var more = new StringBuilder();
            var moreParameters = new DynamicParameters();
            moreParameters.AddText("s_type", resourceType);
            moreParameters.AddText("s_id", id);
            AppendInsert(more, moreParameters, engine, patientId, chunk);
            await connection.ExecuteAsync(new CommandDefinition(more.ToString(), moreParameters, transaction, cancellationToken: cancellationToken));
        }
    }

    /// <summary>One INSERT of index rows (parameters @s_type and @s_id given by the caller).</summary>
    private static void AppendInsert(StringBuilder sql, DynamicParameters parameters, DatabaseEngine engine, Guid? patientId, FhirSearchValue[] batch)
    {
        parameters.AddGuid(engine, "s_patient", patientId);
        sql.Append("\nINSERT INTO fhir_search (resource_type, id, param, patient_id, system, value, low, high, number) VALUES ");
        for (var i = 0; i < batch.Length; i++)
        {
            var value = batch[i];
            sql.Append(i == 0 ? "" : ", ").Append($"(@s_type, @s_id, @s_param{i}, @s_patient, @s_system{i}, @s_value{i}, @s_low{i}, @s_high{i}, @s_number{i})");
            parameters.AddText($"s_param{i}", value.Param);
            parameters.AddText($"s_system{i}", value.System);
            parameters.AddText($"s_value{i}", value.Value);
            parameters.AddTime(engine, $"s_low{i}", value.Low);
            parameters.AddTime(engine, $"s_high{i}", value.High);
            parameters.Add($"s_number{i}", value.Number, DbType.Double);
        }
        sql.Append(';');
    }

    /// <summary>Index rows of many new resources (nothing to delete first), several hundred rows a statement.</summary>
    public static async Task InsertManyAsync(DbConnection connection, DbTransaction transaction,
        IReadOnlyList<(string Type, string Id, Guid? PatientId, FhirSearchValue Value)> rows, CancellationToken cancellationToken = default)
    {
        foreach (var batch in rows.Chunk(200))
        {
            var b = new BulkStatement(connection);
            b.Sql.Append("INSERT INTO fhir_search (resource_type, id, param, patient_id, system, value, low, high, number) VALUES ");
            for (var i = 0; i < batch.Length; i++)
            {
                var (type, id, patientId, value) = batch[i];
                b.Sql.Append(i == 0 ? "(" : ", (").AppendJoin(", ", b.Text(type), b.Text(id), b.Text(value.Param), b.Guid(patientId), b.Text(value.System),
                    b.Text(value.Value), b.Time(value.Low), b.Time(value.High), b.Double(value.Number)).Append(')');
            }
            await b.ExecuteAsync(transaction, cancellationToken);
        }
    }

    public static Task DeleteAsync(DbConnection connection, DbTransaction transaction, string resourceType, string id,
        CancellationToken cancellationToken = default) =>
        connection.ExecuteAsync(new CommandDefinition("DELETE FROM fhir_search WHERE resource_type = @resourceType AND id = @id",
            new { resourceType, id }, transaction, cancellationToken: cancellationToken));
}
