using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Stadig.Patients;

namespace Stadig.Fhir.Search;

public enum FhirSearchPrefix { Eq, Ne, Gt, Lt, Ge, Le, Sa, Eb, Ap }

/// <summary>
/// One comma-separated value of a criterion, parsed for its parameter's type. Token: System (null:
/// any system; <see cref="NoSystem"/> for "|code") and Code (null for "system|"). String: Code is
/// the folded text (the text as written under :exact). Reference: <see cref="References"/> are the
/// "Type/id" values that match, or, for a bare id of a parameter allowing any type, Code is the id.
/// Date: [Low, High). Number and quantity: Number with [NumberLow, NumberHigh) its implied
/// precision; quantity System and Code (unit) when given. Uri and _id: Code.
/// </summary>
public sealed record FhirSearchOperand
{
    public FhirSearchPrefix Prefix { get; init; } = FhirSearchPrefix.Eq;
    public string? System { get; init; }
    public bool NoSystem { get; init; }
    public string? Code { get; init; }
    public IReadOnlyList<string> References { get; init; } = [];
    public DateTimeOffset Low { get; init; }
    public DateTimeOffset High { get; init; }
    public double Number { get; init; }
    public double NumberLow { get; init; }
    public double NumberHigh { get; init; }
}

/// <summary>One parameter of the query: its values are alternatives (OR); criteria together must all hold (AND).</summary>
public sealed record FhirSearchCriterion(FhirSearchParameter Parameter, string? Modifier, IReadOnlyList<FhirSearchOperand> Values, bool? Missing = null);

public sealed record FhirSortKey(FhirSearchParameter Parameter, bool Descending);

/// <summary>_include (SourceType is the searched type) or _revinclude (SourceType refers to the matches) along reference Param, limited to TargetType when given.</summary>
public sealed record FhirInclude(string SourceType, string Param, string? TargetType);

/// <summary>
/// A FHIR search query parsed and checked against <see cref="FhirSearchParameters"/>. Malformed
/// values are refused (Invalid, code "value"); parameters and modifiers this server does not know are
/// refused under strict handling (Invalid, "not-supported") and otherwise ignored and listed in
/// <see cref="Ignored"/> as warnings for the Bundle's OperationOutcome.
/// </summary>
public sealed partial class FhirSearchRequest
{
    public const int DefaultCount = 20;
    public const int MaxCount = 1000;

    private static readonly HashSet<string> Summaries = ["count", "true", "false", "text", "data"];
    private static readonly HashSet<string> Totals = ["none", "estimate", "accurate"];
    // Handled by the HTTP layer, not by search.
    private static readonly HashSet<string> TransportParameters = ["_format", "_pretty"];

    public required string ResourceType { get; init; }
    public IReadOnlyList<FhirSearchCriterion> Criteria { get; init; } = [];
    public int Count { get; init; } = DefaultCount;
    public int Offset { get; init; }
    public IReadOnlyList<FhirSortKey> Sort { get; init; } = [];
    public IReadOnlyList<FhirInclude> Includes { get; init; } = [];
    public IReadOnlyList<FhirInclude> RevIncludes { get; init; } = [];
    /// <summary>_summary as given (count, true, false, text, data), null when absent.</summary>
    public string? Summary { get; init; }
    /// <summary>_total as given (none, estimate, accurate), null when absent.</summary>
    public string? Total { get; init; }
    public IReadOnlyList<string> Elements { get; init; } = [];
    /// <summary>The parameters that were applied, as given: for the Bundle's self link.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Applied { get; init; } = [];
    public IReadOnlyList<FhirIssue> Ignored { get; init; } = [];

