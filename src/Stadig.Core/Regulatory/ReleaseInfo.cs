using System.Reflection;

namespace Stadig.Regulatory;

/// <summary>This build's version and commit, from the informational version the SDK stamps ("1.0.0+&lt;commit&gt;").</summary>
public sealed record ReleaseInfo(string Version, string Commit)
{
    public const string UnknownCommit = "unknown";

    public static ReleaseInfo Current { get; } = From(typeof(ReleaseInfo).Assembly
        .GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion);

    public static ReleaseInfo From(string? informationalVersion)
    {
        if (string.IsNullOrWhiteSpace(informationalVersion)) return new("0.0.0", UnknownCommit);
        var plus = informationalVersion.IndexOf('+');
        return plus < 0
            ? new(informationalVersion, UnknownCommit)
            : new(informationalVersion[..plus], informationalVersion[(plus + 1)..]);
    }

    public string ShortCommit => Commit.Length > 12 ? Commit[..12] : Commit;

    /// <summary>The folder name of this release's regulatory file.</summary>
    public string FolderName => $"{Version}-{ShortCommit}";

    /// <summary>Whether evidence naming <paramref name="commit"/> was produced on this release (a short hash matches its full form).</summary>
    public bool Matches(string? commit) =>
        Commit != UnknownCommit && !string.IsNullOrWhiteSpace(commit) && commit.Length >= 7
        && (Commit.StartsWith(commit, StringComparison.OrdinalIgnoreCase) || commit.StartsWith(Commit, StringComparison.OrdinalIgnoreCase));
}
