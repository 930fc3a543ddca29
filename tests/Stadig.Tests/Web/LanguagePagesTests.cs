using System.Collections;
using System.Globalization;
using System.Net;
using System.Reflection;
using System.Resources;
using System.Text.RegularExpressions;

namespace Stadig.Tests.Web;

/// <summary>
/// Every page, for every kind of role, in Swedish and in English: no words of the other language (its
/// resource values that differ), no raw code names (enum members, stored states), no numbers written
/// the other language's way. Attributes a person hears or reads (aria-label, title, placeholder, the
/// messages scripts show) count as text.
/// </summary>
public partial class LanguagePagesTests
{
    [Fact]
    public async Task Every_page_in_either_language_shows_only_that_language_no_code_names_and_its_own_number_format()
    {
        await using var pages = await EveryPage.CreateAsync();
        var swedish = ResourceValues(CultureInfo.InvariantCulture);
        var english = ResourceValues(CultureInfo.GetCultureInfo("en"));
        var swedishWords = new HashSet<string>(swedish.Values.SelectMany(v => WordPattern().Matches(v).Select(m => m.Value)), StringComparer.Ordinal);
        var codeNames = CodeNames().ToList();
        var found = new List<string>();
        var rendered = 0;

        foreach (var culture in new[] { "sv", "en" })
        {
            var other = culture == "sv" ? english : swedish;
            var own = culture == "sv" ? swedish : english;
            // Words of the other language: resource values that differ between the two, split at their placeholders.
            var foreign = other.Where(kv => own.TryGetValue(kv.Key, out var mine) && mine != kv.Value)
                .SelectMany(kv => PlaceholderPattern().Split(kv.Value).Select(f => f.Trim(' ', ':', '.', '(', ')', ',', '·', '–')))
                .Where(f => f.Length >= 4 && f.Any(char.IsLetter) && !own.Values.Any(v => Regex.IsMatch(v, $@"(?<!\w){Regex.Escape(f)}(?!\w)")))
                .Distinct().ToList();
            var names = codeNames.Where(n => culture == "sv" ? !swedishWords.Contains(n) : UpperInside().IsMatch(n)).ToList();
            foreach (var user in EveryPage.Users.Prepend(""))
            {
                using var client = await pages.LoggedInClientAsync(user, culture);
                foreach (var path in user.Length == 0 ? ["/login"] : pages.Paths())
                {
                    var response = await client.GetAsync(path);
                    Assert.True(response.StatusCode != HttpStatusCode.InternalServerError, $"{path} as {user}: 500\n{pages.Server.Log}");
                    if (response.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.Found) continue;
                    var text = VisibleText(await response.Content.ReadAsStringAsync());
                    rendered++;
                    string Where(string what) => $"{culture} {user} {path}: {what}";
                    found.AddRange(foreign.Where(f => Regex.IsMatch(text, $@"(?<!\w){Regex.Escape(f)}(?!\w)")).Select(f => Where($"other language: \"{f}\"")));
                    found.AddRange(names.Where(n => Regex.IsMatch(text, $@"(?<![\w-]){n}(?![\w-])")).Select(n => Where($"code name: {n}")));
                    var numbers = culture == "sv" ? EnglishDecimal() : SwedishDecimal();
                    found.AddRange(numbers.Matches(text).Select(m => Where($"number in the other format: {m.Value}")));
                }
            }
        }
        Assert.True(rendered > 40, $"Only {rendered} pages rendered.");
        Assert.True(found.Count == 0, string.Join("\n", found.Distinct()));
    }

    [Fact]
    public async Task A_result_value_and_its_reference_range_are_written_in_the_pages_language()
    {
        await using var pages = await EveryPage.CreateAsync();
        using var sv = await pages.LoggedInClientAsync("eva", "sv");
        using var en = await pages.LoggedInClientAsync("eva", "en");
        var chart = $"/patients/{pages.PatientId}";

        Assert.Contains("6,4", await sv.GetStringAsync(chart));
        Assert.Contains("3,5–8,8", await sv.GetStringAsync(chart));
        Assert.Contains("6.4", await en.GetStringAsync(chart));
        Assert.Contains("3.5–8.8", await en.GetStringAsync(chart));
        Assert.Contains("Changed – saving shortly", await en.GetStringAsync($"/notes/{pages.RouteValues["NoteId"]}"));
    }

    /// <summary>Text nodes plus the attributes that are read or heard, entities decoded; scripts and styles dropped.</summary>
    private static string VisibleText(string html)
    {
        // <code> marks a technical name shown on purpose (an audit event's resource), not words.
        html = ScriptOrStyle().Replace(html, " ");
        var attributes = string.Join(" \n ", ReadAttribute().Matches(html).Select(m => m.Groups[2].Value));
        var text = Tag().Replace(html, " \n ");
        return WebUtility.HtmlDecode(text + " \n " + attributes);
    }

    private static Dictionary<string, string> ResourceValues(CultureInfo culture)
    {
        var assembly = typeof(Stadig.Text).Assembly;
        var values = new Dictionary<string, string>();
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith("Stadig.Resources.", StringComparison.Ordinal) && n.EndsWith(".resources", StringComparison.Ordinal)))
        {
            var baseName = name[..^".resources".Length];
            var set = new ResourceManager(baseName, assembly).GetResourceSet(culture, createIfNotExists: true, tryParents: culture.Name.Length == 0);
            if (set is null) continue;
            foreach (DictionaryEntry entry in set)
                if (entry.Value is string value) values[baseName + "." + entry.Key] = value;
        }
        return values;
    }

    /// <summary>Names that belong in code, not on a page: the members of the domain's enums and its stored states.</summary>
    private static IEnumerable<string> CodeNames()
    {
        var core = typeof(Stadig.Access.Caller).Assembly;
        var enums = core.GetTypes().Where(t => t.IsEnum && t.IsPublic && t.Namespace is { } ns && !ns.Contains("Fhir") && !ns.Contains("Storage") && !ns.Contains("Hl7"))
            .SelectMany(Enum.GetNames);
        var states = typeof(Stadig.Orders.OrderStatus).GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (string)f.GetValue(null)!);
        return enums.Concat(states).Concat(["Inbound", "Outbound", "None"]).Distinct();
    }

    [GeneratedRegex(@"\{\d+[^}]*\}")]
    private static partial Regex PlaceholderPattern();

    [GeneratedRegex(@"\p{L}+")]
    private static partial Regex WordPattern();

    [GeneratedRegex(@"^\p{Lu}\p{Ll}+\p{Lu}")]
    private static partial Regex UpperInside();

    [GeneratedRegex(@"(?<![\d.,])\d+\.\d{1,2}(?![\d.,])")]
    private static partial Regex EnglishDecimal();

    [GeneratedRegex(@"(?<![\d.,])\d+,\d{1,2}(?![\d.,])")]
    private static partial Regex SwedishDecimal();

    [GeneratedRegex(@"<(script|style|code)\b[^>]*>.*?</\1>", RegexOptions.Singleline | RegexOptions.IgnoreCase)]
    private static partial Regex ScriptOrStyle();

    [GeneratedRegex(@"\s(aria-label|title|placeholder|alt|data-msg-[\w-]+)=""([^""]*)""")]
    private static partial Regex ReadAttribute();

    [GeneratedRegex(@"<[^>]+>")]
    private static partial Regex Tag();
}
