using Microsoft.Data.Sqlite;
using Npgsql;

namespace Stadig.Downtime;

/// <summary>Why this node does not write: the database refuses, or an operator said so.</summary>
public enum ReadOnlyCause
{
    None,
    Database,
    Operator,
}

/// <summary>
/// Whether this node may write, and since when it may not. The database's refusals are learnt two
/// ways: from the error class of a failed write (<see cref="IsRefusal"/>), and from the periodic
/// probe (<see cref="ReadOnlyMode.ProbeAsync"/>), so the banner shows before anyone's write fails.
/// An operator's switch is read from the database by the same probe, so every node agrees.
/// </summary>
public sealed class WriteAvailability
{
    private readonly Lock _gate = new();
    private DateTimeOffset? _databaseSince;
    private DateTimeOffset? _operatorSince;

    public bool CanWrite
    {
        get { lock (_gate) return _databaseSince is null && _operatorSince is null; }
    }

    /// <summary>The database itself refuses writes (as opposed to an operator's switch, under which it still could).</summary>
    public bool DatabaseRefusing
    {
        get { lock (_gate) return _databaseSince is not null; }
    }

    /// <summary>Since when this node has been read-only (the earlier cause), or null while it writes.</summary>
    public DateTimeOffset? ReadOnlySince
    {
        get
        {
            lock (_gate)
                return _databaseSince is { } d && _operatorSince is { } o ? (d < o ? d : o) : _databaseSince ?? _operatorSince;
        }
    }

    public ReadOnlyCause Cause
    {
        get { lock (_gate) return _databaseSince is not null ? ReadOnlyCause.Database : _operatorSince is not null ? ReadOnlyCause.Operator : ReadOnlyCause.None; }
    }

    /// <summary>
    /// Where read events' audit records are held while the database refuses writes (null: nowhere,
    /// and reads are refused too, since a read is never shown unaudited).
    /// </summary>
    public string? AuditSpoolFolder { get; set; }

    /// <summary>Set when this node's configuration says read-only (Stadig:Downtime:ReadOnly): the time it started so.</summary>
    public DateTimeOffset? ConfiguredSince { get; set; }

    /// <summary>The seconds a refused client is told to wait (Retry-After): the probe's interval.</summary>
    public int RetryAfterSeconds { get; set; } = 10;

    /// <summary>The database refused a write (or the probe): read-only from <paramref name="now"/> unless already.</summary>
    public void DatabaseRefused(DateTimeOffset now)
    {
        lock (_gate) _databaseSince ??= now;
    }

    /// <summary>The database took a write again. True when that ends a refusal.</summary>
    public bool DatabaseAccepted()
    {
        lock (_gate)
        {
            var was = _databaseSince is not null;
            _databaseSince = null;
            return was;
        }
    }

    /// <summary>The operator's switch as stored: on since a time, or off (null).</summary>
    public void OperatorSwitch(DateTimeOffset? since)
    {
        lock (_gate) _operatorSince = since;
    }

    /// <summary>
    /// Whether a failure is the database refusing writes: PostgreSQL's read_only_sql_transaction
    /// (25006: a read-only default, a hot standby) or disk_full (53100); SQLite's SQLITE_READONLY (8,
    /// a read-only file or folder) or SQLITE_FULL (13).
    /// </summary>
    public static bool IsRefusal(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is PostgresException { SqlState: "25006" or "53100" }) return true;
            if (e is SqliteException { SqliteErrorCode: 8 or 13 }) return true;
        }
        return false;
    }
}

/// <summary>A write refused because the node is read-only: answered 503 with Retry-After, never 500.</summary>
public sealed class ReadOnlyException(string message = ReadOnlyException.DefaultMessage) : Common.StadigException(message)
{
    public const string DefaultMessage = "Stadig är i läsläge: inget kan sparas just nu. Försök igen om en stund.";
}
