using Stadig.Storage;

namespace Stadig.Tests.Infrastructure;

/// <summary>Fresh, migrated databases on either engine. Storage tests are theories over <see cref="Both"/>.</summary>
public static class TestDatabases
{
    public static TheoryData<DatabaseEngine> Both => new(DatabaseEngine.Sqlite, DatabaseEngine.Postgres);

    public static async Task<Database> CreateAsync(DatabaseEngine engine, int? schemaVersion = null)
    {
        var database = new Database(engine, await CreateConnectionStringAsync(engine));
        await new Migrator(database).MigrateAsync(schemaVersion);
        return database;
    }

    public static async Task<string> CreateConnectionStringAsync(DatabaseEngine engine) => engine switch
    {
        DatabaseEngine.Postgres => await PostgresServer.Instance.CreateDatabaseAsync(),
        _ => $"Data Source={Path.Combine(Directory.CreateTempSubdirectory("stadig-sqlite-").FullName, "stadig.db")}",
    };
}
