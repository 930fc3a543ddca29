using System.Globalization;
using System.Text;

namespace Stadig.Downtime;

/// <summary>One snapshot file of a unit and the time it was taken.</summary>
public sealed record SnapshotGeneration(string Path, DateTimeOffset TakenAt);

/// <summary>
/// The snapshot folder: one subfolder per unit (its HSA-id) with the generations, named by their time
/// (UTC), and a copy of the newest under a fixed name for the downtime PC's shortcut. Files are written
/// beside their name and renamed when complete, so a reader never opens half a snapshot.
/// </summary>
public static class SnapshotFiles
{
    public const string Prefix = "reservrutin-";
    public const string LatestName = "reservrutin-senaste.html";
    private const string TimeFormat = "yyyyMMdd'T'HHmmssfff'Z'";
    private const string LockName = ".skrivs";

    /// <summary>An HSA-id as a file name: anything but letters, digits and '-' becomes '_'.</summary>
    public static string SafeName(string hsaId) =>
        new(hsaId.Select(c => char.IsAsciiLetterOrDigit(c) || c == '-' ? c : '_').ToArray());

    public static string UnitFolder(string root, string unitHsaId) => Path.Combine(root, SafeName(unitHsaId));

    /// <summary>The unit's generations, newest first (the fixed-name copy is not one).</summary>
    public static IReadOnlyList<SnapshotGeneration> Generations(string root, string unitHsaId)
    {
        var folder = UnitFolder(root, unitHsaId);
        if (!Directory.Exists(folder)) return [];
        return Directory.GetFiles(folder, Prefix + "*.html")
            .Select(path => (path, stamp: Path.GetFileNameWithoutExtension(path)[Prefix.Length..]))
            .Where(f => DateTime.TryParseExact(f.stamp, TimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out _))
            .Select(f => new SnapshotGeneration(f.path, new DateTimeOffset(DateTime.ParseExact(f.stamp, TimeFormat, CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal), TimeSpan.Zero)))
            .OrderByDescending(g => g.TakenAt).ToList();
    }

    /// <summary>Writes a generation and the newest copy, then deletes all but the newest <paramref name="kept"/> generations.</summary>
    public static async Task<string> WriteAsync(string root, string unitHsaId, DateTimeOffset takenAt, string html, int kept, CancellationToken cancellationToken)
    {
        var folder = UnitFolder(root, unitHsaId);
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, Prefix + takenAt.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture) + ".html");
        var bytes = Encoding.UTF8.GetBytes(html);
        await WriteWholeAsync(path, bytes, cancellationToken);
        await WriteWholeAsync(Path.Combine(folder, LatestName), bytes, cancellationToken);
        Prune(root, unitHsaId, kept);
        return path;
    }

    /// <summary>Deletes all but the newest <paramref name="kept"/> generations of the unit; returns how many were deleted.</summary>
    public static int Prune(string root, string unitHsaId, int kept)
    {
        var deleted = 0;
        foreach (var old in Generations(root, unitHsaId).Skip(Math.Max(1, kept)))
        {
            File.Delete(old.Path);
            deleted++;
        }
        return deleted;
    }

    /// <summary>
    /// Several nodes run the schedule on one share: a lock file says a node is writing the unit now. A
    /// lock older than <paramref name="staleAfter"/> is from a node that died while writing and is taken over.
    /// </summary>
    public static IDisposable? TryLock(string root, string unitHsaId, TimeSpan staleAfter)
    {
        var folder = UnitFolder(root, unitHsaId);
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, LockName);
        for (var attempt = 0; attempt < 2; attempt++)
        {
            try
            {
                var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose);
                return stream;
            }
            catch (IOException) when (File.Exists(path))
            {
                // The file system's clock against the host's, not the region's injected one: both are the same machine's real time.
                if (DateTime.UtcNow - File.GetLastWriteTimeUtc(path) < staleAfter) return null;
                File.Delete(path);
            }
        }
        return null;
    }

    private static async Task WriteWholeAsync(string path, byte[] bytes, CancellationToken cancellationToken)
    {
        var partial = path + ".partial";
        await using (var file = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 81920, FileOptions.Asynchronous))
        {
            await file.WriteAsync(bytes, cancellationToken);
            await file.FlushAsync(cancellationToken);
            file.Flush(flushToDisk: true);
        }
        File.Move(partial, path, overwrite: true);
    }
}
