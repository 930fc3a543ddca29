using System.Data;
using System.Data.Common;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;

namespace Stadig.Storage
{

/// <summary>
/// Every connection <see cref="Database"/> hands out: the engine's own connection, with each command
/// executed and each commit or rollback counted into the flow's <see cref="RequestCost"/> (none: no
/// counting). The count is what Server-Timing reports and what the cost tests pin, so a change that
/// adds a round trip to a hot path fails a test instead of waiting for a benchmark.
/// </summary>
public class CountedConnection(DbConnection inner) : DbConnection
{
    /// <summary>The engine's connection, for engine-specific work (COPY, SQLite's deferred transactions).</summary>
    public DbConnection Inner { get; } = inner;

    [AllowNull]
    public override string ConnectionString { get => Inner.ConnectionString; set => Inner.ConnectionString = value; }
    public override string Database => Inner.Database;
    public override string DataSource => Inner.DataSource;
    public override string ServerVersion => Inner.ServerVersion;
    public override ConnectionState State => Inner.State;
    public override void ChangeDatabase(string databaseName) => Inner.ChangeDatabase(databaseName);
    public override void Close() => Inner.Close();
    public override void Open() => Inner.Open();
    public override Task OpenAsync(CancellationToken cancellationToken) => Inner.OpenAsync(cancellationToken);

    protected override DbTransaction BeginDbTransaction(IsolationLevel isolationLevel) => new CountedTransaction(this, Inner.BeginTransaction(isolationLevel));

    protected override async ValueTask<DbTransaction> BeginDbTransactionAsync(IsolationLevel isolationLevel, CancellationToken cancellationToken) =>
        new CountedTransaction(this, await Inner.BeginTransactionAsync(isolationLevel, cancellationToken));

    /// <summary>Wraps a transaction begun on <see cref="Inner"/> by engine-specific means.</summary>
    public DbTransaction Adopt(DbTransaction transaction) => new CountedTransaction(this, transaction);

    protected override DbCommand CreateDbCommand() => new CountedCommand(this, Inner.CreateCommand());

    protected override void Dispose(bool disposing)
    {
        if (disposing) Inner.Dispose();
        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync() => Inner.DisposeAsync();

    /// <summary>The engine's connection under a counted one (or the connection itself).</summary>
    public static DbConnection Unwrap(DbConnection connection) => connection is CountedConnection counted ? counted.Inner : connection;

    private sealed class CountedTransaction(CountedConnection connection, DbTransaction inner) : DbTransaction
    {
        public DbTransaction Inner { get; } = inner;
        public override IsolationLevel IsolationLevel => Inner.IsolationLevel;
        protected override DbConnection DbConnection => connection;

        public override void Commit()
        {
            var started = Stopwatch.GetTimestamp();
            Inner.Commit();
            RequestCost.Current?.AddRoundTrip(1, started);
        }

        public override async Task CommitAsync(CancellationToken cancellationToken = default)
        {
            var started = Stopwatch.GetTimestamp();
            await Inner.CommitAsync(cancellationToken);
            RequestCost.Current?.AddRoundTrip(1, started);
        }

        public override void Rollback()
        {
            var started = Stopwatch.GetTimestamp();
            Inner.Rollback();
            RequestCost.Current?.AddRoundTrip(1, started);
        }

        public override async Task RollbackAsync(CancellationToken cancellationToken = default)
        {
            var started = Stopwatch.GetTimestamp();
            await Inner.RollbackAsync(cancellationToken);
            RequestCost.Current?.AddRoundTrip(1, started);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) Inner.Dispose();
            base.Dispose(disposing);
        }

        public override ValueTask DisposeAsync() => Inner.DisposeAsync();
    }

    private sealed class CountedCommand(CountedConnection connection, DbCommand inner) : DbCommand
    {
        private CountedConnection? _connection = connection;
        private DbTransaction? _transaction;

        [AllowNull]
        public override string CommandText { get => inner.CommandText; set => inner.CommandText = value; }
        public override int CommandTimeout { get => inner.CommandTimeout; set => inner.CommandTimeout = value; }
        public override CommandType CommandType { get => inner.CommandType; set => inner.CommandType = value; }
        public override bool DesignTimeVisible { get => inner.DesignTimeVisible; set => inner.DesignTimeVisible = value; }
        public override UpdateRowSource UpdatedRowSource { get => inner.UpdatedRowSource; set => inner.UpdatedRowSource = value; }

