using Dapper;
using Microsoft.Data.Sqlite;
using Stadig.Storage;

namespace Stadig.Downtime;

/// <summary>
/// Backup and restore of the embedded SQLite database with SQLite's online backup API: the copy is
/// one consistent snapshot (one read transaction) even while Stadig serves and writes. PostgreSQL
/// is backed up with pgBackRest instead (docs/operations.md, "Backup and restore").
/// </summary>
public static class SqliteBackup
{
    /// <summary>Copies the live database to <paramref name="toFile"/> (a single self-contained file, checked after copying).</summary>
    public static async Task<BackupSummary> BackupAsync(string connectionString, string toFile, bool overwrite, CancellationToken cancellationToken = default)
    {
        var source = SourceFile(connectionString);
        if (!File.Exists(source)) throw new BackupException($"There is no database at {source}.");
        var target = Path.GetFullPath(toFile);
        if (File.Exists(target) && !overwrite) throw new BackupException($"{target} exists; add --force to replace it.");
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        // Written beside the target and renamed when complete: a cut-off backup is never taken for a good one.
        var partial = target + ".partial";
        File.Delete(partial);
        await using (var from = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = source, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString()))
        await using (var to = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = partial, Pooling = false }.ToString()))
        {
            await from.OpenAsync(cancellationToken);
            await to.OpenAsync(cancellationToken);
            await from.ExecuteAsync("PRAGMA busy_timeout=10000");
            from.BackupDatabase(to);
            // One file, no -wal beside it: a backup is copied, moved and archived as one.
            await to.ExecuteAsync("PRAGMA journal_mode=DELETE");
        }
        var summary = await VerifyFileAsync(partial, cancellationToken);
        File.Move(partial, target, overwrite: true);
        return summary with { File = target };
    }

    /// <summary>
    /// Restores <paramref name="fromFile"/> into the configured database. The file is checked first
    /// (SQLite's integrity check, a Stadig schema); an existing database is replaced only when
    /// <paramref name="overwrite"/> says so, and then through the backup API, so a process that still
    /// has it open sees either the old or the new database, never a mixture.
    /// </summary>
    public static async Task<BackupSummary> RestoreAsync(string fromFile, string connectionString, bool overwrite, CancellationToken cancellationToken = default)
    {
        var from = Path.GetFullPath(fromFile);
        if (!File.Exists(from)) throw new BackupException($"No such backup file: {from}");
        var summary = await VerifyFileAsync(from, cancellationToken);
        var target = SourceFile(connectionString);
        if (File.Exists(target) && new FileInfo(target).Length > 0 && !overwrite)
            throw new BackupException($"{target} already holds a database (it may be serving); add --force to replace it with the backup.");
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        await using (var source = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = from, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString()))
        await using (var into = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = target, Pooling = false }.ToString()))
        {
            await source.OpenAsync(cancellationToken);
            await into.OpenAsync(cancellationToken);
            await into.ExecuteAsync("PRAGMA busy_timeout=10000");
            source.BackupDatabase(into);
            await into.ExecuteAsync("PRAGMA journal_mode=WAL");
        }
        return summary with { File = target };
    }

    /// <summary>SQLite's integrity check and a Stadig schema, or a clear refusal naming what is wrong.</summary>
    public static async Task<BackupSummary> VerifyFileAsync(string file, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = file, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
            await connection.OpenAsync(cancellationToken);
            var integrity = (await connection.QueryAsync<string>("PRAGMA integrity_check")).ToList();
            if (integrity is not ["ok"]) throw new BackupException($"{file} fails SQLite's integrity check: {string.Join("; ", integrity.Take(5))}");
            if (await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migration'") == 0)
                throw new BackupException($"{file} is not a Stadig database (no schema_migration table).");
            var version = await connection.ExecuteScalarAsync<int>("SELECT COALESCE(MAX(version), 0) FROM schema_migration");
            var events = await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM audit_event");
            return new BackupSummary(file, new FileInfo(file).Length, version, events);
        }
        catch (SqliteException e)
        {
            throw new BackupException($"{file} is not a readable SQLite database: {e.Message}");
        }
    }

    private static string SourceFile(string connectionString)
    {
        if (Database.EngineOf(connectionString) != DatabaseEngine.Sqlite)
            throw new BackupException("backup and restore are for the embedded SQLite database; back up PostgreSQL with pgBackRest (docs/operations.md, \"Backup and restore\").");
        return Path.GetFullPath(new SqliteConnectionStringBuilder(connectionString).DataSource);
    }
}

/// <summary>What a backup file holds: its size, schema version and audit events.</summary>
public sealed record BackupSummary(string File, long Bytes, int SchemaVersion, long AuditEvents);

/// <summary>A backup or restore that cannot be done, with the reason.</summary>
public sealed class BackupException(string message) : Common.StadigException(message);
