using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Stadig.Tests.Fhir.Fuzz;

namespace Stadig.Tests.Reliability.Fuzz;

/// <summary>
/// Seeded edits of text, the kind a broken interface engine, a truncated transfer or a hostile client
/// makes: tokens of the format inserted, ranges dropped, repeated or swapped, characters replaced by
/// control characters, lone surrogates and characters outside the BMP. The same seed gives the same
/// inputs on every machine.
/// </summary>
public sealed class TextMutator(Random random, string[] dictionary, int maxLength = 256 * 1024)
{
    private static readonly string[] Oddities =
    [
        "\0", "\u0001", "\u000b", "\u001c", "\u001c\r", "\r", "\n", "\r\n", "\t", "\u00a0", "\u2028", "\ufeff", "\uffff", "\ud800", "\udc00", "😀",
        "é", "Å", "ä", "ö", "µ", "±", "≥", "٢٠٢٤", "２０２４", "১২", "1e99999999999", "1e-2147483649", "%", "%00", "%zz", "\\", "'", "\"", "<", ">", "&", "*", "?", "#", "/", "..", "../", "-", "+", "0", "-0",
        "00000000000000000000000", "9999999999999999999999", "-1", "1e309", "NaN", "2147483648", "-2147483649", "9223372036854775808",
    ];

    public string Mutate(string seed, int edits)
    {
        var text = new StringBuilder(seed);
        for (var i = 0; i < edits; i++) Edit(text);
        return text.Length > maxLength ? text.ToString(0, maxLength) : text.ToString();
    }

    private string Token() => random.Next(3) == 0 ? Oddities[random.Next(Oddities.Length)] : dictionary[random.Next(dictionary.Length)];

    private void Edit(StringBuilder text)
    {
        var at = text.Length == 0 ? 0 : random.Next(text.Length + 1);
        var length = text.Length - at == 0 ? 0 : random.Next(1, Math.Min(64, text.Length - at) + 1);
        switch (random.Next(10))
        {
            case 0 or 1: text.Insert(at, Token()); break;
            case 2: text.Remove(at, length); break;
            case 3: text.Remove(at, length).Insert(at, Token()); break;
            case 4:
                // A chunk repeated: long fields, repeated segments, deep nesting.
                var chunk = text.ToString(at, length);
                var times = random.Next(2, random.Next(4) == 0 ? 2000 : 20);
                if (chunk.Length * times < maxLength) text.Insert(at, string.Concat(Enumerable.Repeat(chunk, times)));
                break;
            case 5:
                if (text.Length > 0) text[Math.Min(at, text.Length - 1)] = (char)random.Next(0, random.Next(3) == 0 ? 0x10000 : 0x80);
                break;
            case 6:
                // Truncated, as a transfer cut short.
                text.Length = at;
                break;
            case 7:
                if (text.Length > 2)
                {
                    var other = random.Next(text.Length - length + 1);
                    var a = text.ToString(at, length);
                    text.Remove(at, length).Insert(Math.Min(other, text.Length), a);
                }
                break;
            case 8:
                // A digit run changed: counts, dates, lengths, numbers at their limits.
                for (var i = at; i < text.Length; i++)
                {
                    if (!char.IsAsciiDigit(text[i])) continue;
                    var end = i;
                    while (end < text.Length && char.IsAsciiDigit(text[end])) end++;
                    text.Remove(i, end - i).Insert(i, Oddities[random.Next(Oddities.Length - 9, Oddities.Length)]);
                    break;
                }
                break;
            default: text.Insert(at, Token() + Token()); break;
        }
    }
}