        protected override DbConnection? DbConnection
        {
            get => _connection;
            set
            {
                _connection = (CountedConnection?)value;
                inner.Connection = _connection?.Inner;
            }
        }

        protected override DbParameterCollection DbParameterCollection => inner.Parameters;

        protected override DbTransaction? DbTransaction
        {
            get => _transaction;
            set
            {
                _transaction = value;
                inner.Transaction = value is CountedTransaction counted ? counted.Inner : value;
            }
        }

        public override void Cancel() => inner.Cancel();
        public override void Prepare() => inner.Prepare();
        public override Task PrepareAsync(CancellationToken cancellationToken = default) => inner.PrepareAsync(cancellationToken);
        protected override DbParameter CreateDbParameter() => inner.CreateParameter();

        public override int ExecuteNonQuery()
        {
            var started = Stopwatch.GetTimestamp();
            using var span = SqliteSpan();
            try { return inner.ExecuteNonQuery(); }
            finally { Count(started); }
        }

        public override object? ExecuteScalar()
        {
            var started = Stopwatch.GetTimestamp();
            using var span = SqliteSpan();
            try { return inner.ExecuteScalar(); }
            finally { Count(started); }
        }

        protected override DbDataReader ExecuteDbDataReader(CommandBehavior behavior)
        {
            var started = Stopwatch.GetTimestamp();
            using var span = SqliteSpan();
            try { return inner.ExecuteReader(behavior); }
            finally { Count(started); }
        }

        public override async Task<int> ExecuteNonQueryAsync(CancellationToken cancellationToken)
        {
            var started = Stopwatch.GetTimestamp();
            using var span = SqliteSpan();
            try { return await inner.ExecuteNonQueryAsync(cancellationToken); }
            finally { Count(started); }
        }

        public override async Task<object?> ExecuteScalarAsync(CancellationToken cancellationToken)
        {
            var started = Stopwatch.GetTimestamp();
            using var span = SqliteSpan();
            try { return await inner.ExecuteScalarAsync(cancellationToken); }
            finally { Count(started); }
        }

        protected override async Task<DbDataReader> ExecuteDbDataReaderAsync(CommandBehavior behavior, CancellationToken cancellationToken)
        {
            var started = Stopwatch.GetTimestamp();
            using var span = SqliteSpan();
            try { return await inner.ExecuteReaderAsync(behavior, cancellationToken); }
            finally { Count(started); }
        }

        /// <summary>
        /// A span per SQLite command (PostgreSQL's come from Npgsql): the operation only, not the
        /// statement, so no value written into a statement's text can reach a trace.
        /// </summary>
        private Activity? SqliteSpan()
        {
            if (inner is not Microsoft.Data.Sqlite.SqliteCommand || !Stadig.Telemetry.StadigTelemetry.Storage.HasListeners()) return null;
            var activity = Stadig.Telemetry.StadigTelemetry.Storage.StartActivity("sqlite", ActivityKind.Client);
            if (activity is null) return null;
            activity.SetTag("db.system.name", "sqlite");
            var text = inner.CommandText.AsSpan().TrimStart();
            var end = text.IndexOfAny(' ', '\n', '\r');
            var operation = (end < 0 ? text : text[..end]).ToString().ToUpperInvariant();
            if (!operation.All(char.IsAsciiLetter)) operation = "OTHER";
            activity.SetTag("db.operation.name", operation);
            activity.DisplayName = "sqlite " + operation;
            return activity;
        }

        private void Count(long started)
        {
            if (RequestCost.Current is { } cost) cost.AddCommand(inner.CommandText, started);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }

        public override ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
}

namespace Stadig.Storage.Counted
{
    /// <summary>
    /// A counted PostgreSQL connection. The name is Dapper's: it passes arrays to PostgreSQL as
    /// arrays (column = ANY(@ids)) only on a connection whose type is named NpgsqlConnection, and
    /// would otherwise expand them into a list of parameters the statement cannot take.
    /// </summary>
    public sealed class NpgsqlConnection(Npgsql.NpgsqlConnection inner) : CountedConnection(inner);
}
