using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Stadig.Fhir.Validation;

/// <summary>
/// Checks a FHIR R4 resource in JSON against the official structure definitions of the resource types
/// Stadig supports: known elements only, JSON types and primitive formats, arrays where and only where
/// the element repeats, cardinality, choice types, required bindings and reference targets. Contained
/// resources and Bundle entries are checked as resources of their own type.
/// </summary>
/// <remarks>
/// The invariants (constraints written in FHIRPath, such as ele-1 or dom-2) are deliberately not
/// checked: that needs a FHIRPath engine, and the structural checks already catch what a client
/// most often gets wrong. Profiles beyond the base resources are not checked either.
/// </remarks>
public static partial class FhirValidator
{
    private static readonly Lazy<FhirStructure> LazyStructure = new(FhirStructure.Load);

    internal static FhirStructure Structure => LazyStructure.Value;

    /// <summary>The resource types this validator knows, in the order of the definitions.</summary>
    public static IReadOnlySet<string> SupportedResourceTypes => Structure.SupportedResources;

    /// <summary>
    /// Required value sets that could not be expanded from the definitions (such as BCP-13 mime types),
    /// and whose codes are therefore not checked.
    /// </summary>
    public static IReadOnlyList<string> UncheckedRequiredValueSets => Structure.UnexpandedRequiredValueSets;

    /// <summary>All problems found; an empty list means the resource is valid as far as these checks go.</summary>
    public static IReadOnlyList<FhirIssue> Validate(JsonObject resource)
    {
        ArgumentNullException.ThrowIfNull(resource);
        var walker = new Walker(Structure);
        walker.ValidateResource(resource, nested: false);
        return walker.Issues;
    }

    /// <summary>Strings in FHIR may be up to 1 MB (R4 datatypes, string).</summary>
    private const int MaxStringLength = 1024 * 1024;

    private sealed class Walker(FhirStructure structure)
    {
        public List<FhirIssue> Issues { get; } = [];

        // The FHIRPath of the node being checked, built in place and only turned into a string when
        // there is something to report.
        private readonly StringBuilder path = new(128);

        private void Error(string code, string message) => Issues.Add(FhirIssue.Error(code, path.ToString(), message));

        /// <param name="nested">Whether the path already names the property holding the resource (contained, Bundle.entry.resource).</param>
        public void ValidateResource(JsonObject resource, bool nested)
        {
            var resourceType = resource["resourceType"];
            string? typeName = null;
            if (resourceType is JsonValue value && value.GetValueKind() == JsonValueKind.String) typeName = GetString(value);

            var mark = path.Length;
            if (!nested) path.Append(typeName is not null && structure.SupportedResources.Contains(typeName) ? typeName : "Resource");
            if (typeName is null)
            {
                Error("required", "The resource has no resourceType (a JSON string naming its type).");
                path.Length = mark;
                return;
            }
            // A contained resource of another R4 type (a Coverage inside a Synthea ExplanationOfBenefit) is kept
            // as part of its container; its own structure is not checked, as Stadig has no definition for it.
            if (nested && !structure.SupportedResources.Contains(typeName) && structure.AllResourceTypes.Contains(typeName) && path.ToString().EndsWith(']') && path.ToString().Contains(".contained[", StringComparison.Ordinal))
            {
                path.Length = mark;
                return;
            }
            if (!structure.SupportedResources.Contains(typeName))
            {
                Error("not-supported", structure.AllResourceTypes.Contains(typeName)
                    ? $"Resource type '{typeName}' is not supported here."
                    : $"'{typeName}' is not a FHIR R4 resource type.");
                path.Length = mark;
                return;
            }
            ValidateObject(resource, structure.ChildrenByPath[typeName], isResource: true);
            path.Length = mark;
        }

