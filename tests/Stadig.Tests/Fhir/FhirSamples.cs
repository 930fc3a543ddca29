namespace Stadig.Tests.Fhir;

/// <summary>The third-party FHIR files under tests/Stadig.Tests/Fhir (see the READMEs there), read from the source tree.</summary>
public static class FhirSamples
{
    public static string Folder { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "Stadig.Tests", "Fhir");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException("tests/Stadig.Tests/Fhir not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The Synthea bundles: the directory bundles (hospitals, practitioners) first, as their patients' records point at them.</summary>
    public static IReadOnlyList<string> SyntheaBundles() =>
        Directory.EnumerateFiles(Path.Combine(Folder, "Synthea"), "*.json")
            .OrderBy(f => Path.GetFileName(f).StartsWith("hospital", StringComparison.Ordinal) || Path.GetFileName(f).StartsWith("practitioner", StringComparison.Ordinal) ? 0 : 1)
            .ThenBy(f => f, StringComparer.Ordinal).ToList();
}
