namespace Stadig.Tests.Hl7;

/// <summary>The third-party sample files in Hl7/Samples (see its README), read from the source tree.</summary>
public static class Hl7Samples
{
    public static string Folder { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "Stadig.Tests", "Hl7", "Samples");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException("tests/Stadig.Tests/Hl7/Samples not found above " + AppContext.BaseDirectory);
    }

    public static string Read(string relativePath) => File.ReadAllText(Path.Combine(Folder, relativePath));

    public static IEnumerable<string> BadInputs() =>
        Directory.EnumerateFiles(Path.Combine(Folder, "nhapi", "BadInputs"), "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal);

    public static IEnumerable<string> Messages() =>
        Directory.EnumerateFiles(Folder, "*", SearchOption.AllDirectories)
            .Where(f => !f.Contains("BadInputs", StringComparison.Ordinal) && !f.EndsWith("uuencoded_escaped.txt", StringComparison.Ordinal) && (f.EndsWith(".hl7", StringComparison.Ordinal) || f.EndsWith(".txt", StringComparison.Ordinal)))
            .Order(StringComparer.Ordinal);
}
