using System.Diagnostics;
using System.Data.Common;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Stadig.Access;
using Stadig.Storage;

namespace Stadig.Audit;

/// <summary>One event as written: who, in which assignment, did what to whose data, and how it went.</summary>
public sealed record AuditEntry(
    Caller Caller,
    Guid? PatientId,
    AuditActivity Activity,
    string Resource,
    AuditOutcome Outcome = AuditOutcome.Allowed,
    AuditFlags Flags = AuditFlags.None,
    string? Detail = null);

/// <summary>A stored audit event.</summary>
public sealed record AuditEvent
{
    public Guid Id { get; init; }
    public string ChainKey { get; init; } = "";
    public long ChainSeq { get; init; }
    public DateTimeOffset OccurredAt { get; init; }
    public Guid? StaffId { get; init; }
    public string StaffHsaId { get; init; } = "";
    public string StaffName { get; init; } = "";
    public string Role { get; init; } = "";
    public Guid? UnitId { get; init; }
    public string UnitHsaId { get; init; } = "";
    public Guid? PatientId { get; init; }
    public AuditActivity Activity { get; init; }
    public string Purpose { get; init; } = "";
    public string Resource { get; init; } = "";
    public AuditOutcome Outcome { get; init; }
    public AuditFlags Flags { get; init; }
    public string? Detail { get; init; }
    public string PrevHash { get; init; } = "";
    public string Hash { get; init; } = "";
}

/// <summary>
/// The append-only, hash-chained audit log. Each patient's events form one chain and events without
/// a patient another, so appends for different patients never wait for each other (and the log
/// partitions by patient like the record). Appending locks only the chain's head row.
/// </summary>
public sealed class AuditLog(Database database, TimeProvider clock)
{
    public const string Genesis = "0000000000000000000000000000000000000000000000000000000000000000";
    public const string SystemChain = "system";

    internal const string Columns =
        """
        id AS Id, chain_key AS ChainKey, chain_seq AS ChainSeq, occurred_at AS OccurredAt, staff_id AS StaffId,
        staff_hsa_id AS StaffHsaId, staff_name AS StaffName, role AS Role, unit_id AS UnitId, unit_hsa_id AS UnitHsaId,
        patient_id AS PatientId, activity AS Activity, purpose AS Purpose, resource AS Resource, outcome AS Outcome,
        flags AS Flags, detail AS Detail, prev_hash AS PrevHash, hash AS Hash
        """;

    /// <summary>Appends in its own transaction (reads: before the data is shown). Throws if it cannot be written.</summary>
    public async Task<AuditEvent> AppendAsync(AuditEntry entry, CancellationToken cancellationToken = default)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await using var connection = await database.OpenUnscopedAsync(cancellationToken);
            await using var transaction = await database.BeginAsync(connection, cancellationToken);
            var written = await AppendCoreAsync(entry, connection, transaction);
            await Database.CommitAsync(transaction, cancellationToken);
            return written;
        }
        finally { RequestCost.AddAudit(started); }
    }

    /// <summary>Appends inside the caller's transaction (writes: the event commits with the change, or neither does).</summary>
    public async Task<AuditEvent> AppendAsync(AuditEntry entry, DbConnection connection, DbTransaction transaction)
    {
        var started = Stopwatch.GetTimestamp();
        try { return await AppendCoreAsync(entry, connection, transaction); }
        finally { RequestCost.AddAudit(started); }
    }

    private async Task<AuditEvent> AppendCoreAsync(AuditEntry entry, DbConnection connection, DbTransaction transaction)
    {
        var chain = entry.PatientId?.ToString() ?? SystemChain;
        await connection.ExecuteAsync(
            "INSERT INTO audit_chain_head (chain_key, last_seq, last_hash) VALUES (@chain, 0, @Genesis) ON CONFLICT (chain_key) DO NOTHING",
            new { chain, Genesis }, transaction);
        var lockClause = database.Engine == DatabaseEngine.Postgres ? " FOR UPDATE" : "";
        var head = await connection.QuerySingleAsync<(long Seq, string Hash)>(
            $"SELECT last_seq, last_hash FROM audit_chain_head WHERE chain_key = @chain{lockClause}", new { chain }, transaction);

        var caller = entry.Caller;
        var now = clock.GetUtcNow();
        // Both engines keep microseconds; hashing the stored precision keeps the hash checkable.
        now = new DateTimeOffset(now.UtcTicks - now.UtcTicks % 10, TimeSpan.Zero);
        var unsigned = new AuditEvent
        {
            Id = Guid.CreateVersion7(now), ChainKey = chain, ChainSeq = head.Seq + 1, OccurredAt = now,
            StaffId = caller.StaffId == Guid.Empty ? null : caller.StaffId, StaffHsaId = caller.HsaId, StaffName = caller.DisplayName,
            Role = caller.Role.ToString(), UnitId = caller.UnitId == Guid.Empty ? null : caller.UnitId, UnitHsaId = caller.UnitHsaId,
            PatientId = entry.PatientId, Activity = entry.Activity, Purpose = caller.Purpose.ToString(), Resource = entry.Resource,
            Outcome = entry.Outcome, Flags = entry.Flags, Detail = entry.Detail, PrevHash = head.Hash,
        };
        var audited = unsigned with { Hash = HashOf(unsigned) };
        await connection.ExecuteAsync(
            """
            INSERT INTO audit_event (id, chain_key, chain_seq, occurred_at, staff_id, staff_hsa_id, staff_name, role, unit_id,
                unit_hsa_id, patient_id, activity, purpose, resource, outcome, flags, detail, prev_hash, hash)
            VALUES (@Id, @ChainKey, @ChainSeq, @OccurredAt, @StaffId, @StaffHsaId, @StaffName, @Role, @UnitId,
                @UnitHsaId, @PatientId, @activity, @Purpose, @Resource, @outcome, @flags, @Detail, @PrevHash, @Hash)
            """,
            new
            {
                audited.Id, audited.ChainKey, audited.ChainSeq, audited.OccurredAt, audited.StaffId, audited.StaffHsaId,
                audited.StaffName, audited.Role, audited.UnitId, audited.UnitHsaId, audited.PatientId,
                activity = audited.Activity.ToString(), audited.Purpose, audited.Resource, outcome = audited.Outcome.ToString(),
                flags = audited.Flags.ToString(), audited.Detail, audited.PrevHash, audited.Hash,
            }, transaction);
        await connection.ExecuteAsync(
            "UPDATE audit_chain_head SET last_seq = @ChainSeq, last_hash = @Hash WHERE chain_key = @ChainKey",
            new { audited.ChainSeq, audited.Hash, audited.ChainKey }, transaction);
        return audited;
    }

    /// <summary>SHA-256 over every field but the hash itself, in a fixed order and text form.</summary>
    public static string HashOf(AuditEvent e)
    {
        var text = string.Join('\u001f',
            e.Id.ToString(), e.ChainKey, e.ChainSeq.ToString(CultureInfo.InvariantCulture),
            e.OccurredAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture),
            e.StaffId?.ToString() ?? "", e.StaffHsaId, e.StaffName, e.Role, e.UnitId?.ToString() ?? "", e.UnitHsaId,
            e.PatientId?.ToString() ?? "", e.Activity.ToString(), e.Purpose, e.Resource, e.Outcome.ToString(), e.Flags.ToString(),
            e.Detail ?? "", e.PrevHash);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }
}