    public static FhirSearchRequest Parse(string resourceType, IEnumerable<KeyValuePair<string, string>> query, bool strict)
    {
        if (FhirSearchParameters.For(resourceType).Count == 0)
        {
            throw new FhirException(FhirFailureKind.Invalid, "not-supported", null, $"Search on {resourceType} is not supported.");
        }
        var criteria = new List<FhirSearchCriterion>();
        var sort = new List<FhirSortKey>();
        var includes = new List<FhirInclude>();
        var revIncludes = new List<FhirInclude>();
        var elements = new List<string>();
        var applied = new List<KeyValuePair<string, string>>();
        var ignored = new List<FhirIssue>();
        int count = DefaultCount, offset = 0;
        string? summary = null, total = null;

        void Unsupported(string key, string message)
        {
            if (strict) throw new FhirException(FhirFailureKind.Invalid, "not-supported", key, message);
            ignored.Add(new FhirIssue("warning", "not-supported", key, message + " It was ignored."));
        }

        foreach (var (rawKey, rawValue) in query)
        {
            var key = rawKey.Trim();
            var value = rawValue?.Trim() ?? "";
            // An empty value is no criterion (FHIR search: ignore it).
            if (key.Length == 0 || value.Length == 0 || TransportParameters.Contains(key)) continue;
            var colon = key.IndexOf(':');
            var name = colon < 0 ? key : key[..colon];
            var modifier = colon < 0 ? null : key[(colon + 1)..];
            var ignoredBefore = ignored.Count;
            switch (name)
            {
                case "_count":
                    if (modifier is not null) { Unsupported(key, $"{key}: _count takes no modifier."); break; }
                    count = Math.Min(NonNegative(key, value), MaxCount);
                    break;
                case "_offset":
                    if (modifier is not null) { Unsupported(key, $"{key}: _offset takes no modifier."); break; }
                    offset = NonNegative(key, value);
                    break;
                case "_sort":
                    sort.AddRange(ParseSort(resourceType, key, value));
                    break;
                case "_include" or "_revinclude":
                    if (modifier is not null) { Unsupported(key, $"{key}: modifier '{modifier}' (iterate) is not supported."); break; }
                    foreach (var item in SplitOnComma(value))
                    {
                        var parsed = ParseInclude(resourceType, name, item, out var problem);
                        if (problem is not null) Unsupported(key, problem);
                        else (name == "_include" ? includes : revIncludes).AddRange(parsed);
                    }
                    break;
                case "_summary":
                    summary = Summaries.Contains(value) ? value : throw Invalid(key, value, "use count, true, false, text or data");
                    break;
                case "_total":
                    total = Totals.Contains(value) ? value : throw Invalid(key, value, "use none, estimate or accurate");
                    break;
                case "_elements":
                    elements.AddRange(SplitOnComma(value).Where(e => e.Length > 0));
                    break;
                default:
                    if (name.Contains('.', StringComparison.Ordinal) || name.StartsWith("_has", StringComparison.Ordinal))
                    {
                        Unsupported(key, $"Chained and reverse-chained search ('{key}') is not supported.");
                    }
                    else if (FhirSearchParameters.Find(resourceType, name) is not { } parameter)
                    {
                        Unsupported(key, $"Unknown search parameter '{name}' for {resourceType}.");
                    }
                    else if (ParseCriterion(parameter, key, modifier, value, out var problem) is { } criterion)
                    {
                        criteria.Add(criterion);
                    }
                    else
                    {
                        Unsupported(key, problem!);
                    }
                    break;
            }
            if (ignoredBefore == ignored.Count) applied.Add(new(key, value));
        }

        return new FhirSearchRequest
        {
            ResourceType = resourceType, Criteria = criteria, Count = count, Offset = offset, Sort = sort, Includes = includes,
            RevIncludes = revIncludes, Summary = summary, Total = total, Elements = elements, Applied = applied, Ignored = ignored,
        };
    }

    private static FhirException Invalid(string key, string value, string why) =>
        new(FhirFailureKind.Invalid, "value", key, $"Invalid value '{value}' for search parameter '{key}': {why}.");

