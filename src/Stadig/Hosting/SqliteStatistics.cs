using Stadig.Storage;

namespace Stadig.Hosting;

/// <summary>
/// Keeps SQLite's planner statistics current (<see cref="Database.RefreshStatisticsAsync"/>): once the
/// database is ready, then every <see cref="Every"/>, as tables grow. Nothing on PostgreSQL.
/// </summary>
public sealed class SqliteStatistics(Database database, DatabaseReadiness readiness, ILogger<SqliteStatistics> logger) : PeriodicWork(readiness)
{
    public static readonly TimeSpan Every = TimeSpan.FromHours(1);

    protected override TimeSpan Interval => database.Engine == DatabaseEngine.Sqlite ? Every : TimeSpan.Zero;

    protected override Task RunOnceAsync(CancellationToken cancellationToken) => database.RefreshStatisticsAsync(cancellationToken);

    // Plans stay as they were (slower, never wrong); the next tick tries again.
    protected override void OnFailed(Exception exception) => logger.LogWarning(exception, "Refreshing SQLite's planner statistics failed");
}
