using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Stadig.Storage;

/// <summary>
/// The one way into storage: opens connections for the configured engine with the settings every
/// connection needs. The rest of the code writes SQL that both engines accept.
/// Use cases do not open connections here: patient rows are reached only through the access
/// checkpoint's scope (<see cref="Access.PatientAccessGrant.OpenAsync"/>, <see cref="Access.PatientDataScope"/>).
/// <see cref="OpenUnscopedAsync"/> and <see cref="InUnscopedTransactionAsync"/> are internal, and
/// every file outside the checkpoint that calls them is on the architecture test's allow-list with
/// its reason (tests/Stadig.Tests/Access/CheckpointArchitectureTests.cs).
/// </summary>
public sealed class Database
{
    private readonly NpgsqlDataSource? _postgres;
    private readonly NpgsqlDataSource? _replica;
    private readonly string _sqliteConnectionString = "";
    private readonly string _probeConnectionString;
    private readonly string? _sqliteFile;

    /// <param name="replicaConnectionString">
    /// A streaming replica (PostgreSQL only): reads that tolerate its lag go there (<see cref="PreferReplica"/>),
    /// and while the primary is unreachable every read does, with the node read-only.
    /// </param>
    /// <param name="warmConnections">
    /// PostgreSQL connections the pool keeps open however long they idle (its Minimum Pool Size, unless the connection
    /// string sets one): the start-up warm-up prepares the main pages' statements on each (<see cref="PinAsync"/>).
    /// </param>
    public Database(DatabaseEngine engine, string connectionString, string? replicaConnectionString = null, int warmConnections = 0)
    {
        Engine = engine;
        WarmConnections = engine == DatabaseEngine.Postgres ? Math.Max(0, warmConnections) : 0;
        TypeHandlers.Register();
        if (engine == DatabaseEngine.Postgres)
        {
            var builder = new NpgsqlConnectionStringBuilder(connectionString);
            // Stadig keeps no session state past a call (no SET, temporary tables or held locks), so
            // the pool's DISCARD ALL on every returned connection is a wasted round trip: three per
            // chart overview (docs/benchmarks.md, ceiling ratio). An explicit setting still wins.
            if (!connectionString.Contains("No Reset On Close", StringComparison.OrdinalIgnoreCase)
                && !connectionString.Contains("NoResetOnClose", StringComparison.OrdinalIgnoreCase))
                builder.NoResetOnClose = true;
            // Statements run again and again (the access facts, the audit append, a note's save) are
            // prepared once per connection, so the server parses them once: the rehearsal's p50s fell
            // by a quarter to a third. Each execution is still planned for its own parameters
            // (force_custom_plan): a generic plan made one FHIR search 5 times slower
            // (docs/benchmarks.md, "Not adopted: Npgsql automatic preparation", and "Overload run").
            // Statements whose plan does not depend on their values choose the generic plan per
            // transaction instead (OnGenericPlan): the two-word search, the checkpoint's read and its audit append.
            if (!connectionString.Contains("Max Auto Prepare", StringComparison.OrdinalIgnoreCase)
                && !connectionString.Contains("MaxAutoPrepare", StringComparison.OrdinalIgnoreCase))
                builder.MaxAutoPrepare = 50;
            if (!(builder.Options ?? "").Contains("plan_cache_mode", StringComparison.Ordinal))
                builder.Options = ((builder.Options ?? "") + " -c plan_cache_mode=force_custom_plan").Trim();
            // No JIT compilation: PostgreSQL compiles a plan whose estimated cost passes jit_above_cost,
            // at every execution, and a custom plan is a new plan each time. The notes worklist's estimate
            // (a hashed subplan over the unit's encounters) passed it at 1,000,000 patients: 30–55 ms of
            // compiling for a statement that runs in 20, on every call, holding a core under overload
            // (docs/benchmarks.md, eleventh run). Stadig's statements are short; none gains from it.
            if (!(builder.Options ?? "").Contains("jit", StringComparison.Ordinal))
                builder.Options = ((builder.Options ?? "") + " -c jit=off").Trim();
            // Each new connection is a new server process that loads its catalog caches and plans and
            // prepares every statement anew (the two-word search's generic plan: ~12 ms): the warmed
            // ones are kept, not closed after idling, so that a clinician's request never pays for that.
            if (WarmConnections > 0 && !connectionString.Contains("Minimum Pool Size", StringComparison.OrdinalIgnoreCase)
                && !connectionString.Contains("MinPoolSize", StringComparison.OrdinalIgnoreCase))
                builder.MinPoolSize = Math.Min(WarmConnections, builder.MaxPoolSize);
            _postgres = BuildSource(builder.ConnectionString, "stadig", this);
            _probeConnectionString = new NpgsqlConnectionStringBuilder(builder.ConnectionString) { Pooling = false, Timeout = 5 }.ConnectionString;
            if (!string.IsNullOrWhiteSpace(replicaConnectionString))
            {
                var replica = new NpgsqlConnectionStringBuilder(replicaConnectionString);
                // The primary's session settings, so a statement plans and behaves the same on either.
                replica.NoResetOnClose = builder.NoResetOnClose;
                replica.MaxAutoPrepare = builder.MaxAutoPrepare;
                replica.Options = builder.Options;
                _replica = BuildSource(replica.ConnectionString, "stadig-replica", this);
            }
        }
        else if (!string.IsNullOrWhiteSpace(replicaConnectionString))
        {
            throw new ArgumentException("A replica is for PostgreSQL only: SQLite has no streaming replicas.", nameof(replicaConnectionString));
        }
        else
        {
            var builder = new SqliteConnectionStringBuilder(connectionString) { Pooling = true };
            var directory = Path.GetDirectoryName(Path.GetFullPath(builder.DataSource));
            if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
            _sqliteConnectionString = builder.ToString();
            _probeConnectionString = new SqliteConnectionStringBuilder(_sqliteConnectionString) { Pooling = false }.ToString();
            if (builder.Mode != SqliteOpenMode.Memory && builder.DataSource is not ("" or ":memory:")) _sqliteFile = Path.GetFullPath(builder.DataSource);
        }
    }

