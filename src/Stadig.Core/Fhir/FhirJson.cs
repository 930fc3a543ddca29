using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Stadig.Fhir;

/// <summary>Reading and writing FHIR JSON: one set of rules for the API, the store and exports.</summary>
public static class FhirJson
{
    public const string MediaType = "application/fhir+json";

    private static readonly JsonSerializerOptions Compact = new()
    {
        // Å, ä and ö stay the characters they are; the HTTP layer sets the charset.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        WriteIndented = false,
    };

    private static readonly JsonNodeOptions NodeOptions = new() { PropertyNameCaseInsensitive = false };
    // A key given twice is not JSON FHIR accepts (R4 JSON: "each property once"): which value would count?
    private static readonly JsonDocumentOptions DocumentOptions = new()
    {
        MaxDepth = 64, AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow, AllowDuplicateProperties = false,
    };

    /// <summary>UTF-8 that refuses bytes that are not UTF-8, instead of reading them as U+FFFD into a record.</summary>
    public static readonly System.Text.UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Parses a request body into a resource, or throws Invalid naming what is wrong with the JSON.</summary>
    public static JsonObject ParseResource(string text)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(text, NodeOptions, DocumentOptions);
        }
        catch (JsonException e)
        {
            var where = e.LineNumber is null ? "" : $" (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1})";
            throw new FhirException(FhirFailureKind.Invalid, "structure", null, $"The body is not valid JSON: {e.Message.Split(" Path:")[0]}{where}.");
        }
        catch (ArgumentException e)
        {
            // A JsonObject given the same key twice (when the parser itself let it through).
            throw new FhirException(FhirFailureKind.Invalid, "structure", null, $"The body is not valid FHIR JSON: {e.Message}");
        }
        catch (InvalidOperationException)
        {
            throw HalfSurrogate();
        }
        if (node is not JsonObject resource)
            throw new FhirException(FhirFailureKind.Invalid, "structure", null, "The body must be a JSON object holding one FHIR resource.");
        // An escape of half a surrogate pair ("\ud800") is JSON syntax but no text: the parse reads strings lazily, and it
        // threw wherever the string was first read (the validator, the store), answering 500. Read every string now.
        try { RequireText(resource); }
        catch (InvalidOperationException) { throw HalfSurrogate(); }
        if (resource["resourceType"] is not JsonValue typeValue || !typeValue.TryGetValue<string>(out _))
            throw new FhirException(FhirFailureKind.Invalid, "required", "resourceType", "The resource has no resourceType.");
        return resource;
    }

    private static FhirException HalfSurrogate() => new(FhirFailureKind.Invalid, "structure", null,
        "The body is not valid FHIR JSON: a string holds half of a surrogate pair (an escape \\uD800–\\uDFFF without its partner).");

    private static void RequireText(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (_, value) in o) RequireText(value);
                break;
            case JsonArray a:
                foreach (var value in a) RequireText(value);
                break;
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                v.GetValue<string>();
                break;
        }
    }

    public static string Serialize(JsonNode node) => node.ToJsonString(Compact);

    public static JsonObject Parse(string stored) => (JsonObject)JsonNode.Parse(stored, NodeOptions, DocumentOptions)!;

    public static string Instant(DateTimeOffset moment) =>
        moment.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'+00:00'", CultureInfo.InvariantCulture);

    public static string? String(JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    /// <summary>resourceType, id and meta first, as people (and diff tools) expect to read them.</summary>
    public static JsonObject Ordered(JsonObject resource)
    {
        var ordered = new JsonObject();
        foreach (var first in new[] { "resourceType", "id", "meta" })
        {
            if (resource[first] is { } value) ordered[first] = value.DeepClone();
        }
        foreach (var (name, value) in resource)
        {
            if (name is "resourceType" or "id" or "meta") continue;
            ordered[name] = value?.DeepClone();
        }
        return ordered;
    }

    /// <summary>Every "reference" string in the resource, with the JSON path of the Reference holding it.</summary>
    public static IEnumerable<(string Path, JsonObject Holder, string Reference)> References(JsonNode? node, string path)
    {
        switch (node)
        {
            case JsonObject obj:
                if (obj["reference"] is JsonValue value && value.TryGetValue<string>(out var reference))
                    yield return (path, obj, reference);
                foreach (var (name, child) in obj)
                {
                    // Contained resources are checked as their own resources; their references point inside.
                    if (name == "contained") continue;
                    foreach (var found in References(child, $"{path}.{name}")) yield return found;
                }
                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    foreach (var found in References(array[i], $"{path}[{i}]")) yield return found;
                }
                break;
        }
    }
}
