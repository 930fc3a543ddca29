using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Storage;

namespace Stadig.Tests.Access;

/// <summary>
/// The access facts and the audit append run for every request that touches a patient; planned for each
/// execution they spent more time planning than running. On PostgreSQL they run on generic plans, planned
/// once per connection, and leave the connection (and the caller's transaction) on its own rule after them.
/// </summary>
public class AccessFactsPlanTests
{
    private static async Task<(CoreServices Core, Guid PatientId)> OneConnectionAsync()
    {
        // One connection in the pool, so that every call below runs in the same session.
        var database = new Database(DatabaseEngine.Postgres, await TestDatabases.CreateConnectionStringAsync(DatabaseEngine.Postgres) + ";Maximum Pool Size=1");
        await new Migrator(database).MigrateAsync();
        var core = CoreServices.Create(database, TimeProvider.System);
        var patientId = (await core.Patients.RegisterAsync(Caller.System, "19121212-1212", new("Ek", "Per"))).PatientId;
        return (core, patientId);
    }

    private static Task<IEnumerable<(long Generic, long Custom)>> PlansAsync(System.Data.Common.DbConnection connection, string like, System.Data.Common.DbTransaction? transaction = null) =>
        connection.QueryAsync<(long, long)>("SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE @like", new { like }, transaction);

    [Fact]
    public async Task The_access_facts_are_planned_once_per_connection_and_leave_it_planning_for_values()
    {
        var (core, patientId) = await OneConnectionAsync();
        var caller = new Caller(Guid.NewGuid(), "SE0001", "Eva Ek", Organisation.Role.Physician, Guid.NewGuid(), "SE-UNIT", Organisation.Purpose.CareAndTreatment);

        for (var i = 0; i < 3; i++) Assert.NotNull(await core.Checkpoint.ContextAsync(caller, patientId, TestContext.Current.CancellationToken));

        await using var connection = await core.Database.OpenUnscopedAsync(TestContext.Current.CancellationToken);
        var careRelation = Assert.Single(await PlansAsync(connection, "SELECT COUNT(*) FROM care_relation WHERE patient_id = %"));
        Assert.True(careRelation.Generic >= 1, $"generic plans: {careRelation.Generic}");
        Assert.Equal(0, careRelation.Custom);
        Assert.Equal("force_custom_plan", await connection.ExecuteScalarAsync<string>("SHOW plan_cache_mode"));
    }

    [Fact]
    public async Task An_append_on_its_own_or_inside_a_transaction_runs_on_its_generic_plan_and_puts_the_transaction_back_on_plans_for_values()
    {
        var (core, patientId) = await OneConnectionAsync();
        // An append on its own (a search's, a list's): committed in its batch, on the same generic plan.
        await core.Audit.AppendAsync(new AuditEntry(Caller.System, patientId, AuditActivity.Read, "Chart", AuditOutcome.Allowed), TestContext.Current.CancellationToken);
        await using (var connection = await core.Database.OpenUnscopedAsync(TestContext.Current.CancellationToken))
        await using (var transaction = await connection.BeginTransactionAsync(TestContext.Current.CancellationToken))
        {
            var appended = await core.Audit.AppendAsync(new AuditEntry(Caller.System, patientId, AuditActivity.Read, "Chart", AuditOutcome.Allowed), connection, transaction);

            Assert.True(appended.ChainSeq >= 1);
            // What the caller's transaction runs next is planned for its values again.
            Assert.Equal("force_custom_plan", await connection.ExecuteScalarAsync<string>("SHOW plan_cache_mode", transaction: transaction));
            // The registration's and the one on its own ran on it too: never a plan made for one event's values.
            var append = Assert.Single(await PlansAsync(connection, "WITH decision AS MATERIALIZED%", transaction));
            Assert.True(append.Generic >= 3, $"generic plans: {append.Generic}");
            Assert.Equal(0, append.Custom);
            await transaction.CommitAsync(TestContext.Current.CancellationToken);
        }
        Assert.True((await new AuditVerifier(core.Database).VerifyAsync(TestContext.Current.CancellationToken)).Intact);
    }
}
