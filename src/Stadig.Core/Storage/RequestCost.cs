using System.Diagnostics;

namespace Stadig.Storage;

/// <summary>
/// What one request (or any flow of control that begins one) cost the database: round trips (a
/// command sent, a commit or rollback), the statements in them, and the time spent waiting, with
/// the checkpoint's own phases (access decision, audit append) apart. Begun by the web pipeline for
/// each request and reported in Server-Timing; counting is what the cost tests pin.
/// </summary>
public sealed class RequestCost
{
    private static readonly AsyncLocal<RequestCost?> Flow = new();

    private int _roundTrips;
    private int _statements;
    private int _connects;
    private long _databaseTicks;
    private long _accessTicks;
    private long _auditTicks;

    /// <summary>The cost being counted in this flow of control, or null.</summary>
    public static RequestCost? Current => Flow.Value;

    /// <summary>Counts what this flow of control (and what it starts) does from now on.</summary>
    public static RequestCost Begin() => Flow.Value = new RequestCost();

    public int RoundTrips => Volatile.Read(ref _roundTrips);

    public int Statements => Volatile.Read(ref _statements);

    /// <summary>New database connections (PostgreSQL: new server processes, cold) opened meanwhile, rather than taken from the pool.</summary>
    public int Connects => Volatile.Read(ref _connects);

    internal void AddConnect() => Interlocked.Increment(ref _connects);

    public TimeSpan Database => Stopwatch.GetElapsedTime(0, Volatile.Read(ref _databaseTicks));

    /// <summary>Time in the checkpoint's decision (gathering the facts).</summary>
    public TimeSpan Access => Stopwatch.GetElapsedTime(0, Volatile.Read(ref _accessTicks));

    /// <summary>Time appending audit events.</summary>
    public TimeSpan Audit => Stopwatch.GetElapsedTime(0, Volatile.Read(ref _auditTicks));

    internal void AddCommand(string? sql, long started)
    {
        Interlocked.Increment(ref _roundTrips);
        Interlocked.Add(ref _statements, StatementsIn(sql));
        Interlocked.Add(ref _databaseTicks, Stopwatch.GetTimestamp() - started);
    }

    internal void AddRoundTrip(int statements, long started)
    {
        Interlocked.Increment(ref _roundTrips);
        Interlocked.Add(ref _statements, statements);
        Interlocked.Add(ref _databaseTicks, Stopwatch.GetTimestamp() - started);
    }

    internal static void AddAccess(long started)
    {
        if (Current is { } cost) Interlocked.Add(ref cost._accessTicks, Stopwatch.GetTimestamp() - started);
    }

    internal static void AddAudit(long started)
    {
        if (Current is { } cost) Interlocked.Add(ref cost._auditTicks, Stopwatch.GetTimestamp() - started);
    }

    private static readonly System.Buffers.SearchValues<char> StatementMarks = System.Buffers.SearchValues.Create("'\";-");

    /// <summary>
    /// Statements in one command's text: semicolons outside quotes, comments aside, and a last one without.
    /// Every command passes here, and a checkpoint's batch is some kilobytes: the text between the marks is
    /// skipped by a vectorised search, not read a character at a time.
    /// </summary>
    internal static int StatementsIn(string? sql)
    {
        if (sql is null) return 0;
        var text = sql.AsSpan();
        var count = 0;
        var pending = false;
        while (true)
        {
            var at = text.IndexOfAny(StatementMarks);
            if (!pending && !(at < 0 ? text : text[..at]).IsWhiteSpace()) pending = true;
            if (at < 0) break;
            var mark = text[at];
            text = text[(at + 1)..];
            if (mark is '\'' or '"')
            {
                pending = true;
                var end = text.IndexOf(mark);
                if (end < 0) break;
                text = text[(end + 1)..];
            }
            else if (mark == '-' && text.StartsWith('-'))
            {
                var end = text.IndexOf('\n');
                if (end < 0) break;
                text = text[(end + 1)..];
            }
            else if (mark == '-') pending = true;
            else
            {
                if (pending) count++;
                pending = false;
            }
        }
        return pending ? count + 1 : count;
    }
}
