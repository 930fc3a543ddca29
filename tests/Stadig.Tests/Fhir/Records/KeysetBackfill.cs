using System.Data.Common;
using Dapper;
using Stadig.Storage;

namespace Stadig.Tests.Fhir.Records;

/// <summary>Test helpers for the keyset backfill steps of the lab and directory mappers.</summary>
internal static class KeysetBackfill
{
    /// <summary>Runs one backfill step to its end, a transaction a batch, as the backfill does; gives the rows read.</summary>
    public static async Task<int> RunAsync(Database database, Func<DbConnection, DbTransaction, Guid?, Task<(int Rows, Guid? Next)>> batch)
    {
        var total = 0;
        Guid? cursor = null;
        do
        {
            var (rows, next) = await database.InUnscopedTransactionAsync((c, t) => batch(c, t, cursor));
            total += rows;
            cursor = next;
        }
        while (cursor is not null);
        return total;
    }

    /// <summary>As on a database from before publishing: the FHIR view of these types is gone.</summary>
    public static async Task ForgetAsync(Database database, params string[] types)
    {
        await using var connection = await database.OpenUnscopedAsync();
        foreach (var table in new[] { "fhir_search", "fhir_resource_version", "fhir_resource" })
            await connection.ExecuteAsync($"DELETE FROM {table} WHERE resource_type IN ({string.Join(", ", types.Select(t => $"'{t}'"))})");
    }
}