    private static NpgsqlDataSource BuildSource(string connectionString, string name, Database database)
    {
        var source = new NpgsqlDataSourceBuilder(connectionString)
        {
            // The pool's name in the pool metrics: without one Npgsql names it by the connection string.
            Name = name,
        };
        // A new physical connection is a new server process, cold: counted for the request that opened
        // it (Server-Timing db-connects) and in all, so that a test can tell a warmed pool from a cold one.
        source.UsePhysicalConnectionInitializer(_ => database.CountConnect(), _ =>
        {
            database.CountConnect();
            return Task.CompletedTask;
        });
        // Npgsql's spans carry the statement's text with its placeholders ($1), never parameter
        // values; the first-response event is noise per command.
        source.ConfigureTracing(tracing => tracing.EnableFirstResponseEvent(false));
        return source.Build();
    }

    public DatabaseEngine Engine { get; }

    /// <summary>PostgreSQL connections the pool keeps open and the warm-up prepares (0: none; SQLite: 0).</summary>
    public int WarmConnections { get; }

    private long _connects;

    /// <summary>PostgreSQL connections opened to the server (new server processes) since start, the replica's included.</summary>
    public long Connects => Interlocked.Read(ref _connects);

    private void CountConnect()
    {
        Interlocked.Increment(ref _connects);
        RequestCost.Current?.AddConnect();
    }

    /// <summary>The clock of the times in <see cref="Writes"/> and <see cref="Connectivity"/>.</summary>
    public TimeProvider Clock { get; set; } = TimeProvider.System;

    /// <summary>Whether the primary answers now; see <see cref="DatabaseConnectivity"/>.</summary>
    public DatabaseConnectivity Connectivity { get; } = new();

    /// <summary>Whether a streaming replica is configured.</summary>
    public bool HasReplica => _replica is not null;

    private static readonly AsyncLocal<bool> ReplicaPreferred = new();

