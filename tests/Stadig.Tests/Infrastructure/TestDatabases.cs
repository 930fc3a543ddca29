using Microsoft.Data.Sqlite;
using Stadig.Storage;

namespace Stadig.Tests.Infrastructure;

/// <summary>Fresh, migrated databases on either engine. Storage tests are theories over <see cref="Both"/>.</summary>
public static class TestDatabases
{
    public static TheoryData<DatabaseEngine> Both => new(DatabaseEngine.Sqlite, DatabaseEngine.Postgres);

    public static async Task<Database> CreateAsync(DatabaseEngine engine, int? schemaVersion = null)
    {
        if (schemaVersion is null) return new Database(engine, await CreateMigratedConnectionStringAsync(engine));
        var database = new Database(engine, await CreateConnectionStringAsync(engine));
        await new Migrator(database).MigrateAsync(schemaVersion);
        return database;
    }

    /// <summary>An empty database, not migrated: for tests of migrating and of what a first start does.</summary>
    public static async Task<string> CreateConnectionStringAsync(DatabaseEngine engine) => engine switch
    {
        DatabaseEngine.Postgres => await PostgresServer.Instance.CreateDatabaseAsync(),
        _ => $"Data Source={Path.Combine(Directory.CreateTempSubdirectory("stadig-sqlite-").FullName, "stadig.db")}",
    };

    /// <summary>
    /// A new database already at the latest schema: a copy of one migrated once in this run. Running
    /// every migration for each of the run's thousand-odd databases cost more than many tests' own work;
    /// a copy is the same schema (the migrations insert nothing that differs between databases), and a
    /// Migrator run on it finds nothing to do.
    /// </summary>
    public static Task<string> CreateMigratedConnectionStringAsync(DatabaseEngine engine) => CopyAsync(engine, Templates[(engine, false)].Value);

    /// <summary>
    /// A new database as a server's first start leaves it: migrated, with the starter medication
    /// catalogue (which a start loads into an empty catalogue: seconds on PostgreSQL, for every test's server).
    /// </summary>
    public static Task<string> CreateForServerAsync(DatabaseEngine engine) => CopyAsync(engine, Templates[(engine, true)].Value);

    private static readonly Dictionary<(DatabaseEngine, bool), Lazy<Task<string>>> Templates = new()
    {
        [(DatabaseEngine.Sqlite, false)] = new(() => SqliteTemplateAsync(withCatalogue: false)),
        [(DatabaseEngine.Sqlite, true)] = new(() => SqliteTemplateAsync(withCatalogue: true)),
        [(DatabaseEngine.Postgres, false)] = new(() => PostgresTemplateAsync(withCatalogue: false)),
        [(DatabaseEngine.Postgres, true)] = new(() => PostgresTemplateAsync(withCatalogue: true)),
    };

    private static async Task<string> CopyAsync(DatabaseEngine engine, Task<string> template)
    {
        if (engine == DatabaseEngine.Postgres) return await PostgresServer.Instance.CreateDatabaseAsync(await template);
        var file = Path.Combine(Directory.CreateTempSubdirectory("stadig-sqlite-").FullName, "stadig.db");
        File.Copy(await template, file);
        return $"Data Source={file}";
    }

    private static async Task PrepareAsync(Database database, bool withCatalogue)
    {
        await new Migrator(database).MigrateAsync();
        if (withCatalogue) await new Stadig.Medication.ProductCatalogue(database, TimeProvider.System).SeedIfEmptyAsync();
    }

    private static async Task<string> PostgresTemplateAsync(bool withCatalogue)
    {
        var connectionString = await PostgresServer.Instance.CreateDatabaseAsync();
        // Unpooled, so no connection stays on it: PostgreSQL copies a template only while nobody is connected to it.
        await PrepareAsync(new Database(DatabaseEngine.Postgres, connectionString + ";Pooling=false"), withCatalogue);
        return new Npgsql.NpgsqlConnectionStringBuilder(connectionString).Database!;
    }

    private static async Task<string> SqliteTemplateAsync(bool withCatalogue)
    {
        var file = Path.Combine(Directory.CreateTempSubdirectory("stadig-sqlite-template-").FullName, "stadig.db");
        var connectionString = $"Data Source={file}";
        await PrepareAsync(new Database(DatabaseEngine.Sqlite, connectionString), withCatalogue);
        // No connection left and everything in the main file (the last connection to close removes the WAL): the file alone is the database.
        SqliteConnection.ClearPool(new SqliteConnection(new SqliteConnectionStringBuilder(connectionString) { Pooling = true }.ToString()));
        await using (var c = new SqliteConnection(new SqliteConnectionStringBuilder(connectionString) { Pooling = false }.ToString()))
        {
            await c.OpenAsync();
            await using var checkpoint = c.CreateCommand();
            checkpoint.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
            await checkpoint.ExecuteNonQueryAsync();
        }
        return file;
    }
}
