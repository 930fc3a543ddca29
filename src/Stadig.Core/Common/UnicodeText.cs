using System.Text;

namespace Stadig;

/// <summary>
/// Unicode normalisation that cannot throw. string.Normalize throws on half of a surrogate pair,
/// which text from outside can hold (a JSON escape, a hand-built request); every place that
/// normalises what it was sent uses this instead, so such text is refused or searched for as text,
/// never answered with a 500 (the fuzz runner found the registry search and the FHIR JSON paths).
/// </summary>
public static class UnicodeText
{
    /// <summary>The text normalised, with each lone surrogate first replaced by U+FFFD.</summary>
    public static string NormalizeText(this string text, NormalizationForm form) => WellFormed(text).Normalize(form);

    /// <summary>The text itself when it is well-formed UTF-16, else a copy with U+FFFD for each lone surrogate.</summary>
    public static string WellFormed(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (!char.IsSurrogate(text[i])) continue;
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
            var fixedText = new StringBuilder(text.Length);
            for (var j = 0; j < text.Length; j++)
            {
                if (char.IsHighSurrogate(text[j]) && j + 1 < text.Length && char.IsLowSurrogate(text[j + 1])) { fixedText.Append(text, j, 2); j++; }
                else fixedText.Append(char.IsSurrogate(text[j]) ? '\ufffd' : text[j]);
            }
            return fixedText.ToString();
        }
        return text;
    }
}
