using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;

namespace Stadig.Tests.Fhir.Validation;

/// <summary>
/// Every official FHIR R4 example: the npm package hl7.fhir.r4.examples 4.0.1 (HL7 International,
/// CC0-1.0), 5,307 JSON files, fetched at build by the test project (see Stadig.Tests.csproj) and read
/// straight from the tarball. Fhir/Examples in the repository holds only the types Stadig keeps.
/// </summary>
public static class OfficialExamplesPackage
{
    public static string Tarball { get; } = Path.Combine(AppContext.BaseDirectory, "Fhir", "hl7.fhir.r4.examples-4.0.1.tgz");

    /// <summary>The npm registry's integrity value for the tarball (dist.integrity).</summary>
    private const string Integrity = "DXBdIZOeQaSKIgCU7w6HOC7sw/6BzylmipLkBW4f//pT+Bc94x+8LImwTdvaNThPJoOzpBzvxAzNqjeu3X/zLw==";

    private static readonly Lazy<IReadOnlyList<(string Name, string Json)>> LazyFiles = new(Read);

    /// <summary>File name (as in the package, without the folder) and content, in ordinal order of names.</summary>
    public static IReadOnlyList<(string Name, string Json)> Files => LazyFiles.Value;

    private static IReadOnlyList<(string Name, string Json)> Read()
    {
        if (!File.Exists(Tarball))
            throw new InvalidOperationException($"{Tarball} is missing: the test project downloads it when built (target FetchOfficialFhirExamples); build with network access once.");
        var bytes = File.ReadAllBytes(Tarball);
        var hash = Convert.ToBase64String(SHA512.HashData(bytes));
        if (hash != Integrity)
            throw new InvalidOperationException($"{Tarball} is not the published hl7.fhir.r4.examples 4.0.1 (SHA-512 {hash}); delete it and rebuild.");
        var files = new List<(string, string)>();
        using var gzip = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
        using var tar = new TarReader(gzip);
        while (tar.GetNextEntry() is { } entry)
        {
            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null) continue;
            var name = entry.Name.StartsWith("package/", StringComparison.Ordinal) ? entry.Name["package/".Length..] : entry.Name;
            // The package's own metadata (package.json, .index.json) are not examples.
            if (name.Contains('/') || !name.EndsWith(".json", StringComparison.Ordinal) || name == "package.json" || name.StartsWith('.')) continue;
            using var reader = new StreamReader(entry.DataStream);
            files.Add((name, reader.ReadToEnd()));
        }
        return files.OrderBy(f => f.Item1, StringComparer.Ordinal).ToList();
    }
}
