using System.Text.Json;
using System.Xml.Linq;

namespace Stadig.Regulatory;

public sealed record SoupItem(string Name, string Version, bool Direct, string Licence, string? Purpose, string KnownIssues);

/// <summary>
/// The CycloneDX SBOM the SOUP list was checked against (made by the CycloneDX tool pinned in
/// .config/dotnet-tools.json): its file, specification version, NuGet components, and every package on
/// which the two disagree, each of which makes the regulatory file incomplete.
/// </summary>
public sealed record SbomCheck(string File, string SpecVersion, int Components, IReadOnlyList<string> Differences);

/// <summary>
/// Software of unknown provenance: every package the shipped executable is built from, read from the
/// restore graph of src/Stadig (obj/project.assets.json: the same graph `dotnet list package
/// --include-transitive` and CycloneDX read), with the licence from each package's nuspec and the purpose
/// from the committed map docs/regulatory/soup-purpose.json. A package without a purpose makes the list incomplete.
/// </summary>
public sealed record SoupList(IReadOnlyList<SoupItem> Items, string KnownIssuesNote)
{
    public const string PurposeFileName = "soup-purpose.json";
    public const string ShippedProject = "src/Stadig";

    /// <summary>Projects whose own package references count as direct (the web project and the core it references).</summary>
    public static readonly string[] OwnProjects = [ShippedProject, "src/Stadig.Core"];

    /// <summary>Known vulnerabilities need NuGet's online vulnerability data: `dotnet list package --vulnerable` is run where the network allows.</summary>
    public const string OfflineNote =
        "Not checked in this build: known vulnerabilities come from nuget.org's vulnerability data, which needs the network. Run `dotnet list package --vulnerable --include-transitive` on src/Stadig where it is reachable and attach the output.";

    public IReadOnlyList<string> MissingPurpose => Items.Where(i => string.IsNullOrWhiteSpace(i.Purpose)).Select(i => i.Name).ToList();
    public bool IsComplete => MissingPurpose.Count == 0 && (Sbom?.Differences.Count ?? 0) == 0;

    /// <summary>Null: not checked against an SBOM (`stadig regulatory-file` without --sbom).</summary>
    public SbomCheck? Sbom { get; init; }

    /// <summary>
    /// Checks the list against a CycloneDX SBOM (JSON) of the same project: every NuGet component must be
    /// in the list at the same version and every listed package in the SBOM. A licence the local package
    /// cache could not tell is taken from the SBOM.
    /// </summary>
    public SoupList CheckedAgainst(string bomJson, string fileName)
    {
        var components = new Dictionary<string, (string Version, string? Licence)>(StringComparer.OrdinalIgnoreCase);
        string spec;
        try
        {
            using var doc = JsonDocument.Parse(bomJson);
            var root = doc.RootElement;
            if (!root.TryGetProperty("bomFormat", out var format) || format.GetString() != "CycloneDX")
                throw new EvidenceException($"{fileName} is not a CycloneDX SBOM (no bomFormat CycloneDX).");
            spec = root.TryGetProperty("specVersion", out var v) ? v.GetString() ?? "?" : "?";
            var list = root.TryGetProperty("components", out var found) ? found.EnumerateArray().ToList() : new List<JsonElement>();
            foreach (var c in list)
            {
                // Only NuGet packages: the SBOM may also name the projects themselves, which are Stadig, not SOUP.
                var purl = c.TryGetProperty("purl", out var p) ? p.GetString() ?? "" : "";
                if (!purl.StartsWith("pkg:nuget/", StringComparison.OrdinalIgnoreCase)) continue;
                var name = c.GetProperty("name").GetString()!;
                var version = c.GetProperty("version").GetString()!;
                components[name] = (version, SbomLicence(c));
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new EvidenceException($"{fileName} is not a readable CycloneDX SBOM: {e.Message}");
        }
        var differences = new List<string>();
        foreach (var (name, (version, _)) in components.OrderBy(c => c.Key, StringComparer.OrdinalIgnoreCase))
        {
            var item = Items.FirstOrDefault(i => i.Name.Equals(name, StringComparison.OrdinalIgnoreCase));
            if (item is null) differences.Add($"package {name} {version} is in the CycloneDX SBOM but not in the SOUP list.");
            else if (item.Version != version) differences.Add($"package {name} is {item.Version} in the SOUP list but {version} in the CycloneDX SBOM.");
        }
        foreach (var item in Items.Where(i => !components.ContainsKey(i.Name)))
            differences.Add($"package {item.Name} {item.Version} is in the SOUP list but not in the CycloneDX SBOM.");
        var items = Items.Select(i => i.Licence.StartsWith("unknown", StringComparison.Ordinal) || i.Licence == "not stated in the package"
                ? components.TryGetValue(i.Name, out var c) && c.Licence is { } l ? i with { Licence = l + " (from the SBOM)" } : i
                : i).ToList();
        return this with { Items = items, Sbom = new SbomCheck(fileName, spec, components.Count, differences) };
    }

    private static string? SbomLicence(JsonElement component)
    {
        if (!component.TryGetProperty("licenses", out var licences)) return null;
        var names = new List<string>();
        foreach (var entry in licences.EnumerateArray())
        {
            if (entry.TryGetProperty("expression", out var expression)) names.Add(expression.GetString() ?? "");
            else if (entry.TryGetProperty("license", out var licence))
                names.Add(licence.TryGetProperty("id", out var id) ? id.GetString() ?? "" : licence.TryGetProperty("name", out var n) ? n.GetString() ?? "" : "");
        }
        names.RemoveAll(string.IsNullOrWhiteSpace);
        return names.Count == 0 ? null : string.Join(" OR ", names);
    }

    public static SoupList Read(string repositoryRoot, string? knownIssuesFile = null)
    {
        var assets = Path.Combine(repositoryRoot, ShippedProject, "obj", "project.assets.json");
        if (!File.Exists(assets))
            throw new EvidenceException($"No package graph at {assets}: restore or build src/Stadig first.");
        var purposes = ReadPurposes(Path.Combine(repositoryRoot, "docs", "regulatory", PurposeFileName));
        var direct = OwnProjects.Select(p => Path.Combine(repositoryRoot, p, "obj", "project.assets.json")).Where(File.Exists)
            .SelectMany(p => DirectDependencies(File.ReadAllText(p))).ToHashSet(StringComparer.OrdinalIgnoreCase);
        return FromAssets(File.ReadAllText(assets), purposes, knownIssuesFile is null ? null : File.ReadAllText(knownIssuesFile), direct);
    }

    public static IReadOnlyDictionary<string, string> ReadPurposes(string path)
    {
        if (!File.Exists(path)) throw new EvidenceException($"The SOUP purpose map {path} does not exist.");
        try
        {
            return JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(path))
                   ?? throw new EvidenceException($"The SOUP purpose map {path} is empty.");
        }
        catch (JsonException e)
        {
            throw new EvidenceException($"The SOUP purpose map {path} is not a JSON object of package → purpose: {e.Message}");
        }
    }