        private void ValidateObject(JsonObject obj, ElementChildren children, bool isResource)
        {
            // Which elements were seen, for the minimum cardinality and for choice elements given twice.
            Span<bool> present = children.Elements.Length <= 256 ? stackalloc bool[children.Elements.Length] : new bool[children.Elements.Length];
            string?[]? choiceNames = null;

            foreach (var (name, value) in obj)
            {
                if (isResource && name == "resourceType") continue;
                var isExtensionSibling = name.Length > 1 && name[0] == '_';
                var jsonName = isExtensionSibling ? name[1..] : name;

                var mark = path.Length;
                path.Append('.').Append(name);

                if (!children.ByJsonName.TryGetValue(jsonName, out var property))
                {
                    Error("structure", $"Unknown element '{name}': the definition of {Describe(children)} has no such element.");
                    path.Length = mark;
                    continue;
                }

                var element = property.Element;
                var type = property.ChoiceType ?? (element.Types.Length == 1 ? element.Types[0] : null);
                if (element.IsChoice)
                {
                    choiceNames ??= new string?[children.Elements.Length];
                    var earlier = choiceNames[element.Index];
                    if (earlier is not null && earlier != jsonName)
                        Error("structure", $"Only one of the choices for '{element.ChoiceBaseName}[x]' may be given; found both '{earlier}' and '{jsonName}'.");
                    choiceNames[element.Index] ??= jsonName;
                }
                present[element.Index] = true;

                if (isExtensionSibling)
                {
                    if (type is null || !structure.PrimitiveTypes.Contains(type.Code))
                        Error("structure", $"'{name}' is only allowed for primitive elements, and '{jsonName}' is not one.");
                    else
                        ValidatePrimitiveExtensions(element, value, obj[jsonName]);
                }
                else
                {
                    ValidateProperty(element, type, value, obj);
                }
                path.Length = mark;
            }

            foreach (var element in children.Elements)
            {
                if (element.Min == 0 || present[element.Index]) continue;
                var mark = path.Length;
                var name = element.IsChoice ? element.ChoiceBaseName + "[x]" : element.Name;
                path.Append('.').Append(element.IsChoice ? element.ChoiceBaseName : element.Name);
                Error("required", $"Missing required element '{name}' (minimum cardinality {element.Min}).");
                path.Length = mark;
            }
        }

        private static string Describe(ElementChildren children)
        {
            var path = children.Elements[0].Path;
            return path[..path.LastIndexOf('.')];
        }

        /// <param name="owner">The object holding the property, where the "_name" sibling of a primitive array is found.</param>
        private void ValidateProperty(ElementDefinition element, ElementType? type, JsonNode? value, JsonObject owner)
        {
            var name = element.IsChoice ? element.ChoiceBaseName + "[x]" : element.Name;
            if (element.Max == 0)
            {
                Error("structure", $"Element '{name}' is not allowed (maximum cardinality 0).");
                return;
            }
            if (!element.IsArray)
            {
                if (value is JsonArray)
                {
                    Error("structure", $"Element '{name}' occurs at most once and must not be a JSON array.");
                    return;
                }
                if (value is null)
                {
                    // A primitive may be given by its extensions alone ("_birthDate") but not as null.
                    Error("structure", $"Element '{name}' is null; leave it out instead.");
                    return;
                }
                ValidateValue(element, type, value);
                return;
            }

            if (value is not JsonArray array)
            {
                Error("structure", $"Element '{name}' repeats and must be a JSON array, even for one value.");
                return;
            }
            if (array.Count == 0) Error("structure", $"Element '{name}' is an empty array; leave it out instead.");
            if (array.Count > element.Max) Error("structure", $"Element '{name}' occurs {array.Count} times; at most {element.Max} are allowed.");
            JsonArray? siblings = null;
            for (var i = 0; i < array.Count; i++)
            {
                var mark = path.Length;
                path.Append(CultureInfo.InvariantCulture, $"[{i}]");
                var item = array[i];
                if (item is null)
                {
                    // In primitive arrays null holds the place of a value given only by its extensions.
                    siblings ??= owner["_" + element.Name] as JsonArray;
                    if (siblings is null || i >= siblings.Count || siblings[i] is null)
                        Error("structure", $"Element '{name}' has null at position {i} without extensions in '_{element.Name}' to stand for it.");
                }
                else
                {
                    ValidateValue(element, type, item);
                }
                path.Length = mark;
            }
        }

        private void ValidatePrimitiveExtensions(ElementDefinition element, JsonNode? value, JsonNode? primitiveValue)
        {
            var elementChildren = structure.ChildrenByPath["Element"];
            if (!element.IsArray)
            {
                if (value is JsonObject obj) ValidateObject(obj, elementChildren, isResource: false);
                else Error("structure", $"'_{element.Name}' must be a JSON object holding the id and extensions of '{element.Name}'.");
                return;
            }
            if (value is not JsonArray array)
            {
                Error("structure", $"'_{element.Name}' must be a JSON array lined up with '{element.Name}'.");
                return;
            }
            if (primitiveValue is JsonArray values && values.Count != array.Count)
                Error("structure", $"'_{element.Name}' has {array.Count} entries but '{element.Name}' has {values.Count}; they must line up.");
            for (var i = 0; i < array.Count; i++)
            {
                if (array[i] is null) continue;
                var mark = path.Length;
                path.Append(CultureInfo.InvariantCulture, $"[{i}]");
                if (array[i] is JsonObject obj) ValidateObject(obj, elementChildren, isResource: false);
                else Error("structure", $"Entries of '_{element.Name}' must be JSON objects or null.");
                path.Length = mark;
            }
        }

