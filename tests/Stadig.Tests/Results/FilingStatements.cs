using System.Data.Common;
using System.Diagnostics;
using Microsoft.Data.Sqlite;

namespace Stadig.Tests.Results;

/// <summary>
/// Counts the statements the database receives between <see cref="Start"/> and <see cref="Stop"/> on
/// one connection (the ingest's filing-transaction hooks), as the engines themselves report them:
/// SQLite's statement trace on the connection, Npgsql's activity for each command in this async flow.
/// </summary>
internal sealed class FilingStatements : IDisposable
{
    private static readonly AsyncLocal<FilingStatements?> Counting = new();
    private readonly ActivityListener _listener;
    private int _count;

    public FilingStatements()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Npgsql",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) =>
                Counting.Value == this ? ActivitySamplingResult.AllData : ActivitySamplingResult.None,
            ActivityStarted = _ =>
            {
                if (Counting.Value == this) Interlocked.Increment(ref _count);
            },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    /// <summary>The statements of the last counted transaction.</summary>
    public int Count => Volatile.Read(ref _count);

    public void Start(DbConnection connection)
    {
        Volatile.Write(ref _count, 0);
        if (Stadig.Storage.CountedConnection.Unwrap(connection) is SqliteConnection sqlite)
            SQLitePCL.raw.sqlite3_trace(sqlite.Handle, (SQLitePCL.strdelegate_trace)((_, _) => Interlocked.Increment(ref _count)), null);
        else
            Counting.Value = this;
    }

    public void Stop(DbConnection connection)
    {
        if (Stadig.Storage.CountedConnection.Unwrap(connection) is SqliteConnection sqlite) SQLitePCL.raw.sqlite3_trace(sqlite.Handle, (SQLitePCL.strdelegate_trace?)null, null);
        else Counting.Value = null;
    }

    public void Dispose() => _listener.Dispose();
}
