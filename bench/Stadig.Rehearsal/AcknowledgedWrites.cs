using System.Globalization;

namespace Stadig.Rehearsal;

/// <summary>
/// Every write the server acknowledged during a run (a note created, an autosave at a version, a
/// signature, an attestation, a lab message answered AA), one line each with the moment of the answer,
/// when the run is given --ledger FILE. bench/failover.sh checks each of them on the database after
/// the failovers (<see cref="FailoverVerifier"/>). Ids only: no patient data. The ledger belongs to the
/// flow that opened it (and the tasks it starts): a run inside the test process (the downtime drill's
/// short form) must not collect another test's acknowledgements.
/// </summary>
public static class AcknowledgedWrites
{
    private static readonly AsyncLocal<StreamWriter?> Writer = new();
    private static readonly Lock Gate = new();

    /// <summary>Opens the ledger for this flow; call it (synchronously) before starting the run.</summary>
    public static void Open(string path)
    {
        Writer.Value = new StreamWriter(path, append: false) { AutoFlush = true };
    }

    /// <summary>
    /// One acknowledged write: answered now, its request sent at <paramref name="sentAt"/>. The outage
    /// after a kill is measured to the first write sent after it: one sent before and answered after
    /// committed on the old primary and says nothing about the new one.
    /// </summary>
    public static void Add(string kind, string id, DateTimeOffset sentAt, string extra = "")
    {
        if (Writer.Value is not { } writer) return;
        var line = string.Create(CultureInfo.InvariantCulture,
            $"{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}\t{kind}\t{id}\t{extra}\t{sentAt.ToUnixTimeMilliseconds()}");
        lock (Gate) writer.WriteLine(line);
    }

    public static void Close()
    {
        lock (Gate)
        {
            Writer.Value?.Dispose();
            Writer.Value = null;
        }
    }
}
