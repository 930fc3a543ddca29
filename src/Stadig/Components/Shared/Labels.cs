using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Localization;
using Stadig.Organisation;

namespace Stadig.Components.Shared;

/// <summary>
/// Stored codes (states, reasons, roles, note types) and numbers as the reader's language shows them:
/// a code is looked up as "Prefix_Code" in the resources, so no raw enum name reaches a page.
/// </summary>
public static partial class Labels
{
    /// <summary>The text for a stored code; the code itself only when no resource names it (a value a newer node wrote).</summary>
    public static string Label(this IStringLocalizer texts, string prefix, string? code)
    {
        if (string.IsNullOrEmpty(code)) return "";
        var text = texts[prefix + "_" + code];
        return text.ResourceNotFound ? code : text.Value;
    }

    public static string Label(this IStringLocalizer texts, Role role) => texts.Label("Role", role.ToString());

    public static string Label(this IStringLocalizer texts, Purpose purpose) => texts.Label("Purpose", purpose.ToString());

    /// <summary>A role stored as text (claims, audit rows).</summary>
    public static string RoleLabel(this IStringLocalizer texts, string? role) => texts.Label("Role", role);

    /// <summary>A note type is stored by its Swedish name, which stays its identity; only the shown name changes.</summary>
    public static string NoteType(this IStringLocalizer texts, string? name) => texts.Label("NoteType", name);

    /// <summary>
    /// A patient's name as every page shows it (<see cref="Stadig.Patients.PatientNames.Sort"/>); when the
    /// record holds none, "Namn saknas" with the identifier where the page shows it nowhere else, so a
    /// row or heading is never blank.
    /// </summary>
    public static string PatientName(this IStringLocalizer texts, string? sortName, string? identifier = null) =>
        sortName ?? (identifier is null ? texts["NameMissing"].Value : texts["NameMissingFor", identifier].Value);

    public static string PatientName(this IStringLocalizer texts, Stadig.Patients.Patient patient, bool withIdentifier = false) =>
        texts.PatientName(patient.SortName, withIdentifier ? patient.IdentifierDisplay : null);

    /// <summary>A measured value in the page's culture: 6,4 in Swedish, 6.4 in English.</summary>
    public static string Number(double value) => value.ToString("0.##", CultureInfo.CurrentCulture);

    public static string? Number(double? value) => value is { } v ? Number(v) : null;

    /// <summary>
    /// Text with decimals written elsewhere (a lab's or the catalogue's range "3.5-8.8", a summary that
    /// Core wrote the Swedish way, "6,4") in the page's culture; the digits are kept as written.
    /// </summary>
    public static string Range(string? text) => text is null ? "" :
        DecimalPattern().Replace(text, m => m.Groups[1].Value + CultureInfo.CurrentCulture.NumberFormat.NumberDecimalSeparator + m.Groups[2].Value);

    [GeneratedRegex(@"(?<![0-9.,])([0-9]+)[.,]([0-9]+)(?![0-9.,])")]
    private static partial Regex DecimalPattern();
}
