using System.Text.Json;

namespace Stadig.Audit;

/// <summary>
/// Read events held on this node's disk while the database refuses writes: one file per event,
/// on disk (flushed) before the data is shown, so a read is never shown unaudited. When writes
/// return, <see cref="ReplayAsync"/> chains them into the log at their original time, in order, once
/// each (an event already in the log is not added again, so a replay cut short is simply run again).
/// </summary>
public static class AuditSpool
{
    private const string Extension = ".audit.json";

    internal static async Task<AuditEvent> HoldAsync(string folder, AuditEvent unsigned, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, unsigned.Id.ToString("N") + Extension);
        var partial = path + ".partial";
        await using (var file = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.Asynchronous))
        {
            await JsonSerializer.SerializeAsync(file, unsigned, cancellationToken: cancellationToken);
            await file.FlushAsync(cancellationToken);
            file.Flush(flushToDisk: true);
        }
        // Renamed once complete: a half-written file is never replayed.
        File.Move(partial, path);
        return unsigned;
    }

    /// <summary>How many events are held in the folder.</summary>
    public static int Count(string? folder) =>
        folder is not null && Directory.Exists(folder) ? Directory.GetFiles(folder, "*" + Extension).Length : 0;

    /// <summary>Chains the held events into the log, oldest first (version 7 ids sort by time). Returns how many were added.</summary>
    public static async Task<int> ReplayAsync(string folder, AuditLog log, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(folder)) return 0;
        var added = 0;
        foreach (var path in Directory.GetFiles(folder, "*" + Extension).Order(StringComparer.Ordinal))
        {
            AuditEvent held;
            await using (var file = File.OpenRead(path))
                held = await JsonSerializer.DeserializeAsync<AuditEvent>(file, cancellationToken: cancellationToken)
                    ?? throw new InvalidDataException($"The held audit event {Path.GetFileName(path)} is empty.");
            if (await log.AppendHeldAsync(held, cancellationToken)) added++;
            File.Delete(path);
        }
        return added;
    }
}
