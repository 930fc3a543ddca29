using System.Net.Sockets;
using Npgsql;

namespace Stadig.Storage;

/// <summary>
/// Whether this node can reach its primary database now (docs/operations.md, "High availability").
/// A failure that means the primary is gone (the server was killed, failed over, or cannot be
/// reached) marks it lost: the pool is cleared once, <c>/health/ready</c> says so, and a background
/// loop (DatabaseReconnectService) tries a fresh connection with a growing pause until one works.
/// With a replica configured, reads go on from it meanwhile and the node is read-only.
/// </summary>
public sealed class DatabaseConnectivity
{
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _lostSignal = new(0, 1);
    private DateTimeOffset? _primaryLostSince;
    private DateTimeOffset? _replicaLostSince;

    /// <summary>Since when the primary has been unreachable, or null while it answers.</summary>
    public DateTimeOffset? PrimaryLostSince
    {
        get { lock (_gate) return _primaryLostSince; }
    }

    public bool PrimaryLost => PrimaryLostSince is not null;

    /// <summary>What the last failure was (its kind and the server's address, never a secret), for the log and the health check.</summary>
    public string? Problem { get; private set; }

    /// <summary>Marks the primary lost; true the first time (the caller then clears the pool and wakes the reconnect loop).</summary>
    public bool MarkPrimaryLost(DateTimeOffset now, Exception cause)
    {
        lock (_gate)
        {
            if (_primaryLostSince is not null) return false;
            _primaryLostSince = now;
            Problem = Describe(cause);
        }
        if (_lostSignal.CurrentCount == 0) _lostSignal.Release();
        return true;
    }

    /// <summary>The primary answered a fresh connection: true when that ends a loss.</summary>
    public bool MarkPrimaryBack()
    {
        lock (_gate)
        {
            var was = _primaryLostSince is not null;
            _primaryLostSince = null;
            Problem = null;
            return was;
        }
    }

    /// <summary>Waits until the primary is lost (the reconnect loop's trigger).</summary>
    public async Task WhenPrimaryLostAsync(CancellationToken cancellationToken)
    {
        while (!PrimaryLost) await _lostSignal.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// The replica failed to answer: reads that prefer it go to the primary for a while (the primary
    /// has everything the replica has), then the replica is tried again.
    /// </summary>
    internal void MarkReplicaLost(DateTimeOffset now)
    {
        lock (_gate) _replicaLostSince ??= now;
    }

    internal void MarkReplicaBack()
    {
        lock (_gate) _replicaLostSince = null;
    }

    internal bool ReplicaResting(DateTimeOffset now)
    {
        lock (_gate) return _replicaLostSince is { } since && now - since < ReplicaRetry;
    }

    /// <summary>How long reads stay off a replica that failed, before it is tried again.</summary>
    public static readonly TimeSpan ReplicaRetry = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Whether a failure means the server is gone or cannot be reached (as opposed to a statement it
    /// refused): the connection broke or was refused, timed out, or the server said it is shutting
    /// down, crashed or is starting (57P01–57P03, class 08). An exhausted pool is overload, not this.
    /// </summary>
    public static bool IsConnectionLost(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case PostgresException pg:
                    return pg.SqlState is "57P01" or "57P02" or "57P03" || pg.SqlState.StartsWith("08", StringComparison.Ordinal);
                case NpgsqlException npgsql when npgsql.Message.Contains("pool", StringComparison.OrdinalIgnoreCase):
                    return false;
                case NpgsqlException { InnerException: SocketException or IOException or EndOfStreamException or TimeoutException }:
                    return true;
                case NpgsqlException { IsTransient: true } when e.InnerException is null:
                    return true;
            }
        }
        return false;
    }

    private static string Describe(Exception e)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
            if (inner is PostgresException pg) return $"{pg.SqlState}: {pg.MessageText}";
        return e.InnerException is { } cause ? $"{e.GetType().Name}: {cause.GetType().Name}" : e.GetType().Name;
    }
}

/// <summary>
/// The database could not be reached, could not confirm a commit, or rolled the transaction back to
/// break a lock conflict with another: nothing is answered as saved.
/// Answered 503 with Retry-After (never 500); the client tries again.
/// </summary>
public sealed class DatabaseUnavailableException(string message = DatabaseUnavailableException.DefaultMessage, Exception? inner = null)
    : Common.StadigException(message)
{
    public const string DefaultMessage = "Databasen går inte att nå just nu: inget sparades. Försök igen om en stund.";

    /// <summary>A commit PostgreSQL made locally but stopped waiting to copy to a standby: it may not survive a failover.</summary>
    public const string UnconfirmedCommit = "Databasen kunde inte bekräfta att ändringen finns på två servrar: försök igen om en stund.";

    /// <summary>PostgreSQL rolled the transaction back to break a deadlock or a serialisation conflict with another one.</summary>
    public const string ConflictRolledBack = "Databasen avbröt ändringen för att den krockade med en annan samtidig ändring: inget sparades. Försök igen.";

    public Exception? Cause { get; } = inner;
}