/// <summary>Edits of HL7 v2 messages that keep them looking like messages: segments dropped, repeated or reordered, fields given odd values, delimiters changed.</summary>
public sealed class Hl7Mutator(Random random)
{
    public static readonly string[] Dictionary =
    [
        "|", "^", "~", "\\", "&", "||", "^^^^", "\r", "MSH|^~\\&|", "MSH|", "PID|", "PV1|", "ORC|", "OBR|", "OBX|", "NTE|", "ZLB|", "MSA|AA|", "BHS|", "FHS|",
        "ORU^R01", "ORU^R01^ORU_R01", "ADT^A01", "ACK", "NM", "ST", "TX", "FT", "ED", "SN", "CE", "CWE", "DT", "TS", "RP", "\\X0D\\", "\\X0A\\", "\\E\\",
        "\\F\\", "\\S\\", "\\T\\", "\\R\\", "\\.br\\", "\\H\\", "\\N\\", "\\Xzz\\", "\\Z\\", "\\C2842\\", "^^^^PN", "^^^^RN", "191212121212", "19121212-1212",
        "20261123", "20261301", "20260230", "202611230700+0100", "20261123250000", "99999999999999", "2.5", "2.3", "2.9", "P", "T", "D", "F", "C", "X",
        "<", ">", ">=", "<=", "^<^5", "HH", "LL", "A", "AA", "N", "3.5-4.4", "-", "1e400", "8859/1", "UNICODE UTF-8", "ISO IR87", "ASCII", "٢٠٢٦١١٢٣", "４.１", "OBX-٣",
    ];

    private readonly TextMutator _text = new(random, Dictionary);

    public string Mutate(string seed)
    {
        var segments = seed.Replace("\r\n", "\r", StringComparison.Ordinal).Split('\r', '\n').Where(s => s.Length > 0).ToList();
        var structural = random.Next(2) == 0 && segments.Count > 0;
        if (structural)
        {
            for (var edits = random.Next(1, 4); edits > 0 && segments.Count > 0; edits--)
            {
                var i = random.Next(segments.Count);
                switch (random.Next(6))
                {
                    case 0: segments.RemoveAt(i); break;
                    case 1: segments.Insert(random.Next(segments.Count + 1), segments[i]); break;
                    case 2:
                        var fields = segments[i].Split('|');
                        if (fields.Length > 1) fields[random.Next(1, fields.Length)] = Value();
                        segments[i] = string.Join('|', fields);
                        break;
                    case 3:
                        var many = segments[i].Split('|').ToList();
                        many.AddRange(Enumerable.Repeat(Value(), random.Next(1, 300)));
                        segments[i] = string.Join('|', many);
                        break;
                    case 4:
                        (segments[i], segments[^1]) = (segments[^1], segments[i]);
                        break;
                    default:
                        // Other delimiters declared in MSH-1 and MSH-2 than the message uses.
                        if (segments[0].StartsWith("MSH", StringComparison.Ordinal) && segments[0].Length > 8)
                            segments[0] = "MSH" + "#!*@$%/|^~\\&"[random.Next(12)] + new string(Enumerable.Range(0, 4).Select(_ => "^~\\&#!*@%$"[random.Next(10)]).ToArray()) + segments[0][8..];
                        break;
                }
            }
        }
        var text = string.Join(random.Next(8) == 0 ? "\n" : "\r", segments) + "\r";
        return structural && random.Next(2) == 0 ? text : _text.Mutate(text, random.Next(1, 6));
    }

    private string Value() => random.Next(5) switch
    {
        0 => Dictionary[random.Next(Dictionary.Length)],
        1 => new string('9', random.Next(1, 400)),
        2 => string.Join('^', Enumerable.Range(0, random.Next(1, 30)).Select(_ => Dictionary[random.Next(Dictionary.Length)])),
        3 => string.Join('~', Enumerable.Range(0, random.Next(1, 30)).Select(_ => random.Next(100).ToString(CultureInfo.InvariantCulture))),
        _ => "",
    };
}

/// <summary>Edits of FHIR JSON: structural (any node given another value or type, removed, repeated, references bent) or of the text itself.</summary>
public sealed class FhirJsonMutator(Random random)
{
    public static readonly string[] Dictionary =
    [
        "{", "}", "[", "]", "\"", ",", ":", "null", "true", "false", "0", "-1", "1e309", "-1e309", "1.0e-400", "123456789012345678901234567890",
        "\"resourceType\":", "\"Patient\"", "\"Bundle\"", "\"transaction\"", "\"batch\"", "\"entry\":[", "\"resource\":", "\"request\":{\"method\":\"POST\",\"url\":\"Patient\"}",
        "\"reference\":\"Patient/x\"", "\"reference\":\"urn:uuid:", "\"id\":", "\"extension\":[", "\"value\":", "\"valueQuantity\":{\"value\":", "\"_birthDate\":{",
        "\\u0000", "\\ud800", "\\udc00", "\\uffff", "\\\"", "\\\\", "[[[[[[[[[[[[[[[[[[[[", "]]]]]]]]]]]]]]]]]]]]", "{\"a\":{\"a\":{\"a\":{\"a\":{",
        "\"2024-02-30\"", "\"2024-13-01T25:61:61Z\"", "\"1900\"", "\"9999-12-31T23:59:59.9999999+14:00\"", "\"--\"", "\"http://loinc.org\"", "\"|\"",
    ];