    /// <summary>
    /// Until disposed, connections this flow of control opens for reads go to the streaming replica
    /// when one is configured and answers (else to the primary): for reads that tolerate the replica's
    /// lag — a FHIR search by an integration, a bulk export, log review, the downtime snapshots. Never
    /// for what a clinician has just written (the chart, the note editor): that stays on the primary.
    /// Transactions (<see cref="InUnscopedTransactionAsync{T}"/>) and audit events always go to the
    /// primary; a write on a replica connection is a bug and fails as one (never as read-only mode).
    /// <code>using (database.PreferReplica()) { … reads … }</code>
    /// </summary>
    public ReplicaScope PreferReplica()
    {
        // Set here, not in an async method: a flow's value set inside an awaited call is lost when it returns.
        var scope = new ReplicaScope(ReplicaPreferred.Value);
        ReplicaPreferred.Value = true;
        return scope;
    }

    public sealed class ReplicaScope : IDisposable
    {
        private readonly bool _previous;
        internal ReplicaScope(bool previous) => _previous = previous;
        public void Dispose() => ReplicaPreferred.Value = _previous;
    }

    /// <summary>Whether this flow's reads go to a replica (<see cref="PreferReplica"/> with one configured): then they are not batched with writes.</summary>
    internal bool ReadsFromReplica => _replica is not null && ReplicaPreferred.Value;

    /// <summary>A connection for reads that tolerate a replica's lag (see <see cref="PreferReplica"/>); dispose it.</summary>
    internal async Task<DbConnection> OpenReplicaTolerantAsync(CancellationToken cancellationToken = default)
    {
        using (PreferReplica()) return await OpenUnscopedAsync(cancellationToken);
    }

    /// <summary>Whether this node may write now (read-only mode: docs/operations.md, "Read-only mode").</summary>
    public Downtime.WriteAvailability Writes { get; } = new();

    /// <summary>
    /// Closes the pooled connections: after the server went away they are broken, and a PostgreSQL
    /// session's read-only default is fixed when it connects (after the database changed between
    /// writable and not, only fresh sessions tell).
    /// </summary>
    public void ClearPool()
    {
        if (_postgres is not null) _postgres.Clear();
        else SqliteConnection.ClearPool(new SqliteConnection(_sqliteConnectionString));
    }

    /// <summary>
    /// A failure that means the primary is gone: marks it lost (the first time: clears the pool, whose
    /// connections went with the server, and with a replica makes the node read-only while reads go
    /// on from the replica). True when the failure was of that kind.
    /// </summary>
    public bool NoteFailure(Exception exception)
    {
        if (_postgres is null || !DatabaseConnectivity.IsConnectionLost(exception)) return false;
        var now = Clock.GetUtcNow();
        if (Connectivity.MarkPrimaryLost(now, exception))
        {
            _postgres.Clear();
            if (_replica is not null) Writes.DatabaseRefused(now);
        }
        return true;
    }

    /// <summary>
    /// Tries a fresh connection to the primary (not from the pool). When it answers after a loss, the
    /// pool is cleared again (connections made during the failover may lead to the old server) and
    /// the loss ends. True when the primary answered.
    /// </summary>
    public async Task<bool> TryReachPrimaryAsync(CancellationToken cancellationToken = default)
    {
        if (_postgres is null) return true;
        try
        {
            await using var connection = new NpgsqlConnection(_probeConnectionString);
            await connection.OpenAsync(cancellationToken);
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT 1";
            await command.ExecuteScalarAsync(cancellationToken);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or IOException or System.Net.Sockets.SocketException)
        {
            return false;
        }
        if (Connectivity.MarkPrimaryBack()) _postgres.Clear();
        return true;
    }

