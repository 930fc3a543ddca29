using System.Globalization;
using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Readiness;

/// <summary>
/// One thing Stadig depends on that expires: a licence or contract entered by an administrator
/// (<see cref="Source"/> "register"), or a certificate or signing key read from configuration
/// ("configuration"). <see cref="Problem"/> says why an entry from configuration could not be read.
/// </summary>
public sealed record ExpiryEntry(Guid? Id, string Kind, string Name, string Owner, DateOnly? ExpiresOn, string Source, string? Note = null, string? Problem = null)
{
    /// <summary>Days from <paramref name="day"/> to the last valid day (negative: expired).</summary>
    public int? DaysLeft(DateOnly day) => ExpiresOn is { } e ? e.DayNumber - day.DayNumber : null;

    /// <summary>The warning step the entry is in on <paramref name="today"/>: 7, 30 or 90 days, 0 when expired, null when not yet warned.</summary>
    public int? WarningLevel(DateOnly today) => DaysLeft(today) switch
    {
        null => 0,
        < 0 => 0,
        <= 7 => 7,
        <= 30 => 30,
        <= 90 => 90,
        _ => null,
    };
}

/// <summary>The administrators' part of the expiry register: contracts and licences with expiry and owner.</summary>
public sealed class ExpiryRegister(Database database, AuditLog audit, TimeProvider clock)
{
    public static readonly string[] Kinds = ["licence", "contract", "certificate", "key", "other"];
    public const int MaxText = 200;
    private const string Resource = "ExpiryRegister";

    public static bool MayManage(Role role) => role is Role.Administrator;

    public async Task<ExpiryEntry> AddAsync(Caller caller, string kind, string name, string owner, DateOnly? expiresOn, string? note, CancellationToken cancellationToken = default)
    {
        if (!MayManage(caller.Role)) throw new ForbiddenException("Endast administratörer för registret över utgångsdatum.");
        kind = (kind ?? "").Trim().ToLowerInvariant();
        if (!Kinds.Contains(kind)) throw new InvalidInputException("Kind", $"Kind must be one of {string.Join(", ", Kinds)}.");
        name = Required("Name", name);
        owner = Required("Owner", owner);
        if (expiresOn is null) throw new InvalidInputException("ExpiresOn", "The expiry date is required (yyyy-MM-dd).");
        note = string.IsNullOrWhiteSpace(note) ? null : note.Trim().Length > 1000 ? throw new InvalidInputException("Note", "The note is longer than 1000 characters.", 1000) : note.Trim();
        var entry = new ExpiryEntry(Guid.NewGuid(), kind, name, owner, expiresOn, "register", note);
        await database.InUnscopedTransactionAsync(async (c, tx) =>
        {
            await c.ExecuteAsync(
                "INSERT INTO expiry_register (id, kind, name, owner, expires_on, note, created_at, created_by) VALUES (@Id, @Kind, @Name, @Owner, @ExpiresOn, @Note, @At, @By)",
                new { entry.Id, entry.Kind, entry.Name, entry.Owner, ExpiresOn = Date(expiresOn.Value), entry.Note, At = clock.GetUtcNow(), By = caller.HsaId }, tx);
            await audit.AppendAsync(new AuditEntry(caller, null, AuditActivity.Write, Resource, Detail: $"{kind} {name} {Date(expiresOn.Value)}"), c, tx);
            return 0;
        }, cancellationToken);
        return entry;
    }

    public async Task RemoveAsync(Caller caller, Guid id, CancellationToken cancellationToken = default)
    {
        if (!MayManage(caller.Role)) throw new ForbiddenException("Endast administratörer för registret över utgångsdatum.");
        await database.InUnscopedTransactionAsync(async (c, tx) =>
        {
            var name = await c.QuerySingleOrDefaultAsync<string>("SELECT name FROM expiry_register WHERE id = @id AND removed_at IS NULL", new { id }, tx)
                       ?? throw new NotFoundException("No such entry in the expiry register.");
            await c.ExecuteAsync("UPDATE expiry_register SET removed_at = @At, removed_by = @By WHERE id = @id",
                new { id, At = clock.GetUtcNow(), By = caller.HsaId }, tx);
            await audit.AppendAsync(new AuditEntry(caller, null, AuditActivity.Delete, Resource, Detail: name), c, tx);
            return 0;
        }, cancellationToken);
    }

    /// <summary>The current entries, soonest expiry first. A person's read is audited; the system's (gate, operations summary) is not.</summary>
    public async Task<IReadOnlyList<ExpiryEntry>> ListAsync(Caller caller, CancellationToken cancellationToken = default)
    {
        if (caller != Caller.System && !MayManage(caller.Role)) throw new ForbiddenException("Endast administratörer för registret över utgångsdatum.");
        await using var c = await database.OpenUnscopedAsync(cancellationToken);
        var rows = await c.QueryAsync<(Guid Id, string Kind, string Name, string Owner, string ExpiresOn, string? Note)>(
            "SELECT id, kind, name, owner, expires_on, note FROM expiry_register WHERE removed_at IS NULL ORDER BY expires_on, name");
        if (caller != Caller.System)
            await audit.AppendAsync(new AuditEntry(caller, null, AuditActivity.Read, Resource), cancellationToken);
        return rows.Select(r => new ExpiryEntry(r.Id, r.Kind, r.Name, r.Owner,
            DateOnly.ParseExact(r.ExpiresOn, "yyyy-MM-dd", CultureInfo.InvariantCulture), "register", r.Note)).ToList();
    }

    private static string Date(DateOnly d) => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static string Required(string field, string? value)
    {
        value = value?.Trim();
        if (string.IsNullOrEmpty(value)) throw new InvalidInputException(field, $"{field} is required.");
        if (value.Length > MaxText) throw new InvalidInputException(field, $"{field} is longer than {MaxText} characters.", MaxText);
        return value;
    }
}
