using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Stadig.Patients;

namespace Stadig.Fhir.Search;

/// <summary>
/// The index rows of one resource: for every search parameter of its type, the values found along
/// the parameter's paths, in the form <see cref="FhirSearchValue"/> describes. Values that do not
/// parse (a date that is no date, a reference to a contained resource) are left out, not refused:
/// validation is the store's work.
/// </summary>
public static partial class FhirSearchIndexer
{
    public static IReadOnlyList<FhirSearchValue> Extract(JsonObject resource)
    {
        var resourceType = resource["resourceType"]?.GetValueKind() == JsonValueKind.String ? resource["resourceType"]!.GetValue<string>() : null;
        if (resourceType is null) return [];
        var values = new List<FhirSearchValue>();
        var seen = new HashSet<FhirSearchValue>();
        foreach (var parameter in FhirSearchParameters.For(resourceType))
        {
            foreach (var path in parameter.Paths)
            {
                foreach (var (node, type) in Walk(resource, path))
                {
                    foreach (var value in ValuesOf(parameter, node, type))
                    {
                        if (seen.Add(value)) values.Add(value);
                    }
                }
            }
        }
        return values;
    }

    /// <summary>"Patient/123" from a relative or absolute reference; null for contained, urn: and anything else.</summary>
    public static string? NormalizeReference(string? reference)
    {
        if (string.IsNullOrWhiteSpace(reference) || reference.StartsWith('#') || reference.StartsWith("urn:", StringComparison.OrdinalIgnoreCase)) return null;
        var text = reference.Trim();
        var history = text.IndexOf("/_history/", StringComparison.Ordinal);
        if (history >= 0) text = text[..history];
        var match = TypeAndId().Match(text);
        return match.Success ? $"{match.Groups["type"].Value}/{match.Groups["id"].Value}" : null;
    }

    [GeneratedRegex(@"(^|/)(?<type>[A-Z][A-Za-z]+)/(?<id>[A-Za-z0-9\-\.]{1,64})$", RegexOptions.ExplicitCapture)]
    private static partial Regex TypeAndId();

    /// <summary>The nodes at a path, arrays flattened, each with its type when a choice element names it.</summary>
    private static IEnumerable<(JsonNode Node, string? Type)> Walk(JsonObject resource, string path)
    {
        IEnumerable<(JsonNode Node, string? Type)> current = [(resource, null)];
        foreach (var segment in path.Split('.'))
        {
            var bracket = segment.IndexOf('[');
            var name = bracket < 0 ? segment : segment[..bracket];
            var choices = bracket < 0 ? null : segment[(bracket + 1)..^1].Split('|');
            current = current.SelectMany(c => Step(c.Node, name, choices)).ToList();
        }
        return current;
    }

    private static IEnumerable<(JsonNode Node, string? Type)> Step(JsonNode node, string name, string[]? choices)
    {
        if (node is not JsonObject obj) yield break;
        foreach (var (property, child) in obj)
        {
            if (child is null) continue;
            string? type = null;
            if (choices is null)
            {
                if (property != name) continue;
            }
            else
            {
                if (property.Length <= name.Length || !property.StartsWith(name, StringComparison.Ordinal) || !char.IsUpper(property[name.Length])) continue;
                type = property[name.Length..];
                if (choices is not ["x"] && !choices.Contains(type, StringComparer.Ordinal)) continue;
            }
            if (child is JsonArray array)
            {
                foreach (var item in array)
                {
                    if (item is not null) yield return (item, type);
                }
            }
            else
            {
                yield return (child, type);
            }
        }
    }

    private static IEnumerable<FhirSearchValue> ValuesOf(FhirSearchParameter parameter, JsonNode node, string? type) => parameter.Type switch
    {
        FhirSearchParamType.Token => Tokens(parameter.Name, node),
        FhirSearchParamType.String => Strings(parameter.Name, node),
        FhirSearchParamType.Reference => References(parameter, node),
        FhirSearchParamType.Date => Dates(parameter.Name, node, type),
        FhirSearchParamType.Quantity => Quantities(parameter.Name, node),
        FhirSearchParamType.Number => Number(node) is { } n ? [new FhirSearchValue(parameter.Name, Number: n)] : [],
        FhirSearchParamType.Uri => Text(node) is { } uri ? [new FhirSearchValue(parameter.Name, Value: uri)] : [],
        _ => [],
    };

