using System.Text;

namespace Stadig.Downtime;

/// <summary>Why a unit gets no snapshot. Never the key itself: keys are not shown or logged anywhere.</summary>
public enum SnapshotProblem
{
    None,
    /// <summary>Stadig:Downtime:Snapshots:KeyFolder is not set.</summary>
    NoKeyFolder,
    /// <summary>The unit has no key file.</summary>
    NoKey,
    /// <summary>The key file may be read by others than Stadig's account (group or other permissions).</summary>
    KeyReadableByOthers,
    /// <summary>The key is shorter than <see cref="SnapshotKeys.MinLength"/> characters.</summary>
    KeyTooShort,
    /// <summary>The snapshot could not be written (folder missing, full or read-only).</summary>
    WriteFailed,
    /// <summary>The record could not be read (the database is down).</summary>
    ReadFailed,
    /// <summary>The PDF for printing could not be made (its font is missing); the HTML file was written.</summary>
    PrintFailed,
}

/// <summary>
/// Each unit's downtime key: a passphrase in <c>{KeyFolder}/{unit HSA-id}.key</c> (UTF-8, surrounding
/// white space ignored), which the unit's staff type to open the snapshot. A key file that others may
/// read is refused, as ssh refuses such a private key.
/// </summary>
public static class SnapshotKeys
{
    public const int MinLength = 12;

    public static string PathFor(string keyFolder, string unitHsaId) => Path.Combine(keyFolder, SnapshotFiles.SafeName(unitHsaId) + ".key");

    /// <summary>The unit's passphrase, or the problem that keeps it from being used.</summary>
    public static (string? Key, SnapshotProblem Problem) Read(string? keyFolder, string unitHsaId)
    {
        if (string.IsNullOrWhiteSpace(keyFolder)) return (null, SnapshotProblem.NoKeyFolder);
        var path = PathFor(keyFolder, unitHsaId);
        if (!File.Exists(path)) return (null, SnapshotProblem.NoKey);
        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & OthersMayUse) != 0) return (null, SnapshotProblem.KeyReadableByOthers);
        var key = File.ReadAllText(path, Encoding.UTF8).Trim().NormalizeText(NormalizationForm.FormC);
        return key.Length < MinLength ? (null, SnapshotProblem.KeyTooShort) : (key, SnapshotProblem.None);
    }

    /// <summary>Writes a unit's key file readable by this account only (for operators and tests).</summary>
    public static void Write(string keyFolder, string unitHsaId, string passphrase)
    {
        Directory.CreateDirectory(keyFolder);
        var path = PathFor(keyFolder, unitHsaId);
        if (OperatingSystem.IsWindows())
        {
            File.WriteAllText(path, passphrase, Encoding.UTF8);
            return;
        }
        using (var file = new FileStream(path, new FileStreamOptions
               {
                   Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
               }))
            file.Write(Encoding.UTF8.GetBytes(passphrase));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    private const UnixFileMode OthersMayUse = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
}
