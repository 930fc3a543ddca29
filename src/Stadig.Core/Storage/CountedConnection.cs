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

    /// <summary>
    /// Set on a lease of a scratch scope's one connection (<see cref="Database.Scratch"/>): the
    /// scope's transaction is under everything, so closing the lease leaves the connection open, a
    /// transaction begun on it is a savepoint, and a command without a transaction runs in the scope's.
    /// </summary>
    internal DbTransaction? Scratch { get; init; }

    /// <summary>
    /// A lease of a connection held elsewhere (a scratch scope's, a pinned one: <see cref="Database.PinAsync"/>):
    /// closing or disposing it gives the turn back and leaves the connection open.
    /// </summary>
    internal bool Lent { get; init; }

    /// <summary>Every command run on this lease is prepared first (explicitly: it stays prepared on the connection).</summary>
    internal bool PrepareStatements { get; init; }

    /// <summary>Gives a lease's turn on the one connection back (once), when the lease is closed or disposed.</summary>
    internal Action? ScratchRelease { private get; init; }

    private void ReleaseScratch()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0) ScratchRelease?.Invoke();
    }

    private int _released;

    /// <summary>Throws when the server said a commit on this connection may not be on the standby (PostgreSQL; see Counted.NpgsqlConnection).</summary>
    internal virtual void ThrowIfUnconfirmed() { }

    /// <summary>The exception a failed command is answered with (a write on a replica connection is a bug).</summary>
    internal virtual Exception Translate(Exception e) => e switch
    {
        // Half of a surrogate pair in a parameter (text from a JSON escape, a form, an HL7 message handed in as a
        // string): the engine's driver cannot encode it. The input is refused by name wherever it came from, never a
        // 500; the places that must keep what they were sent (HL7 ingest) escape such characters before storing.
        System.Text.EncoderFallbackException =>
            new Common.InvalidInputException("text", "Texten innehåller ett ensamt surrogattecken (halva ett UTF-16-teckenpar), som inte är text och inte kan sparas."),
        _ => e,
    };

    [AllowNull]
    public override string ConnectionString { get => Inner.ConnectionString; set => Inner.ConnectionString = value; }
    public override string Database => Inner.Database;
    public override string DataSource => Inner.DataSource;
    public override string ServerVersion => Inner.ServerVersion;
    public override ConnectionState State => Inner.State;
    public override void ChangeDatabase(string databaseName) => Inner.ChangeDatabase(databaseName);
    public override void Close()
    {
        if (!Lent) Inner.Close();
        else ReleaseScratch();
    }
    public override void Open() => Inner.Open();
    public override Task OpenAsync(CancellationToken cancellationToken) => Inner.OpenAsync(cancellationToken);

    protected override DbTransaction BeginDbTransaction(IsolationLevel isolationLevel)
    {
        if (Scratch is not null) return SavepointTransaction.BeginAsync(this, Scratch, CancellationToken.None).GetAwaiter().GetResult();
        return new CountedTransaction(this, Inner.BeginTransaction(isolationLevel));
    }

    protected override async ValueTask<DbTransaction> BeginDbTransactionAsync(IsolationLevel isolationLevel, CancellationToken cancellationToken) =>
        Scratch is not null
            ? await SavepointTransaction.BeginAsync(this, Scratch, cancellationToken)
            : new CountedTransaction(this, await Inner.BeginTransactionAsync(isolationLevel, cancellationToken));

    /// <summary>A transaction on a scratch lease: a savepoint of the scope's transaction, which is never committed.</summary>
    internal Task<DbTransaction> BeginScratchAsync(CancellationToken cancellationToken) =>
        SavepointTransaction.BeginAsync(this, Scratch ?? throw new InvalidOperationException("Not a scratch connection."), cancellationToken);

    /// <summary>Wraps a transaction begun on <see cref="Inner"/> by engine-specific means.</summary>
    public DbTransaction Adopt(DbTransaction transaction) => new CountedTransaction(this, transaction);

    protected override DbCommand CreateDbCommand()
    {
        var command = Inner.CreateCommand();
        // SQLite refuses a command without the connection's transaction; PostgreSQL runs it in it anyway.
        if (Scratch is not null) command.Transaction = Scratch;
        return new CountedCommand(this, command);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && !Lent) Inner.Dispose();
        else if (disposing) ReleaseScratch();
        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync()
    {
        if (!Lent) return Inner.DisposeAsync();
        ReleaseScratch();
        return ValueTask.CompletedTask;
    }

    /// <summary>The engine's connection under a counted one (or the connection itself).</summary>
    public static DbConnection Unwrap(DbConnection connection) => connection is CountedConnection counted ? counted.Inner : connection;

    /// <summary>The engine's transaction under a counted one (or the transaction itself).</summary>
    internal static DbTransaction Unwrap(DbTransaction transaction) => transaction is CountedTransaction counted ? counted.Inner : transaction;

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
            connection.ThrowIfUnconfirmed();
        }

        public override async Task CommitAsync(CancellationToken cancellationToken = default)
        {
            var started = Stopwatch.GetTimestamp();
            await Inner.CommitAsync(cancellationToken);
            RequestCost.Current?.AddRoundTrip(1, started);
            connection.ThrowIfUnconfirmed();
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

    /// <summary>
    /// "Commit" releases the savepoint (the work stays in the scope's transaction, for the next step
    /// to see); a rollback, or disposal without a commit, goes back to it, as a failed transaction would.
    /// </summary>
    private sealed class SavepointTransaction : DbTransaction
    {
        private static int _next;
        private readonly CountedConnection _connection;
        private readonly string _name = "scratch_" + Interlocked.Increment(ref _next).ToString(System.Globalization.CultureInfo.InvariantCulture);
        private bool _done;

        private SavepointTransaction(CountedConnection connection, DbTransaction scope)
        {
            _connection = connection;
            Scope = scope;
        }

        public DbTransaction Scope { get; }

        public static async Task<DbTransaction> BeginAsync(CountedConnection connection, DbTransaction scope, CancellationToken cancellationToken)
        {
            var savepoint = new SavepointTransaction(connection, scope);
            var started = Stopwatch.GetTimestamp();
            await scope.SaveAsync(savepoint._name, cancellationToken);
            RequestCost.Current?.AddRoundTrip(1, started);
            return savepoint;
        }

        public override IsolationLevel IsolationLevel => Scope.IsolationLevel;
        protected override DbConnection DbConnection => _connection;

        public override void Commit() => CommitAsync().GetAwaiter().GetResult();

        public override async Task CommitAsync(CancellationToken cancellationToken = default)
        {
            if (_done) throw new InvalidOperationException("The transaction is over.");
            _done = true;
            var started = Stopwatch.GetTimestamp();
            await Scope.ReleaseAsync(_name, cancellationToken);
            RequestCost.Current?.AddRoundTrip(1, started);
        }

        public override void Rollback() => RollbackAsync().GetAwaiter().GetResult();

        public override async Task RollbackAsync(CancellationToken cancellationToken = default)
        {
            if (_done) return;
            _done = true;
            var started = Stopwatch.GetTimestamp();
            await Scope.RollbackAsync(_name, cancellationToken);
            RequestCost.Current?.AddRoundTrip(1, started);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing && !_done) Rollback();
            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            if (!_done) await RollbackAsync();
        }
    }

    private sealed class CountedCommand(CountedConnection connection, DbCommand inner) : DbCommand
    {
        private CountedConnection? _connection = connection;
        private DbTransaction? _transaction;
        // PostgreSQL's parameters are held until the command runs (HeldParameters.cs: Dapper's type check
        // costs a search of Npgsql's whole type mapping per parameter otherwise).
        private readonly HeldParameterCollection? _held = inner is Npgsql.NpgsqlCommand ? new() : null;

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

        protected override DbParameterCollection DbParameterCollection => _held ?? inner.Parameters;

        protected override DbTransaction? DbTransaction
        {
            get => _transaction;
            set
            {
                _transaction = value;
                inner.Transaction = value switch
                {
                    CountedTransaction counted => counted.Inner,
                    SavepointTransaction savepoint => savepoint.Scope,
                    null when _connection?.Scratch is { } scratch => scratch,
                    _ => value,
                };
            }
        }

        public override void Cancel() => inner.Cancel();
        public override void Prepare() { Bind(); inner.Prepare(); }
        public override Task PrepareAsync(CancellationToken cancellationToken = default) { Bind(); return inner.PrepareAsync(cancellationToken); }
        protected override DbParameter CreateDbParameter() => _held is null ? inner.CreateParameter() : new HeldParameter();

        /// <summary>The held parameters onto the engine's command, before it runs or is prepared.</summary>
        private void Bind() => _held?.BindTo(inner);

        public override int ExecuteNonQuery()
        {
            var started = Stopwatch.GetTimestamp();
            using var span = SqliteSpan();
            _connection?.ThrowIfUnconfirmed();
            try { Bind(); PrepareIfAsked(); return Confirmed(inner.ExecuteNonQuery()); }
            catch (Exception e) when (_connection is not null && _connection.Translate(e) != e) { throw _connection.Translate(e); }
            finally { Count(started); }
        }

        public override object? ExecuteScalar()
        {
            var started = Stopwatch.GetTimestamp();
            using var span = SqliteSpan();
            _connection?.ThrowIfUnconfirmed();
            try { Bind(); PrepareIfAsked(); return Confirmed(inner.ExecuteScalar()); }
            catch (Exception e) when (_connection is not null && _connection.Translate(e) != e) { throw _connection.Translate(e); }
            finally { Count(started); }
        }

        protected override DbDataReader ExecuteDbDataReader(CommandBehavior behavior)
        {
            var started = Stopwatch.GetTimestamp();
            using var span = SqliteSpan();
            _connection?.ThrowIfUnconfirmed();
            try { Bind(); PrepareIfAsked(); return Translating(Confirmed(inner.ExecuteReader(behavior))); }
            catch (Exception e) when (_connection is not null && _connection.Translate(e) != e) { throw _connection.Translate(e); }
            finally { Count(started); }
        }

        public override async Task<int> ExecuteNonQueryAsync(CancellationToken cancellationToken)
        {
            var started = Stopwatch.GetTimestamp();
            using var span = SqliteSpan();
            _connection?.ThrowIfUnconfirmed();
            try { Bind(); await PrepareIfAskedAsync(cancellationToken); return Confirmed(await inner.ExecuteNonQueryAsync(cancellationToken)); }
            catch (Exception e) when (_connection is not null && _connection.Translate(e) != e) { throw _connection.Translate(e); }
            finally { Count(started); }
        }

        public override async Task<object?> ExecuteScalarAsync(CancellationToken cancellationToken)
        {
            var started = Stopwatch.GetTimestamp();
            using var span = SqliteSpan();
            _connection?.ThrowIfUnconfirmed();
            try { Bind(); await PrepareIfAskedAsync(cancellationToken); return Confirmed(await inner.ExecuteScalarAsync(cancellationToken)); }
            catch (Exception e) when (_connection is not null && _connection.Translate(e) != e) { throw _connection.Translate(e); }
            finally { Count(started); }
        }

        protected override async Task<DbDataReader> ExecuteDbDataReaderAsync(CommandBehavior behavior, CancellationToken cancellationToken)
        {
            var started = Stopwatch.GetTimestamp();
            using var span = SqliteSpan();
            _connection?.ThrowIfUnconfirmed();
            try { Bind(); await PrepareIfAskedAsync(cancellationToken); return Translating(Confirmed(await inner.ExecuteReaderAsync(behavior, cancellationToken))); }
            catch (Exception e) when (_connection is not null && _connection.Translate(e) != e) { throw _connection.Translate(e); }
            finally { Count(started); }
        }

        /// <summary>The reader, its later statements' failures translated as the command's own (<see cref="TranslatingDataReader"/>).</summary>
        private DbDataReader Translating(DbDataReader reader) => _connection is null ? reader : new TranslatingDataReader(reader, _connection);

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

        /// <summary>
        /// The statements are prepared explicitly before they run (PostgreSQL) on a lease that asks for
        /// it (the warm-up's), and always for a batch on generic plans (<see cref="Database.OnGenericPlan"/>):
        /// its plan is then made once per connection and kept. Left to auto-preparation, which prepares a
        /// statement at its fifth use on a connection, a search of a shape that comes seldom (three
        /// words) was planned anew at every execution: 10 ms of its 12 (docs/benchmarks.md). Preparing
        /// what is already prepared on the connection costs nothing; the first time, one round trip.
        /// </summary>
        private bool PrepareWanted => inner is Npgsql.NpgsqlCommand
            && (_connection is { PrepareStatements: true } || inner.CommandText.Contains(Stadig.Storage.Database.GenericPlanSetting, StringComparison.Ordinal));

        private void PrepareIfAsked()
        {
            if (PrepareWanted) inner.Prepare();
        }

        private async Task PrepareIfAskedAsync(CancellationToken cancellationToken)
        {
            if (PrepareWanted) await inner.PrepareAsync(cancellationToken);
        }

        /// <summary>A statement that committed on its own (no transaction) is checked like a commit.</summary>
        private T Confirmed<T>(T result)
        {
            _connection?.ThrowIfUnconfirmed();
            return result;
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
    public sealed class NpgsqlConnection : CountedConnection
    {
        private int _unconfirmed;

        public NpgsqlConnection(Npgsql.NpgsqlConnection inner) : base(inner) => inner.Notice += OnNotice;

        /// <summary>
        /// A replica connection opened for reads while the primary answers (<see cref="Database.PreferReplica"/>):
        /// a write refused on it is a bug in the caller, never the database refusing writes.
        /// </summary>
        internal bool ReadsOnly { get; init; }

        /// <summary>
        /// PostgreSQL tells a commit it stopped waiting for the synchronous standby (the wait was
        /// cancelled: a statement timeout, a client's cancel, pg_cancel_backend) only by a WARNING, and
        /// answers the commit as done although it may be on this server alone. Any such warning
        /// (01000) marks the connection; the next step on it throws instead of going on as saved.
        /// </summary>
        private void OnNotice(object sender, Npgsql.NpgsqlNoticeEventArgs e)
        {
            if (e.Notice.SqlState == "01000" && e.Notice.InvariantSeverity == "WARNING") Volatile.Write(ref _unconfirmed, 1);
        }

        internal override void ThrowIfUnconfirmed()
        {
            if (Interlocked.Exchange(ref _unconfirmed, 0) == 1) throw new DatabaseUnavailableException(DatabaseUnavailableException.UnconfirmedCommit);
        }

        internal override Exception Translate(Exception e) => e switch
        {
            Npgsql.PostgresException { SqlState: "25006" } when ReadsOnly =>
                new InvalidOperationException("A write on a replica connection: the flow asked for replica reads (Database.PreferReplica) and then wrote.", e),
            // A NUL character in a value (22021) or in JSON text (22P05): PostgreSQL's text cannot hold it, so the
            // input is refused by name wherever it came from (a query string, a form, a FHIR body), never a 500.
            Npgsql.PostgresException { SqlState: "22021" or "22P05" } =>
                new Common.InvalidInputException("text", "Texten innehåller ett nolltecken (NUL, U+0000) eller annat tecken som inte kan sparas."),
            // The server broke a deadlock (40P01) or a serialisation conflict (40001) by rolling this
            // transaction back: nothing of it was saved, and the same request made again will succeed,
            // so the answer is 503 with Retry-After, like a primary that went away, never a 500.
            Npgsql.PostgresException { SqlState: "40P01" or "40001" } postgres => ConflictRolledBack(postgres),
            _ => base.Translate(e),
        };

        private static DatabaseUnavailableException ConflictRolledBack(Npgsql.PostgresException e)
        {
            Telemetry.StadigTelemetry.ConflictsRolledBack.Add(1, new KeyValuePair<string, object?>("db.response.status_code", e.SqlState));
            return new DatabaseUnavailableException(DatabaseUnavailableException.ConflictRolledBack, e);
        }

        public override void Close()
        {
            base.Close();
            ThrowIfUnconfirmed();
        }

        public override async ValueTask DisposeAsync()
        {
            await base.DisposeAsync();
            ((Npgsql.NpgsqlConnection)Inner).Notice -= OnNotice;
            ThrowIfUnconfirmed();
        }
    }
}