    /// <param name="vulnerableOutput">The JSON of `dotnet list package --vulnerable --format json`, when it could be run.</param>
    public static SoupList FromAssets(string assetsJson, IReadOnlyDictionary<string, string> purposes, string? vulnerableOutput = null, ISet<string>? direct = null)
    {
        using var doc = JsonDocument.Parse(assetsJson);
        var root = doc.RootElement;
        var folders = root.GetProperty("packageFolders").EnumerateObject().Select(p => p.Name).ToList();
        direct ??= DirectDependencies(assetsJson).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var vulnerable = Vulnerabilities(vulnerableOutput);
        var items = new SortedDictionary<string, SoupItem>(StringComparer.OrdinalIgnoreCase);
        foreach (var target in root.GetProperty("targets").EnumerateObject())
            foreach (var library in target.Value.EnumerateObject())
            {
                if (library.Value.GetProperty("type").GetString() != "package") continue;
                var slash = library.Name.IndexOf('/');
                var (name, version) = (library.Name[..slash], library.Name[(slash + 1)..]);
                items[name] = new SoupItem(name, version, direct.Contains(name), Licence(folders, name, version),
                    purposes.GetValueOrDefault(name),
                    vulnerableOutput is null ? "not checked (offline)" : vulnerable.GetValueOrDefault(name, "none known"));
            }
        return new SoupList(items.Values.ToList(), vulnerableOutput is null ? OfflineNote : "From `dotnet list package --vulnerable --include-transitive`.");
    }

    private static List<string> DirectDependencies(string assetsJson)
    {
        using var doc = JsonDocument.Parse(assetsJson);
        var names = new List<string>();
        foreach (var framework in doc.RootElement.GetProperty("project").GetProperty("frameworks").EnumerateObject())
            if (framework.Value.TryGetProperty("dependencies", out var deps))
                names.AddRange(deps.EnumerateObject().Select(d => d.Name));
        return names;
    }

    private static string Licence(IEnumerable<string> folders, string name, string version)
    {
        foreach (var folder in folders)
        {
            var nuspec = Path.Combine(folder, name.ToLowerInvariant(), version.ToLowerInvariant(), name.ToLowerInvariant() + ".nuspec");
            if (!File.Exists(nuspec)) continue;
            var metadata = XDocument.Load(nuspec).Root?.Elements().FirstOrDefault(e => e.Name.LocalName == "metadata");
            var licence = metadata?.Elements().FirstOrDefault(e => e.Name.LocalName == "license");
            if (licence is not null)
                return (string?)licence.Attribute("type") == "file" ? $"in the package's file {licence.Value.Trim()}" : licence.Value.Trim();
            var url = metadata?.Elements().FirstOrDefault(e => e.Name.LocalName == "licenseUrl");
            if (url is not null) return url.Value.Trim();
            return "not stated in the package";
        }
        return "unknown (package not in the local cache)";
    }

    private static Dictionary<string, string> Vulnerabilities(string? output)
    {
        var found = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (output is null) return found;
        using var doc = JsonDocument.Parse(output);
        foreach (var package in doc.RootElement.Descendants("topLevelPackages").Concat(doc.RootElement.Descendants("transitivePackages")))
            foreach (var p in package.EnumerateArray())
                if (p.TryGetProperty("vulnerabilities", out var v))
                    found[p.GetProperty("id").GetString()!] = string.Join("; ", v.EnumerateArray().Select(x =>
                        $"{x.GetProperty("severity").GetString()} {x.GetProperty("advisoryurl").GetString()}"));
        return found;
    }
}

internal static class JsonWalk
{
    public static IEnumerable<JsonElement> Descendants(this JsonElement element, string property)
    {
        if (element.ValueKind == JsonValueKind.Object)
            foreach (var p in element.EnumerateObject())
            {
                if (p.Name == property) yield return p.Value;
                foreach (var d in p.Value.Descendants(property)) yield return d;
            }
        else if (element.ValueKind == JsonValueKind.Array)
            foreach (var item in element.EnumerateArray())
                foreach (var d in item.Descendants(property)) yield return d;
    }
}
