using Dapper;
using Stadig.Storage;

namespace Stadig.Audit;

public enum TamperKind
{
    /// <summary>The event's content no longer matches its hash.</summary>
    Changed,
    /// <summary>An event is missing: a gap in the sequence, or the chain ends before its recorded head.</summary>
    Removed,
    /// <summary>The event is intact but does not follow the one before it.</summary>
    Reordered,
}

public sealed record TamperFinding(string ChainKey, long ChainSeq, Guid? EventId, TamperKind Kind, string Explanation);

/// <param name="LastCheckpoint">The newest anchor; its hash, noted outside the database, pins the log up to it.</param>
public sealed record AuditVerification(long EventsChecked, int ChainsChecked, IReadOnlyList<TamperFinding> Findings, AuditCheckpoint? LastCheckpoint = null)
{
    public bool Intact => Findings.Count == 0;
}

/// <summary>
/// Walks every chain of the audit log and says which events were changed, removed or reordered,
/// and checks the chains against the newest checkpoint, so a chain deleted or cut short as a whole
/// is found too. Everything is read in one snapshot: writes that commit while it runs are not seen
/// at all, so they can never look like tampering.
/// </summary>
public sealed class AuditVerifier(Database database)
{
    /// <summary>The chain key under which findings about the checkpoints themselves are reported.</summary>
    public const string CheckpointChain = "checkpoint";

    public async Task<AuditVerification> VerifyAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        await using var snapshot = await AuditCheckpoints.BeginSnapshotAsync(connection, cancellationToken);
        var findings = new List<TamperFinding>();
        var heads = (await connection.QueryAsync<(string ChainKey, long LastSeq, string LastHash)>(
            "SELECT chain_key, last_seq, last_hash FROM audit_chain_head", transaction: snapshot, commandTimeout: 0)).ToDictionary(h => h.ChainKey);
        var (anchored, lastCheckpoint) = await CheckAnchorAsync(connection, snapshot, findings, cancellationToken);
        long checkedEvents = 0;
        var seenChains = new HashSet<string>();

        // Streamed in chain order: memory stays flat whatever the size of the log.
        var events = connection.QueryUnbufferedAsync<AuditEvent>(
            $"SELECT {AuditLog.Columns} FROM audit_event ORDER BY chain_key, chain_seq", transaction: snapshot);
        string? chain = null;
        long expectedSeq = 0;
        string previousHash = AuditLog.Genesis;
        await foreach (var e in events.WithCancellation(cancellationToken))
        {
            checkedEvents++;
            if (e.ChainKey != chain)
            {
                if (chain is not null) CheckEnd(chain, expectedSeq - 1, previousHash);
                chain = e.ChainKey;
                seenChains.Add(chain);
                expectedSeq = 1;
                previousHash = AuditLog.Genesis;
            }
            if (AuditLog.HashOf(e) != e.Hash)
                findings.Add(new(e.ChainKey, e.ChainSeq, e.Id, TamperKind.Changed, "The event's content does not match its hash."));
            if (e.ChainSeq != expectedSeq)
                findings.Add(new(e.ChainKey, expectedSeq, null, TamperKind.Removed, $"Events {expectedSeq}–{e.ChainSeq - 1} are missing."));
            else if (e.PrevHash != previousHash && AuditLog.HashOf(e) == e.Hash)
                findings.Add(new(e.ChainKey, e.ChainSeq, e.Id, TamperKind.Reordered, "The event does not follow the event before it."));
            if (anchored.TryGetValue(e.ChainKey, out var anchor) && anchor.Seq == e.ChainSeq && anchor.Hash != e.Hash)
                findings.Add(new(e.ChainKey, e.ChainSeq, e.Id, TamperKind.Changed, "The event is not the one the last checkpoint recorded at this place."));
            expectedSeq = e.ChainSeq + 1;
            previousHash = e.Hash;
        }
        if (chain is not null) CheckEnd(chain, expectedSeq - 1, previousHash);
        foreach (var head in heads.Values.Where(h => !seenChains.Contains(h.ChainKey) && h.LastSeq > 0))
            findings.Add(new(head.ChainKey, 1, null, TamperKind.Removed, $"All {head.LastSeq} events of the chain are missing."));
        foreach (var (key, anchor) in anchored.Where(a => !seenChains.Contains(a.Key) && !heads.ContainsKey(a.Key)))
            findings.Add(new(key, 1, null, TamperKind.Removed, $"The whole chain is missing: the last checkpoint recorded {anchor.Seq} events in it."));
        await snapshot.CommitAsync(cancellationToken);
        return new AuditVerification(checkedEvents, seenChains.Count, findings, lastCheckpoint);

