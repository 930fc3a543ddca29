using System.Net;
using Dapper;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Hosting;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Tests.Hosting;

public class WarmUpTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    /// <summary>Every row of the audit log, the registry, the staff and every patient-owned table, as text.</summary>
    private static async Task<Dictionary<string, string>> SnapshotAsync(Database database)
    {
        var tables = PatientOwnedTables.All.Select(t => t.Name).Concat(["audit_event", "audit_chain_head", "patient", "staff", "care_unit"]).Distinct();
        var snapshot = new Dictionary<string, string>();
        await using var connection = await database.OpenUnscopedAsync(Cancel);
        foreach (var table in tables)
        {
            var rows = (await connection.QueryAsync($"SELECT * FROM {table}"))
                .Select(row => string.Join("|", ((IDictionary<string, object?>)row).OrderBy(c => c.Key).Select(c => $"{c.Key}={c.Value}")))
                .Order(StringComparer.Ordinal);
            snapshot[table] = string.Join("\n", rows);
        }
        return snapshot;
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Warm_up_runs_the_main_pages_on_every_kept_connection_before_the_node_is_ready_and_leaves_the_database_as_it_was(DatabaseEngine engine)
    {
        string connectionString;
        Caller eva;
        await using (var first = await StadigServer.StartAsync(engine))
        {
            connectionString = first.ConnectionString;
            var (member, assignments) = await first.AddUserAsync("eva", "lösen");
            eva = StadigServer.CallerFor(member, assignments[0]);
            var patient = (await first.Patients.RegisterAsync(eva, "19121212-1212", new PatientDetails("Ek", "Per"))).PatientId;
            await first.Services.GetRequiredService<AccessControl>().RecordCareRelationAsync(eva, patient, "Besök", Cancel);
            await first.Services.GetRequiredService<Stadig.Notes.ClinicalNotes>().CreateDraftAsync(eva, patient, "Daganteckning", cancellationToken: Cancel);
        }
        var before = await SnapshotAsync(Database.FromConnectionString(connectionString));

        await using var server = await StadigServer.StartOnAsync(connectionString, "http://127.0.0.1:0", "--Stadig:WarmUp:Enabled=true");
        var warmUp = server.Services.GetRequiredService<WarmUp>();
        await warmUp.Finished.WaitAsync(Cancel);

        Assert.True(warmUp.State == WarmUpState.Done, $"{warmUp.State}: {string.Join(", ", warmUp.Steps)}\n{server.Log}");
        var steps = warmUp.Steps.ToDictionary(s => s.What, s => s.Outcome);
        // While it ran, the node said it was not ready.
        Assert.Equal(503, steps["GET /health/ready"]);
        foreach (var page in new[] { "GET /login", "GET /", "GET /?q=…", "GET /patients/{id}", "GET /notes/{id}", "GET /worklist", "GET /ward", "GET /results/inbox" })
        {
            Assert.True(steps.ContainsKey(page), $"{page} was not warmed up");
            Assert.True(steps[page] < 500, $"{page} answered {steps[page]}");
        }
        Assert.Equal(404, steps["ClinicalNotes.CreateDraftAsync"]);
        // What only a caller with a care relation reaches, for the warm-up's own patient in its scratch transaction.
        Assert.Equal(0, steps["Scratch patient"]);
        Assert.Equal(200, steps["GET /patients/{id} (scratch)"]);
        Assert.Equal(302, steps["POST /patients/{id} (scratch)"]);
        Assert.Equal(200, steps["GET /notes/{id} (scratch)"]);
        Assert.Equal(200, steps["PUT /api/notes/{id}/draft (scratch)"]);
        Assert.Equal(200, steps["GET /patients/{id} (scratch, with its note)"]);
        // A prescription signed for it (the answer to a signed one is the list: 302), with its pages before.
        Assert.Equal(200, steps["GET /patients/{id}/medication (scratch)"]);
        Assert.Equal(200, steps["GET /patients/{id}/medication/prescribe?q=… (scratch)"]);
        Assert.Equal(302, steps["POST /patients/{id}/medication/prescribe (scratch)"]);
        Assert.Contains("PatientChart.WarmUpAsync", steps.Keys);
        // Its audit events (and the new note's refusal) were written and rolled back.
        Assert.True(warmUp.RolledBack >= 3, $"{warmUp.RolledBack} transactions rolled back");
        Assert.Equal(before, await SnapshotAsync(server.Database));
        Assert.Equal("Healthy", (await server.CreateClient().GetStringAsync("/health/ready", Cancel)).Trim());
        if (engine == DatabaseEngine.Postgres) await AssertEveryKeptConnectionIsWarmAsync(server, warmUp, eva);
        else Assert.Empty(warmUp.WarmedServerProcesses);
    }

    /// <summary>
    /// PostgreSQL: each connection the pool keeps has the searches and the chart's statements prepared
    /// (the two-word search with its generic plan made), and a search after ready opens no new
    /// connection and runs that prepared statement rather than parsing and planning it anew.
    /// </summary>
    private static async Task AssertEveryKeptConnectionIsWarmAsync(StadigServer server, WarmUp warmUp, Caller eva)
    {
        var warmed = warmUp.WarmedServerProcesses;
        Assert.True(warmed.Count >= 2 && warmed.Count >= server.Database.WarmConnections, $"{warmed.Count} connections warmed of {server.Database.WarmConnections}");
        Assert.Equal(warmed.Count, warmed.Distinct().Count());
        Assert.Contains($"GET /?q=… (two words) · connection {warmed.Count}", warmUp.Steps.Select(s => s.What));
        Assert.Contains($"GET /?q=… (three words) · connection {warmed.Count}", warmUp.Steps.Select(s => s.What));
        Assert.Contains($"GET /patients/{{id}} (scratch) · connection {warmed.Count}", warmUp.Steps.Select(s => s.What));

        var (prepared, others) = await PreparedOnWarmedAsync(server.Database, warmed);
        var cost = RequestCost.Begin();
        try
        {
            foreach (var (process, (search, chart)) in prepared)
            {
                Assert.True(search >= 1, $"Connection {process}: the two-word search was not prepared with its generic plan ({search})");
                Assert.True(chart >= 1, $"Connection {process}: the chart overview was not prepared");
            }
            // Any connection the pool made besides (a background service's, meanwhile) held, so the search gets a warmed one or a new one.
            await server.Patients.SearchAsync(eva, "Ekvall Persson", cancellationToken: Cancel);
            Assert.Equal(0, cost.Connects);
        }
        finally
        {
            foreach (var pin in others) await pin.DisposeAsync();
        }
        var (after, rest) = await PreparedOnWarmedAsync(server.Database, warmed);
        foreach (var pin in rest) await pin.DisposeAsync();
        Assert.Equal(prepared.Values.Sum(p => p.Search) + 1, after.Values.Sum(p => p.Search));
    }

    /// <summary>
    /// Per warmed connection (by server process), the generic plans its prepared two-word search has
    /// run and how many of the chart overview's statements it has prepared, read on that connection
    /// itself: connections are taken from the pool and held until every warmed one has come up; the
    /// others met meanwhile are returned still held.
    /// </summary>
    private static async Task<(Dictionary<int, (long Search, long Chart)> Prepared, List<Database.ConnectionPin> Others)> PreparedOnWarmedAsync(
        Database database, IReadOnlyList<int> warmed)
    {
        var found = new Dictionary<int, (long Search, long Chart)>();
        var others = new List<Database.ConnectionPin>();
        var held = new List<Database.ConnectionPin>();
        try
        {
            while (found.Count < warmed.Count)
            {
                // The tests' pool holds 20: a warmed connection not among them is gone from the pool.
                Assert.True(held.Count + others.Count < 20, $"Warmed connections not in the pool: {string.Join(", ", warmed.Except(found.Keys))}");
                var pin = await database.PinAsync(prepare: false, Cancel);
                if (!warmed.Contains(pin.ServerProcessId))
                {
                    others.Add(pin);
                    continue;
                }
                held.Add(pin);
                found[pin.ServerProcessId] = await pin.Connection.QuerySingleAsync<(long, long)>(
                    """
                    SELECT COALESCE(SUM(generic_plans) FILTER (WHERE statement LIKE '%split_part(given_search, '' '', 1)%'), 0)::bigint,
                           COUNT(*) FILTER (WHERE statement LIKE '%FROM warning w JOIN care_unit u ON u.id = w.unit_id%')
                    FROM pg_prepared_statements
                    """);
            }
        }
        catch
        {
            foreach (var pin in others) await pin.DisposeAsync();
            throw;
        }
        finally
        {
            foreach (var pin in held) await pin.DisposeAsync();
        }
        return (found, others);
    }

    [Fact]
    public async Task Off_by_setting_the_node_does_no_warm_up_and_is_ready_at_once()
    {
        await using var server = await StadigServer.StartAsync(DatabaseEngine.Sqlite, "--Stadig:WarmUp:Enabled=false");
        var warmUp = server.Services.GetRequiredService<WarmUp>();
        await warmUp.Finished.WaitAsync(Cancel);

        Assert.Equal(WarmUpState.Off, warmUp.State);
        Assert.Empty(warmUp.Steps);
        Assert.Equal(HttpStatusCode.OK, (await server.CreateClient().GetAsync("/health/ready", Cancel)).StatusCode);
    }

    [Theory]
    [InlineData(WarmUpState.Pending, HealthStatus.Unhealthy)]
    [InlineData(WarmUpState.Running, HealthStatus.Unhealthy)]
    [InlineData(WarmUpState.Done, HealthStatus.Healthy)]
    [InlineData(WarmUpState.Failed, HealthStatus.Healthy)]
    [InlineData(WarmUpState.TimedOut, HealthStatus.Healthy)]
    [InlineData(WarmUpState.Off, HealthStatus.Healthy)]
    public void Ready_only_when_the_warm_up_is_over_whether_or_not_it_succeeded(WarmUpState state, HealthStatus expected)
    {
        Assert.Equal(expected, WarmUpHealthCheck.StatusOf(state));
    }

    [Fact]
    public async Task A_request_with_a_made_up_warm_up_header_is_audited_as_any_other()
    {
        var (server, client, eva) = await StadigServer.WithLoggedInPhysicianAsync(DatabaseEngine.Sqlite);
        await using var _ = server;
        using var request = new HttpRequestMessage(HttpMethod.Get, "/?q=Ek");
        request.Headers.Add(WarmUp.Header, new string('0', 64));

        (await client.SendAsync(request, Cancel)).EnsureSuccessStatusCode();

        await using var connection = await server.Database.OpenUnscopedAsync(Cancel);
        Assert.Equal(1, await connection.ExecuteScalarAsync<int>(
            "SELECT COUNT(*) FROM audit_event WHERE staff_hsa_id = @HsaId AND resource = 'PatientSearch'", new { eva.HsaId }));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Inside_a_roll_back_scope_a_commit_is_rolled_back_and_outside_it_work_commits_as_always(DatabaseEngine engine)
    {
        var database = await TestDatabases.CreateAsync(engine);
        var audit = new AuditLog(database, TimeProvider.System);
        var nobody = Caller.System with { HsaId = "ROLLBACK-TEST-" + Guid.NewGuid().ToString("N")[..8] };

        var other = nobody with { HsaId = nobody.HsaId + "-OTHER" };
        // A flow of control begun before the scope (as a request served meanwhile is) is not in it.
        var go = new TaskCompletionSource();
        var meanwhile = Task.Run(async () =>
        {
            await go.Task;
            await audit.AppendAsync(new AuditEntry(other, null, AuditActivity.Read, "PatientSearch"), Cancel);
        }, Cancel);
        int rolledBack;
        using (var scope = Database.RollBackEverything())
        {
            await audit.AppendAsync(new AuditEntry(nobody, null, AuditActivity.Read, "PatientSearch"), Cancel);
            go.SetResult();
            await meanwhile;
            rolledBack = scope.RolledBack;
        }
        await using (var connection = await database.OpenUnscopedAsync(Cancel))
        {
            Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM audit_event WHERE staff_hsa_id = @HsaId", new { nobody.HsaId }));
            Assert.Equal(1, await connection.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM audit_event WHERE staff_hsa_id = @HsaId", new { other.HsaId }));
        }
        Assert.Equal(1, rolledBack);

        await audit.AppendAsync(new AuditEntry(nobody, null, AuditActivity.Read, "PatientSearch"), Cancel);
        await using (var connection = await database.OpenUnscopedAsync(Cancel))
            Assert.Equal(1, await connection.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM audit_event WHERE staff_hsa_id = @HsaId", new { nobody.HsaId }));
    }
}
