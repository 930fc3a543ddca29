using System.Globalization;
using System.Text.RegularExpressions;

namespace Stadig.LabResults;

/// <summary>
/// How lab values, units and ranges are written wherever Stadig shows them, in Swedish practice:
/// decimal comma, a real en dash in ranges, and units as Swedish labs print them (10⁹/L, µmol/L,
/// mmol/L, µkat/L) whichever way the lab or an old record spelled them (10^9/L, x10(9)/L, umol/l,
/// mikromol/L). Every page uses these, so one result never looks two ways.
/// </summary>
public static partial class LabFormat
{
    private static readonly CultureInfo Swedish = CultureInfo.GetCultureInfo("sv-SE");

    private static readonly Dictionary<char, char> Superscript = new()
    {
        ['0'] = '⁰', ['1'] = '¹', ['2'] = '²', ['3'] = '³', ['4'] = '⁴', ['5'] = '⁵', ['6'] = '⁶', ['7'] = '⁷', ['8'] = '⁸', ['9'] = '⁹', ['-'] = '⁻',
    };

    // "10^9/L", "10*9/L", "10E9/L", "x10(9)/L", "×10⁹/l", "E9/L": a power of ten before the rest.
    // [0-9], not \d: another script's digit has no superscript in the table, and the lookup threw on every page showing the result.
    [GeneratedRegex(@"^\s*(?:[x×*]\s*)?10\s*(?:\^|\*|\*\*|E|e|\()\s*(-?[0-9]{1,2})\s*\)?\s*(/.*)?$")]
    private static partial Regex PowerOfTen();

    /// <summary>The unit as Swedish labs print it; empty for none.</summary>
    public static string Unit(string? unit)
    {
        if (string.IsNullOrWhiteSpace(unit)) return "";
        var u = unit.Trim();
        var power = PowerOfTen().Match(u);
        if (power.Success)
        {
            var exponent = string.Concat(power.Groups[1].Value.Select(c => Superscript[c]));
            return "10" + exponent + Litre(power.Groups[2].Value);
        }
        if (u.StartsWith('×')) u = u[1..].TrimStart();
        // A micro sign typed as u, mikro- or the Greek mu becomes the micro sign Swedish labs print.
        u = Regex.Replace(u, "^(?:u|mikro|μ)(?=(?:mol|kat|g|l|L|IE|E)\\b|(?:mol|kat|g|IE|E)/)", "µ");
        u = Regex.Replace(u, "^(?:milli)(?=(?:mol|g|IE|E)\\b|(?:mol|g|IE|E)/)", "m");
        u = Regex.Replace(u, "^(?:nano)(?=(?:mol|g)\\b|(?:mol|g)/)", "n");
        u = u switch { "mIU/L" or "mIU/l" or "mU/L" or "mE/L" => "mIE/L", _ => u };
        return Litre(u);
    }

    private static string Litre(string text) => text.EndsWith("/l", StringComparison.Ordinal) ? text[..^2] + "/L" : text;

    /// <summary>
    /// A value with a decimal comma, with the decimals the lab sent (4,10 stays 4,10: the lab's
    /// precision is part of the result); a value without text as the analysis writes it.
    /// </summary>
    public static string Value(double? value, string? text, int? decimals = null, CultureInfo? culture = null)
    {
        // Swedish unless the page asks for its own culture (an English page writes 6.4).
        var c = culture ?? Swedish;
        if (value is not { } v) return text ?? "";
        var sent = text?.Trim();
        if (sent is { Length: > 0 } && double.TryParse(sent.Replace(',', '.'), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) && parsed == v
            && !sent.Contains('e', StringComparison.OrdinalIgnoreCase))
            return sent.Replace(',', '.').Replace(".", c.NumberFormat.NumberDecimalSeparator);
        return decimals is { } d ? v.ToString("F" + d, c) : v.ToString("0.###", c);
    }

    /// <summary>"3,5–4,4", "&lt; 5", "&gt; 60"; empty when there is no range.</summary>
    public static string Range(double? low, double? high, CultureInfo? culture = null) => (low, high, culture ?? Swedish) switch
    {
        (null, null, _) => "",
        (null, { } h, var c) => "< " + h.ToString("0.###", c),
        ({ } l, null, var c) => "> " + l.ToString("0.###", c),
        ({ } l, { } h, var c) => l.ToString("0.###", c) + "–" + h.ToString("0.###", c),
    };

    /// <summary>Whether an HL7 abnormal flag (OBX-8) says the value is outside its range.</summary>
    public static bool IsAbnormal(string? flag) => flag is { Length: > 0 } f && f != "N";

    /// <summary>Whether an abnormal flag marks a critical value (panic level).</summary>
    public static bool IsCritical(string? flag) => flag is "HH" or "LL" or "AA" or ">" or "<";
}