    /// <summary>
    /// Whether the database takes a write now, at the cost of one statement that changes nothing: an
    /// UPDATE of no row is still refused by a read-only transaction or a hot standby; on SQLite, a
    /// row inserted and rolled back is refused by a read-only file.
    /// A full disk shows only on a real write (<see cref="Downtime.WriteAvailability.IsRefusal"/>). Null: cannot tell now.
    /// </summary>
    public async Task<bool?> ProbeWritableAsync(CancellationToken cancellationToken = default)
    {
        // SQLite in this process may hand a new connection a file handle left open by an earlier one
        // (the unix VFS reuses them while another connection holds a lock), which still writes after
        // the file has been made read-only: ask the file system itself first (access(2)).
        if (_sqliteFile is not null && File.Exists(_sqliteFile) && !SqliteFileWritable(_sqliteFile)) return false;
        try
        {
            // A session of its own: a pooled one may predate the change (see ClearPool).
            await using DbConnection connection = _postgres is not null ? new NpgsqlConnection(_probeConnectionString) : new SqliteConnection(_probeConnectionString);
            await connection.OpenAsync(cancellationToken);
            if (_postgres is not null && Connectivity.MarkPrimaryBack()) _postgres.Clear();
            await using var command = connection.CreateCommand();
            // SQLite finds out only when a page is about to change: a row written and rolled back.
            command.CommandText = _postgres is not null
                ? "UPDATE installation SET value = value WHERE 1 = 0"
                : "BEGIN IMMEDIATE; INSERT INTO installation (key, value) VALUES ('write-probe', ''); ROLLBACK;";
            await command.ExecuteNonQueryAsync(cancellationToken);
            return true;
        }
        catch (Exception e) when (Downtime.WriteAvailability.IsRefusal(e))
        {
            return false;
        }
        catch (SqliteException e) when (e.SqliteErrorCode == 5)
        {
            // SQLITE_BUSY: another connection holds the write lock (that lock lives in the -shm file, which
            // may be writable while the database file is not): this probe cannot tell.
            return null;
        }
    }

    // access(2), not an open: closing any descriptor of the file would drop the POSIX locks SQLite's
    // other connections in this process hold on it.
    private static bool SqliteFileWritable(string file) => OperatingSystem.IsWindows() || access(file, 2 /* W_OK */) == 0;

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int access([System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string path, int mode);

    /// <summary>A connection outside any patient data scope: the checkpoint, migrations, seeding, directory and audit tables (see the class summary).</summary>
    internal async Task<DbConnection> OpenUnscopedAsync(CancellationToken cancellationToken = default)
    {
        if (CurrentRollBack.Value is { IsActive: true, Scratch: { } scratch }) return await scratch.LeaseAsync(cancellationToken);
        if (CurrentRollBack.Value is { IsActive: true, Pin: { } pin }) return await pin.LeaseAsync(cancellationToken);
        return await OpenEngineAsync(cancellationToken);
    }

    /// <summary>A connection to the primary whatever the flow prefers (<see cref="PreferReplica"/>): for writes.</summary>
    internal async Task<DbConnection> OpenPrimaryAsync(CancellationToken cancellationToken = default)
    {
        if (CurrentRollBack.Value is { IsActive: true, Scratch: { } scratch }) return await scratch.LeaseAsync(cancellationToken);
        if (CurrentRollBack.Value is { IsActive: true, Pin: { } pin }) return await pin.LeaseAsync(cancellationToken);
        return await OpenEngineAsync(cancellationToken, primaryOnly: true);
    }

    /// <summary>
    /// A connection of the primary's pool held open until disposed (then back in the pool), for the start-up
    /// warm-up: pins held at once are each a connection of its own. With <paramref name="prepare"/>, every
    /// statement run on it through <see cref="RollBackEverything(ConnectionPin)"/> or <see cref="Scratch(ConnectionPin)"/>
    /// is prepared explicitly: it stays prepared on that connection (with its generic plan, where the
    /// statement asks for one) for as long as the connection lives, instead of after its fifth use there
    /// (Npgsql's automatic preparation).
    /// </summary>
    public async Task<ConnectionPin> PinAsync(bool prepare, CancellationToken cancellationToken = default)
    {
        if (CurrentRollBack.Value is { IsActive: true }) throw new InvalidOperationException("A connection cannot be pinned inside a roll-back scope.");
        return new ConnectionPin((CountedConnection)await OpenEngineAsync(cancellationToken, primaryOnly: true), prepare);
    }

    /// <summary>One open connection lent to one step at a time (see <see cref="PinAsync"/>).</summary>
    public sealed class ConnectionPin : IAsyncDisposable
    {
        private readonly SemaphoreSlim _turn = new(1, 1);

        internal ConnectionPin(CountedConnection connection, bool prepare)
        {
            Connection = connection;
            Prepare = prepare;
        }

        internal CountedConnection Connection { get; }

        internal bool Prepare { get; }

        /// <summary>The server process's id (PostgreSQL): which connection this is.</summary>
        public int ServerProcessId => (CountedConnection.Unwrap(Connection) as NpgsqlConnection)?.ProcessID ?? 0;

        internal async Task<DbConnection> LeaseAsync(CancellationToken cancellationToken)
        {
            // A page's components load side by side; one connection runs one command at a time. A step
            // that opened a second connection while it held the first would wait for itself: it fails instead of hanging.
            if (!await _turn.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken))
                throw new InvalidOperationException("The pinned connection was not given back in time (a step holding it opened another).");
            return Lend(Connection, null, Prepare, () => _turn.Release());
        }

        public ValueTask DisposeAsync() => Connection.DisposeAsync();
    }

