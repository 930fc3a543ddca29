using Stadig.Storage;

namespace Stadig.Tests.Storage;

/// <summary>
/// The two dialects' migrations must make the same schema: every table and column on both engines, with
/// the same nullability, a type of the same family, and the same indexes (by name, columns, uniqueness and
/// whether partial). Read from the migrated databases' catalogues, so a column added to one dialect's
/// migration and forgotten in the other's fails here rather than on a customer's engine.
/// </summary>
public class SchemaParityTests
{
    /// <summary>How a PostgreSQL type is stored in SQLite (which has storage classes, not types): the family both agree on.</summary>
    private static string PostgresFamily(string type) => type switch
    {
        // SQLite keeps Guids, instants and dates as text (Stadig's type handlers write and read them).
        "uuid" or "timestamp with time zone" or "date" or "text" or "character varying" => "text",
        "integer" or "bigint" or "smallint" => "integer",
        // SQLite has no boolean: 0 and 1.
        "boolean" => "integer",
        "double precision" or "real" => "real",
        "bytea" => "bytes",
        _ => "unknown PostgreSQL type " + type,
    };

    private static string SqliteFamily(string declared) => declared.ToUpperInvariant() switch
    {
        "TEXT" => "text",
        "INTEGER" => "integer",
        "REAL" => "real",
        "BLOB" => "bytes",
        _ => "unknown SQLite type " + declared,
    };

    /// <summary>
    /// The differences there are reasons for, each with its reason. Keep it short: anything else is a
    /// mistake in one of the dialects.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> Justified = new Dictionary<string, string>
    {
    };

    private static async Task<MigratedSchema> SchemaAsync(DatabaseEngine engine)
    {
        var database = await TestDatabases.CreateAsync(engine);
        await using var connection = await database.OpenUnscopedAsync(TestContext.Current.CancellationToken);
        return await MigratedSchema.ReadAsync(connection, engine);
    }

    [Fact]
    public async Task The_PostgreSQL_and_SQLite_migrations_make_the_same_tables_columns_and_indexes()
    {
        var postgres = await SchemaAsync(DatabaseEngine.Postgres);
        var sqlite = await SchemaAsync(DatabaseEngine.Sqlite);
        var differences = new List<string>();

        var pgColumns = postgres.Columns.ToDictionary(c => (c.Table, c.Name));
        var liteColumns = sqlite.Columns.ToDictionary(c => (c.Table, c.Name));
        foreach (var table in pgColumns.Keys.Select(k => k.Table).Union(liteColumns.Keys.Select(k => k.Table)).Distinct().Order(StringComparer.Ordinal))
        {
            if (!pgColumns.Keys.Any(k => k.Table == table)) { differences.Add($"table {table}: only in SQLite"); continue; }
            if (!liteColumns.Keys.Any(k => k.Table == table)) { differences.Add($"table {table}: only in PostgreSQL"); continue; }
            foreach (var key in pgColumns.Keys.Union(liteColumns.Keys).Where(k => k.Table == table).Order())
            {
                var name = $"{key.Table}.{key.Name}";
                if (!pgColumns.TryGetValue(key, out var pg)) { differences.Add($"column {name}: only in SQLite"); continue; }
                if (!liteColumns.TryGetValue(key, out var lite)) { differences.Add($"column {name}: only in PostgreSQL"); continue; }
                if (pg.Nullable != lite.Nullable) differences.Add($"column {name}: nullable {pg.Nullable} in PostgreSQL, {lite.Nullable} in SQLite");
                if (PostgresFamily(pg.Type) != SqliteFamily(lite.Type)) differences.Add($"column {name}: {pg.Type} in PostgreSQL, {lite.Type} in SQLite");
            }
        }

        var pgIndexes = postgres.Indexes.ToDictionary(i => i.Name);
        var liteIndexes = sqlite.Indexes.ToDictionary(i => i.Name);
        foreach (var name in pgIndexes.Keys.Union(liteIndexes.Keys).Order(StringComparer.Ordinal))
        {
            if (!pgIndexes.TryGetValue(name, out var pg)) { differences.Add($"index {name}: only in SQLite"); continue; }
            if (!liteIndexes.TryGetValue(name, out var lite)) { differences.Add($"index {name}: only in PostgreSQL"); continue; }
            if (pg != lite) differences.Add($"index {name}: {pg} in PostgreSQL, {lite} in SQLite");
        }

        foreach (var key in postgres.ForeignKeys.Except(sqlite.ForeignKeys)) differences.Add($"foreign key {key}: only in PostgreSQL");
        foreach (var key in sqlite.ForeignKeys.Except(postgres.ForeignKeys)) differences.Add($"foreign key {key}: only in SQLite");

        // The catalogue reads found the schema at all (an empty read would compare equal).
        Assert.All(new[] { postgres, sqlite }, s => Assert.True(s.Columns.Count > 100 && s.Indexes.Count > 20 && s.ForeignKeys.Count > 20));
        Assert.Contains(postgres.Indexes, i => i.Columns.Contains("(expr)", StringComparison.Ordinal));
        Assert.Contains(sqlite.Indexes, i => i.Partial);

        var unexplained = differences.Where(d => !Justified.ContainsKey(d)).ToList();
        Assert.True(unexplained.Count == 0, string.Join("\n", unexplained));
        var unused = Justified.Keys.Except(differences).ToList();
        Assert.True(unused.Count == 0, "justified differences no longer found: " + string.Join("\n", unused));
    }
}
