using System.Collections.Frozen;
using System.Text.Json;

namespace Stadig.Fhir.Validation;

/// <summary>
/// The trimmed R4 structure definitions embedded as Fhir/Definitions/r4-structure.json (written by
/// tools/fhir-definitions/generate.mjs), indexed for the validator: for every element that has
/// children (a resource, a datatype, a backbone element) the children by their JSON property name.
/// </summary>
internal sealed class FhirStructure
{
    private const string ResourceName = "Stadig.Fhir.Definitions.r4-structure.json";

    public required string FhirVersion { get; init; }
    public required FrozenSet<string> SupportedResources { get; init; }
    public required FrozenSet<string> AllResourceTypes { get; init; }
    public required FrozenSet<string> PrimitiveTypes { get; init; }
    public required IReadOnlyList<string> UnexpandedRequiredValueSets { get; init; }

    /// <summary>Keyed by the path of the parent: "Patient", "Patient.contact", "HumanName", "Element".</summary>
    public required FrozenDictionary<string, ElementChildren> ChildrenByPath { get; init; }

    public static FhirStructure Load()
    {
        using var stream = typeof(FhirStructure).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"Embedded resource {ResourceName} is missing.");
        using var document = JsonDocument.Parse(stream);
        var root = document.RootElement;

        var valueSets = new Dictionary<string, RequiredValueSet>(StringComparer.Ordinal);
        foreach (var valueSet in root.GetProperty("valueSets").EnumerateObject())
        {
            var bySystem = new Dictionary<string, FrozenSet<string>>(StringComparer.Ordinal);
            var all = new HashSet<string>(StringComparer.Ordinal);
            foreach (var system in valueSet.Value.EnumerateObject())
            {
                var codes = system.Value.EnumerateArray().Select(c => c.GetString()!).ToArray();
                bySystem[system.Name] = codes.ToFrozenSet(StringComparer.Ordinal);
                all.UnionWith(codes);
            }
            valueSets[valueSet.Name] = new RequiredValueSet(valueSet.Name, bySystem.ToFrozenDictionary(StringComparer.Ordinal), all.ToFrozenSet(StringComparer.Ordinal));
        }

        var primitives = new HashSet<string>(StringComparer.Ordinal);
        var elements = new List<ElementDefinition>();
        foreach (var type in root.GetProperty("types").EnumerateObject())
        {
            if (type.Value.GetProperty("kind").GetString() == "primitive-type")
            {
                primitives.Add(type.Name);
                continue;
            }
            foreach (var element in type.Value.GetProperty("elements").EnumerateArray())
            {
                var path = element.GetProperty("path").GetString()!;
                if (!path.Contains('.', StringComparison.Ordinal)) continue;
                elements.Add(ReadElement(element, path, valueSets));
            }
        }

        var pathsWithChildren = elements.Select(e => ParentOf(e.Path)).ToHashSet(StringComparer.Ordinal);
        foreach (var element in elements)
        {
            // Backbone elements (and Element-typed parts of datatypes such as Timing.repeat) carry their
            // children under their own path; a contentReference borrows those of another element.
            element.ChildrenPath =
                pathsWithChildren.Contains(element.Path) ? element.Path
                : element.ContentReference ?? (element.Types.Length == 1 ? element.Types[0].Code : null);
        }

        var childrenByPath = elements
            .GroupBy(e => ParentOf(e.Path), StringComparer.Ordinal)
            .ToFrozenDictionary(g => g.Key, g => ElementChildren.Create(g.ToArray()), StringComparer.Ordinal);

