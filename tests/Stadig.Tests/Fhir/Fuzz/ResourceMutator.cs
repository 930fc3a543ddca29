using System.Text.Json;
using System.Text.Json.Nodes;

namespace Stadig.Tests.Fhir.Fuzz;

/// <summary>What a mutation does to a valid resource.</summary>
public enum Mutation
{
    /// <summary>A top-level element left out (some are required).</summary>
    DropElement,
    /// <summary>A primitive given as another JSON type (a number for a string, a string for a boolean …).</summary>
    WrongType,
    /// <summary>The status, a code of a required value set, given a code that is not in it.</summary>
    BadCode,
    /// <summary>A date that does not exist (2021-02-29) or cannot (2021-13-01).</summary>
    BadDate,
    /// <summary>Extensions nested 40 deep (valid R4, deep JSON).</summary>
    DeepNesting,
    /// <summary>A string over R4's 1 MB limit.</summary>
    HugeString,
    /// <summary>An element the definition does not have.</summary>
    UnknownElement,
}

/// <summary>
/// Seeded mutations of valid resources, the kinds a careless or hostile client sends: the same seed
/// gives the same mutants on every machine, so a failure names a mutant that can be made again.
/// </summary>
public sealed class ResourceMutator(int seed)
{
    private readonly Random random = new(seed);

    /// <summary>The mutated copy, or null when the resource offers nothing this mutation applies to.</summary>
    public JsonObject? Mutate(JsonObject original, Mutation mutation)
    {
        var resource = (JsonObject)original.DeepClone();
        switch (mutation)
        {
            case Mutation.DropElement:
            {
                var names = resource.Select(p => p.Key).Where(k => k is not ("resourceType" or "id" or "meta" or "text")).ToList();
                if (names.Count == 0) return null;
                resource.Remove(names[random.Next(names.Count)]);
                return resource;
            }
            case Mutation.WrongType:
            {
                var values = Primitives(resource).Where(v => Name(v) is not (null or "resourceType" or "div" or "url" or "reference")).ToList();
                if (values.Count == 0) return null;
                var value = values[random.Next(values.Count)];
                JsonNode replacement = value.GetValueKind() switch
                {
                    JsonValueKind.String => random.Next(2) == 0 ? JsonValue.Create(42) : JsonValue.Create(true),
                    JsonValueKind.Number => JsonValue.Create("forty-two"),
                    _ => JsonValue.Create("yes"),
                };
                Replace(value, replacement);
                return resource;
            }
            case Mutation.BadCode:
                if (resource["status"] is not JsonValue) return null;
                resource["status"] = "not-a-status";
                return resource;
            case Mutation.BadDate:
            {
                var dates = Primitives(resource).Where(v => v.GetValueKind() == JsonValueKind.String
                    && System.Text.RegularExpressions.Regex.IsMatch(v.GetValue<string>(), @"^\d{4}-\d{2}-\d{2}")).ToList();
                if (dates.Count == 0) return null;
                var date = dates[random.Next(dates.Count)];
                var text = date.GetValue<string>();
                Replace(date, JsonValue.Create((random.Next(2) == 0 ? "2021-02-29" : "2021-13-01") + text[10..]));
                return resource;
            }
            case Mutation.DeepNesting:
            {
                JsonObject inner = new() { ["url"] = "http://example.org/fhir/StructureDefinition/level", ["valueString"] = "botten" };
                for (var i = 0; i < 40; i++)
                    inner = new JsonObject { ["url"] = "http://example.org/fhir/StructureDefinition/level", ["extension"] = new JsonArray(inner) };
                resource["extension"] = new JsonArray(inner);
                return resource;
            }
            case Mutation.HugeString:
            {
                var strings = Primitives(resource).Where(v => v.GetValueKind() == JsonValueKind.String && Name(v) is "display" or "text" or "comment" or "description").ToList();
                if (strings.Count == 0) return null;
                Replace(strings[random.Next(strings.Count)], JsonValue.Create(new string('x', 1024 * 1024 + 1 + random.Next(1000))));
                return resource;
            }
            case Mutation.UnknownElement:
            {
                var objects = Objects(resource).ToList();
                objects[random.Next(objects.Count)]["stadigUnknownElement"] = "okänt";
                return resource;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(mutation));
        }
    }

    /// <summary>The element a primitive is the value of (its property, or the array's property for a repeating one).</summary>
    private static string? Name(JsonNode value) => value.Parent switch
    {
        JsonObject => value.GetPropertyName(),
        JsonArray { Parent: JsonObject } array => array.GetPropertyName(),
        _ => null,
    };

    private static void Replace(JsonValue value, JsonNode replacement)
    {
        switch (value.Parent)
        {
            case JsonObject parent: parent[value.GetPropertyName()] = replacement; break;
            case JsonArray array: array[value.GetElementIndex()] = replacement; break;
        }
    }

    private static IEnumerable<JsonValue> Primitives(JsonNode node) => node switch
    {
        JsonObject o => o.SelectMany(p => p.Value is null ? [] : Primitives(p.Value)),
        JsonArray a => a.SelectMany(e => e is null ? [] : Primitives(e)),
        JsonValue v => [v],
        _ => [],
    };

    private static IEnumerable<JsonObject> Objects(JsonNode node) => node switch
    {
        JsonObject o => new[] { o }.Concat(o.SelectMany(p => p.Value is null ? [] : Objects(p.Value))),
        JsonArray a => a.SelectMany(e => e is null ? [] : Objects(e)),
        _ => [],
    };
}
