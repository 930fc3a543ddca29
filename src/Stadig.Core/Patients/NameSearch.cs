using System.Globalization;
using System.Text;

namespace Stadig.Patients;

/// <summary>
/// The folded form names are stored and searched in: lower case, diacritics removed, so that
/// 'ostrom' finds 'Öström' and 'lofgren' finds 'Löfgren'. Hyphens become spaces so that each part
/// of a double name is a word of its own.
/// </summary>
public static class NameSearch
{
    public static string Fold(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return "";
        var decomposed = text.Trim().ToLowerInvariant().NormalizeText(NormalizationForm.FormD);
        var folded = new StringBuilder(decomposed.Length);
        foreach (var c in decomposed)
        {
            switch (CharUnicodeInfo.GetUnicodeCategory(c))
            {
                case UnicodeCategory.NonSpacingMark:
                    continue;
                case UnicodeCategory.LowercaseLetter or UnicodeCategory.UppercaseLetter or UnicodeCategory.DecimalDigitNumber:
                    folded.Append(c switch { 'ø' => "o", 'æ' => "ae", 'ß' => "ss", 'đ' => "d", 'ł' => "l", _ => c.ToString() });
                    break;
                default:
                    // Spaces, hyphens, apostrophes: word boundaries.
                    if (folded.Length > 0 && folded[^1] != ' ') folded.Append(' ');
                    break;
            }
        }
        return folded.ToString().Trim();
    }

    /// <summary>The last word of a folded name: "Lind-Öström" → "ostrom".</summary>
    public static string LastWord(string? text)
    {
        var folded = Fold(text);
        return folded[(folded.LastIndexOf(' ') + 1)..];
    }

    public static string[] Words(string? text) => Fold(text).Split(' ', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The smallest string greater than every string starting with <paramref name="prefix"/>.</summary>
    public static string PrefixUpperBound(string prefix) =>
        prefix.Length == 0 ? "\uffff" : prefix[..^1] + (char)(prefix[^1] + 1);
}