        return new FhirStructure
        {
            FhirVersion = root.GetProperty("fhirVersion").GetString()!,
            SupportedResources = ReadStrings(root.GetProperty("supportedResources")).ToFrozenSet(StringComparer.Ordinal),
            AllResourceTypes = ReadStrings(root.GetProperty("allResourceTypes")).ToFrozenSet(StringComparer.Ordinal),
            PrimitiveTypes = primitives.ToFrozenSet(StringComparer.Ordinal),
            UnexpandedRequiredValueSets = ReadStrings(root.GetProperty("unexpandedRequiredValueSets")).ToArray(),
            ChildrenByPath = childrenByPath,
        };
    }

    private static ElementDefinition ReadElement(JsonElement element, string path, Dictionary<string, RequiredValueSet> valueSets)
    {
        var max = element.GetProperty("max").GetString()!;
        var types = element.TryGetProperty("types", out var typesElement)
            ? typesElement.EnumerateArray().Select(t => new ElementType(
                t.GetProperty("code").GetString()!,
                t.TryGetProperty("targets", out var targets) ? ReadStrings(targets).ToFrozenSet(StringComparer.Ordinal) : null)).ToArray()
            : [];
        return new ElementDefinition
        {
            Path = path,
            Min = element.GetProperty("min").GetInt32(),
            Max = max == "*" ? int.MaxValue : int.Parse(max, System.Globalization.CultureInfo.InvariantCulture),
            Types = types,
            ContentReference = element.TryGetProperty("contentReference", out var reference) ? reference.GetString() : null,
            Binding = element.TryGetProperty("binding", out var binding) ? valueSets[binding.GetString()!] : null,
        };
    }

    private static IEnumerable<string> ReadStrings(JsonElement array) => array.EnumerateArray().Select(s => s.GetString()!);

    private static string ParentOf(string path) => path[..path.LastIndexOf('.')];
}

/// <summary>One element of a structure definition, as the validator needs it.</summary>
internal sealed class ElementDefinition
{
    public required string Path { get; init; }
    public required int Min { get; init; }
    /// <summary>int.MaxValue for "*".</summary>
    public required int Max { get; init; }
    public required ElementType[] Types { get; init; }
    public required string? ContentReference { get; init; }
    public required RequiredValueSet? Binding { get; init; }

    /// <summary>Where the children of a complex value are found; null for primitives.</summary>
    public string? ChildrenPath { get; set; }

    /// <summary>Position among its siblings, so that presence can be tracked in a small array.</summary>
    public int Index { get; set; }

    public string Name => Path[(Path.LastIndexOf('.') + 1)..];
    public bool IsChoice => Path.EndsWith("[x]", StringComparison.Ordinal);
    public bool IsArray => Max > 1;
    public string ChoiceBaseName => Name[..^3];
}

/// <summary>A type an element may have; Targets holds the resource names a Reference or canonical may point to (null: any).</summary>
internal sealed record ElementType(string Code, FrozenSet<string>? Targets);

/// <summary>The codes of a required binding, per code system and all together.</summary>
internal sealed record RequiredValueSet(string Url, FrozenDictionary<string, FrozenSet<string>> CodesBySystem, FrozenSet<string> AllCodes);

/// <summary>A JSON property an element is written as; for choice elements ChoiceType is the type its name picks.</summary>
internal sealed record ElementProperty(ElementDefinition Element, ElementType? ChoiceType);

/// <summary>The children of one element: in definition order, and by JSON property name ("valueQuantity" for "value[x]").</summary>
internal sealed class ElementChildren
{
    public required ElementDefinition[] Elements { get; init; }
    public required FrozenDictionary<string, ElementProperty> ByJsonName { get; init; }

    public static ElementChildren Create(ElementDefinition[] elements)
    {
        var byName = new Dictionary<string, ElementProperty>(StringComparer.Ordinal);
        for (var i = 0; i < elements.Length; i++)
        {
            var element = elements[i];
            element.Index = i;
            if (!element.IsChoice)
            {
                byName[element.Name] = new ElementProperty(element, null);
                continue;
            }
            foreach (var type in element.Types)
                byName[element.ChoiceBaseName + char.ToUpperInvariant(type.Code[0]) + type.Code[1..]] = new ElementProperty(element, type);
        }
        return new ElementChildren { Elements = elements, ByJsonName = byName.ToFrozenDictionary(StringComparer.Ordinal) };
    }
}
