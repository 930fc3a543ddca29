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
    public static async Task ReplaceAsync(DbConnection connection, DbTransaction transaction, string resourceType, string id,
        Guid? patientId, IReadOnlyList<FhirSearchValue> values, CancellationToken cancellationToken = default, bool isNew = false)
    {
        if (!isNew) await DeleteAsync(connection, transaction, resourceType, id, cancellationToken);
        var engine = FhirSqlValues.EngineOf(connection);
        foreach (var batch in values.Chunk(RowsPerInsert))
        {
            var sql = new StringBuilder("INSERT INTO fhir_search (resource_type, id, param, patient_id, system, value, low, high, number) VALUES ");
            var parameters = new DynamicParameters();
            parameters.AddText("type", resourceType);
            parameters.AddText("id", id);
            parameters.AddGuid(engine, "patient", patientId);
            for (var i = 0; i < batch.Length; i++)
            {
                var value = batch[i];
                sql.Append(i == 0 ? "" : ", ").Append($"(@type, @id, @param{i}, @patient, @system{i}, @value{i}, @low{i}, @high{i}, @number{i})");
                parameters.AddText($"param{i}", value.Param);
                parameters.AddText($"system{i}", value.System);
                parameters.AddText($"value{i}", value.Value);
                parameters.AddTime(engine, $"low{i}", value.Low);
                parameters.AddTime(engine, $"high{i}", value.High);
                parameters.Add($"number{i}", value.Number, DbType.Double);
            }
            await connection.ExecuteAsync(new CommandDefinition(sql.ToString(), parameters, transaction, cancellationToken: cancellationToken));
        }
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
