using Dapper;
using Stadig.Storage;

namespace Stadig.Tests.Storage;

public class PatientOwnedTablesTests
{
    // Dapper maps the tuple by position. Read from the migrated database itself, so a migration adding a patient column is seen whatever it is called.
    private static async Task<HashSet<(string Table, string Column)>> PatientColumnsAsync(DatabaseEngine engine)
    {
        var database = await TestDatabases.CreateAsync(engine);
        await using var connection = await database.OpenUnscopedAsync(TestContext.Current.CancellationToken);
        var sql = engine == DatabaseEngine.Postgres
            ? "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
            : "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table'";
        var columns = await connection.QueryAsync<(string Table, string Column)>(sql);
        return columns.Where(c => c.Column == "patient_id" || c.Column.EndsWith("_patient_id", StringComparison.Ordinal)).ToHashSet();
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Every_column_referring_to_a_patient_is_in_the_registry_and_every_registered_one_exists(DatabaseEngine engine)
    {
        var inSchema = await PatientColumnsAsync(engine);
        var registered = PatientOwnedTables.All.Select(t => (Table: t.Name, Column: t.PatientColumn)).ToHashSet();

        Assert.Empty(inSchema.Except(registered).Select(c => $"{c.Table}.{c.Column} is not in PatientOwnedTables"));
        Assert.Empty(registered.Except(inSchema).Select(c => $"{c.Table}.{c.Column} is registered but not in the schema"));
    }

    [Fact]
    public void Every_table_says_how_its_rows_reach_FHIR_and_the_backfill_walks_every_published_one()
    {
        Assert.All(PatientOwnedTables.All, t => Assert.True(
            t.Publication is { Kind: not null, Batch: not null, WhyNot: null } or { Kind: null, Batch: null, WhyNot.Length: > 10 },
            $"{t.Name}: either published as a kind with its batch, or why not"));
        var backfilled = Stadig.Fhir.Records.FhirRecordBackfill.Steps.Select(s => s.Kind).ToList();
        Assert.All(PatientOwnedTables.Published, t => Assert.Contains(t.Publication.Kind!, backfilled));
        Assert.Equal(backfilled.Count, backfilled.Distinct().Count());
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Every_care_unit_column_in_the_registry_exists(DatabaseEngine engine)
    {
        var database = await TestDatabases.CreateAsync(engine);
        await using var connection = await database.OpenUnscopedAsync(TestContext.Current.CancellationToken);
        var schema = await MigratedSchema.ReadAsync(connection, engine);
        Assert.All(PatientOwnedTables.All.Where(t => t.CareUnitColumn is not null),
            t => Assert.Contains(schema.Columns, c => c.Table == t.Name && c.Name == t.CareUnitColumn));
        // The SQL the group export runs.
        await connection.QueryAsync<Guid>(PatientOwnedTables.UnitPatientsSql, new { unit = Guid.NewGuid() });
    }
}
