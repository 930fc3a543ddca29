using System.Globalization;

namespace Stadig.Rehearsal;

/// <summary>
/// Every write the server acknowledged during a run (a note created, an autosave at a version, a
/// signature, an attestation, a lab message answered AA), one line each with the moment of the answer,
/// when the run is given --ledger FILE. bench/failover.sh checks each of them on the database after
/// the failovers (<see cref="FailoverVerifier"/>). Ids only: no patient data.
/// </summary>
public static class AcknowledgedWrites
{
    private static StreamWriter? _writer;
    private static readonly Lock Gate = new();

    public static void Open(string path)
    {
        _writer = new StreamWriter(path, append: false) { AutoFlush = true };
    }

    /// <summary>
    /// One acknowledged write: answered now, its request sent at <paramref name="sentAt"/>. The outage
    /// after a kill is measured to the first write sent after it: one sent before and answered after
    /// committed on the old primary and says nothing about the new one.
    /// </summary>
    public static void Add(string kind, string id, DateTimeOffset sentAt, string extra = "")
    {
        if (_writer is null) return;
        var line = string.Create(CultureInfo.InvariantCulture,
            $"{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}\t{kind}\t{id}\t{extra}\t{sentAt.ToUnixTimeMilliseconds()}");
        lock (Gate) _writer.WriteLine(line);
    }

    public static void Close()
    {
        lock (Gate)
        {
            _writer?.Dispose();
            _writer = null;
        }
    }
}
