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
    private readonly string _sqliteConnectionString = "";
    private readonly string _probeConnectionString;

    public Database(DatabaseEngine engine, string connectionString)
    {
        Engine = engine;
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
            if (!connectionString.Contains("Max Auto Prepare", StringComparison.OrdinalIgnoreCase)
                && !connectionString.Contains("MaxAutoPrepare", StringComparison.OrdinalIgnoreCase))
                builder.MaxAutoPrepare = 50;
            if (!(builder.Options ?? "").Contains("plan_cache_mode", StringComparison.Ordinal))
                builder.Options = ((builder.Options ?? "") + " -c plan_cache_mode=force_custom_plan").Trim();
            var source = new NpgsqlDataSourceBuilder(builder.ConnectionString)
            {
                // The pool's name in the pool metrics: without one Npgsql names it by the connection string.
                Name = "stadig",
            };
            // Npgsql's spans carry the statement's text with its placeholders ($1), never parameter
            // values; the first-response event is noise per command.
            source.ConfigureTracing(tracing => tracing.EnableFirstResponseEvent(false));
            _postgres = source.Build();
            _probeConnectionString = new NpgsqlConnectionStringBuilder(builder.ConnectionString) { Pooling = false, Timeout = 5 }.ConnectionString;
        }
        else
        {
            var builder = new SqliteConnectionStringBuilder(connectionString) { Pooling = true };
            var directory = Path.GetDirectoryName(Path.GetFullPath(builder.DataSource));
            if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
            _sqliteConnectionString = builder.ToString();
            _probeConnectionString = new SqliteConnectionStringBuilder(_sqliteConnectionString) { Pooling = false }.ToString();
        }
    }

    public DatabaseEngine Engine { get; }

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
    /// Whether the database takes a write now, at the cost of one statement that changes nothing: an
    /// UPDATE of no row is still refused by a read-only transaction or a hot standby; on SQLite, a
    /// row inserted and rolled back is refused by a read-only file.
    /// A full disk shows only on a real write (<see cref="Downtime.WriteAvailability.IsRefusal"/>). Null: cannot tell now.
    /// </summary>
    public async Task<bool?> ProbeWritableAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            // A session of its own: a pooled one may predate the change (see ClearPool).
            await using DbConnection connection = _postgres is not null ? new NpgsqlConnection(_probeConnectionString) : new SqliteConnection(_probeConnectionString);
            await connection.OpenAsync(cancellationToken);
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

    /// <summary>A connection outside any patient data scope: the checkpoint, migrations, seeding, directory and audit tables (see the class summary).</summary>
    internal async Task<DbConnection> OpenUnscopedAsync(CancellationToken cancellationToken = default)
    {
        if (_postgres is not null)
        {
            return new Counted.NpgsqlConnection(await _postgres.OpenConnectionAsync(cancellationToken));
        }

        var connection = new CountedConnection(new SqliteConnection(_sqliteConnectionString));
        await connection.OpenAsync(cancellationToken);
        // WAL lets readers go on while one writer writes; busy_timeout queues writers instead of failing them.
        await using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;";
        await pragma.ExecuteNonQueryAsync(cancellationToken);
        return connection;
    }

    /// <summary>Runs <paramref name="work"/> in one transaction outside any patient data scope: all of it is stored, or none.</summary>
    internal async Task<T> InUnscopedTransactionAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenUnscopedAsync(cancellationToken);
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

    /// <summary>Whether this flow of control is inside <see cref="RollBackEverything"/>: work that would commit on its own must take a transaction to roll back.</summary>
    internal static bool RollingBack => CurrentRollBack.Value is { IsActive: true };

    /// <summary>Commits, or rolls back inside <see cref="RollBackEverything"/>.</summary>
    public static async Task CommitAsync(DbTransaction transaction, CancellationToken cancellationToken = default)
    {
        if (CurrentRollBack.Value is { IsActive: true } scope)
        {
            await transaction.RollbackAsync(cancellationToken);
            Interlocked.Increment(ref scope.RolledBackCount);
            return;
        }
        await transaction.CommitAsync(cancellationToken);
    }

    public sealed class RollBackScope : IDisposable
    {
        internal int RolledBackCount;

        public bool IsActive { get; private set; } = true;

        /// <summary>How many transactions were rolled back instead of committed.</summary>
        public int RolledBack => Volatile.Read(ref RolledBackCount);

        // Work started inside the scope that outlives it (nothing does today) would commit again.
        public void Dispose() => IsActive = false;
    }

    public async Task<DbTransaction> BeginAsync(DbConnection connection, CancellationToken cancellationToken)
    {
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
