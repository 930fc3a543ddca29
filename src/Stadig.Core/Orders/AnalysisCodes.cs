using Stadig.LabResults;

namespace Stadig.Orders;

/// <summary>
/// The mapping table from the codes labs send (LOINC, the lab's local codes, an NPU code for the
/// same property measured another way) to the catalogue's NPU code, so that a result joins the
/// same trend whichever code it came with. A code maps only when the unit it came with is the
/// analysis's unit (or none was sent): LOINC fixes the kind of quantity, not the unit, and a
/// haemoglobin in g/dL or an ALAT in U/L beside g/L or µkat/L values would make a trend lie.
/// </summary>
public static class AnalysisCodes
{
    // LOINC codes (loinc.org/<code>): 718-7 Hemoglobin [Mass/volume] in Blood; 6690-2 Leukocytes
    // [#/volume] in Blood by Automated count; 2951-2 Sodium, 2823-3 Potassium, 14682-9 Creatinine,
    // 14749-6 Glucose [Moles/volume] in Serum or Plasma; 1988-5 C reactive protein [Mass/volume];
    // 59261-8 Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol (mmol/mol; 4548-4 is the %
    // one and is deliberately not mapped); 3016-3 Thyrotropin [Units/volume]; 1742-6 Alanine
    // aminotransferase [Enzymatic activity/volume]; 1751-7 Albumin [Mass/volume] in Serum or Plasma.
    // 777-3 (Platelets [#/volume] in Blood by Automated count) and NPU19981 (seen as P-ALAT in
    // Swedish lab data, definition not checked) could not be verified against a public listing here.
    // Local codes are those of the region's own lab (the ones its ORU^R01 carries in OBX-3 with
    // coding system L); a region with another lab lists its codes here.
    private static readonly (string Npu, string[] Aliases)[] Table =
    [
        ("NPU28309", ["718-7", "HB"]),
        ("NPU03429", ["2951-2", "NA"]),
        ("NPU03230", ["2823-3", "K"]),
        ("NPU04998", ["NPU18016", "14682-9", "KREA"]),
        ("NPU19748", ["1988-5", "CRP"]),
        ("NPU02192", ["14749-6", "GLUK"]),
        ("NPU02593", ["6690-2", "LPK"]),
        ("NPU03568", ["777-3", "TPK"]),
        ("NPU19651", ["NPU19981", "1742-6", "ALAT"]),
        ("NPU27300", ["59261-8", "HBA1C"]),
        ("NPU03577", ["3016-3", "TSH"]),
        ("NPU19673", ["1751-7", "ALB"]),
    ];

    private static readonly Dictionary<string, string> ToNpu = Table
        .SelectMany(t => t.Aliases.Select(a => (Alias: a, t.Npu)).Append((Alias: t.Npu, t.Npu)))
        .ToDictionary(t => t.Alias, t => t.Npu, StringComparer.OrdinalIgnoreCase);

    /// <summary>The catalogue's code for a code, or the code itself when it is not in the table.</summary>
    public static string Canonical(string code) => ToNpu.GetValueOrDefault(code.Trim()) ?? code;

    /// <summary>The code a result with this code and unit is trended under: the catalogue's code when the unit agrees, else its own.</summary>
    public static string TrendKey(string code, string? unit)
    {
        var canonical = Canonical(code);
        if (canonical == code || string.IsNullOrWhiteSpace(unit)) return canonical;
        var analysis = AnalysisCatalogue.Find(canonical);
        return analysis is null || LabFormat.Unit(unit) == LabFormat.Unit(analysis.Unit) ? canonical : code;
    }

    /// <summary>Every code that may map to <paramref name="canonical"/> (itself included), for reading its results.</summary>
    public static IReadOnlyList<string> Family(string canonical) =>
        Table.FirstOrDefault(t => t.Npu == canonical) is { Npu: not null } row ? [row.Npu, .. row.Aliases] : [canonical];
}
