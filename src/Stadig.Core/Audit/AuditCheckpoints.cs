using System.Data;
using System.Data.Common;
using System.Globalization;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Microsoft.Data.Sqlite;
using Stadig.Storage;

namespace Stadig.Audit;

/// <summary>One anchor of the audit log: the number of chains and one digest over every chain's head.</summary>
public sealed record AuditCheckpoint
{
    public long Seq { get; init; }
    public DateTimeOffset TakenAt { get; init; }
    public long ChainCount { get; init; }
    public long EventCount { get; init; }
    public string HeadsDigest { get; init; } = "";
    public string PrevHash { get; init; } = "";
    public string Hash { get; init; } = "";
}

/// <summary>
/// The region-wide anchor over the per-patient chains. A chain's own hashes show an event changed,
/// removed from the middle or cut from the end while its head remembers it; they cannot show that
/// the whole chain and its head were deleted, or that a chain was cut short and its head rewritten.
/// A checkpoint records, every few minutes, every chain's head (in audit_checkpoint_chain), their
/// number and an order-independent digest over them, hash-chained to the checkpoint before.
/// <para>
/// Appends never touch the anchor: a checkpoint only reads the heads (no locks on PostgreSQL), so
/// audited reads across the region never wait for each other or for it. The price is a window:
/// events written after the newest checkpoint are protected by their chain alone until the next
/// one (a chain begun and wholly deleted inside one window is not detected).
/// </para>
/// </summary>
public sealed class AuditCheckpoints(Database database, TimeProvider clock)
{
    internal const string Columns =
        "seq AS Seq, taken_at AS TakenAt, chain_count AS ChainCount, event_count AS EventCount, heads_digest AS HeadsDigest, prev_hash AS PrevHash, hash AS Hash";

    private static readonly BigInteger Modulus = BigInteger.One << 256;

    /// <summary>
    /// Takes a checkpoint unless one younger than <paramref name="minimumAge"/> exists (several nodes
    /// run the same timer; one checkpoint per interval is enough). Returns the checkpoint taken, or null.
    /// </summary>
    public async Task<AuditCheckpoint?> TakeAsync(TimeSpan minimumAge = default, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        await using var transaction = await database.BeginAsync(connection, cancellationToken);
        // Serialises checkpoint takers only: plain reads and audit appends do not conflict with this mode.
        if (database.Engine == DatabaseEngine.Postgres)
            await connection.ExecuteAsync("LOCK TABLE audit_checkpoint IN EXCLUSIVE MODE", transaction: transaction);
        var last = await LatestAsync(connection, transaction);
        var now = Truncate(clock.GetUtcNow());
        if (last is not null && minimumAge > TimeSpan.Zero && now - last.TakenAt < minimumAge) return null;

        // Heads that moved forward since the last checkpoint. A head that went backwards is not
        // taken over: that would make a truncated chain look whole (verify reports it instead).
        var moved = (await connection.QueryAsync<(string ChainKey, long Seq, string Hash, long? OldSeq, string? OldHash)>(
            """
            SELECT h.chain_key, h.last_seq, h.last_hash, c.seq, c.hash
            FROM audit_chain_head h LEFT JOIN audit_checkpoint_chain c ON c.chain_key = h.chain_key
            WHERE h.last_seq > 0 AND (c.chain_key IS NULL OR c.seq < h.last_seq)
            """, transaction: transaction, commandTimeout: 0)).ToList();

        var digest = last is null ? BigInteger.Zero : Parse(last.HeadsDigest);
        var chains = last?.ChainCount ?? 0;
        var events = last?.EventCount ?? 0;
        foreach (var m in moved)
        {
            if (m.OldSeq is { } oldSeq)
            {
                digest -= Term(m.ChainKey, oldSeq, m.OldHash!);
                events -= oldSeq;
            }
            else chains++;
            digest += Term(m.ChainKey, m.Seq, m.Hash);
            events += m.Seq;
        }
        digest = ((digest % Modulus) + Modulus) % Modulus;

        const string upsert =
            "INSERT INTO audit_checkpoint_chain (chain_key, seq, hash) VALUES (@ChainKey, @Seq, @Hash) ON CONFLICT (chain_key) DO UPDATE SET seq = excluded.seq, hash = excluded.hash";
        if (database.Engine == DatabaseEngine.Postgres)
        {
            foreach (var batch in moved.Chunk(5000))
                await connection.ExecuteAsync(
                    """
                    INSERT INTO audit_checkpoint_chain (chain_key, seq, hash) SELECT * FROM unnest(@keys, @seqs, @hashes)
                    ON CONFLICT (chain_key) DO UPDATE SET seq = excluded.seq, hash = excluded.hash
                    """,
                    new { keys = batch.Select(m => m.ChainKey).ToArray(), seqs = batch.Select(m => m.Seq).ToArray(), hashes = batch.Select(m => m.Hash).ToArray() },
                    transaction);
        }
        else
        {
            await connection.ExecuteAsync(upsert, moved.Select(m => new { m.ChainKey, m.Seq, m.Hash }), transaction);
        }

        var unsigned = new AuditCheckpoint
        {
            Seq = (last?.Seq ?? 0) + 1, TakenAt = now, ChainCount = chains, EventCount = events,
            HeadsDigest = Format(digest), PrevHash = last?.Hash ?? AuditLog.Genesis,
        };
        var checkpoint = unsigned with { Hash = HashOf(unsigned) };
        await connection.ExecuteAsync(
            """
            INSERT INTO audit_checkpoint (seq, taken_at, chain_count, event_count, heads_digest, prev_hash, hash)
            VALUES (@Seq, @TakenAt, @ChainCount, @EventCount, @HeadsDigest, @PrevHash, @Hash)
            """, checkpoint, transaction);
        await transaction.CommitAsync(cancellationToken);
        return checkpoint;
    }

