using Microsoft.Extensions.Localization;
using Stadig.Chart;

namespace Stadig.Components.Shared;

/// <summary>The record's codes in the page's language: a code with no text of ours is shown as sent, never hidden.</summary>
public static class RecordLabels
{
    // Keys hold the code in lower case: a resource name must be unique ignoring case, and FHIR's codes and the chart's differ only so.
    public static string Code(IStringLocalizer<RecordTexts> r, string prefix, string? code) =>
        string.IsNullOrEmpty(code) ? "" : r[prefix + code.ToLowerInvariant()] is { ResourceNotFound: false } text ? text.Value : code;

    /// <summary>A hypersensitivity's facts after its substance: reaction, severity, criticality and verification, as far as given.</summary>
    public static string AllergyFacts(IStringLocalizer<RecordTexts> r, RecordEntry e) =>
        string.Join(", ", new[]
        {
            e.Detail, Code(r, e.Source is null ? "ChartSeverity_" : "Severity_", e.Severity), Code(r, "Criticality_", e.Criticality), Code(r, "Verification_", e.Verification),
        }.Where(s => !string.IsNullOrEmpty(s)));

    /// <summary>A chart warning as the record entry the banner and lists show.</summary>
    public static RecordEntry FromWarning(WarningItem w) => new()
    {
        Kind = w.Category == "Hypersensitivity" ? RecordKind.Allergy : RecordKind.Warning, Key = w.Id.ToString(), At = w.CreatedAt,
        Title = w.Agent ?? w.Text, Detail = w.Reaction, Severity = w.Severity, Verification = w.Verification, Criticality = w.Criticality,
        Category = w.Source is null ? w.Category : null, UnitId = w.UnitId, UnitName = w.UnitName, Source = w.Source, Status = "active",
    };
}
