using System.Data;
using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;
using Stadig.Storage;

namespace Stadig.Fhir.Search;

/// <summary>
/// Parameter values in the form each engine stores them (SQLite: uuids and timestamps as text), with
/// the type given so that nulls in multi-row inserts and comparisons need no inference.
/// </summary>
internal static class FhirSqlValues
{
    public static DatabaseEngine EngineOf(DbConnection connection) =>
        CountedConnection.Unwrap(connection) is SqliteConnection ? DatabaseEngine.Sqlite : DatabaseEngine.Postgres;

    public static void AddTime(this DynamicParameters parameters, DatabaseEngine engine, string name, DateTimeOffset? value)
    {
        if (engine == DatabaseEngine.Sqlite) parameters.Add(name, value is { } v ? TypeHandlers.ToSqliteText(v) : null, DbType.String);
        else parameters.Add(name, value?.ToUniversalTime(), DbType.DateTimeOffset);
    }

    public static void AddGuid(this DynamicParameters parameters, DatabaseEngine engine, string name, Guid? value)
    {
        if (engine == DatabaseEngine.Sqlite) parameters.Add(name, value?.ToString(), DbType.String);
        else parameters.Add(name, value, DbType.Guid);
    }

    public static void AddText(this DynamicParameters parameters, string name, string? value) => parameters.Add(name, value, DbType.String);
}