        private void ValidateValue(ElementDefinition element, ElementType? type, JsonNode value)
        {
            if (type is not null && structure.PrimitiveTypes.Contains(type.Code))
            {
                if (ValidatePrimitive(type.Code, value) && type.Code == "code" && element.Binding is { } binding)
                {
                    var code = GetString(value.AsValue());
                    if (!binding.AllCodes.Contains(code))
                        Error("code-invalid", $"'{code}' is not a code of the required value set {binding.Url}.");
                }
                return;
            }

            if (value is not JsonObject obj)
            {
                Error("structure", $"Element '{element.Name}' must be a JSON object, not a JSON {KindName(value)}.");
                return;
            }

            // An element whose type is a resource (Bundle.entry.resource, contained, and Bundle.entry.response.outcome,
            // typed OperationOutcome) holds a whole resource with its resourceType, not a datatype's children.
            if (type?.Code == "Resource" || type is not null && structure.AllResourceTypes.Contains(type.Code))
            {
                if (type.Code != "Resource" && obj["resourceType"] is JsonValue named && named.GetValueKind() == JsonValueKind.String && GetString(named) != type.Code)
                    Error("structure", $"Element '{element.Name}' holds a {type.Code}, not a {GetString(named)}.");
                ValidateResource(obj, nested: true);
                return;
            }

            // ele-1: every element has a value or children. "valueQuantity": {} says nothing, and what says
            // nothing cannot be read back the way it was meant.
            if (obj.Count == 0)
            {
                Error("structure", $"Element '{element.Name}' is an empty object; an element must have a value or children (ele-1), so leave it out instead.");
                return;
            }

            var childrenPath = type is not null && element.IsChoice ? type.Code : element.ChildrenPath;
            if (childrenPath is null || !structure.ChildrenByPath.TryGetValue(childrenPath, out var children))
            {
                Error("not-supported", $"Element '{element.Name}' has a type the validator does not know.");
                return;
            }
            ValidateObject(obj, children, isResource: false);

            switch (type?.Code)
            {
                case "Reference":
                    ValidateReference(obj, type);
                    break;
                case "Coding" when element.Binding is { } binding:
                    ValidateCoding(obj, binding);
                    break;
                case "CodeableConcept" when element.Binding is { } binding:
                    if (obj["coding"] is JsonArray codings)
                    {
                        for (var i = 0; i < codings.Count; i++)
                        {
                            if (codings[i] is not JsonObject coding) continue;
                            var mark = path.Length;
                            path.Append(CultureInfo.InvariantCulture, $".coding[{i}]");
                            ValidateCoding(coding, binding);
                            path.Length = mark;
                        }
                    }
                    break;
            }
        }

        /// <summary>Only codings from a code system of the value set are judged: others may be translations.</summary>
        private void ValidateCoding(JsonObject coding, RequiredValueSet binding)
        {
            if (coding["system"] is not JsonValue systemValue || !systemValue.TryGetValue<string>(out var system)) return;
            if (coding["code"] is not JsonValue codeValue || !codeValue.TryGetValue<string>(out var code)) return;
            if (!binding.CodesBySystem.TryGetValue(system, out var codes) || codes.Contains(code)) return;
            var mark = path.Length;
            path.Append(".code");
            Error("code-invalid", $"'{code}' is not a code of {system} in the required value set {binding.Url}.");
            path.Length = mark;
        }