    private static IEnumerable<FhirSearchValue> Tokens(string param, JsonNode node)
    {
        if (node is JsonValue value)
        {
            var token = value.GetValueKind() switch
            {
                JsonValueKind.String => value.GetValue<string>(),
                JsonValueKind.True => "true",
                JsonValueKind.False => "false",
                _ => null,
            };
            if (!string.IsNullOrEmpty(token)) yield return new FhirSearchValue(param, Value: token);
            yield break;
        }
        if (node is not JsonObject obj) yield break;
        if (obj["coding"] is JsonArray codings)
        {
            // CodeableConcept: one token per coding.
            foreach (var coding in codings.OfType<JsonObject>())
            {
                if (Text(coding["code"]) is { } code) yield return new FhirSearchValue(param, Text(coding["system"]), code);
            }
        }
        else if (Text(obj["value"]) is { } identifierValue)
        {
            // Identifier (and ContactPoint): system|value.
            yield return new FhirSearchValue(param, Text(obj["system"]), identifierValue);
        }
        else if (Text(obj["code"]) is { } code)
        {
            yield return new FhirSearchValue(param, Text(obj["system"]), code);
        }
    }

    private static readonly string[] NameParts = ["family", "given", "text", "prefix", "suffix", "line", "city", "district", "state", "postalCode", "country"];

    private static IEnumerable<FhirSearchValue> Strings(string param, JsonNode node)
    {
        IEnumerable<string> texts = node switch
        {
            JsonValue => Text(node) is { } s ? [s] : [],
            // HumanName (and Address): each part on its own, so "given=anna" finds "Anna Maria" and family "Öström".
            JsonObject obj => NameParts.SelectMany(part => obj[part] switch
            {
                JsonArray array => array.Select(Text).OfType<string>(),
                { } single => Text(single) is { } s ? [s] : [],
                _ => [],
            }),
            _ => [],
        };
        foreach (var text in texts)
        {
            var folded = NameSearch.Fold(text);
            // The text as written goes in System, for :exact.
            if (folded.Length > 0) yield return new FhirSearchValue(param, System: text, Value: folded);
        }
    }

    private static IEnumerable<FhirSearchValue> References(FhirSearchParameter parameter, JsonNode node)
    {
        var reference = NormalizeReference(Text((node as JsonObject)?["reference"]));
        if (reference is null) yield break;
        if (parameter.OnlyTargets && !parameter.Targets.Contains(reference[..reference.IndexOf('/')], StringComparer.Ordinal)) yield break;
        yield return new FhirSearchValue(parameter.Name, Value: reference);
    }

    private static IEnumerable<FhirSearchValue> Dates(string param, JsonNode node, string? type)
    {
        if (node is JsonValue)
        {
            if (FhirDateRange.TryParse(Text(node), out var range)) yield return new FhirSearchValue(param, Low: range.Low, High: range.High);
            yield break;
        }
        if (node is not JsonObject obj) yield break;
        if (type == "Timing" || obj["event"] is JsonArray)
        {
            foreach (var value in (obj["event"] as JsonArray ?? []).OfType<JsonValue>())
            {
                if (FhirDateRange.TryParse(Text(value), out var range)) yield return new FhirSearchValue(param, Low: range.Low, High: range.High);
            }
            yield break;
        }
        // Period: an open end stays open (null).
        var hasStart = FhirDateRange.TryParse(Text(obj["start"]), out var start);
        var hasEnd = FhirDateRange.TryParse(Text(obj["end"]), out var end);
        if (hasStart || hasEnd) yield return new FhirSearchValue(param, Low: hasStart ? start.Low : null, High: hasEnd ? end.High : null);
    }

    private static IEnumerable<FhirSearchValue> Quantities(string param, JsonNode node)
    {
        if (node is JsonObject obj && Number(obj["value"]) is { } number)
        {
            yield return new FhirSearchValue(param, Text(obj["system"]), Text(obj["code"]) ?? Text(obj["unit"]), Number: number);
        }
    }

    private static string? Text(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.String && value.GetValue<string>() is { Length: > 0 } s ? s : null;

    private static double? Number(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.Number
            && double.TryParse(value.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var n) ? n : null;
}
