using System.Globalization;
using System.Text;

namespace Stadig.Downtime;

/// <summary>One snapshot generation of a unit (its HTML file) and the time it was taken.</summary>
public sealed record SnapshotGeneration(string Path, DateTimeOffset TakenAt)
{
    /// <summary>The generation's PDF for printing, beside the HTML file under the same name.</summary>
    public string PdfPath => SnapshotFiles.PdfFor(Path);
}

/// <summary>
/// The snapshot folder: one subfolder per unit (its HSA-id) with the generations, named by their time
/// (UTC), and a copy of the newest under a fixed name for the downtime PC's shortcut. A generation is
/// two files under one name: the HTML file and the PDF for printing. Files are written beside their
/// name and renamed when complete, so a reader never opens half a snapshot; the PDF first, so a
/// generation whose HTML file is there has its PDF too.
/// </summary>
public static class SnapshotFiles
{
    public const string Prefix = "reservrutin-";
    public const string LatestName = "reservrutin-senaste.html";
    public const string LatestPdfName = "reservrutin-senaste.pdf";
    private const string TimeFormat = "yyyyMMdd'T'HHmmssfff'Z'";
    private const string LockName = ".skrivs";

    /// <summary>An HSA-id as a file name: anything but letters, digits and '-' becomes '_'.</summary>
    public static string SafeName(string hsaId) =>
        new(hsaId.Select(c => char.IsAsciiLetterOrDigit(c) || c == '-' ? c : '_').ToArray());

    public static string UnitFolder(string root, string unitHsaId) => Path.Combine(root, SafeName(unitHsaId));

    /// <summary>A generation's file name (no folder): the time in UTC, with <paramref name="extension"/> ("html" or "pdf").</summary>
    public static string FileName(DateTimeOffset takenAt, string extension) =>
        Prefix + takenAt.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture) + "." + extension;

    /// <summary>The PDF beside a generation's HTML file.</summary>
    public static string PdfFor(string htmlPath) => Path.ChangeExtension(htmlPath, ".pdf");

    /// <summary>The unit's generations, newest first (the fixed-name copy is not one).</summary>
    public static IReadOnlyList<SnapshotGeneration> Generations(string root, string unitHsaId)
    {
        var folder = UnitFolder(root, unitHsaId);
        if (!Directory.Exists(folder)) return [];
        return Directory.GetFiles(folder, Prefix + "*.html")
            .Select(path => (path, at: StampOf(path)))
            .Where(f => f.at is not null)
            .Select(f => new SnapshotGeneration(f.path, f.at!.Value))
            .OrderByDescending(g => g.TakenAt).ToList();
    }

    /// <summary>
    /// Writes a generation (its PDF when there is one, then its HTML file) and the newest copies, then
    /// deletes all but the newest <paramref name="kept"/> generations. Returns the HTML file's path.
    /// </summary>
    public static async Task<string> WriteAsync(string root, string unitHsaId, DateTimeOffset takenAt, string html, byte[]? pdf, int kept,
        CancellationToken cancellationToken)
    {
        var folder = UnitFolder(root, unitHsaId);
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, FileName(takenAt, "html"));
        if (pdf is not null)
        {
            await WriteWholeAsync(PdfFor(path), pdf, cancellationToken);
            await WriteWholeAsync(Path.Combine(folder, LatestPdfName), pdf, cancellationToken);
        }
        else if (File.Exists(Path.Combine(folder, LatestPdfName)))
        {
            // A newest-copy PDF older than the newest HTML would be printed as if it were current.
            File.Delete(Path.Combine(folder, LatestPdfName));
        }
        var bytes = Encoding.UTF8.GetBytes(html);
        await WriteWholeAsync(path, bytes, cancellationToken);
        await WriteWholeAsync(Path.Combine(folder, LatestName), bytes, cancellationToken);
        Prune(root, unitHsaId, kept);
        return path;
    }

    /// <summary>Deletes all but the newest <paramref name="kept"/> generations of the unit, each with its PDF; returns how many were deleted.</summary>
    public static int Prune(string root, string unitHsaId, int kept)
    {
        var deleted = 0;
        foreach (var old in Generations(root, unitHsaId).Skip(Math.Max(1, kept)))
        {
            File.Delete(old.PdfPath);
            File.Delete(old.Path);
            deleted++;
        }
        // A PDF whose HTML file never came (the node stopped between the two) is no generation: it goes once a newer one is there.
        var generations = Generations(root, unitHsaId);
        if (generations.Count > 0)
        {
            var keptPdfs = generations.Select(g => g.PdfPath).ToHashSet(StringComparer.Ordinal);
            foreach (var pdf in Directory.GetFiles(UnitFolder(root, unitHsaId), Prefix + "*.pdf"))
                if (!keptPdfs.Contains(pdf) && StampOf(pdf) is { } at && at < generations[0].TakenAt)
                    File.Delete(pdf);
        }
        return deleted;
    }

    private static DateTimeOffset? StampOf(string path) =>
        DateTime.TryParseExact(Path.GetFileNameWithoutExtension(path)[Prefix.Length..], TimeFormat, CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var at) ? new DateTimeOffset(at, TimeSpan.Zero) : null;

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
