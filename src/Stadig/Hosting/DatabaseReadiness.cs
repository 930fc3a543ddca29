using System.Net.Sockets;
using Npgsql;

namespace Stadig.Hosting;

/// <summary>
/// Whether the database has been reached and prepared (migrated, interrupted jobs failed) since
/// start. A node whose database is down at start does not exit: it serves /health/live, answers
/// /health/ready and every other request with 503, and <see cref="DatabaseStartup"/> keeps trying.
/// </summary>
public sealed class DatabaseReadiness
{
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool IsReady => _ready.Task.IsCompleted;

    /// <summary>Completes when the database is prepared; work that needs it at start waits here.</summary>
    public Task WhenReady => _ready.Task;

    /// <summary>Why the database is not yet prepared (no secrets: host, port, database and the error's kind).</summary>
    public string? Problem { get; private set; }

    internal void NotYet(string problem) => Problem = problem;

    internal void MarkReady()
    {
        Problem = null;
        _ready.TrySetResult();
    }

    /// <summary>
    /// A database that is down, starting, or out of connections: worth waiting for. A wrong password,
    /// a missing database or a connection string that cannot be read is not, and stops the start.
    /// </summary>
    public static bool IsUnreachable(Exception e) => e switch
    {
        StartupException { InnerException: { } inner } => IsUnreachable(inner),
        PostgresException pg => pg.IsTransient,
        NpgsqlException npgsql => npgsql.IsTransient || npgsql.InnerException is SocketException or TimeoutException or IOException,
        SocketException or TimeoutException => true,
        _ => false,
    };
}

/// <summary>
/// Prepares the database in the background when it was unreachable at start: tries again with a
/// growing pause (1 s doubling to 30 s), logging each failure without the connection string's secrets.
/// </summary>
public sealed class DatabaseStartup(DatabaseReadiness readiness, IServiceProvider services, StadigOptions options, ILogger<DatabaseStartup> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var pause = TimeSpan.FromSeconds(1);
        while (!readiness.IsReady)
        {
            await Task.Delay(pause, stoppingToken);
            try
            {
                await StadigHost.PrepareDatabaseAsync(services, options);
                readiness.MarkReady();
                logger.LogInformation("The database ({Database}) is reachable and prepared; the node is ready.", StadigHost.Describe(options.Database));
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                pause = TimeSpan.FromSeconds(Math.Min(30, pause.TotalSeconds * 2));
                readiness.NotYet(StadigHost.DescribeFailure(options, e));
                logger.LogWarning("The database is not reachable yet ({Problem}); trying again in {Seconds:0} s.", readiness.Problem, pause.TotalSeconds);
            }
        }
    }
}
