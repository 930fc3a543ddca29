using System.Text.Json.Nodes;
using Hl7.Fhir.Model;

namespace Stadig.Fhir;

/// <summary>
/// _summary and _elements (R4 3.1.1.5.7–8): a resource cut down to what the client asked for, and
/// tagged SUBSETTED so that nobody takes it for the whole and writes it back. Which elements are
/// summary elements and which are mandatory comes from the R4 model of the reference library.
/// The cut is made on the resource's top-level elements, as _elements names them.
/// </summary>
public static class FhirSubset
{
    public const string TagSystem = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue";
    public const string TagCode = "SUBSETTED";

    private static readonly HashSet<string> Summaries = new(StringComparer.Ordinal) { "true", "false", "text", "data", "count" };

    /// <summary>Checks a _summary value; null (absent) is fine.</summary>
    public static string? ParseSummary(string? value) =>
        value is null || Summaries.Contains(value) ? value
            : throw new FhirException(FhirFailureKind.Invalid, "value", "_summary", $"Invalid value '{value}' for _summary: use true, false, text, data or count.");

    /// <summary>Whether the request asks for less than the whole resource.</summary>
    public static bool Subsets(string? summary, IReadOnlyCollection<string> elements) =>
        summary is "true" or "text" or "data" || elements.Count > 0 && summary is not "false";

    /// <summary>A copy of <paramref name="resource"/> with only the asked-for elements, tagged SUBSETTED; the resource itself when nothing is cut.</summary>
    public static JsonObject Apply(JsonObject resource, string? summary, IReadOnlyCollection<string> elements)
    {
        if (!Subsets(summary, elements)) return resource;
        var type = FhirJson.String(resource["resourceType"]) ?? "";
        var mapping = ModelInfo.ModelInspector.FindClassMapping(type);
        // The element's property name without the choice suffix: valueQuantity → value.
        string? BaseName(string json)
        {
            var name = json.StartsWith('_') ? json[1..] : json;
            if (mapping is null) return name;
            if (mapping.FindMappedElementByName(name) is { } direct) return direct.Name;
            return mapping.PropertyMappings.FirstOrDefault(p => p.Choice == global::Hl7.Fhir.Introspection.ChoiceType.DatatypeChoice && name.StartsWith(p.Name, StringComparison.Ordinal)
                && name.Length > p.Name.Length && char.IsUpper(name[p.Name.Length]))?.Name;
        }
        bool IsMandatory(string baseName) => mapping?.FindMappedElementByName(baseName)?.IsMandatoryElement == true;
        bool InSummary(string baseName) => mapping?.FindMappedElementByName(baseName)?.InSummary == true;

        var wanted = elements.Select(e => e.Contains('.') ? e[(e.IndexOf('.') + 1)..] : e).ToHashSet(StringComparer.Ordinal);
        var subset = new JsonObject();
        foreach (var (name, value) in resource)
        {
            var keep = name is "resourceType" or "id" or "meta";
            if (!keep && BaseName(name) is { } baseName)
            {
                keep = summary switch
                {
                    "true" => InSummary(baseName) || IsMandatory(baseName),
                    "text" => baseName == "text" || IsMandatory(baseName),
                    "data" => baseName != "text",
                    _ => wanted.Contains(baseName) || wanted.Contains(name) || IsMandatory(baseName),
                };
            }
            if (keep) subset[name] = value?.DeepClone();
        }
        var meta = subset["meta"] as JsonObject ?? new JsonObject();
        subset["meta"] = meta;
        if (meta["tag"] is not JsonArray tags) meta["tag"] = tags = [];
        if (!tags.Any(t => FhirJson.String(t?["code"]) == TagCode && FhirJson.String(t?["system"]) == TagSystem))
            tags.Add(new JsonObject { ["system"] = TagSystem, ["code"] = TagCode });
        return FhirJson.Ordered(subset);
    }
}