    private static int NonNegative(string key, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : throw Invalid(key, value, "expected a whole number of 0 or more");

    private static IEnumerable<FhirSortKey> ParseSort(string resourceType, string key, string value)
    {
        foreach (var item in SplitOnComma(value))
        {
            var descending = item.StartsWith('-');
            var name = descending ? item[1..] : item;
            var parameter = FhirSearchParameters.Find(resourceType, name);
            if (parameter is null || parameter.Type == FhirSearchParamType.Reference)
            {
                throw new FhirException(FhirFailureKind.Invalid, "invalid", key, $"Cannot sort {resourceType} by '{name}': not a sortable search parameter.");
            }
            yield return new FhirSortKey(parameter, descending);
        }
    }

    private static List<FhirInclude> ParseInclude(string resourceType, string name, string value, out string? problem)
    {
        problem = null;
        var parts = value.Split(':');
        if (parts.Length is < 2 or > 3 || parts.Any(p => p.Length == 0))
        {
            throw new FhirException(FhirFailureKind.Invalid, "value", name, $"Invalid value '{value}' for {name}: expected SourceType:parameter or SourceType:parameter:TargetType.");
        }
        var (source, param, target) = (parts[0], parts[1], parts.Length == 3 ? parts[2] : null);
        if (name == "_include" && source != resourceType)
        {
            problem = $"{name}={value}: the source type must be the searched type {resourceType}.";
            return [];
        }
        if (name == "_revinclude" && target is not null && target != resourceType)
        {
            problem = $"{name}={value}: the target type must be the searched type {resourceType}.";
            return [];
        }
        var references = FhirSearchParameters.For(source).Where(p => p.Type == FhirSearchParamType.Reference);
        if (param != "*") references = references.Where(p => p.Name == param);
        var found = references.Select(p => new FhirInclude(source, p.Name, target)).ToList();
        if (found.Count == 0) problem = $"{name}={value}: {source} has no reference search parameter '{param}'.";
        return found;
    }

    private static FhirSearchCriterion? ParseCriterion(FhirSearchParameter parameter, string key, string? modifier, string value, out string? problem)
    {
        problem = null;
        if (modifier == "missing" && !parameter.IsResourceColumn)
        {
            return value is "true" or "false"
                ? new FhirSearchCriterion(parameter, modifier, [], value == "true")
                : throw Invalid(key, value, "use true or false");
        }
        var allowed = parameter.Type switch
        {
            _ when modifier is null => true,
            _ when parameter.IsResourceColumn => false,
            FhirSearchParamType.String => modifier is "exact" or "contains",
            FhirSearchParamType.Token => modifier is "not",
            FhirSearchParamType.Reference when modifier == "identifier" => parameter.ByIdentifier,
            FhirSearchParamType.Reference => parameter.Targets.Count == 0 ? ResourceTypeName().IsMatch(modifier) : parameter.Targets.Contains(modifier),
            _ => false,
        };
        if (!allowed)
        {
            problem = $"Modifier ':{modifier}' is not supported on search parameter '{parameter.Name}' of {parameter.ResourceType}.";
            return null;
        }
        var operands = SplitOnComma(value).Where(v => v.Length > 0).Select(v => ParseOperand(parameter, key, modifier, v)).ToList();
        return operands.Count == 0 ? throw Invalid(key, value, "no value") : new FhirSearchCriterion(parameter, modifier, operands);
    }

    private static FhirSearchOperand ParseOperand(FhirSearchParameter parameter, string key, string? modifier, string value)
    {
        switch (parameter.Type)
        {
            case FhirSearchParamType.Token when parameter.IsResourceColumn:
                return IdPattern().IsMatch(value) ? new FhirSearchOperand { Code = value } : throw Invalid(key, value, "not a resource id");
            case FhirSearchParamType.Token:
            case FhirSearchParamType.Reference when modifier == "identifier":
            {
                var parts = SplitUnescaped(value, '|');
                if (parts.Count == 1) return new FhirSearchOperand { Code = parts[0] };
                if (parts.Count != 2 || (parts[0].Length == 0 && parts[1].Length == 0)) throw Invalid(key, value, "expected code, system|code, system| or |code");
                return new FhirSearchOperand { System = NullIfEmpty(parts[0]), NoSystem = parts[0].Length == 0, Code = NullIfEmpty(parts[1]) };
            }
            case FhirSearchParamType.String:
            {
                var text = modifier == "exact" ? value : NameSearch.Fold(value);
                return text.Length > 0 ? new FhirSearchOperand { Code = text } : throw Invalid(key, value, "no letters or digits to search for");
            }
            case FhirSearchParamType.Reference:
                return ParseReference(parameter, key, modifier, value);
            case FhirSearchParamType.Date:
            {
                var (prefix, rest) = SplitPrefix(key, value);
                return FhirDateRange.TryParse(rest, out var range)
                    ? new FhirSearchOperand { Prefix = prefix, Low = range.Low, High = range.High }
                    : throw Invalid(key, value, "expected a date such as 2013, 2013-01, 2013-01-14 or 2013-01-14T10:00:00Z, optionally after a prefix eq, ne, lt, le, gt, ge, sa, eb or ap");
            }
            case FhirSearchParamType.Number or FhirSearchParamType.Quantity:
            {
                var (prefix, rest) = SplitPrefix(key, value);
                var parts = SplitUnescaped(rest, '|');
                if (parts.Count > 3 || (parameter.Type == FhirSearchParamType.Number && parts.Count > 1)) throw Invalid(key, value, "too many '|'");
                var number = ParseNumber(key, value, parts[0]);
                return number with
                {
                    Prefix = prefix,
                    System = parts.Count > 1 ? NullIfEmpty(parts[1]) : null,
                    Code = parts.Count > 2 ? NullIfEmpty(parts[2]) : null,
                };
            }
            default:
                return new FhirSearchOperand { Code = value };
        }
    }

    private static FhirSearchOperand ParseReference(FhirSearchParameter parameter, string key, string? modifier, string value)
    {
        if (value.Contains('/', StringComparison.Ordinal))
        {
            var reference = FhirSearchIndexer.NormalizeReference(value) ?? throw Invalid(key, value, "expected id, Type/id or a URL ending in Type/id");
            if (modifier is not null && !reference.StartsWith(modifier + "/", StringComparison.Ordinal)) throw Invalid(key, value, $"not a reference to {modifier}");
            return new FhirSearchOperand { References = [reference] };
        }
        if (!IdPattern().IsMatch(value)) throw Invalid(key, value, "not a resource id");
        if (modifier is not null) return new FhirSearchOperand { References = [$"{modifier}/{value}"] };
        return parameter.Targets.Count > 0
            ? new FhirSearchOperand { References = parameter.Targets.Select(t => $"{t}/{value}").ToList() }
            : new FhirSearchOperand { Code = value };
    }

    private static readonly Dictionary<string, FhirSearchPrefix> Prefixes = Enum.GetValues<FhirSearchPrefix>()
        .ToDictionary(p => p.ToString().ToLowerInvariant(), p => p);

    private static (FhirSearchPrefix, string) SplitPrefix(string key, string value)
    {
        if (value.Length >= 2 && char.IsAsciiLetterLower(value[0]) && char.IsAsciiLetterLower(value[1]))
        {
            return Prefixes.TryGetValue(value[..2], out var prefix)
                ? (prefix, value[2..])
                : throw Invalid(key, value, $"unknown prefix '{value[..2]}' (use eq, ne, lt, le, gt, ge, sa, eb or ap)");
        }
        return (FhirSearchPrefix.Eq, value);
    }

    private static FhirSearchOperand ParseNumber(string key, string value, string text)
    {
        var match = NumberPattern().Match(text);
        var exponent = 0;
        // A number past double's range reads as infinity, and an exponent past int's would overflow: neither is a number to search for.
        if (!match.Success || !double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) || !double.IsFinite(number)
            || match.Groups["exponent"].Success && !int.TryParse(match.Groups["exponent"].Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out exponent))
        {
            throw Invalid(key, value, "expected a number (at most about 1.7e308)");
        }
        // Implied precision: "100" is [99.5, 100.5), "100.00" is [99.995, 100.005).
        var decimals = match.Groups["fraction"].Length - exponent;
        var half = 0.5 * Math.Pow(10, -decimals);
        return new FhirSearchOperand { Number = number, NumberLow = number - half, NumberHigh = number + half };
    }