    /// <summary>A lease of <paramref name="connection"/>: closing it gives the turn back and leaves the connection open.</summary>
    private static CountedConnection Lend(CountedConnection connection, DbTransaction? scratch, bool prepare, Action release) =>
        connection is Counted.NpgsqlConnection
            ? new Counted.NpgsqlConnection((NpgsqlConnection)connection.Inner) { Lent = true, Scratch = scratch, PrepareStatements = prepare, ScratchRelease = release }
            : new CountedConnection(connection.Inner) { Lent = true, Scratch = scratch, PrepareStatements = prepare, ScratchRelease = release };

    private async Task<DbConnection> OpenEngineAsync(CancellationToken cancellationToken, bool primaryOnly = false)
    {
        if (_postgres is not null)
        {
            // While the primary is lost every connection goes to the replica (writes are refused there,
            // as read-only mode expects); otherwise only reads that asked for it.
            var primaryLost = Connectivity.PrimaryLost;
            if (_replica is not null && (primaryLost || (!primaryOnly && ReplicaPreferred.Value)) && !Connectivity.ReplicaResting(Clock.GetUtcNow()))
            {
                try
                {
                    var replica = new Counted.NpgsqlConnection(await _replica.OpenConnectionAsync(cancellationToken)) { ReadsOnly = !primaryLost };
                    Connectivity.MarkReplicaBack();
                    return replica;
                }
                catch (Exception e) when (DatabaseConnectivity.IsConnectionLost(e))
                {
                    // The primary has everything the replica has: the read goes there (unless it is gone too).
                    Connectivity.MarkReplicaLost(Clock.GetUtcNow());
                    _replica.Clear();
                }
            }
            Npgsql.NpgsqlConnection opened;
            try
            {
                opened = await _postgres.OpenConnectionAsync(cancellationToken);
            }
            catch (Exception e)
            {
                NoteFailure(e);
                throw;
            }
            // A connection made after the loss (the pool was cleared then) is to whoever answers now.
            if (primaryLost && _replica is null) Connectivity.MarkPrimaryBack();
            return new Counted.NpgsqlConnection(opened);
        }

        var connection = new CountedConnection(new SqliteConnection(_sqliteConnectionString));
        await connection.OpenAsync(cancellationToken);
        // WAL lets readers go on while one writer writes; busy_timeout queues writers instead of failing them.
        await using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;";
        await pragma.ExecuteNonQueryAsync(cancellationToken);
        return connection;
    }