    private static readonly string[] ReferenceValues =
    [
        "Patient/", "Patient/x", "Patient/../../etc", "urn:uuid:", "urn:uuid:00000000-0000-0000-0000-000000000000", "#", "#missing", "Observation/1/_history/x",
        "http://example.org/fhir/Patient/1", "Patient?identifier=x", "Patient?", "?", "/", "Patient/" + new string('a', 300), "Group/1", "Patient/1 ", " ",
    ];

    private static readonly string[] Types = Stadig.Fhir.FhirResourceTypes.All.ToArray();

    private static readonly string[] Methods = ["POST", "PUT", "GET", "DELETE", "PATCH", "HEAD", "post", "", "X"];

    private static readonly string[] Urls =
    [
        "Patient", "Observation", "Patient/1", "Patient?identifier=http://electronichealth.se/identifier/personnummer|191212121212", "Observation?subject=Patient/1",
        "", "/", "?", "Patient/", "Patient/$validate", "metadata", "Nonsense", "Patient/1/_history/1", "Patient?_id=", "../Patient", "Patient?identifier=|",
    ];

    private readonly TextMutator _text = new(random, Dictionary);
    private readonly ResourceMutator _resource = new(random.Next());

    public string Mutate(JsonObject seed)
    {
        var choice = random.Next(10);
        if (choice < 3) return _text.Mutate(seed.ToJsonString(), random.Next(1, 5));
        if (choice == 3 && seed["resourceType"]?.GetValue<string>() != "Bundle"
            && _resource.Mutate(seed, Enum.GetValues<Mutation>()[random.Next(Enum.GetValues<Mutation>().Length)]) is { } mutant)
            return mutant.ToJsonString();
        var copy = (JsonObject)seed.DeepClone();
        for (var edits = random.Next(1, 5); edits > 0; edits--) Structural(copy);
        return copy.ToJsonString();
    }

    private void Structural(JsonObject root)
    {
        var nodes = new List<JsonNode>();
        Collect(root, nodes);
        if (nodes.Count == 0) return;
        var node = nodes[random.Next(nodes.Count)];
        var name = node.Parent is JsonObject ? node.GetPropertyName() : null;
        JsonNode? replacement = name switch
        {
            "reference" => ReferenceValues[random.Next(ReferenceValues.Length)],
            "method" => Methods[random.Next(Methods.Length)],
            "url" when node.Parent?.Parent is JsonObject { } entry && entry.ContainsKey("request") => Urls[random.Next(Urls.Length)],
            "resourceType" => random.Next(3) == 0 ? "Nonsense" : Types[random.Next(Types.Length)],
            "fullUrl" => random.Next(2) == 0 ? "urn:uuid:" + Guid.Empty : ReferenceValues[random.Next(ReferenceValues.Length)],
            _ => Value(),
        };
        switch (random.Next(8))
        {
            case 0 when node.Parent is JsonObject parent: parent.Remove(name!); return;
            case 1 when node.Parent is JsonArray array: array.Add(node.DeepClone()); return;
            case 2 when node.Parent is JsonObject parent: parent["x" + random.Next(100)] = Value(); return;
            case 3 when node.Parent is JsonObject parent && node is JsonObject or JsonValue: parent[name!] = new JsonArray(node.DeepClone()); return;
        }
        switch (node.Parent)
        {
            case JsonObject parent: parent[name!] = replacement; break;
            case JsonArray array: array[node.GetElementIndex()] = replacement; break;
        }
    }