        private void ValidateReference(JsonObject reference, ElementType type)
        {
            if (reference["reference"] is not JsonValue value || !value.TryGetValue<string>(out var text) || text.Length == 0) return;
            var mark = path.Length;
            path.Append(".reference");
            try
            {
                if (text[0] == '#') return;
                if (text.StartsWith("urn:uuid:", StringComparison.Ordinal))
                {
                    if (!UuidPattern().IsMatch(text)) Error("value", $"Reference '{text}' is not a valid urn:uuid.");
                    return;
                }
                if (text.StartsWith("urn:oid:", StringComparison.Ordinal))
                {
                    if (!OidPattern().IsMatch(text)) Error("value", $"Reference '{text}' is not a valid urn:oid.");
                    return;
                }

                string resourceType;
                var relative = RelativeReferencePattern().Match(text);
                if (relative.Success)
                {
                    resourceType = relative.Groups["type"].Value;
                    if (!structure.AllResourceTypes.Contains(resourceType))
                    {
                        Error("value", $"Reference '{text}' names '{resourceType}', which is not a FHIR R4 resource type.");
                        return;
                    }
                }
                else if (AbsoluteUrlPattern().IsMatch(text))
                {
                    // An absolute URL that ends in a FHIR RESTful path is held to the same target types.
                    var restful = AbsoluteRestfulPattern().Match(text);
                    if (!restful.Success || !structure.AllResourceTypes.Contains(restful.Groups["type"].Value)) return;
                    resourceType = restful.Groups["type"].Value;
                }
                else
                {
                    Error("value", $"Reference '{text}' is neither Type/id, Type/id/_history/version, an absolute URL, urn:uuid: nor #local.");
                    return;
                }

                if (type.Targets is { } targets && !targets.Contains("Resource") && !targets.Contains(resourceType))
                    Error("invalid", $"Reference '{text}' points to a {resourceType}, but this element may only refer to {string.Join(", ", targets.Order(StringComparer.Ordinal))}.");
            }
            finally
            {
                path.Length = mark;
            }
        }

        /// <returns>Whether the value is a well-formed value of the primitive type.</returns>
        private bool ValidatePrimitive(string typeCode, JsonNode value)
        {
            var kind = value.GetValueKind();
            switch (typeCode)
            {
                case "boolean":
                    if (kind is JsonValueKind.True or JsonValueKind.False) return true;
                    Error("structure", $"A boolean must be JSON true or false, not a JSON {KindName(value)}.");
                    return false;

                case "integer":
                case "positiveInt":
                case "unsignedInt":
                    if (kind != JsonValueKind.Number)
                    {
                        Error("structure", $"An {typeCode} must be a JSON number, not a JSON {KindName(value)}.");
                        return false;
                    }
                    if (!TryGetInteger(value.AsValue(), out var integer) || integer is < int.MinValue or > int.MaxValue)
                    {
                        Error("value", $"'{value.ToJsonString()}' is not a whole number within the 32-bit range of {typeCode}.");
                        return false;
                    }
                    if (typeCode == "positiveInt" && integer < 1 || typeCode == "unsignedInt" && integer < 0)
                    {
                        Error("value", $"{integer} is not a valid {typeCode} ({(typeCode == "positiveInt" ? "1 or more" : "0 or more")}).");
                        return false;
                    }
                    return true;

                case "decimal":
                    if (kind == JsonValueKind.Number) return true;
                    Error("structure", $"A decimal must be a JSON number, not a JSON {KindName(value)}.");
                    return false;
            }

            if (kind != JsonValueKind.String)
            {
                Error("structure", $"A {typeCode} must be a JSON string, not a JSON {KindName(value)}.");
                return false;
            }
            var text = GetString(value.AsValue());
            if (text.Length == 0)
            {
                Error("value", $"A {typeCode} must not be an empty string; leave the element out instead.");
                return false;
            }
            if (text.Length > MaxStringLength)
            {
                Error("too-long", $"The {typeCode} is {text.Length} characters long; FHIR allows at most {MaxStringLength}.");
                return false;
            }

            var valid = typeCode switch
            {
                "string" or "markdown" => !HasControlCharacters(text),
                "code" => CodePattern().IsMatch(text),
                "id" => IdPattern().IsMatch(text),
                "uri" or "url" or "canonical" => UriPattern().IsMatch(text),
                "oid" => OidPattern().IsMatch(text),
                "uuid" => UuidPattern().IsMatch(text),
                "date" => DatePattern().IsMatch(text) && DayExists(text),
                "dateTime" => DateTimePattern().IsMatch(text) && DayExists(text),
                "instant" => InstantPattern().IsMatch(text) && DayExists(text),
                "time" => TimePattern().IsMatch(text),
                "base64Binary" => IsBase64(text),
                "xhtml" => text.AsSpan().TrimStart().StartsWith("<div", StringComparison.Ordinal),
                _ => true,
            };
            if (valid) return true;
            Error("value", $"'{Shorten(text)}' is not a valid {typeCode}{FormatHint(typeCode)}.");
            return false;
        }
    }

    /// <summary>The pattern lets 2021-02-29 and 2024-04-31 through; the calendar does not.</summary>
    private static bool DayExists(string text) =>
        text.Length < 10 || DateOnly.TryParseExact(text.AsSpan(0, 10), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _);

