using Stadig.Storage;

namespace Stadig.Hosting;

/// <summary>
/// Keeps SQLite's planner statistics current (<see cref="Database.RefreshStatisticsAsync"/>): once the
/// database is ready, then every <see cref="Interval"/>, as tables grow. Nothing on PostgreSQL.
/// </summary>
public sealed class SqliteStatistics(Database database, DatabaseReadiness readiness, ILogger<SqliteStatistics> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (database.Engine != DatabaseEngine.Sqlite) return;
        await readiness.WhenReady.WaitAsync(stoppingToken);
        using var timer = new PeriodicTimer(Interval);
        do
        {
            try
            {
                await database.RefreshStatisticsAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Plans stay as they were (slower, never wrong); the next tick tries again.
                logger.LogWarning(e, "Refreshing SQLite's planner statistics failed");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
