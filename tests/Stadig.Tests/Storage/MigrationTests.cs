using Dapper;
using Stadig.Patients;
using Stadig.Patients.Identifiers;
using Stadig.Storage;

namespace Stadig.Tests.Storage;

public class MigrationTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_database_built_at_the_previous_version_is_upgraded_in_place_with_its_data(DatabaseEngine engine)
    {
        var latest = Migrator.LatestVersion(engine);
        var database = await TestDatabases.CreateAsync(engine, schemaVersion: latest - 1);
        var migrator = new Migrator(database);
        Assert.Equal(latest - 1, await migrator.CurrentVersionAsync());

        // Data written by the old version, through the code that writes it.
        var clock = TimeProvider.System;
        var registry = new PatientRegistry(database, new PatientIdentifierRules(clock), clock);
        var before = (await registry.RegisterAsync(Stadig.Access.Caller.System, "19121212-1212", new PatientDetails("Öström", "Anna"))).Patient;

        var applied = await migrator.MigrateAsync();

        Assert.Equal([latest], applied.Select(m => m.Version));
        Assert.Equal(latest, await migrator.CurrentVersionAsync());
        var after = await registry.GetAsync(Stadig.Access.Caller.System, before.Id);
        Assert.Equal(before.Identifier, after.Identifier);
        Assert.Equal(before.FamilyName, after.FamilyName);
        Assert.Equal(before.CreatedAt, after.CreatedAt);
        Assert.Empty(await migrator.MigrateAsync());
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Migrating_twice_at_once_applies_each_migration_once(DatabaseEngine engine)
    {
        var database = new Database(engine, await TestDatabases.CreateConnectionStringAsync(engine));
        var runs = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Task.Run(() => new Migrator(database).MigrateAsync())));
        Assert.Equal(Migrator.All(engine).Count, runs.Sum(r => r.Count));
        await using var c = await database.OpenAsync();
        Assert.Equal(Migrator.All(engine).Count, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM schema_migration"));
    }

    [Fact]
    public void Both_dialects_have_the_same_numbered_migrations() =>
        Assert.Equal(Migrator.All(DatabaseEngine.Sqlite).Select(m => m.Name), Migrator.All(DatabaseEngine.Postgres).Select(m => m.Name));
}
