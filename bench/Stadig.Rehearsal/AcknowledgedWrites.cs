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

    public static void Add(string kind, string id, string extra = "")
    {
        if (_writer is null) return;
        var line = $"{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture)}\t{kind}\t{id}\t{extra}";
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
