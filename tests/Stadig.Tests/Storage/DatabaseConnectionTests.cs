using Dapper;
using Stadig.Storage;

namespace Stadig.Tests.Storage;

public class DatabaseConnectionTests
{
    [Fact]
    public async Task PostgreSQL_connections_prepare_repeated_statements_but_plan_each_execution_for_its_own_parameters()
    {
        var database = new Database(DatabaseEngine.Postgres, await TestDatabases.CreateConnectionStringAsync(DatabaseEngine.Postgres));
        await using var connection = await database.OpenUnscopedAsync(TestContext.Current.CancellationToken);
        Assert.Equal("force_custom_plan", await connection.ExecuteScalarAsync<string>("SHOW plan_cache_mode"));
        // Never compiled just in time: a custom plan is compiled anew at every execution (tens of ms).
        Assert.Equal("off", await connection.ExecuteScalarAsync<string>("SHOW jit"));
        // Npgsql prepares a statement from its fifth run on.
        for (var i = 0; i < 6; i++) await connection.ExecuteScalarAsync<int>("SELECT @i + 1", new { i });
        Assert.True(await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM pg_prepared_statements WHERE statement LIKE 'SELECT $1 + 1%'") >= 1);
    }

    [Fact]
    public async Task A_batch_on_generic_plans_is_prepared_at_its_first_use_and_leaves_the_connection_on_custom_plans()
    {
        var database = new Database(DatabaseEngine.Postgres, await TestDatabases.CreateConnectionStringAsync(DatabaseEngine.Postgres));
        await using var connection = await database.OpenUnscopedAsync(TestContext.Current.CancellationToken);
        var batch = database.OnGenericPlan("SELECT COUNT(*) FROM pg_class WHERE relname = @name", customFirst: "SELECT @n + 2;\n");

        // Once only: left to auto-preparation (from the fifth run on a connection), a rare shape was planned at every run.
        await connection.ExecuteAsync(batch, new { name = "no_such_relation", n = 1 });

        Assert.Equal(1, await connection.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM pg_prepared_statements WHERE statement LIKE 'SELECT COUNT(*) FROM pg_class WHERE relname = $1%' AND generic_plans = 1"));
        Assert.Equal(1, await connection.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM pg_prepared_statements WHERE statement LIKE 'SELECT $1 + 2%' AND generic_plans = 0 AND custom_plans = 1"));
        Assert.Equal("force_custom_plan", await connection.ExecuteScalarAsync<string>("SHOW plan_cache_mode"));
    }

    [Fact]
    public async Task Settings_given_in_the_connection_string_win()
    {
        var given = await TestDatabases.CreateConnectionStringAsync(DatabaseEngine.Postgres) + ";Max Auto Prepare=0;Options=-c plan_cache_mode=auto -c jit=on";
        var database = new Database(DatabaseEngine.Postgres, given);
        await using var connection = await database.OpenUnscopedAsync(TestContext.Current.CancellationToken);
        Assert.Equal("auto", await connection.ExecuteScalarAsync<string>("SHOW plan_cache_mode"));
        Assert.Equal("on", await connection.ExecuteScalarAsync<string>("SHOW jit"));
        for (var i = 0; i < 6; i++) await connection.ExecuteScalarAsync<int>("SELECT @i + 1", new { i });
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM pg_prepared_statements"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Half_a_character_pair_in_a_parameter_is_refused_as_invalid_input_never_an_encoder_fault(DatabaseEngine engine)
    {
        var database = new Database(engine, await TestDatabases.CreateConnectionStringAsync(engine));
        await using var connection = await database.OpenUnscopedAsync(TestContext.Current.CancellationToken);

        var refused = await Record.ExceptionAsync(() => connection.ExecuteScalarAsync<string>("SELECT @text", new { text = "a\ud800b" }));

        // PostgreSQL's driver cannot encode it: refused by name (400 over HTTP). SQLite's writes U+FFFD in its place;
        // the paths that must keep what they were sent (HL7 ingest) escape such text before it gets here.
        if (engine == DatabaseEngine.Postgres) Assert.Contains("surrogat", Assert.IsType<Stadig.Common.InvalidInputException>(refused).Message, StringComparison.Ordinal);
        else Assert.Null(refused);
    }

    /// <summary>
    /// Two transactions that lock the same rows in opposite orders: PostgreSQL rolls one back
    /// (40P01). That one is answered as "nothing saved, try again" (503 with Retry-After over HTTP),
    /// never as an unexpected error, and the other commits.
    /// </summary>
    [Fact]
    public async Task A_transaction_rolled_back_to_break_a_deadlock_is_answered_as_nothing_saved_try_again()
    {
        var cancel = TestContext.Current.CancellationToken;
        // The operators' count of them (/metrics: stadig_database_conflicts_rolled_back_total), by SQL state.
        var counted = new System.Collections.Concurrent.ConcurrentQueue<string?>();
        var conflicts = Stadig.Telemetry.StadigTelemetry.ConflictsRolledBack; // made before the listener starts, so it is published to it
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) => { if (instrument == conflicts) l.EnableMeasurementEvents(instrument); };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            foreach (var tag in tags) if (tag.Key == "db.response.status_code") counted.Enqueue(tag.Value as string);
        });
        listener.Start();
        var database = new Database(DatabaseEngine.Postgres, await TestDatabases.CreateConnectionStringAsync(DatabaseEngine.Postgres));
        await using (var setup = await database.OpenUnscopedAsync(cancel))
            await setup.ExecuteAsync("CREATE TABLE deadlock_probe (id int PRIMARY KEY, n int NOT NULL); INSERT INTO deadlock_probe VALUES (1, 0), (2, 0);");
        await using var first = await database.OpenUnscopedAsync(cancel);
        await using var second = await database.OpenUnscopedAsync(cancel);
        await using var firstTransaction = await first.BeginTransactionAsync(cancel);
        await using var secondTransaction = await second.BeginTransactionAsync(cancel);
        await first.ExecuteAsync("UPDATE deadlock_probe SET n = n + 1 WHERE id = 1", transaction: firstTransaction);
        await second.ExecuteAsync("UPDATE deadlock_probe SET n = n + 1 WHERE id = 2", transaction: secondTransaction);

        // Each now wants the row the other holds, whichever asks first.
        async Task<Exception?> Cross(System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction transaction, int id)
        {
            var failure = await Record.ExceptionAsync(() => connection.ExecuteAsync("UPDATE deadlock_probe SET n = n + 1 WHERE id = @id", new { id }, transaction));
            if (failure is null) await transaction.CommitAsync(cancel);
            return failure;
        }
        var outcomes = await Task.WhenAll(Cross(first, firstTransaction, 2), Cross(second, secondTransaction, 1));

        var refused = Assert.Single(outcomes, o => o is not null)!;
        var unavailable = Assert.IsType<DatabaseUnavailableException>(refused);
        Assert.Equal(DatabaseUnavailableException.ConflictRolledBack, unavailable.Message);
        Assert.Equal("40P01", Assert.IsType<Npgsql.PostgresException>(unavailable.Cause).SqlState);
        Assert.Contains("40P01", counted);
        await using var check = await database.OpenUnscopedAsync(cancel);
        // The winner's two updates are there, the loser's one is not.
        Assert.Equal(2, await check.ExecuteScalarAsync<int>("SELECT SUM(n) FROM deadlock_probe"));
    }

    /// <summary>
    /// A batch answers its first result at once; a later statement's failure comes while the results are
    /// read (TranslatingDataReader). It means what it would mean alone: here a NUL that PostgreSQL's text
    /// cannot hold names the text (400), as a deadlock there is 503, never a raw PostgresException (500).
    /// </summary>
    [Fact]
    public async Task A_later_statement_of_a_batch_that_fails_is_translated_as_a_statement_alone_is()
    {
        var cancel = TestContext.Current.CancellationToken;
        var database = new Database(DatabaseEngine.Postgres, await TestDatabases.CreateConnectionStringAsync(DatabaseEngine.Postgres));
        await using var connection = await database.OpenUnscopedAsync(cancel);
        var first = 0;
        var failure = await Record.ExceptionAsync(async () =>
        {
            using var results = await connection.QueryMultipleAsync("SELECT 1; SELECT 2 FROM generate_series(1, 3); SELECT convert_from('\\x00'::bytea, 'UTF8')");
            first = await results.ReadSingleAsync<int>();
            await results.ReadAsync<int>();
            await results.ReadSingleAsync<string>();
        });
        Assert.Equal(1, first);
        Assert.IsType<Stadig.Common.InvalidInputException>(failure);
        Assert.Equal(1, await connection.ExecuteScalarAsync<int>("SELECT 1"));
    }

    public enum Kind { First, Second }

    /// <summary>
    /// PostgreSQL parameters are held until the command runs (HeldParameters.cs); the types PostgreSQL
    /// is sent must be those Npgsql gave them before: inferred from the value, or the type Dapper maps
    /// a declared type to (a null still says what it is).
    /// </summary>
    [Fact]
    public async Task Parameters_reach_PostgreSQL_with_the_types_of_their_values_by_either_way_Dapper_is_given_them()
    {
        var database = new Database(DatabaseEngine.Postgres, await TestDatabases.CreateConnectionStringAsync(DatabaseEngine.Postgres));
        await using var connection = await database.OpenUnscopedAsync(TestContext.Current.CancellationToken);
        var values = new (string Name, object? Value, string Type)[]
        {
            ("text", "ord", "text"), ("flag", true, "boolean"), ("count", 7, "integer"), ("big", 7L, "bigint"),
            ("ratio", 0.5, "double precision"), ("id", Guid.NewGuid(), "uuid"), ("at", DateTimeOffset.UtcNow, "timestamp with time zone"),
            ("day", new DateOnly(2026, 12, 5), "date"), ("kind", Kind.Second, "integer"), ("bytes", new byte[] { 1, 2 }, "bytea"),
            ("ids", new[] { Guid.NewGuid() }, "uuid[]"), ("words", new[] { "a", "b" }, "text[]"),
        };
        var added = new DynamicParameters();
        foreach (var (name, value, _) in values) added.Add(name, value);
        added.Add("nothing", null, System.Data.DbType.String);
        added.Add("no_id", null, System.Data.DbType.Guid);
        var select = string.Join(", ", values.Select(v => $"pg_typeof(@{v.Name})::text AS {v.Name}")) + ", pg_typeof(@nothing)::text AS nothing, pg_typeof(@no_id)::text AS no_id";

        var viaAdd = (IDictionary<string, object>)await connection.QuerySingleAsync("SELECT " + select, added);
        foreach (var (name, _, type) in values) Assert.Equal(type, viaAdd[name]);
        Assert.Equal("text", viaAdd["nothing"]);
        Assert.Equal("uuid", viaAdd["no_id"]);

        var template = new { text = "ord", flag = true, count = 7, big = 7L, nothing = (string?)null, kind = Kind.First };
        var viaTemplate = (IDictionary<string, object>)await connection.QuerySingleAsync(
            "SELECT pg_typeof(@text)::text AS text, pg_typeof(@flag)::text AS flag, pg_typeof(@count)::text AS count, pg_typeof(@big)::text AS big, "
            + "pg_typeof(@nothing)::text AS nothing, pg_typeof(@kind)::text AS kind, @text || @count AS joined", template);
        Assert.Equal(("text", "boolean", "integer", "bigint"), ((string)viaTemplate["text"], (string)viaTemplate["flag"], (string)viaTemplate["count"], (string)viaTemplate["big"]));
        Assert.Equal(("text", "integer"), ((string)viaTemplate["nothing"], (string)viaTemplate["kind"]));
        Assert.Equal("ord7", viaTemplate["joined"]);

        // A command run twice binds its parameters anew: the second run's values, not the first's.
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT @n::int * 2";
        var n = command.CreateParameter();
        n.ParameterName = "n";
        n.Value = 2;
        command.Parameters.Add(n);
        Assert.Equal(4, await command.ExecuteScalarAsync(TestContext.Current.CancellationToken));
        n.Value = 5;
        Assert.Equal(10, await command.ExecuteScalarAsync(TestContext.Current.CancellationToken));
    }
}
