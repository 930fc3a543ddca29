using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Stadig.Telemetry;

/// <summary>
/// The domain's own traces and metrics, in plain System.Diagnostics so the core needs no telemetry
/// package: the web host subscribes to these names (src/Stadig/Telemetry). Nothing here may carry
/// patient data: attributes are kinds, states and codes, never names, numbers, ids or texts.
/// </summary>
public static class StadigTelemetry
{
    /// <summary>HL7 v2 over MLLP: receive → parse → file → ACK.</summary>
    public static readonly ActivitySource Hl7 = new("Stadig.Hl7");

    /// <summary>SQLite commands (PostgreSQL's are Npgsql's own spans).</summary>
    public static readonly ActivitySource Storage = new("Stadig.Storage");

    /// <summary>Metrics of the use cases (the host's own, per request class, are on the host's meter).</summary>
    public static readonly Meter Meter = new("Stadig.Core");

    /// <summary>How long a draft's save took (the browser's autosave and a form's save), in seconds.</summary>
    public static readonly Histogram<double> AutosaveDuration = Meter.CreateHistogram<double>(
        "stadig.notes.autosave.duration", "s", "Time to save a draft note (autosave).");

    /// <summary>How long signing a note took, in seconds.</summary>
    public static readonly Histogram<double> SignDuration = Meter.CreateHistogram<double>(
        "stadig.notes.sign.duration", "s", "Time to sign a note (with or without saving its text in the same step).");

    /// <summary>
    /// Transactions PostgreSQL rolled back to break a deadlock (40P01) or a serialisation conflict (40001),
    /// by SQL state: answered 503 with Retry-After (nothing saved, try again), so they are not errors in the
    /// log; a rate that rises is a lock-order bug or a hot row for the operators to see.
    /// </summary>
    public static readonly Counter<long> ConflictsRolledBack = Meter.CreateCounter<long>(
        "stadig.database.conflicts_rolled_back", "{transaction}", "Transactions the database rolled back to break a deadlock or a serialisation conflict.");

    /// <summary>Records the time since <paramref name="started"/> (a Stopwatch timestamp) when anyone listens.</summary>
    public static void RecordSince(Histogram<double> histogram, long started)
    {
        if (histogram.Enabled) histogram.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);
    }
}
