using System.Data;
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
    /// in one batch's BEGIN … COMMIT, committed (and so durable) before it answers.
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
    /// is <see cref="HashOf"/>'s: its text is made here around the values only the head knows (the
    /// sequence number and the previous hash) and the outcome and flags, which
    /// <paramref name="decision"/> gives: a query of one row (or none: then nothing is appended and
    /// the head is not locked) with the columns outcome and flags, and any others the caller wants
    /// back. A read decided in the same statement as its event (<see cref="PatientCheckpoint"/>'s
    /// one round trip, issue 23) passes the decision itself; a plain append passes its entry's
    /// (@audit_outcome, @audit_flags). The parameters are <see cref="AppendParameters"/>, all
    /// named audit_*, so the statements can follow others in one batch. The result: the decision's
    /// columns and Seq, Prev and Hash (null when nothing was appended).
    /// </summary>
    internal static string AppendSql(string decision = "SELECT @audit_outcome AS outcome, @audit_flags AS flags", string headCondition = "") =>
        $"""
        INSERT INTO audit_chain_head (chain_key, last_seq, last_hash) SELECT @audit_chain, 0, @audit_genesis {headCondition} ON CONFLICT (chain_key) DO NOTHING;
        WITH decision AS MATERIALIZED ({decision}), head AS (
            SELECT last_seq + 1 AS seq, last_hash AS prev FROM audit_chain_head WHERE chain_key = @audit_chain AND EXISTS (SELECT 1 FROM decision) FOR UPDATE
        ), appended AS (
            INSERT INTO audit_event (id, chain_key, chain_seq, occurred_at, staff_id, staff_hsa_id, staff_name, role, unit_id,
                unit_hsa_id, patient_id, activity, purpose, resource, outcome, flags, detail, prev_hash, hash)
            SELECT @audit_id, @audit_chain, head.seq, @audit_at, @audit_staff, @audit_staff_hsa, @audit_staff_name, @audit_role, @audit_unit,
                @audit_unit_hsa, @audit_patient, @audit_activity, @audit_purpose, @audit_resource, decision.outcome, decision.flags, @audit_detail, head.prev,
                encode(sha256(convert_to(@audit_before || head.seq::text || @audit_after_head || decision.outcome || @audit_separator || decision.flags
                    || @audit_after_tail || head.prev, 'UTF8')), 'hex')
            FROM head, decision
            RETURNING chain_seq, prev_hash, hash
        ), moved AS (
            UPDATE audit_chain_head h SET last_seq = appended.chain_seq, last_hash = appended.hash FROM appended WHERE h.chain_key = @audit_chain
            RETURNING appended.chain_seq AS seq, appended.prev_hash AS prev, appended.hash AS hash
        )
        SELECT decision.*, moved.seq AS Seq, moved.prev AS Prev, moved.hash AS Hash FROM decision LEFT JOIN moved ON true;
        """;

    private static readonly string DefaultAppendSql = AppendSql();
    private string? _appendInTransaction, _appendAlone;

    /// <summary>What <see cref="AppendSql"/> gives back of the appended event.</summary>
    internal class Appended
    {
        public long? Seq { get; init; }
        public string? Prev { get; init; }
        public string? Hash { get; init; }
    }

    /// <summary>The event <paramref name="entry"/> as it happened now, and <see cref="AppendSql"/>'s parameters for it.</summary>
    internal (AuditEvent Unsigned, DynamicParameters Parameters) AppendParameters(AuditEntry entry)
    {
        var unsigned = Unsigned(entry);
        return (unsigned, AppendParameters(unsigned));
    }

    private static DynamicParameters AppendParameters(AuditEvent e)
    {
        var (before, afterHead, afterTail) = HashTextAroundDecision(e);
        // Typed, so that a null still says what it is (an INSERT … SELECT does not infer it from the column).
        var parameters = new DynamicParameters();
        parameters.Add("audit_id", e.Id);
        parameters.Add("audit_chain", e.ChainKey);
        parameters.Add("audit_genesis", Genesis);
        parameters.Add("audit_at", e.OccurredAt);
        parameters.Add("audit_staff", e.StaffId, DbType.Guid);
        parameters.Add("audit_staff_hsa", e.StaffHsaId);
        parameters.Add("audit_staff_name", e.StaffName);
        parameters.Add("audit_role", e.Role);
        parameters.Add("audit_unit", e.UnitId, DbType.Guid);
        parameters.Add("audit_unit_hsa", e.UnitHsaId);
        parameters.Add("audit_patient", e.PatientId, DbType.Guid);
        parameters.Add("audit_activity", e.Activity.ToString());
        parameters.Add("audit_purpose", e.Purpose);
        parameters.Add("audit_resource", e.Resource);
        parameters.Add("audit_outcome", e.Outcome.ToString());
        parameters.Add("audit_flags", e.Flags.ToString());
        parameters.Add("audit_detail", e.Detail, DbType.String);
        parameters.Add("audit_before", before);
        parameters.Add("audit_after_head", afterHead);
        parameters.Add("audit_separator", Separator.ToString());
        parameters.Add("audit_after_tail", afterTail);
        return parameters;
    }

    /// <summary>
    /// Whether this flow may append with PostgreSQL's one statement inside a batch of other reads
    /// (<see cref="AppendSql"/> after them, in the batch's implicit transaction): not while the
    /// database refuses writes (the event is then held on disk: <see cref="AppendAsync(AuditEntry, CancellationToken)"/>),
    /// not when the flow reads from a replica, and not to the system chain in a scratch scope.
    /// </summary>
    internal bool MayBatch(string chainKey) =>
        database.Engine == DatabaseEngine.Postgres && !database.Writes.DatabaseRefusing && !database.ReadsFromReplica
        && !(chainKey == SystemChain && Database.InScratch);

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
            // On its generic plan (no plan made per event: 0.12 ms of 0.33): inside the caller's transaction with the
            // setting put back for what follows; on its own (only outside RollBackEverything, so never in a scratch
            // scope) in the batch's BEGIN … COMMIT, committed before it answers.
            var sql = transaction is not null ? _appendInTransaction ??= database.OnGenericPlanAlone(DefaultAppendSql, inTransaction: true)
                : _appendAlone ??= database.OnGenericPlan(DefaultAppendSql);
            var head = await connection.QuerySingleAsync<Appended>(sql, AppendParameters(unsigned), transaction);
            return unsigned with { ChainSeq = head.Seq!.Value, PrevHash = head.Prev!, Hash = head.Hash! };
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

    private const char Separator = '\u001f';

    /// <summary>The hashed text (<see cref="HashOf"/>) before the sequence number and between it and the previous hash.</summary>
    private static (string Before, string After) HashTextAround(AuditEvent e)
    {
        var (before, afterHead, afterTail) = HashTextAroundDecision(e);
        return (before, afterHead + e.Outcome.ToString() + Separator + e.Flags.ToString() + afterTail);
    }

    /// <summary>As <see cref="HashTextAround"/>, with the text after the sequence number cut around the outcome and flags (which a statement may decide).</summary>
    private static (string Before, string AfterHead, string AfterTail) HashTextAroundDecision(AuditEvent e)
    {
        var separator = Separator.ToString();
        var before = string.Concat(e.Id.ToString(), separator, e.ChainKey, separator);
        var afterHead = separator + string.Join(separator,
            e.OccurredAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture),
            e.StaffId?.ToString() ?? "", e.StaffHsaId, e.StaffName, e.Role, e.UnitId?.ToString() ?? "", e.UnitHsaId,
            e.PatientId?.ToString() ?? "", e.Activity.ToString(), e.Purpose, e.Resource) + separator;
        return (before, afterHead, separator + (e.Detail ?? "") + separator);
    }

    /// <summary>SHA-256 over every field but the hash itself, in a fixed order and text form.</summary>
    public static string HashOf(AuditEvent e)
    {
        var (before, after) = HashTextAround(e);
        var text = before + e.ChainSeq.ToString(CultureInfo.InvariantCulture) + after + e.PrevHash;
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }
}