    // Parsed JSON holds JsonElements; a resource built in code may hold an int, a DateTime or the like,
    // whose JSON text is then what counts.
    private static bool TryGetInteger(JsonValue value, out long integer)
    {
        if (value.TryGetValue(out integer)) return true;
        if (value.TryGetValue<int>(out var small))
        {
            integer = small;
            return true;
        }
        using var document = JsonDocument.Parse(value.ToJsonString());
        return document.RootElement.TryGetInt64(out integer);
    }

    private static string GetString(JsonValue value)
    {
        if (value.TryGetValue<string>(out var text)) return text;
        using var document = JsonDocument.Parse(value.ToJsonString());
        return document.RootElement.GetString() ?? "";
    }

    private static string FormatHint(string typeCode) => typeCode switch
    {
        "date" => " (YYYY, YYYY-MM or YYYY-MM-DD)",
        "dateTime" => " (a date, or a date and time with a time zone, as in 2024-05-01T13:30:00+02:00)",
        "instant" => " (a date and time to the second with a time zone, as in 2024-05-01T13:30:00Z)",
        "time" => " (hh:mm:ss)",
        "id" => " (1 to 64 of A-Z, a-z, 0-9, '-' and '.')",
        "code" => " (no leading, trailing or repeated whitespace)",
        "string" or "markdown" => " (control characters other than tab, carriage return and line feed are not allowed)",
        "xhtml" => " (narrative must be a <div> element)",
        _ => "",
    };

    private static string Shorten(string text) => text.Length <= 80 ? text : string.Concat(text.AsSpan(0, 77), "...");

    private static string KindName(JsonNode value) => value.GetValueKind() switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        _ => "null",
    };

    // The R4 string pattern is [ \r\n\t\S]+: every character but the other control characters.
    private static bool HasControlCharacters(string text)
    {
        foreach (var c in text)
            if (c < ' ' && c is not ('\r' or '\n' or '\t')) return true;
        return false;
    }

    // Equivalent to R4's (\s*([0-9a-zA-Z\+/=]){4}\s*)+ without the regex's backtracking on long data.
    private static bool IsBase64(string text)
    {
        var significant = 0;
        foreach (var c in text)
        {
            if (char.IsAsciiLetterOrDigit(c) || c is '+' or '/' or '=') significant++;
            else if (!char.IsWhiteSpace(c)) return false;
        }
        return significant > 0 && significant % 4 == 0;
    }

    // The regexes of the R4 primitive types (profiles-types.json), anchored to the whole value.
    [GeneratedRegex(@"\A[^\s]+(\s[^\s]+)*\z", RegexOptions.CultureInvariant)]
    private static partial Regex CodePattern();

    [GeneratedRegex(@"\A[A-Za-z0-9\-\.]{1,64}\z", RegexOptions.CultureInvariant)]
    private static partial Regex IdPattern();

    [GeneratedRegex(@"\A\S*\z", RegexOptions.CultureInvariant)]
    private static partial Regex UriPattern();

    [GeneratedRegex(@"\Aurn:oid:[0-2](\.(0|[1-9][0-9]*))+\z", RegexOptions.CultureInvariant)]
    private static partial Regex OidPattern();

    [GeneratedRegex(@"\Aurn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\z", RegexOptions.CultureInvariant)]
    private static partial Regex UuidPattern();

    [GeneratedRegex(@"\A([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?\z", RegexOptions.CultureInvariant)]
    private static partial Regex DatePattern();

    [GeneratedRegex(@"\A([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?\z", RegexOptions.CultureInvariant)]
    private static partial Regex DateTimePattern();

    [GeneratedRegex(@"\A([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))\z", RegexOptions.CultureInvariant)]
    private static partial Regex InstantPattern();

    [GeneratedRegex(@"\A([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?\z", RegexOptions.CultureInvariant)]
    private static partial Regex TimePattern();

    // Type/id, Type/id/_history/version, and the conditional Type?query of transaction Bundles.
    [GeneratedRegex(@"\A(?<type>[A-Z][A-Za-z]+)(/[A-Za-z0-9\-\.]{1,64}(/_history/[A-Za-z0-9\-\.]{1,64})?|\?\S*)\z", RegexOptions.CultureInvariant)]
    private static partial Regex RelativeReferencePattern();

    [GeneratedRegex(@"\A[A-Za-z][A-Za-z0-9+.\-]*://\S+\z", RegexOptions.CultureInvariant)]
    private static partial Regex AbsoluteUrlPattern();

    [GeneratedRegex(@"/(?<type>[A-Z][A-Za-z]+)/[A-Za-z0-9\-\.]{1,64}(/_history/[A-Za-z0-9\-\.]{1,64})?\z", RegexOptions.CultureInvariant)]
    private static partial Regex AbsoluteRestfulPattern();
}
