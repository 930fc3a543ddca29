using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Stadig.Common;
using Stadig.Patients;

namespace Stadig.Medication;

/// <summary>A catalogue line, read and checked: what the import writes.</summary>
public sealed record CatalogueLine(int LineNumber, string ProductKey, string? NplId, string Name, IReadOnlyList<ProductSubstance> Substances,
    string SubstanceText, string Strength, string DoseForm, string Route, string AtcCode, Amount? MaxDaily, bool HighRisk);

/// <summary>One problem of a catalogue file: the line (1 is the header) and the column.</summary>
public sealed record CatalogueError(int LineNumber, string Field, string Problem)
{
    public override string ToString() => $"line {LineNumber}, field {Field}: {Problem}";
}

/// <summary>A catalogue file with errors: nothing of it is imported.</summary>
public sealed class CatalogueFileException(IReadOnlyList<CatalogueError> errors)
    : StadigException(Describe(errors))
{
    public IReadOnlyList<CatalogueError> Errors { get; } = errors;

    private static string Describe(IReadOnlyList<CatalogueError> errors) =>
        $"The catalogue file has {errors.Count} error(s); nothing was imported.\n" +
        string.Join('\n', errors.Take(50).Select(e => e.ToString())) + (errors.Count > 50 ? $"\n… and {errors.Count - 50} more." : "");
}

/// <summary>
/// Reads a catalogue file: UTF-8 text, one product a line, fields separated by semicolons (as Swedish
/// spreadsheets save CSV) and optionally quoted with double quotes, a header line naming the columns
/// in any order. Columns: npl_id (optional), name, substances ("A + B"), strength ("500 mg", "100 mg +
/// 25 mg", or empty), dose_form, route, atc_code, max_daily_dose (optional, "4 g"), high_risk (ja/nej,
/// yes/no, true/false, 1/0; empty is no). The whole file is checked before anything is written: every
/// problem is reported with its line and column, and a file with any problem imports nothing.
/// </summary>
public static partial class CatalogueFile
{
    public static readonly string[] Columns = ["npl_id", "name", "substances", "strength", "dose_form", "route", "atc_code", "max_daily_dose", "high_risk"];
    private static readonly string[] Optional = ["npl_id", "max_daily_dose", "high_risk"];

    public static IReadOnlyList<CatalogueLine> Read(TextReader reader)
    {
        var errors = new List<CatalogueError>();
        var lines = new List<CatalogueLine>();
        var header = reader.ReadLine();
        if (header is null) throw new CatalogueFileException([new CatalogueError(1, "header", "the file is empty")]);
        var (headerFields, headerProblem) = Split(header.TrimStart('\uFEFF'));
        if (headerProblem is not null) throw new CatalogueFileException([new CatalogueError(1, "header", headerProblem)]);
        var index = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < headerFields.Count; i++)
        {
            var name = headerFields[i].Trim();
            if (!Columns.Contains(name, StringComparer.OrdinalIgnoreCase)) errors.Add(new CatalogueError(1, name, $"unknown column (expected {string.Join(";", Columns)})"));
            else if (!index.TryAdd(name, i)) errors.Add(new CatalogueError(1, name, "column named twice"));
        }
        foreach (var missing in Columns.Except(Optional).Where(c => !index.ContainsKey(c)))
            errors.Add(new CatalogueError(1, missing, "required column is missing"));
        if (errors.Count > 0) throw new CatalogueFileException(errors);