        void CheckEnd(string key, long lastSeq, string lastHash)
        {
            if (anchored.TryGetValue(key, out var anchor) && anchor.Seq > lastSeq)
                findings.Add(new(key, lastSeq + 1, null, TamperKind.Removed, $"Events {lastSeq + 1}–{anchor.Seq} at the end, recorded by the last checkpoint, are missing."));
            else if (!heads.TryGetValue(key, out var head))
                findings.Add(new(key, lastSeq, null, TamperKind.Changed, "The chain has no recorded head."));
            else if (head.LastSeq > lastSeq)
                findings.Add(new(key, lastSeq + 1, null, TamperKind.Removed, $"Events {lastSeq + 1}–{head.LastSeq} at the end are missing."));
            else if (head.LastSeq == lastSeq && head.LastHash != lastHash)
                findings.Add(new(key, lastSeq, null, TamperKind.Changed, "The newest event is not the one recorded at the head."));
        }
    }

    /// <summary>
    /// Checks that the checkpoints follow each other unbroken and that the recorded heads add up to
    /// the newest one's chain count and digest. Returns the recorded heads by chain.
    /// </summary>
    private static async Task<(Dictionary<string, (long Seq, string Hash)>, AuditCheckpoint?)> CheckAnchorAsync(
        System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction snapshot, List<TamperFinding> findings, CancellationToken cancellationToken)
    {
        AuditCheckpoint? latest = null;
        var previousHash = AuditLog.Genesis;
        long expectedSeq = 1;
        var checkpoints = connection.QueryUnbufferedAsync<AuditCheckpoint>(
            $"SELECT {AuditCheckpoints.Columns} FROM audit_checkpoint ORDER BY seq", transaction: snapshot);
        await foreach (var c in checkpoints.WithCancellation(cancellationToken))
        {
            if (c.Seq != expectedSeq)
                findings.Add(new(CheckpointChain, expectedSeq, null, TamperKind.Removed, $"Checkpoints {expectedSeq}–{c.Seq - 1} are missing."));
            if (AuditCheckpoints.HashOf(c) != c.Hash)
                findings.Add(new(CheckpointChain, c.Seq, null, TamperKind.Changed, "The checkpoint's content does not match its hash."));
            else if (c.Seq == expectedSeq && c.PrevHash != previousHash)
                findings.Add(new(CheckpointChain, c.Seq, null, TamperKind.Reordered, "The checkpoint does not follow the checkpoint before it."));
            expectedSeq = c.Seq + 1;
            previousHash = c.Hash;
            latest = c;
        }

        var anchored = (await connection.QueryAsync<(string ChainKey, long Seq, string Hash)>(
            "SELECT chain_key, seq, hash FROM audit_checkpoint_chain", transaction: snapshot, commandTimeout: 0))
            .ToDictionary(a => a.ChainKey, a => (a.Seq, a.Hash));
        var digest = AuditCheckpoints.Format(AuditCheckpoints.Sum(anchored.Select(a => AuditCheckpoints.Term(a.Key, a.Value.Seq, a.Value.Hash))));
        var recordedCount = latest?.ChainCount ?? 0;
        if (anchored.Count != recordedCount || digest != (latest?.HeadsDigest ?? AuditCheckpoints.Format(0)))
            findings.Add(new(CheckpointChain, latest?.Seq ?? 0, null, TamperKind.Changed,
                $"The chain heads recorded by the last checkpoint do not add up to it ({anchored.Count} chains recorded, {recordedCount} counted by the checkpoint): a chain's recorded head was removed or changed."));
        return (anchored, latest);
    }
}
