using System.Collections.Concurrent;

namespace Stadig.Tests.Reliability;

/// <summary>What the load was told was done (acknowledged) and what it merely sent, for the checks after each kill.</summary>
public sealed class CrashLedger
{
    /// <summary>A note as its last acknowledged answer left it.</summary>
    public sealed record NoteState(Guid Id, string Status, int Version, IReadOnlyList<(string Keyword, string Text)> Keywords, Guid? AmendsNoteId);

    public ConcurrentDictionary<Guid, NoteState> Notes { get; } = new();

    /// <summary>Control id → OBX lines, for messages answered AA.</summary>
    public ConcurrentDictionary<string, int> Messages { get; } = new();

    /// <summary>Control ids of every message sent, answered or not.</summary>
    public ConcurrentDictionary<string, int> MessagesSent { get; } = new();

    /// <summary>Transaction marker → the patient's personnummer, for transactions answered 200.</summary>
    public ConcurrentDictionary<string, string> Transactions { get; } = new();

    public ConcurrentDictionary<string, string> TransactionsSent { get; } = new();

    public ConcurrentDictionary<Guid, bool> Attested { get; } = new();

    /// <summary>Source → target, for merges answered 200.</summary>
    public ConcurrentDictionary<Guid, Guid> Merges { get; } = new();

    /// <summary>Every pair a merge was tried on (whatever its answer).</summary>
    public ConcurrentDictionary<Guid, Guid> MergesTried { get; } = new();

    /// <summary>Acknowledged writes by kind (create, autosave, sign, amend, hl7, fhir-transaction, attest, merge).</summary>
    public ConcurrentDictionary<string, long> Acknowledged { get; } = new();

    public long Total => Acknowledged.Values.Sum();

    public void Count(string kind) => Acknowledged.AddOrUpdate(kind, 1, (_, n) => n + 1);

    /// <summary>Adds this ledger's entries to <paramref name="whole"/> (a round's into the run's).</summary>
    public void AddTo(CrashLedger whole)
    {
        foreach (var (k, v) in Notes) whole.Notes[k] = v;
        foreach (var (k, v) in Messages) whole.Messages[k] = v;
        foreach (var (k, v) in MessagesSent) whole.MessagesSent[k] = v;
        foreach (var (k, v) in Transactions) whole.Transactions[k] = v;
        foreach (var (k, v) in TransactionsSent) whole.TransactionsSent[k] = v;
        foreach (var (k, v) in Attested) whole.Attested[k] = v;
        foreach (var (k, v) in Merges) whole.Merges[k] = v;
        foreach (var (k, v) in MergesTried) whole.MergesTried[k] = v;
        foreach (var (k, v) in Acknowledged) whole.Acknowledged.AddOrUpdate(k, v, (_, n) => n + v);
    }
}
