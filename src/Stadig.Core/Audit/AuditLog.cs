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

    /// <summary>
    /// Appends in its own transaction (reads: before the data is shown). Throws if it cannot be
    /// written. On PostgreSQL that is one round trip: the statements of <see cref="AppendSql"/> run
    /// in the implicit transaction of one batch, committed (and so durable) before it answers.
    /// </summary>
    public async Task<AuditEvent> AppendAsync(AuditEntry entry, CancellationToken cancellationToken = default)
    {
        var started = Stopwatch.GetTimestamp();
        var unsigned = Unsigned(entry);
        try
        {
            if (database.Writes.DatabaseRefusing && database.Writes.AuditSpoolFolder is { } spool)
                return await HoldAsync(spool, unsigned, cancellationToken);
            // Always the primary, also inside a flow that reads from the replica.
            await using var connection = await database.OpenPrimaryAsync(cancellationToken);
            if (database.Engine == DatabaseEngine.Postgres && !Database.RollingBack)
                return await ChainAsync(unsigned, connection, null);
            await using var transaction = await database.BeginAsync(connection, cancellationToken);
            var written = await ChainAsync(unsigned, connection, transaction);
            await Database.CommitAsync(transaction, cancellationToken);
            return written;
        }
        catch (Exception e) when (Downtime.WriteAvailability.IsRefusal(e) && database.Writes.AuditSpoolFolder is { } spool)
        {
            // The database stopped taking writes: the read is still audited before it is shown, on this node's disk.
            database.Writes.DatabaseRefused(clock.GetUtcNow());
            return await HoldAsync(spool, unsigned, cancellationToken);
        }
        finally { RequestCost.AddAudit(started); }
    }

    /// <summary>Held on this node's disk; if even that fails, nothing is shown (fail closed) and the caller is told writes are off.</summary>
    private static async Task<AuditEvent> HoldAsync(string spool, AuditEvent unsigned, CancellationToken cancellationToken)
    {
        try { return await AuditSpool.HoldAsync(spool, unsigned, cancellationToken); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Downtime.ReadOnlyException();
        }
    }

    /// <summary>Chains an event held on disk while the database refused writes, at its original time; false if it is already in the log.</summary>
    internal async Task<bool> AppendHeldAsync(AuditEvent held, CancellationToken cancellationToken) =>
        await database.InUnscopedTransactionAsync(async (c, t) =>
        {
            if (await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM audit_event WHERE id = @Id", new { held.Id }, t) > 0) return false;
            await ChainAsync(held, c, t);
            return true;
        }, cancellationToken);

    /// <summary>Appends inside the caller's transaction (writes: the event commits with the change, or neither does).</summary>
    public async Task<AuditEvent> AppendAsync(AuditEntry entry, DbConnection connection, DbTransaction transaction)
    {
        var started = Stopwatch.GetTimestamp();
        try { return await ChainAsync(Unsigned(entry), connection, transaction); }
        finally { RequestCost.AddAudit(started); }
    }

    /// <summary>
    /// PostgreSQL's append in one round trip: the chain's head is made if it is new, then locked and
    /// read, the event hashed over it and inserted, and the head moved on, in one statement. The hash
    /// is <see cref="HashOf"/>'s: its text is made here around the two values only the head knows
    /// (the sequence number and the previous hash), and SHA-256 is taken by the server.
    /// </summary>
    private const string AppendSql =
        """
        INSERT INTO audit_chain_head (chain_key, last_seq, last_hash) VALUES (@ChainKey, 0, @Genesis) ON CONFLICT (chain_key) DO NOTHING;
        WITH head AS (
            SELECT last_seq + 1 AS seq, last_hash AS prev FROM audit_chain_head WHERE chain_key = @ChainKey FOR UPDATE
        ), appended AS (
            INSERT INTO audit_event (id, chain_key, chain_seq, occurred_at, staff_id, staff_hsa_id, staff_name, role, unit_id,
                unit_hsa_id, patient_id, activity, purpose, resource, outcome, flags, detail, prev_hash, hash)
            SELECT @Id, @ChainKey, head.seq, @OccurredAt, @StaffId, @StaffHsaId, @StaffName, @Role, @UnitId,
                @UnitHsaId, @PatientId, @activity, @Purpose, @Resource, @outcome, @flags, @Detail, head.prev,
                encode(sha256(convert_to(@hashBefore || head.seq::text || @hashAfter || head.prev, 'UTF8')), 'hex')
            FROM head
            RETURNING chain_seq, prev_hash, hash
        )
        UPDATE audit_chain_head h SET last_seq = appended.chain_seq, last_hash = appended.hash FROM appended WHERE h.chain_key = @ChainKey
        RETURNING appended.chain_seq AS Seq, appended.prev_hash AS Prev, appended.hash AS Hash;
        """;

    /// <summary>The event as it happened now, before it has a place in its chain.</summary>
    private AuditEvent Unsigned(AuditEntry entry)
    {
        var caller = entry.Caller;
        var now = clock.GetUtcNow();
        // Both engines keep microseconds; hashing the stored precision keeps the hash checkable.
        now = new DateTimeOffset(now.UtcTicks - now.UtcTicks % 10, TimeSpan.Zero);
        return new AuditEvent
        {
            Id = Guid.CreateVersion7(now), ChainKey = entry.PatientId?.ToString() ?? SystemChain, OccurredAt = now,
            StaffId = caller.StaffId == Guid.Empty ? null : caller.StaffId, StaffHsaId = caller.HsaId, StaffName = caller.DisplayName,
            Role = caller.Role.ToString(), UnitId = caller.UnitId == Guid.Empty ? null : caller.UnitId, UnitHsaId = caller.UnitHsaId,
            PatientId = entry.PatientId, Activity = entry.Activity, Purpose = caller.Purpose.ToString(), Resource = entry.Resource,
            Outcome = entry.Outcome, Flags = entry.Flags, Detail = entry.Detail,
        };
    }

    private async Task<AuditEvent> ChainAsync(AuditEvent unsigned, DbConnection connection, DbTransaction? transaction)
    {
        var chain = unsigned.ChainKey;
        // A scratch scope holds its locks until it ends: the system chain's head is every node's.
        if (chain == SystemChain && Database.InScratch)
            throw new InvalidOperationException("A scratch scope may not append to the system audit chain: its lock would be held until the scope ends.");

        if (database.Engine == DatabaseEngine.Postgres)
        {
            var (before, after) = HashTextAround(unsigned);
            var head = await connection.QuerySingleAsync<(long Seq, string Prev, string Hash)>(AppendSql, new
            {
                unsigned.Id, unsigned.ChainKey, unsigned.OccurredAt, unsigned.StaffId, unsigned.StaffHsaId,
                unsigned.StaffName, unsigned.Role, unsigned.UnitId, unsigned.UnitHsaId, unsigned.PatientId,
                activity = unsigned.Activity.ToString(), unsigned.Purpose, unsigned.Resource, outcome = unsigned.Outcome.ToString(),
                flags = unsigned.Flags.ToString(), unsigned.Detail, Genesis, hashBefore = before, hashAfter = after,
            }, transaction);
            return unsigned with { ChainSeq = head.Seq, PrevHash = head.Prev, Hash = head.Hash };
        }

        await connection.ExecuteAsync(
            "INSERT INTO audit_chain_head (chain_key, last_seq, last_hash) VALUES (@chain, 0, @Genesis) ON CONFLICT (chain_key) DO NOTHING",
            new { chain, Genesis }, transaction);
        var (seq, prev) = await connection.QuerySingleAsync<(long Seq, string Hash)>(
            "SELECT last_seq, last_hash FROM audit_chain_head WHERE chain_key = @chain", new { chain }, transaction);
        var chained = unsigned with { ChainSeq = seq + 1, PrevHash = prev };
        var audited = chained with { Hash = HashOf(chained) };
        await connection.ExecuteAsync(
            """
            INSERT INTO audit_event (id, chain_key, chain_seq, occurred_at, staff_id, staff_hsa_id, staff_name, role, unit_id,
                unit_hsa_id, patient_id, activity, purpose, resource, outcome, flags, detail, prev_hash, hash)
            VALUES (@Id, @ChainKey, @ChainSeq, @OccurredAt, @StaffId, @StaffHsaId, @StaffName, @Role, @UnitId,
                @UnitHsaId, @PatientId, @activity, @Purpose, @Resource, @outcome, @flags, @Detail, @PrevHash, @Hash);
            UPDATE audit_chain_head SET last_seq = @ChainSeq, last_hash = @Hash WHERE chain_key = @ChainKey;
            """,
            new
            {
                audited.Id, audited.ChainKey, audited.ChainSeq, audited.OccurredAt, audited.StaffId, audited.StaffHsaId,
                audited.StaffName, audited.Role, audited.UnitId, audited.UnitHsaId, audited.PatientId,
                activity = audited.Activity.ToString(), audited.Purpose, audited.Resource, outcome = audited.Outcome.ToString(),
                flags = audited.Flags.ToString(), audited.Detail, audited.PrevHash, audited.Hash,
            }, transaction);
        return audited;
    }

    /// <summary>The hashed text (<see cref="HashOf"/>) before the sequence number and between it and the previous hash.</summary>
    private static (string Before, string After) HashTextAround(AuditEvent e)
    {
        const char separator = '\u001f';
        var before = string.Concat(e.Id.ToString(), separator.ToString(), e.ChainKey, separator.ToString());
        var after = separator + string.Join(separator,
            e.OccurredAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture),
            e.StaffId?.ToString() ?? "", e.StaffHsaId, e.StaffName, e.Role, e.UnitId?.ToString() ?? "", e.UnitHsaId,
            e.PatientId?.ToString() ?? "", e.Activity.ToString(), e.Purpose, e.Resource, e.Outcome.ToString(), e.Flags.ToString(),
            e.Detail ?? "") + separator;
        return (before, after);
    }

    /// <summary>SHA-256 over every field but the hash itself, in a fixed order and text form.</summary>
    public static string HashOf(AuditEvent e)
    {
        var (before, after) = HashTextAround(e);
        var text = before + e.ChainSeq.ToString(CultureInfo.InvariantCulture) + after + e.PrevHash;
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }
}