    /// <summary>Splits on unescaped commas and undoes the escapes (\, \| \$ \\) FHIR search allows, except \| which stays for the token split.</summary>
    private static List<string> SplitOnComma(string value) => SplitUnescaped(value, ',', keepPipeEscapes: true);

    private static List<string> SplitUnescaped(string value, char separator, bool keepPipeEscapes = false)
    {
        var parts = new List<string>();
        var current = new StringBuilder();
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '\\' && i + 1 < value.Length)
            {
                if (keepPipeEscapes && value[i + 1] == '|') current.Append('\\');
                current.Append(value[++i]);
            }
            else if (value[i] == separator)
            {
                parts.Add(current.ToString());
                current.Clear();
            }
            else
            {
                current.Append(value[i]);
            }
        }
        parts.Add(current.ToString());
        return parts;
    }

    private static string? NullIfEmpty(string text) => text.Length == 0 ? null : text;

    [GeneratedRegex(@"^[A-Za-z0-9\-\.]{1,64}$")]
    private static partial Regex IdPattern();

    [GeneratedRegex(@"^[A-Z][A-Za-z]+$")]
    private static partial Regex ResourceTypeName();

    [GeneratedRegex(@"^-?[0-9]+(\.(?<fraction>[0-9]+))?([eE](?<exponent>[+-]?[0-9]+))?$", RegexOptions.ExplicitCapture)]
    private static partial Regex NumberPattern();
}
