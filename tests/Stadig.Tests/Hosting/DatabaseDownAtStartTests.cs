using System.Net;
using System.Net.Http.Json;

namespace Stadig.Tests.Hosting;

/// <summary>
/// `stadig serve` with its PostgreSQL down at start: it stays up, says it is not ready, and becomes
/// ready by itself once the database is up (migrated then), and again after the database restarts.
/// The database is a throwaway cluster of the test's own, so stopping it touches no other test.
/// </summary>
public class DatabaseDownAtStartTests
{
    [Fact]
    public async Task A_server_started_before_its_database_is_live_not_ready_and_becomes_ready_and_writes_once_the_database_is_up()
    {
        await using var cluster = await PostgresServer.CreateStoppedAsync();
        var connectionString = cluster.ConnectionString + ";Password=hemligt;Timeout=3";
        await using var server = await StadigServer.StartOnAsync(connectionString, "http://127.0.0.1:0");
        var client = server.CreateClient();

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
        var ready = await client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains("database", await ready.Content.ReadAsStringAsync());
        // Everything else is refused plainly (not a 500 from a missing schema), and may be tried again.
        var page = await client.GetAsync("/login");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, page.StatusCode);
        Assert.NotNull(page.Headers.RetryAfter);

        await cluster.StartClusterAsync();
        await UntilReadyAsync(client);

        // Migrated when it came up: a person is added and a write goes through over HTTP.
        await server.AddUserAsync("eva", "lösen");
        var eva = server.CreateClient();
        await server.PostLoginAsync(eva, "eva", "lösen");
        Assert.Equal(HttpStatusCode.Created, (await RegisterAsync(eva, "19121212-1212")).StatusCode);
        Assert.DoesNotContain("hemligt", server.Log.ToString());
        Assert.Contains(server.Log.Lines, l => l.Contains("not reachable", StringComparison.Ordinal));

        // The database restarts (as after a crash): not ready while it is down, then ready and writing again without a restart of Stadig.
        await cluster.StopClusterAsync();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/health/ready")).StatusCode);
        await cluster.StartClusterAsync();
        await UntilReadyAsync(client);
        Assert.Equal(HttpStatusCode.Created, (await RegisterAsync(eva, TestNumbers.Personnummer(1950, 3, 4))).StatusCode);
    }

    private static Task<HttpResponseMessage> RegisterAsync(HttpClient client, string number) =>
        client.PostAsJsonAsync("/api/patients", new { identifier = number, familyName = "Ek", givenNames = "Per" });

    /// <summary>Waits on the condition (ready answers 200), not a fixed time; the run's timeout ends a node that never gets there.</summary>
    private static async Task UntilReadyAsync(HttpClient client)
    {
        while ((await client.GetAsync("/health/ready", TestContext.Current.CancellationToken)).StatusCode != HttpStatusCode.OK)
            await Task.Delay(100, TestContext.Current.CancellationToken);
    }
}
