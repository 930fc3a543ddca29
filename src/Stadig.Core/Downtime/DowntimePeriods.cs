using System.Data.Common;
using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Downtime;

/// <summary>Why Stadig was down or read-only for a period.</summary>
public enum DowntimeCause
{
    /// <summary>The node saw the database refuse writes.</summary>
    Database,
    /// <summary>The operator's read-only switch.</summary>
    Operator,
    /// <summary>Entered by an administrator (Stadig entirely down, a network outage …).</summary>
    Manual,
}

/// <summary>A downtime period: registered by an administrator, or suggested by a node and waiting for one.</summary>
public sealed record DowntimePeriod
{
    public Guid Id { get; init; }
    public DateTimeOffset StartedAt { get; init; }
    public DateTimeOffset EndedAt { get; init; }
    public string Description { get; init; } = "";
    public string Cause { get; init; } = "";
    public DateTimeOffset? SuggestedAt { get; init; }
    public Guid? RegisteredBy { get; init; }
    public string? RegisteredByName { get; init; }
    public DateTimeOffset? RegisteredAt { get; init; }

    /// <summary>Only a registered period admits back-entered records; a suggestion is a node's observation until an administrator confirms it.</summary>
    public bool IsRegistered => RegisteredBy is not null;
}

/// <summary>
/// The register of downtime periods (issue #19 item 3): when Stadig was down or read-only, what
/// happened, and who registered it. Back-entered records name the period their clinical time falls
/// in. Administrators register periods (audited); each node suggests the periods it saw itself
/// (the database refusing writes, the operator's switch), pre-filled for an administrator to register.
/// </summary>
public sealed class DowntimePeriods(Database database, AuditLog audit, RegionTime time, TimeProvider clock)
{
    public const int MaxDescriptionLength = 500;

    /// <summary>A period may not be longer than this: a longer one is almost surely a typing mistake in a date.</summary>
    public static readonly TimeSpan MaxLength = TimeSpan.FromDays(14);

    internal const string Select =
        """
        SELECT p.id AS Id, p.started_at AS StartedAt, p.ended_at AS EndedAt, p.description AS Description, p.cause AS Cause,
               p.suggested_at AS SuggestedAt, p.registered_by AS RegisteredBy, s.display_name AS RegisteredByName, p.registered_at AS RegisteredAt
        FROM downtime_period p LEFT JOIN staff s ON s.id = p.registered_by
        """;

    public static bool MayRegister(Role role) => role == Role.Administrator;

    /// <summary>Registered periods and open suggestions, newest first.</summary>
    public async Task<IReadOnlyList<DowntimePeriod>> ListAsync(CancellationToken cancellationToken = default)
    {
        await using var c = await database.OpenUnscopedAsync(cancellationToken);
        return (await c.QueryAsync<DowntimePeriod>($"{Select} WHERE p.dismissed_at IS NULL ORDER BY p.started_at DESC LIMIT 500")).ToList();
    }

    /// <summary>An administrator registers a period (audited in the same transaction). Refused: end not after start, in the future, too long, overlapping a registered one.</summary>
    public async Task<DowntimePeriod> RegisterAsync(Caller caller, DateTimeOffset startedAt, DateTimeOffset endedAt, string? description,
        CancellationToken cancellationToken = default)
    {
        RequireAdministrator(caller);
        var text = Check(startedAt, endedAt, description);
        var id = Guid.CreateVersion7();
        var now = clock.GetUtcNow();
        await database.InUnscopedTransactionAsync(async (c, t) =>
        {
            await RequireNoOverlapAsync(c, t, startedAt, endedAt, except: null);
            await c.ExecuteAsync(
                """
                INSERT INTO downtime_period (id, started_at, ended_at, description, cause, registered_by, registered_at)
                VALUES (@id, @startedAt, @endedAt, @text, @cause, @staffId, @now)
                """, new { id, startedAt, endedAt, text, cause = nameof(DowntimeCause.Manual), staffId = caller.StaffId, now }, t);
            await audit.AppendAsync(new AuditEntry(caller, null, AuditActivity.Write, "downtime-period",
                Detail: $"registrerat {time.Format(startedAt)}–{time.Format(endedAt)}"), c, t);
            return 0;
        }, cancellationToken);
        return (await FindAsync(id, cancellationToken))!;
    }

