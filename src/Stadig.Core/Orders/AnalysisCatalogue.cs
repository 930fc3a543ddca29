namespace Stadig.Orders;

/// <summary>An analysis a clinician can order: code, name, specimen, unit and reference range.</summary>
public sealed record Analysis(string Code, string Name, string Specimen, string Unit, string ReferenceRange);

/// <summary>
/// The region's lab catalogue. A small set of common clinical chemistry analyses with NPU-style
/// codes written by this team; a region loads its own lab's catalogue in its place.
/// </summary>
public static class AnalysisCatalogue
{
    public static readonly IReadOnlyList<Analysis> All =
    [
        new("NPU02319", "B-Hemoglobin", "Blod", "g/L", "117-153"),
        new("NPU02593", "B-Leukocyter", "Blod", "10^9/L", "3.5-8.8"),
        new("NPU03568", "B-Trombocyter", "Blod", "10^9/L", "165-387"),
        new("NPU03429", "P-Natrium", "Plasma", "mmol/L", "137-145"),
        new("NPU03230", "P-Kalium", "Plasma", "mmol/L", "3.5-4.4"),
        new("NPU18016", "P-Kreatinin", "Plasma", "µmol/L", "45-90"),
        new("NPU19748", "P-CRP", "Plasma", "mg/L", "<5"),
        new("NPU22089", "P-Glukos", "Plasma", "mmol/L", "4.0-6.0"),
        new("NPU27300", "B-HbA1c", "Blod", "mmol/mol", "27-42"),
        new("NPU03577", "P-TSH", "Plasma", "mIE/L", "0.4-4.0"),
        new("NPU19763", "P-ALAT", "Plasma", "µkat/L", "0.15-0.75"),
        new("NPU01370", "P-Albumin", "Plasma", "g/L", "36-45"),
    ];

    public static Analysis? Find(string? code) => All.FirstOrDefault(a => a.Code == code);
}
