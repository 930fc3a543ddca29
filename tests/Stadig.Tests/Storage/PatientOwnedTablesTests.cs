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
}
