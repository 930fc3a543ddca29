using System.Data.Common;
using System.Reflection;
using Dapper;

namespace Stadig.Storage;

/// <summary>
/// Applies the numbered SQL migrations of the engine's dialect (embedded in this assembly) that a
/// database has not had yet, each in its own transaction. Old databases upgrade in place.
/// </summary>
public sealed class Migrator(Database database)
{
    public sealed record Migration(int Version, string Name, string Sql);

    public static IReadOnlyList<Migration> All(DatabaseEngine engine)
    {
        var folder = engine == DatabaseEngine.Postgres ? "Postgres" : "Sqlite";
        var prefix = $"Stadig.Storage.Migrations.{folder}.";
        var assembly = typeof(Migrator).Assembly;
        return assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Select(n =>
            {
                var file = n[prefix.Length..^".sql".Length];
                // Resource names of files starting with a digit get a leading underscore.
                var name = file.TrimStart('_');
                var version = int.Parse(name[..4], System.Globalization.CultureInfo.InvariantCulture);
                using var stream = assembly.GetManifestResourceStream(n)!;
                using var reader = new StreamReader(stream);
                return new Migration(version, name, reader.ReadToEnd());
            })
            .OrderBy(m => m.Version)
            .ToList();
    }

    /// <summary>The table of applied migrations; made on first use, so an empty database has version 0.</summary>
    private const string CreateSchemaTable =
        "CREATE TABLE IF NOT EXISTS schema_migration (version integer PRIMARY KEY, name text NOT NULL, applied_at text NOT NULL)";

    public static int LatestVersion(DatabaseEngine engine) => All(engine)[^1].Version;

    /// <summary>Brings the schema to <paramref name="targetVersion"/> (default: the latest). Returns the migrations applied.</summary>
    public async Task<IReadOnlyList<Migration>> MigrateAsync(int? targetVersion = null, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        if (database.Engine == DatabaseEngine.Postgres)
        {
            // Several app nodes may start at once; only one migrates, the others wait and find nothing to do.
            await connection.ExecuteAsync("SELECT pg_advisory_lock(7234001)");
        }
        try
        {
            await connection.ExecuteAsync(
                CreateSchemaTable);
            var done = new List<Migration>();
            foreach (var migration in All(database.Engine).Where(m => m.Version <= (targetVersion ?? int.MaxValue)))
            {
                // SQLite has no advisory lock: the write-locking transaction serialises migrators, and
                // each re-checks inside it whether another got there first.
                await using var transaction = await database.BeginAsync(connection, cancellationToken);
                var applied = await connection.ExecuteScalarAsync<long>(
                    "SELECT COUNT(*) FROM schema_migration WHERE version = @Version", new { migration.Version }, transaction);
                if (applied > 0) continue;
                await connection.ExecuteAsync(migration.Sql, transaction: transaction);
                await connection.ExecuteAsync(
                    "INSERT INTO schema_migration (version, name, applied_at) VALUES (@Version, @Name, @At)",
                    new { migration.Version, migration.Name, At = DateTimeOffset.UtcNow.ToString("O") }, transaction);
                await transaction.CommitAsync(cancellationToken);
                done.Add(migration);
            }
            return done;
        }
        finally
        {
            if (database.Engine == DatabaseEngine.Postgres)
                await connection.ExecuteAsync("SELECT pg_advisory_unlock(7234001)");
        }
    }

    public async Task<int> CurrentVersionAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        await connection.ExecuteAsync(
            CreateSchemaTable);
        return await connection.ExecuteScalarAsync<int?>("SELECT MAX(version) FROM schema_migration") ?? 0;
    }

    /// <summary>
    /// The migrations this Stadig has that the database lacks, also below its highest version (two
    /// branches can each add one; a database migrated by one lacks the other's).
    /// </summary>
    public async Task<IReadOnlyList<Migration>> PendingAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        await connection.ExecuteAsync(
            CreateSchemaTable);
        var applied = (await connection.QueryAsync<int>("SELECT version FROM schema_migration")).ToHashSet();
        return All(database.Engine).Where(m => !applied.Contains(m.Version)).ToList();
    }
}
