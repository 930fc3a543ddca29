using System.Data;
using System.Data.Common;
using System.Text;
using Microsoft.Data.Sqlite;

namespace Stadig.Storage;

/// <summary>
/// A multi-row statement (INSERT … VALUES (…), (…), …) with its parameters added straight to the
/// command. Dapper's DynamicParameters checks every new name against all earlier ones, which is
/// quadratic in a statement of thousands of parameters: filing a 10,000-OBX message spent most of
/// its time there. Values are given in the form each engine stores (SQLite: uuids and times as text).
/// </summary>
internal sealed class BulkStatement(DbConnection connection)
{
    private readonly List<DbParameter> _parameters = [];
    private readonly bool _sqlite = CountedConnection.Unwrap(connection) is SqliteConnection;

    public StringBuilder Sql { get; } = new();

    /// <summary>Adds a value and returns its placeholder.</summary>
    public string Add(object? value, DbType type)
    {
        var parameter = _sqlite ? new SqliteParameter() : (DbParameter)new Npgsql.NpgsqlParameter();
        parameter.ParameterName = $"@b{_parameters.Count}";
        parameter.DbType = type;
        parameter.Value = value ?? DBNull.Value;
        _parameters.Add(parameter);
        return parameter.ParameterName;
    }

    public string Text(string? value) => Add(value, DbType.String);

    public string Guid(Guid? value) => _sqlite ? Add(value?.ToString(), DbType.String) : Add(value, DbType.Guid);

    public string Time(DateTimeOffset? value) =>
        _sqlite ? Add(value is { } v ? TypeHandlers.ToSqliteText(v) : null, DbType.String) : Add(value?.ToUniversalTime(), DbType.DateTimeOffset);

    public string Double(double? value) => Add(value, DbType.Double);

    public string Binary(byte[]? value) => Add(value, DbType.Binary);

    public int Count => _parameters.Count;

    public async Task<int> ExecuteAsync(DbTransaction transaction, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = Sql.ToString();
        command.Parameters.AddRange(_parameters.ToArray());
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