    private JsonNode? Value() => random.Next(16) switch
    {
        0 => null,
        1 => "",
        2 => JsonValue.Create(random.Next(2) == 0 ? long.MaxValue : long.MinValue),
        3 => JsonValue.Create(random.NextDouble() * 1e300),
        4 => true,
        5 => new JsonArray(),
        6 => new JsonObject(),
        7 => "2024-02-30",
        8 => "9999-12-31T24:00:00Z",
        9 => new string('x', random.Next(1, 5000)),
        10 => "\u0000\ud800😀",
        11 => new JsonArray(null, 1, "a"),
        12 => new JsonObject { ["resourceType"] = "Patient", ["id"] = "../x" },
        13 => -0.0,
        14 => "urn:uuid:" + Guid.NewGuid(),
        _ => Dictionary[random.Next(Dictionary.Length)],
    };

    private static void Collect(JsonNode node, List<JsonNode> into)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (_, value) in o) if (value is not null) { into.Add(value); if (into.Count < 5000) Collect(value, into); }
                break;
            case JsonArray a:
                foreach (var value in a) if (value is not null) { into.Add(value); if (into.Count < 5000) Collect(value, into); }
                break;
        }
    }
}

/// <summary>Query strings and form fields: known names with odd values, odd names, repetitions, modifiers and chains.</summary>
public sealed class QueryMutator(Random random)
{
    public static readonly string[] Names =
    [
        "identifier", "name", "family", "given", "birthdate", "gender", "_id", "_count", "_offset", "_sort", "_include", "_revinclude", "_summary", "_elements",
        "_lastUpdated", "_has:Observation:subject:code", "subject", "subject:Patient", "subject.name", "patient", "code", "date", "status", "category",
        "value-quantity", "_total", "_format", "_since", "_type", "identifier:missing", "name:exact", "name:contains", "code:not", "code:text", "_text",
        "_content", "_filter", "_query", "q", "limit", "offset", "page", "returnUrl", "from", "to", "attested", "error", "tab", "version", "x", "", " ",
    ];

    public static readonly string[] Values =
    [
        "", "x", "*", "%", "|", "||", "http://loinc.org|", "|2345-7", "http://electronichealth.se/identifier/personnummer|191212121212", "19121212-1212",
        "191212121212", "gt2020", "lt2020-13-01", "ge2020-02-30", "eq", "ap1e309", "sa2020-01-01T25:00", "eb", "ne-1", "2024", "2024-02", "2024-02-29T12:00:00Z",
        "-1", "0", "2147483648", "99999999999999999999", "NaN", "1e309", "true", "null", "Patient", "Patient:subject", "Observation:patient", "*:*", "_id,name",
        "-_lastUpdated", "name,-birthdate", "count", "data", "text", "Patient/1", "Patient/../x", "Åsa Öberg", "\u0000", "\ud800", "😀", "'; DROP TABLE patient;--",
        "a,b,c", "a\\,b", "a$b", "٢٠٢٤-٠١-٠١", "２０２４", "gt٢٠٢٤", "1e99999999999", "ap1e-99999999999", "2024-01-01T10:00:00.١٢Z", "2024-01-01T10:00+٠١:٠٠", "<script>", "../../etc/passwd", new string('x', 3000), "00000000-0000-0000-0000-000000000000",
    ];

    public List<KeyValuePair<string, string>> Pairs()
    {
        var pairs = new List<KeyValuePair<string, string>>();
        for (var n = random.Next(0, 6); n > 0; n--)
        {
            var name = random.Next(12) == 0 ? new TextMutator(random, Names).Mutate(Names[random.Next(Names.Length)], 1) : Names[random.Next(Names.Length)];
            var value = random.Next(4) == 0
                ? string.Join(',', Enumerable.Range(0, random.Next(1, 8)).Select(_ => Values[random.Next(Values.Length)]))
                : Values[random.Next(Values.Length)];
            pairs.Add(new(name, value));
        }
        return pairs;
    }

    public static string Encode(IEnumerable<KeyValuePair<string, string>> pairs) =>
        string.Join('&', pairs.Select(p => $"{Uri.EscapeDataString(Safe(p.Key))}={Uri.EscapeDataString(Safe(p.Value))}"));

    /// <summary>A lone surrogate cannot be percent-encoded as UTF-8: it goes as the replacement character, as a browser sends it.</summary>
    private static string Safe(string text) => text.Any(char.IsSurrogate) && !IsWellFormed(text) ? new string(text.Select(c => char.IsSurrogate(c) ? '\ufffd' : c).ToArray()) : text;

    private static bool IsWellFormed(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
            if (char.IsSurrogate(text[i])) return false;
        }
        return true;
    }
}
