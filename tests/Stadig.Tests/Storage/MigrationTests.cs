using Dapper;
using Stadig.Storage;

namespace Stadig.Tests.Storage;

public class MigrationTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_migration_missing_below_the_highest_applied_one_is_still_pending(DatabaseEngine engine)
    {
        var migrations = Migrator.All(engine);
        var region = await TestRegion.CreateAsync(engine);
        var migrator = new Migrator(region.Database);
        Assert.Empty(await migrator.PendingAsync());

        // As a database migrated by a branch that had the newest migration but not the one before it.
        await using (var c = await region.Database.OpenUnscopedAsync())
            await c.ExecuteAsync("DELETE FROM schema_migration WHERE version = @version", new { version = migrations[^2].Version });

        Assert.Equal(migrations[^1].Version, await migrator.CurrentVersionAsync());
        Assert.Equal([migrations[^2].Version], (await migrator.PendingAsync()).Select(m => m.Version));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_database_built_at_the_previous_version_is_upgraded_in_place_with_its_data(DatabaseEngine engine)
    {
        var migrations = Migrator.All(engine);
        var previous = migrations[^2].Version;
        var region = await TestRegion.CreateAsync(engine, schemaVersion: previous);
        var migrator = new Migrator(region.Database);
        Assert.Equal(previous, await migrator.CurrentVersionAsync());

        // A patient as the previous version stored it (columns of the registry migration).
        var id = Guid.NewGuid();
        var created = new DateTimeOffset(2025, 3, 4, 5, 6, 7, TimeSpan.Zero);
        await using (var c = await region.Database.OpenUnscopedAsync())
        {
            await c.ExecuteAsync(
                """
                INSERT INTO patient (id, identifier_kind, identifier, identifier_short, family_name, given_names, family_search,
                    family_last_search, given_search, given_last_search, birth_date, sex, protected_identity, version, created_at, updated_at)
                VALUES (@id, 'Personnummer', '191212121212', '1212121212', 'Öström', 'Anna', 'ostrom', 'ostrom', 'anna', 'anna',
                    @born, 'Male', 'None', 1, @created, @created)
                """, new { id, born = new DateOnly(1912, 12, 12), created });
        }

        var applied = await migrator.MigrateAsync();

        Assert.Equal([migrations[^1].Version], applied.Select(m => m.Version));
        Assert.Equal(migrations[^1].Version, await migrator.CurrentVersionAsync());
        await region.Access.RecordCareRelationAsync(region.Physician, id, "Uppgraderingstest");
        var after = await region.Patients.GetAsync(region.Physician, id);
        Assert.Equal("191212121212", after.Identifier);
        Assert.Equal("Öström", after.FamilyName);
        Assert.Equal(created, after.CreatedAt);
        Assert.Empty(await migrator.MigrateAsync());
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Migrating_twice_at_once_applies_each_migration_once(DatabaseEngine engine)
    {
        var database = new Database(engine, await TestDatabases.CreateConnectionStringAsync(engine));
        var runs = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Task.Run(() => new Migrator(database).MigrateAsync())));
        Assert.Equal(Migrator.All(engine).Count, runs.Sum(r => r.Count));
        await using var c = await database.OpenUnscopedAsync();
        Assert.Equal(Migrator.All(engine).Count, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM schema_migration"));
    }

    [Fact]
    public void Both_dialects_have_the_same_numbered_migrations() =>
        Assert.Equal(Migrator.All(DatabaseEngine.Sqlite).Select(m => m.Name), Migrator.All(DatabaseEngine.Postgres).Select(m => m.Name));
}