    /// <summary>
    /// SQLite keeps no statistics unless asked, and without them its planner guesses: it took a unit's
    /// covering index over the patient's for a patient's care relations and encounters (every relation
    /// of the unit walked, on every read: 4 ms a FHIR read at 20,000 relations, growing with the unit;
    /// docs/benchmarks.md, tenth run). <c>PRAGMA optimize</c> analyses the tables whose statistics are
    /// missing or out of date, each on a sample (<c>analysis_limit</c>), so it is cheap enough to run at
    /// start and every hour (Stadig.Hosting.SqliteStatistics). PostgreSQL's autovacuum
    /// keeps its own statistics: nothing to do there.
    /// </summary>
    public async Task RefreshStatisticsAsync(CancellationToken cancellationToken = default)
    {
        if (Engine != DatabaseEngine.Sqlite) return;
        await using var connection = await OpenUnscopedAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        // 0x10002: every table, not only those this connection has queried (SQLite's advice for a long-lived process).
        command.CommandText = "PRAGMA analysis_limit=400; PRAGMA optimize=0x10002;";
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Runs <paramref name="work"/> in one transaction outside any patient data scope: all of it is stored, or none.</summary>
    internal async Task<T> InUnscopedTransactionAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenPrimaryAsync(cancellationToken);
        await using var transaction = await BeginAsync(connection, cancellationToken);
        var result = await work(connection, transaction);
        await CommitAsync(transaction, cancellationToken);
        return result;
    }

    private static readonly AsyncLocal<RollBackScope?> CurrentRollBack = new();

    /// <summary>
    /// Until the scope is disposed, every transaction committed through <see cref="CommitAsync"/> in this
    /// flow of control is rolled back instead: the start-up warm-up runs the real use cases (their audit
    /// events included) and keeps none of it. Only code in the same async flow is affected, so requests
    /// served meanwhile commit as always.
    /// </summary>
    public static RollBackScope RollBackEverything() => CurrentRollBack.Value = new RollBackScope();

    /// <summary><see cref="RollBackEverything()"/>, with every connection the flow opens being <paramref name="pin"/>'s (null: as always).</summary>
    public static RollBackScope RollBackEverything(ConnectionPin? pin) => CurrentRollBack.Value = new RollBackScope { Pin = pin };

    /// <summary>The statement that switches a transaction to generic plans; a command holding it is prepared explicitly (CountedConnection).</summary>
    internal const string GenericPlanSetting = "SET LOCAL plan_cache_mode = force_generic_plan";

    /// <summary>The statement that puts a transaction back on the connection's own rule (force_custom_plan, or what its connection string says).</summary>
    internal const string SessionPlanSetting = "SET LOCAL plan_cache_mode = DEFAULT";

    /// <summary>
    /// On PostgreSQL, <paramref name="sql"/> run on the generic plans of its prepared statements, made
    /// once per connection, instead of a plan made for each execution (every other statement's rule:
    /// force_custom_plan). Only for statements whose best plan does not depend on their values (index
    /// lookups by key, an append): planning the checkpoint's deciding statement took 1.1 ms against
    /// 0.3 ms of running it (docs/benchmarks.md, "Fourth quiet-machine run": "Where the one round trip's time went"). <paramref name="customFirst"/>
    /// runs before the switch, on per-execution plans. One round trip still: the setting ends with the
    /// transaction. Inside a transaction of the caller's (<paramref name="inTransaction"/>, or a
    /// scratch scope's) only SET LOCAL, since a COMMIT here would end the caller's transaction.
    /// </summary>
    public string OnGenericPlan(string sql, string customFirst = "", bool inTransaction = false)
    {
        if (Engine != DatabaseEngine.Postgres) return customFirst + sql;
        var generic = $"{customFirst}{GenericPlanSetting};\n{sql}";
        return inTransaction || InScratch ? generic : $"BEGIN;\n{Terminated(generic)}\nCOMMIT";
    }

    /// <summary>
    /// <see cref="OnGenericPlan"/> for statements that others follow, in the same batch or in the caller's
    /// transaction (<paramref name="inTransaction"/>): inside a transaction the setting is put back after
    /// <paramref name="sql"/> (<see cref="SessionPlanSetting"/>), so that what follows is planned for its values as
    /// always; outside one, the batch's own BEGIN … COMMIT ends it. Ends with its semicolon.
    /// For the access facts and the audit append, which every request that touches a patient runs: planned
    /// for each execution they spent 0.5–0.7 ms planning against 0.1–0.3 running (docs/benchmarks.md, eleventh run).
    /// </summary>
    public string OnGenericPlanAlone(string sql, bool inTransaction)
    {
        if (Engine != DatabaseEngine.Postgres) return Terminated(sql);
        return inTransaction || InScratch
            ? $"{GenericPlanSetting};\n{Terminated(sql)}\n{SessionPlanSetting};"
            : Terminated(OnGenericPlan(sql));
    }

