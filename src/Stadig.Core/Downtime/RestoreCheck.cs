using Dapper;
using Stadig.Audit;
using Stadig.Storage;

namespace Stadig.Downtime;

/// <summary>What <c>stadig restore-check</c> found in a restored database.</summary>
public sealed record RestoreCheckResult(
    int SchemaVersion,
    IReadOnlyList<int> PendingMigrations,
    IReadOnlyList<(string Table, long Rows)> Tables,
    AuditVerification Audit,
    string? Integrity)
{
    public bool Passed => PendingMigrations.Count == 0 && Audit.Intact && Integrity is null or "ok";
}

/// <summary>
/// Checks a restored database before it is put to use: every migration applied, the rows in each
/// table (to compare with the source at the backup point), SQLite's integrity check, and the audit
/// log's hash chains (<see cref="AuditVerifier"/>, as <c>stadig verify</c>). Reads only.
/// </summary>
public sealed class RestoreCheck(Database database)
{
    public async Task<RestoreCheckResult> RunAsync(CancellationToken cancellationToken = default)
    {
        var migrator = new Migrator(database);
        var version = await migrator.CurrentVersionAsync(cancellationToken);
        var pending = (await migrator.PendingAsync(cancellationToken)).Select(m => m.Version).ToList();
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        var names = (await connection.QueryAsync<string>(database.Engine == DatabaseEngine.Postgres
            ? "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
            : "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")).ToList();
        var tables = new List<(string, long)>();
        // Names come from the catalogue, not from input; quoted all the same.
        foreach (var name in names)
            tables.Add((name, await connection.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM \"{name.Replace("\"", "\"\"")}\"")));
        var integrity = database.Engine == DatabaseEngine.Sqlite
            ? string.Join("; ", (await connection.QueryAsync<string>("PRAGMA integrity_check")).Take(5))
            : null;
        var audit = await new AuditVerifier(database).VerifyAsync(cancellationToken);
        return new RestoreCheckResult(version, pending, tables, audit, integrity);
    }
}
