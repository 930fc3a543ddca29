using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.LabResults;

public sealed record MessageStateCount
{
    public string Direction { get; init; } = "";
    public string State { get; init; } = "";
    public long Count { get; init; }
}

public sealed record StuckMessage
{
    public Guid Id { get; init; }
    public string Direction { get; init; } = "";
    public string ControlId { get; init; } = "";
    public string SendingFacility { get; init; } = "";
    public string MessageType { get; init; } = "";
    public string State { get; init; } = "";
    public DateTimeOffset Since { get; init; }
}

public sealed record MessageOverview(
    IReadOnlyList<MessageStateCount> Counts,
    DateTimeOffset? OldestUnfinished,
    IReadOnlyList<StuckMessage> Stuck,
    TimeSpan StuckAfter)
{
    /// <summary>Inbound messages still Received after <see cref="StuckAfter"/>: taken in, never answered (the watchdog's alarm).</summary>
    public long Unanswered { get; init; }
}

/// <summary>
/// Where every message is: counts per state, the oldest unfinished one, and those stuck longer than
/// the configured time (received but not decided, or waiting in quarantine). No message disappears:
/// each stays in hl7_message with its state history.
/// </summary>
public sealed class MessageTracking(Database database, AuditLog audit, TimeProvider clock)
{
    public static bool MayView(Role role) => role is Role.Administrator or Role.LabStaff;

    /// <summary>States in which a message still waits for something.</summary>
    public static readonly string[] Unfinished = ["Received", "Quarantined", "Queued", "Sent", "Failed"];

    public async Task<MessageOverview> OverviewAsync(Caller caller, TimeSpan stuckAfter, CancellationToken cancellationToken = default)
    {
        if (!MayView(caller.Role)) throw new ForbiddenException("Din roll får inte se meddelandeflödet.");
        var threshold = clock.GetUtcNow() - stuckAfter;
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        var counts = (await connection.QueryAsync<MessageStateCount>(
            "SELECT direction AS Direction, state AS State, COUNT(*) AS Count FROM hl7_message GROUP BY direction, state ORDER BY direction, state")).ToList();
        // Quarantined counts as finished for the lab once someone resolved it; open quarantine items wait.
        // ORDER BY … LIMIT 1 rather than MIN(): no row (not a NULL) when nothing waits.
        var oldest = (await connection.QueryAsync<DateTimeOffset>(
            """
            SELECT m.state_changed_at FROM hl7_message m
            WHERE m.state IN ('Received', 'Queued', 'Sent', 'Failed')
               OR (m.state = 'Quarantined' AND EXISTS (SELECT 1 FROM result_quarantine q WHERE q.message_id = m.id AND q.state = 'Open'))
            ORDER BY m.state_changed_at LIMIT 1
            """)).Cast<DateTimeOffset?>().FirstOrDefault();
        var stuck = (await connection.QueryAsync<StuckMessage>(
            """
            SELECT m.id AS Id, m.direction AS Direction, COALESCE(m.control_id, '') AS ControlId, m.sending_facility AS SendingFacility,
                   m.message_type AS MessageType, m.state AS State, m.state_changed_at AS Since
            FROM hl7_message m
            WHERE m.state_changed_at < @threshold
              AND (m.state IN ('Received', 'Queued', 'Sent', 'Failed')
                   OR (m.state = 'Quarantined' AND EXISTS (SELECT 1 FROM result_quarantine q WHERE q.message_id = m.id AND q.state = 'Open')))
            ORDER BY m.state_changed_at LIMIT 200
            """, new { threshold })).ToList();
        var unanswered = await connection.ExecuteScalarAsync<long>(UnansweredSql, new { Inbound = IngestOruMessage.Inbound, threshold });
        await audit.AppendAsync(new AuditEntry(caller, null, AuditActivity.Read, "MessageTracking", Detail: $"{stuck.Count} fastnade"), cancellationToken);
        return new MessageOverview(counts, oldest, stuck, stuckAfter) { Unanswered = unanswered };
    }

    /// <summary>
    /// Counts of messages in the states that still wait (the queue depths, for metrics): counts only,
    /// no patient data, and read through the state index, so it stays cheap however many messages are filed.
    /// </summary>
    public async Task<IReadOnlyList<MessageStateCount>> UnfinishedCountsAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        return (await connection.QueryAsync<MessageStateCount>(new CommandDefinition(UnfinishedCountsSql, cancellationToken: cancellationToken))).ToList();
    }

    // The states are constants, written into the statement: a list parameter is an array on one engine and expanded on the other.
    private static readonly string UnfinishedCountsSql =
        $"SELECT direction AS Direction, state AS State, COUNT(*) AS Count FROM hl7_message WHERE state IN ({string.Join(", ", Unfinished.Select(s => $"'{s}'"))}) GROUP BY direction, state";

    private const string UnansweredSql =
        "SELECT COUNT(*) FROM hl7_message WHERE direction = @Inbound AND state = 'Received' AND state_changed_at < @threshold";

    /// <summary>
    /// The watchdog: inbound messages still Received longer than <paramref name="stuckAfter"/>. Ingest ends
    /// every message it returns from in a decided state, so one left Received means a crash or a hang
    /// mid-ingest, and its sender got no ACK. A count only (no patient data), for /health/ready.
    /// </summary>
    public async Task<long> UnansweredCountAsync(TimeSpan stuckAfter, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long>(UnansweredSql, new { Inbound = IngestOruMessage.Inbound, threshold = clock.GetUtcNow() - stuckAfter });
    }
}