    /// <summary><paramref name="sql"/> ending with its semicolon, so that another statement may follow it in one batch.</summary>
    public static string Terminated(string sql) => sql.TrimEnd().EndsWith(';') ? sql : sql + ";";

    /// <summary>Whether this flow of control is inside <see cref="RollBackEverything"/>: work that would commit on its own must take a transaction to roll back.</summary>
    internal static bool RollingBack => CurrentRollBack.Value is { IsActive: true };

    /// <summary>Commits, or rolls back inside <see cref="RollBackEverything"/>.</summary>
    public static async Task CommitAsync(DbTransaction transaction, CancellationToken cancellationToken = default)
    {
        // In a scratch scope the transaction is a savepoint of the scope's own, which is never committed.
        if (CurrentRollBack.Value is { IsActive: true, Scratch: null } scope)
        {
            await transaction.RollbackAsync(cancellationToken);
            Interlocked.Increment(ref scope.RolledBackCount);
            return;
        }
        // Never cancelled: PostgreSQL answers a commit cancelled while it waits for the synchronous standby
        // as done (committed here, perhaps not there), which a failover could then lose. The connection
        // reports that answer too (Counted.NpgsqlConnection), for commits made elsewhere.
        _ = cancellationToken;
        await transaction.CommitAsync(CancellationToken.None);
    }

    public class RollBackScope : IDisposable
    {
        internal int RolledBackCount;

        public bool IsActive { get; protected set; } = true;

        /// <summary>How many transactions were rolled back instead of committed.</summary>
        public int RolledBack => Volatile.Read(ref RolledBackCount);

        internal virtual ScratchScope? Scratch => null;

        internal ConnectionPin? Pin { get; init; }

        // Work started inside the scope that outlives it (nothing does today) would commit again.
        public virtual void Dispose() => IsActive = false;
    }

    /// <summary>
    /// A scope in which every connection opened is the same one, inside one transaction that is rolled
    /// back when the scope ends: steps that each "commit" (register a patient, then write a note for
    /// them) see each other's work, and nothing of it is ever visible to anyone else or kept. The
    /// start-up warm-up runs the note path through it for a patient of its own. Its locks are held
    /// until the end, so nothing in it may lock a row others need: the system audit chain is refused
    /// (<see cref="InScratch"/>), and the rows it writes are its own new ones.
    /// </summary>
    public ScratchScope Scratch() => Scratch(null);

    /// <summary><see cref="Scratch()"/> on <paramref name="pin"/>'s connection (null: one of its own), which stays open after the scope.</summary>
    public ScratchScope Scratch(ConnectionPin? pin)
    {
        if (CurrentRollBack.Value is { IsActive: true }) throw new InvalidOperationException("A scratch scope cannot begin inside another roll-back scope.");
        // Set here, not in an async method: a flow's value set inside an awaited call is lost when it returns.
        var scope = new ScratchScope(this, pin);
        CurrentRollBack.Value = scope;
        return scope;
    }

    /// <summary>Whether this flow of control is in a scratch scope (whose transaction holds its locks until the scope ends).</summary>
    public static bool InScratch => CurrentRollBack.Value is { IsActive: true, Scratch: not null };

    /// <summary>Makes this flow of control (e.g. a request the scope's owner sent) run in <paramref name="scope"/> too.</summary>
    public static void Join(ScratchScope scope) => CurrentRollBack.Value = scope;

    public sealed class ScratchScope : RollBackScope, IAsyncDisposable
    {
        private readonly Database _database;
        private readonly ConnectionPin? _pin;
        private readonly SemaphoreSlim _turn = new(1, 1);
        private CountedConnection? _connection;
        private DbTransaction? _transaction;