    /// <summary>An administrator registers a node's suggestion, with the times and description as corrected on the form (audited).</summary>
    public async Task<DowntimePeriod> ConfirmAsync(Caller caller, Guid suggestionId, DateTimeOffset startedAt, DateTimeOffset endedAt, string? description,
        CancellationToken cancellationToken = default)
    {
        RequireAdministrator(caller);
        var text = Check(startedAt, endedAt, description);
        var now = clock.GetUtcNow();
        await database.InUnscopedTransactionAsync(async (c, t) =>
        {
            await RequireNoOverlapAsync(c, t, startedAt, endedAt, except: suggestionId);
            var done = await c.ExecuteAsync(
                """
                UPDATE downtime_period SET started_at = @startedAt, ended_at = @endedAt, description = @text, registered_by = @staffId, registered_at = @now
                WHERE id = @suggestionId AND registered_by IS NULL AND dismissed_at IS NULL
                """, new { suggestionId, startedAt, endedAt, text, staffId = caller.StaffId, now }, t);
            if (done == 0) throw new NotFoundException("Förslaget finns inte, eller är redan registrerat.");
            await audit.AppendAsync(new AuditEntry(caller, null, AuditActivity.Write, "downtime-period",
                Detail: $"registrerat förslag {time.Format(startedAt)}–{time.Format(endedAt)}"), c, t);
            return 0;
        }, cancellationToken);
        return (await FindAsync(suggestionId, cancellationToken))!;
    }

    /// <summary>
    /// A node records what it saw: read-only from <paramref name="startedAt"/> until now. Kept as a
    /// suggestion (not registered), so an administrator decides what the period was; a period
    /// already suggested or registered that covers it is not suggested again.
    /// </summary>
    public async Task SuggestAsync(DowntimeCause cause, DateTimeOffset startedAt, DateTimeOffset endedAt, CancellationToken cancellationToken = default)
    {
        if (endedAt <= startedAt) return;
        var now = clock.GetUtcNow();
        await database.InUnscopedTransactionAsync(async (c, t) =>
        {
            var covered = await c.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM downtime_period WHERE dismissed_at IS NULL AND started_at <= @startedAt AND ended_at >= @endedAt",
                new { startedAt, endedAt }, t);
            if (covered > 0) return 0;
            var description = cause == DowntimeCause.Database ? "Databasen tog inte emot skrivningar (läsläge)." : "Läsläget var påslaget av driften.";
            return await c.ExecuteAsync(
                """
                INSERT INTO downtime_period (id, started_at, ended_at, description, cause, suggested_at)
                VALUES (@id, @startedAt, @endedAt, @description, @cause, @now)
                """, new { id = Guid.CreateVersion7(), startedAt, endedAt, description, cause = cause.ToString(), now }, t);
        }, cancellationToken);
    }

    public async Task<DowntimePeriod?> FindAsync(Guid id, CancellationToken cancellationToken = default)
    {
        await using var c = await database.OpenUnscopedAsync(cancellationToken);
        return await c.QuerySingleOrDefaultAsync<DowntimePeriod>($"{Select} WHERE p.id = @id", new { id });
    }

    private static void RequireAdministrator(Caller caller)
    {
        if (!MayRegister(caller.Role)) throw new ForbiddenException("Bara en administratör registrerar avbrott.");
    }

    private string Check(DateTimeOffset startedAt, DateTimeOffset endedAt, string? description)
    {
        var text = (description ?? "").Trim();
        if (text.Length == 0) throw new InvalidInputException("description", "Beskriv avbrottet (vad som hände).");
        if (text.Length > MaxDescriptionLength || text.Any(ch => char.IsControl(ch) && ch != '\n'))
            throw new InvalidInputException("description", $"Beskrivningen får vara högst {MaxDescriptionLength} tecken.", MaxDescriptionLength);
        if (endedAt <= startedAt) throw new InvalidInputException("endedAt", $"Avbrottets slut ({time.Format(endedAt)}) måste vara efter dess början ({time.Format(startedAt)}).");
        if (endedAt > clock.GetUtcNow()) throw new InvalidInputException("endedAt", $"Avbrottets slut ({time.Format(endedAt)}) ligger i framtiden. Registrera avbrottet när det är över.");
        if (endedAt - startedAt > MaxLength) throw new InvalidInputException("endedAt", $"Ett avbrott registreras för högst {MaxLength.TotalDays:0} dygn; kontrollera datumen.");
        return text;
    }

    private async Task RequireNoOverlapAsync(DbConnection c, DbTransaction t, DateTimeOffset startedAt, DateTimeOffset endedAt, Guid? except)
    {
        var other = await c.QueryFirstOrDefaultAsync<DowntimePeriod>(
            $"{Select} WHERE p.registered_by IS NOT NULL AND p.dismissed_at IS NULL AND p.started_at < @endedAt AND p.ended_at > @startedAt ORDER BY p.started_at",
            new { startedAt, endedAt }, t);
        if (other is not null && other.Id != except)
            throw new ConflictException($"Perioden överlappar avbrottet {time.Format(other.StartedAt)}–{time.Format(other.EndedAt)} som redan är registrerat.");
    }
}
