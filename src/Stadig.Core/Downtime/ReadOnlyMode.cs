using Dapper;
using Microsoft.Extensions.Logging;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Downtime;

/// <summary>
/// Read-only mode (issue 19): the node keeps serving reads while the database refuses writes or an
/// operator has switched writes off, and writes again as soon as both are over. The probe runs on a
/// timer on every node (Stadig:Downtime:ProbeSeconds); the operator's switch is kept in the database,
/// so every node follows it at its next probe.
/// </summary>
public sealed class ReadOnlyMode(Database database, AuditLog audit, TimeProvider clock, ILogger<ReadOnlyMode> logger, DowntimePeriods? periods = null)
{
    private const string SwitchKey = "read_only_since";

    public WriteAvailability Writes => database.Writes;

    /// <summary>Asks the database whether it takes writes and whether the operator's switch is on; when writes are back, chains the held audit events.</summary>
    public async Task ProbeAsync(CancellationToken cancellationToken = default)
    {
        var writable = await database.ProbeWritableAsync(cancellationToken);
        if (writable is null)
        {
            // Another writer held the lock: the state stays as it was until the next probe.
        }
        else if (writable == false)
        {
            if (!Writes.DatabaseRefusing)
            {
                logger.LogWarning("The database refuses writes: this node is read-only until it takes them again");
                // Sessions opened before the change may still write; all sessions answer alike from now on.
                database.ClearPool();
            }
            Writes.DatabaseRefused(clock.GetUtcNow());
        }
        else
        {
            var refusedSince = Writes.DatabaseRefusing ? Writes.ReadOnlySince : null;
            if (Writes.DatabaseAccepted())
            {
                logger.LogWarning("The database takes writes again: this node writes again");
                // Sessions opened while the database refused writes keep refusing them.
                database.ClearPool();
                // What this node saw, pre-filled for the register of downtime periods (an administrator registers it).
                if (periods is not null && refusedSince is { } since)
                {
                    // A convenience for the administrator: a failure here must not stop the node from writing again.
                    try { await periods.SuggestAsync(DowntimeCause.Database, since, clock.GetUtcNow(), cancellationToken); }
                    catch (System.Data.Common.DbException e) { logger.LogWarning(e, "The downtime period this node saw could not be suggested"); }
                }
            }
            if (Writes.AuditSpoolFolder is { } spool && AuditSpool.Count(spool) > 0)
            {
                var added = await AuditSpool.ReplayAsync(spool, audit, cancellationToken);
                logger.LogInformation("Chained {Count} audit events held while the database refused writes", added);
            }
        }
        Writes.OperatorSwitch(Writes.ConfiguredSince ?? await OperatorSwitchAsync(cancellationToken));
    }

    /// <summary>Since when the operator has had writes switched off, or null.</summary>
    public async Task<DateTimeOffset?> OperatorSwitchAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        var value = await connection.QuerySingleOrDefaultAsync<string>("SELECT value FROM installation WHERE key = @SwitchKey", new { SwitchKey });
        return DateTimeOffset.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var since)
            ? since : null;
    }

    /// <summary>
    /// The operator switches writes off (maintenance, a planned failover) or on again, for every
    /// node; audited in the same transaction. Only an administrator may.
    /// </summary>
    public async Task SwitchAsync(Caller caller, bool readOnly, CancellationToken cancellationToken = default)
    {
        if (caller.Role != Role.Administrator) throw new Common.ForbiddenException("Bara en administratör kan slå på eller av läsläget.");
        if (Writes.DatabaseRefusing && !readOnly)
            throw new ReadOnlyException("Databasen tar inte emot skrivningar: läsläget går inte att slå av förrän den gör det.");
        var now = clock.GetUtcNow();
        var switchedOnAt = readOnly ? null : await OperatorSwitchAsync(cancellationToken);
        await database.InUnscopedTransactionAsync(async (c, t) =>
        {
            if (readOnly)
                await c.ExecuteAsync(
                    "INSERT INTO installation (key, value) VALUES (@SwitchKey, @value) ON CONFLICT (key) DO NOTHING",
                    new { SwitchKey, value = now.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture) }, t);
            else
                await c.ExecuteAsync("DELETE FROM installation WHERE key = @SwitchKey", new { SwitchKey }, t);
            await audit.AppendAsync(new AuditEntry(caller, null, AuditActivity.Write, "read-only-mode", Detail: readOnly ? "on" : "off"), c, t);
            return 0;
        }, cancellationToken);
        logger.LogWarning("An administrator switched read-only mode {State}", readOnly ? "on" : "off");
        if (periods is not null && switchedOnAt is { } from) await periods.SuggestAsync(DowntimeCause.Operator, from, now, cancellationToken);
        Writes.OperatorSwitch(Writes.ConfiguredSince ?? await OperatorSwitchAsync(cancellationToken));
    }
}
