using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using Npgsql;
using Stadig.Organisation;
using Stadig.Tests.Fhir;

namespace Stadig.Tests.Downtime;

/// <summary>
/// The primary database goes away under a running node (issue 20, item 1; issue 19, item 2's replica
/// reads): writes are refused as not saved (503, never 500 and never "saved"), the node reconnects by
/// itself, and with a streaming replica reads go on from it. Each test runs clusters of its own, so
/// stopping them touches no other test. PostgreSQL only: SQLite has no server to lose and no replicas.
/// </summary>
public class PrimaryLossTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static Task<HttpResponseMessage> RegisterAsync(HttpClient client, string number) =>
        client.PostAsJsonAsync("/api/patients", new { identifier = number, familyName = "Ek", givenNames = "Per" }, Cancel);

    private static async Task UntilAsync(Func<Task<bool>> condition)
    {
        while (!await condition()) await Task.Delay(100, Cancel);
    }

    private static async Task<bool> ReadyAsync(HttpClient client) =>
        (await client.GetAsync("/health/ready", Cancel)).StatusCode == HttpStatusCode.OK;

    private static async Task<long> ReadEventsAsync(PostgresServer cluster, string patientId)
    {
        // Not pooled: the cluster restarts during the test, and a pooled session would be a dead one.
        await using var connection = new NpgsqlConnection(cluster.ConnectionString + ";Pooling=false");
        return await connection.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM audit_event WHERE patient_id = @patientId::uuid AND activity = 'Read'", new { patientId });
    }

    [Fact]
    [Hazard("H-11")]
    public async Task A_write_while_the_primary_is_gone_is_refused_as_not_saved_and_the_node_writes_again_by_itself_when_it_is_back()
    {
        await using var cluster = await PostgresServer.CreateStoppedAsync();
        await cluster.StartClusterAsync();
        await using var server = await StadigServer.StartOnAsync(cluster.ConnectionString + ";Timeout=3", "http://127.0.0.1:0");
        await server.AddUserAsync("eva", "lösen");
        var eva = server.CreateClient();
        await server.PostLoginAsync(eva, "eva", "lösen");
        Assert.Equal(HttpStatusCode.Created, (await RegisterAsync(eva, TestNumbers.Personnummer(1951, 1, 2))).StatusCode);

        // Killed as a crash would: the pooled connections are dead. The write is answered "not saved,
        // try again" (503 with Retry-After), not a 500, and the node says it is not ready.
        await cluster.StopClusterAsync();
        var refused = await RegisterAsync(eva, TestNumbers.Personnummer(1951, 1, 3));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await eva.GetAsync("/health/ready", Cancel)).StatusCode);
        Assert.True(server.Database.Connectivity.PrimaryLost);

        // Back (a failover's new primary answers on the same address): the node finds it without any
        // request's help, and the first write after it goes through on a fresh connection.
        await cluster.StartClusterAsync();
        await UntilAsync(() => Task.FromResult(!server.Database.Connectivity.PrimaryLost));
        Assert.Equal(HttpStatusCode.Created, (await RegisterAsync(eva, TestNumbers.Personnummer(1951, 1, 3))).StatusCode);
        Assert.True(await ReadyAsync(eva));
        Assert.Contains(server.Log.Lines, l => l.Contains("answers again", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_commit_the_database_stopped_waiting_to_copy_to_its_synchronous_standby_is_never_answered_as_saved()
    {
        await using var cluster = await PostgresServer.CreateStoppedAsync();
        await cluster.StartClusterAsync();
        await using var server = await StadigServer.StartOnAsync(cluster.ConnectionString, "http://127.0.0.1:0");
        await server.AddUserAsync("eva", "lösen");
        var eva = server.CreateClient();
        await server.PostLoginAsync(eva, "eva", "lösen");

        // A synchronous standby that never answers: every commit waits for it. Cancelling the wait
        // (a statement timeout, a client's cancel, an operator) makes PostgreSQL answer the commit as
        // done with only a WARNING: committed here, maybe not on the standby, and lost in a failover.
        await cluster.ExecuteAsync("ALTER SYSTEM SET synchronous_standby_names = 'nobody'");
        await cluster.ExecuteAsync("SELECT pg_reload_conf()");
        try
        {
            var write = RegisterAsync(eva, TestNumbers.Personnummer(1952, 2, 3));
            await UntilAsync(async () => Convert.ToInt64(await cluster.ExecuteAsync(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'"), System.Globalization.CultureInfo.InvariantCulture) > 0);
            await cluster.ExecuteAsync("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event = 'SyncRep'");
            var answer = await write;
            Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.StatusCode);
            Assert.NotNull(answer.Headers.RetryAfter);
        }
        finally
        {
            await cluster.ExecuteAsync("ALTER SYSTEM RESET synchronous_standby_names");
            await cluster.ExecuteAsync("SELECT pg_reload_conf()");
        }
    }

    [Fact]
    public async Task With_a_replica_integrations_search_it_a_clinician_reads_her_own_write_from_the_primary_and_reads_go_on_from_it_while_the_primary_is_down()
    {
        await using var primary = await PostgresServer.CreateStoppedAsync();
        await primary.StartClusterAsync();
        await using var replica = await primary.StartReplicaAsync();
        var spool = Directory.CreateTempSubdirectory("stadig-spool-").FullName;
        await using var fhir = await FhirTestServer.StartOnAsync(primary.ConnectionString + ";Timeout=3",
            [$"--Stadig:ReplicaDatabase={replica.ConnectionString};Timeout=3", "--Stadig:Downtime:ProbeSeconds=3600", $"--Stadig:Downtime:AuditSpoolFolder={spool}"]);
        var server = fhir.Server;
        var eva = server.CreateClient();
        await server.PostLoginAsync(eva, "fhir", "x");
        var integration = fhir.Client("system/*.read");

        // How many patients the integration's search finds (-1: not answered 200, as while the replica
        // has not yet replayed the schema).
        async Task<int> IntegrationFindsAsync(string number)
        {
            var (status, bundle, _) = await integration.GetFhirAsync("/fhir/Patient?identifier=" + number.Replace("-", "", StringComparison.Ordinal));
            return status == HttpStatusCode.OK ? ((JsonArray?)bundle["entry"])?.Count ?? 0 : -1;
        }

        // Replication runs: what the clinician registers, the integration finds (once the replica has it).
        var first = TestNumbers.Personnummer(1953, 3, 4);
        Assert.Equal(HttpStatusCode.Created, (await RegisterAsync(eva, first)).StatusCode);
        await UntilAsync(async () => await IntegrationFindsAsync(first) == 1);

        // The replica stops replaying: the integration's search (on the replica) does not see the new
        // patient yet, while the clinician reads what she has just written (on the primary).
        await replica.ExecuteAsync("SELECT pg_wal_replay_pause()");
        var second = TestNumbers.Personnummer(1953, 3, 5);
        var registered = await RegisterAsync(eva, second);
        Assert.Equal(HttpStatusCode.Created, registered.StatusCode);
        var id = (await registered.Content.ReadFromJsonAsync<JsonObject>(Cancel))!["id"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.OK, (await eva.GetAsync($"/api/patients/{id}", Cancel)).StatusCode);
        Assert.Equal(0, await IntegrationFindsAsync(second));
        await replica.ExecuteAsync("SELECT pg_wal_replay_resume()");
        await UntilAsync(async () => await IntegrationFindsAsync(second) == 1);

        // The primary dies: the node reads on from the replica, read-only (banner, writes refused 503),
        // and stays ready (Degraded) so the load balancer keeps sending it readers.
        var readsBefore = await ReadEventsAsync(primary, id);
        await primary.StopClusterAsync();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await RegisterAsync(eva, TestNumbers.Personnummer(1953, 3, 6))).StatusCode);
        Assert.True(server.Database.Connectivity.PrimaryLost);
        var read = await eva.GetAsync($"/api/patients/{id}", Cancel);
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        var page = await eva.GetStringAsync($"/patients/{id}", Cancel);
        Assert.Contains("read-only-banner", page, StringComparison.Ordinal);
        var ready = await eva.GetAsync("/health/ready", Cancel);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Contains("primary is unreachable", await ready.Content.ReadAsStringAsync(Cancel), StringComparison.Ordinal);
        var refused = await RegisterAsync(eva, TestNumbers.Personnummer(1953, 3, 6));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.NotNull(refused.Headers.RetryAfter);

        // The primary is back: the node writes again by itself, and the reads made meanwhile are in the log.
        await primary.StartClusterAsync();
        await UntilAsync(() => Task.FromResult(server.Database.Writes.CanWrite));
        Assert.Equal(HttpStatusCode.Created, (await RegisterAsync(eva, TestNumbers.Personnummer(1953, 3, 6))).StatusCode);
        await UntilAsync(async () => await ReadEventsAsync(primary, id) >= readsBefore + 2);
    }
}