        internal ScratchScope(Database database, ConnectionPin? pin)
        {
            _database = database;
            _pin = pin;
        }

        internal override ScratchScope? Scratch => IsActive ? this : null;

        /// <summary>
        /// The scope's connection (opened, with its transaction, on first use), in a wrapper whose
        /// closing leaves it open; the PostgreSQL one keeps Dapper's name for array parameters.
        /// </summary>
        internal async Task<DbConnection> LeaseAsync(CancellationToken cancellationToken)
        {
            // One lease at a time: a page's components load side by side, and one connection runs one
            // command (and one savepoint) at a time. A step that opened a second connection while it
            // held the first would wait for itself: it fails the scope instead of hanging.
            if (!await _turn.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken))
                throw new InvalidOperationException("The scratch scope's connection was not given back in time (a step holding it opened another).");
            try
            {
                if (_connection is null)
                {
                    var connection = _pin?.Connection ?? (CountedConnection)await _database.OpenEngineAsync(cancellationToken);
                    _transaction = await _database.BeginAsync(connection, cancellationToken);
                    _connection = connection;
                }
                return Lend(_connection, CountedConnection.Unwrap(_transaction!), _pin?.Prepare == true, () => _turn.Release());
            }
            catch
            {
                _turn.Release();
                throw;
            }
        }

        public override void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

        public async ValueTask DisposeAsync()
        {
            if (!IsActive) return;
            IsActive = false;
            if (_transaction is not null)
            {
                await _transaction.RollbackAsync();
                Interlocked.Increment(ref RolledBackCount);
                await _transaction.DisposeAsync();
            }
            // A pinned connection is its pin's, open until the pin is disposed.
            if (_connection is not null && _pin is null) await _connection.DisposeAsync();
        }
    }

    public async Task<DbTransaction> BeginAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        if (connection is CountedConnection { Scratch: not null } scratch) return await scratch.BeginScratchAsync(cancellationToken);
        if (CountedConnection.Unwrap(connection) is SqliteConnection sqlite)
        {
            // Deferred SQLite transactions that later write can fail with SQLITE_BUSY without waiting;
            // taking the write lock up front makes concurrent writers queue on busy_timeout instead.
            var begun = sqlite.BeginTransaction(deferred: false);
            return connection is CountedConnection counted ? counted.Adopt(begun) : begun;
        }
        return await connection.BeginTransactionAsync(cancellationToken);
    }

    /// <summary>
    /// "column is one of the ids in @parameter" for either engine: an array on PostgreSQL, an
    /// expanded list of the ids' text form on SQLite (where ids are stored as text). Pair with
    /// <see cref="AddIds"/>.
    /// </summary>
    public string AnyOf(string column, string parameter) =>
        Engine == DatabaseEngine.Postgres ? $"{column} = ANY(@{parameter})" : $"{column} IN @{parameter}";

    public void AddIds(Dapper.DynamicParameters parameters, string name, IEnumerable<Guid> ids)
    {
        if (Engine == DatabaseEngine.Postgres) parameters.Add(name, ids.ToArray());
        else parameters.Add(name, ids.Select(id => id.ToString()).ToArray());
    }

    /// <summary>Whether the database answers, for readiness checks.</summary>
    public async Task PingAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenUnscopedAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT 1";
        await command.ExecuteScalarAsync(cancellationToken);
    }

    public bool IsUniqueViolation(Exception exception) => exception switch
    {
        PostgresException pg => pg.SqlState == PostgresErrorCodes.UniqueViolation,
        SqliteException sqlite => sqlite.SqliteErrorCode == 19 && sqlite.SqliteExtendedErrorCode is 2067 or 1555,
        _ => false,
    };

    public static Database FromConnectionString(string connectionString) => new(EngineOf(connectionString), connectionString);

    /// <summary>A connection string naming a Host is PostgreSQL; anything else is a SQLite file.</summary>
    public static DatabaseEngine EngineOf(string connectionString) =>
        connectionString.Contains("Host=", StringComparison.OrdinalIgnoreCase) ? DatabaseEngine.Postgres : DatabaseEngine.Sqlite;
}