        var keys = new Dictionary<string, int>(StringComparer.Ordinal);
        var number = 1;
        while (reader.ReadLine() is { } text)
        {
            number++;
            if (text.Trim().Length == 0) continue;
            var (fields, problem) = Split(text);
            if (problem is not null) { errors.Add(new CatalogueError(number, "line", problem)); continue; }
            if (fields.Count != headerFields.Count)
            {
                errors.Add(new CatalogueError(number, "line", $"{fields.Count} fields, the header has {headerFields.Count}"));
                continue;
            }
            var line = ReadLine(number, column => index.TryGetValue(column, out var i) ? fields[i].Trim() : "", errors);
            if (line is null) continue;
            if (keys.TryGetValue(line.ProductKey, out var first))
                errors.Add(new CatalogueError(number, line.NplId is null ? "name" : "npl_id", $"the same product as line {first}"));
            else
            {
                keys[line.ProductKey] = number;
                lines.Add(line);
            }
        }
        if (errors.Count > 0) throw new CatalogueFileException(errors);
        return lines;
    }

    private static CatalogueLine? ReadLine(int number, Func<string, string> field, List<CatalogueError> errors)
    {
        var before = errors.Count;
        void Fail(string column, string problem) => errors.Add(new CatalogueError(number, column, problem));

        var npl = field("npl_id");
        if (npl.Length > 0 && !NplId().IsMatch(npl)) Fail("npl_id", $"'{npl}' is not an id (letters, digits and hyphens, at most 40)");
        var name = Required("name", 200);
        var substanceText = Required("substances", 500);
        var doseForm = Required("dose_form", 100);
        var route = Required("route", 100);
        var atc = field("atc_code").ToUpperInvariant();
        if (!AtcCode().IsMatch(atc)) Fail("atc_code", atc.Length == 0 ? "is empty" : $"'{atc}' is not an ATC code (e.g. N02BE01, or a group such as A12AX)");

        var substanceNames = substanceText.Split('+', StringSplitOptions.TrimEntries);
        if (substanceText.Length > 0 && substanceNames.Any(s => s.Length == 0)) Fail("substances", "an empty substance between the '+'");
        var strength = field("strength");
        var amounts = new List<Amount?>();
        if (strength.Length > 0)
        {
            var parts = strength.Split('+', StringSplitOptions.TrimEntries);
            if (parts.Length != substanceNames.Length)
                Fail("strength", $"{parts.Length} amount(s) for {substanceNames.Length} substance(s)");
            foreach (var part in parts)
            {
                var amount = ParseAmount(part);
                if (amount is null) Fail("strength", $"'{part}' is not an amount with a unit (e.g. 500 mg, 0,4 mg/dos)");
                amounts.Add(amount);
            }
        }
        Amount? maxDaily = null;
        var max = field("max_daily_dose");
        if (max.Length > 0 && (maxDaily = ParseAmount(max)) is null) Fail("max_daily_dose", $"'{max}' is not an amount with a unit (e.g. 4 g)");
        var highRisk = false;
        var flag = field("high_risk").ToLowerInvariant();
        if (flag is "ja" or "yes" or "true" or "1") highRisk = true;
        else if (flag is not ("" or "nej" or "no" or "false" or "0")) Fail("high_risk", $"'{flag}' is neither ja nor nej");
        if (errors.Count > before) return null;

        var substances = substanceNames.Select((s, i) => new ProductSubstance(s, i < amounts.Count ? amounts[i] : null)).ToList();
        var key = npl.Length > 0 ? "npl:" + npl : $"name:{NameSearch.Fold(name)}|{NameSearch.Fold(strength)}|{NameSearch.Fold(doseForm)}";
        return new CatalogueLine(number, key, npl.Length > 0 ? npl : null, name, substances, substanceText, strength, doseForm, route, atc, maxDaily, highRisk);

        string Required(string column, int maxLength)
        {
            var value = field(column);
            if (value.Length == 0) Fail(column, "is empty");
            else if (value.Length > maxLength) Fail(column, $"is longer than {maxLength} characters");
            return value;
        }
    }

    /// <summary>"500 mg", "0,4 mg/dos", "2.5 mg", "10000 IE": a number (comma or point) and a unit.</summary>
    public static Amount? ParseAmount(string text)
    {
        var match = AmountPattern().Match(text.Trim());
        if (!match.Success) return null;
        var number = match.Groups[1].Value.Replace(" ", "", StringComparison.Ordinal).Replace(',', '.');
        return double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? new Amount(value, match.Groups[2].Value) : null;
    }

    /// <summary>The fields of one line; a quote that does not close is a problem, not a guess.</summary>
    private static (List<string> Fields, string? Problem) Split(string line)
    {
        var fields = new List<string>();
        var current = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"') { current.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else current.Append(c);
            }
            else if (c == '"' && current.ToString().Trim().Length == 0) { current.Clear(); quoted = true; }
            else if (c == ';') { fields.Add(current.ToString()); current.Clear(); }
            else current.Append(c);
        }
        if (quoted) return (fields, "a quoted field is not closed on its line");
        fields.Add(current.ToString());
        return (fields, null);
    }

    [GeneratedRegex(@"^[A-Za-z0-9-]{1,40}$")]
    private static partial Regex NplId();

    [GeneratedRegex(@"^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$")]
    private static partial Regex AtcCode();

    [GeneratedRegex(@"^([0-9][0-9 ]*(?:[.,][0-9]+)?)\s*(\S.*)$")]
    private static partial Regex AmountPattern();
}
