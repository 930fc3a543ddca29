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

public sealed record AuditVerification(long EventsChecked, int ChainsChecked, IReadOnlyList<TamperFinding> Findings)
{
    public bool Intact => Findings.Count == 0;
}

/// <summary>Walks every chain of the audit log and says which events were changed, removed or reordered.</summary>
public sealed class AuditVerifier(Database database)
{
    public async Task<AuditVerification> VerifyAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var heads = (await connection.QueryAsync<(string ChainKey, long LastSeq, string LastHash)>(
            "SELECT chain_key, last_seq, last_hash FROM audit_chain_head")).ToDictionary(h => h.ChainKey);
        var findings = new List<TamperFinding>();
        long checkedEvents = 0;
        var seenChains = new HashSet<string>();

        // Streamed in chain order: memory stays flat whatever the size of the log.
        var events = connection.QueryUnbufferedAsync<AuditEvent>(
            $"SELECT {AuditLog.Columns} FROM audit_event ORDER BY chain_key, chain_seq");
        string? chain = null;
        long expectedSeq = 0;
        string previousHash = AuditLog.Genesis;
        await foreach (var e in events.WithCancellation(cancellationToken))
        {
            checkedEvents++;
            if (e.ChainKey != chain)
            {
                if (chain is not null) CheckHead(chain, expectedSeq - 1, previousHash);
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
            expectedSeq = e.ChainSeq + 1;
            previousHash = e.Hash;
        }
        if (chain is not null) CheckHead(chain, expectedSeq - 1, previousHash);
        foreach (var head in heads.Values.Where(h => !seenChains.Contains(h.ChainKey) && h.LastSeq > 0))
            findings.Add(new(head.ChainKey, 1, null, TamperKind.Removed, $"All {head.LastSeq} events of the chain are missing."));
        return new AuditVerification(checkedEvents, seenChains.Count, findings);

        void CheckHead(string key, long lastSeq, string lastHash)
        {
            if (!heads.TryGetValue(key, out var head))
                findings.Add(new(key, lastSeq, null, TamperKind.Changed, "The chain has no recorded head."));
            else if (head.LastSeq > lastSeq)
                findings.Add(new(key, lastSeq + 1, null, TamperKind.Removed, $"Events {lastSeq + 1}–{head.LastSeq} at the end are missing."));
            else if (head.LastSeq == lastSeq && head.LastHash != lastHash)
                findings.Add(new(key, lastSeq, null, TamperKind.Changed, "The newest event is not the one recorded at the head."));
        }
    }
}