    internal static async Task<AuditCheckpoint?> LatestAsync(DbConnection connection, DbTransaction transaction) =>
        await connection.QuerySingleOrDefaultAsync<AuditCheckpoint>(
            $"SELECT {Columns} FROM audit_checkpoint ORDER BY seq DESC LIMIT 1", transaction: transaction);

    /// <summary>A chain head's share of the digest. Summed modulo 2^256, so heads add and leave in any order.</summary>
    internal static BigInteger Term(string chainKey, long seq, string hash) =>
        new(SHA256.HashData(Encoding.UTF8.GetBytes($"{chainKey}\u001f{seq.ToString(CultureInfo.InvariantCulture)}\u001f{hash}")), isUnsigned: true, isBigEndian: true);

    internal static string Format(BigInteger digest)
    {
        var bytes = digest.ToByteArray(isUnsigned: true, isBigEndian: true);
        var padded = new byte[32];
        bytes.CopyTo(padded, 32 - bytes.Length);
        return Convert.ToHexStringLower(padded);
    }

    internal static BigInteger Parse(string digest) => new(Convert.FromHexString(digest), isUnsigned: true, isBigEndian: true);

    internal static BigInteger Sum(IEnumerable<BigInteger> terms)
    {
        var sum = BigInteger.Zero;
        foreach (var t in terms) sum = (sum + t) % Modulus;
        return sum;
    }

    public static string HashOf(AuditCheckpoint c) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\u001f',
        c.Seq.ToString(CultureInfo.InvariantCulture),
        c.TakenAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture),
        c.ChainCount.ToString(CultureInfo.InvariantCulture), c.EventCount.ToString(CultureInfo.InvariantCulture),
        c.HeadsDigest, c.PrevHash))));

    private static DateTimeOffset Truncate(DateTimeOffset now) => new(now.UtcTicks - now.UtcTicks % 10, TimeSpan.Zero);

    /// <summary>
    /// One consistent view for reading the whole log: REPEATABLE READ on PostgreSQL (every statement
    /// sees the same snapshot, so rows committed meanwhile are all invisible), a deferred read
    /// transaction on SQLite (WAL keeps its snapshot from the first read).
    /// </summary>
    internal static async Task<DbTransaction> BeginSnapshotAsync(DbConnection connection, CancellationToken cancellationToken) =>
        CountedConnection.Unwrap(connection) is SqliteConnection sqlite
            ? ((CountedConnection)connection).Adopt(sqlite.BeginTransaction(deferred: true))
            : await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
}
