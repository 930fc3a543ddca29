using Stadig.LabResults;
using Stadig.Patients.Identifiers;

namespace Stadig.Orders;

/// <summary>A reference interval for one sex (both when null) and an age band in whole years, [MinAge, MaxAge).</summary>
public sealed record ReferenceInterval(double? Low, double? High, Sex? Sex = null, int MinAge = 18, int MaxAge = 200)
{
    public bool Fits(Sex sex, int age) => (Sex is null || Sex == sex) && age >= MinAge && age < MaxAge;
}

/// <summary>An analysis a clinician can order and a result can carry: NPU code, name, specimen, unit, decimals and reference intervals.</summary>
public sealed record Analysis(string Code, string Name, string Specimen, string Unit, int Decimals, IReadOnlyList<ReferenceInterval> Intervals)
{
    /// <summary>
    /// The interval for a patient of this sex and age, or null when none fits: an unknown sex gets
    /// an interval only where the sexes share one, never a guess.
    /// </summary>
    public ReferenceInterval? IntervalFor(Sex sex, int? age)
    {
        if (age is null) return null;
        var fitting = Intervals.Where(i => i.MinAge <= age && age < i.MaxAge).ToList();
        if (sex is Sex.Female or Sex.Male) return fitting.FirstOrDefault(i => i.Fits(sex, age.Value));
        return fitting.Count > 0 && fitting.All(i => i.Low == fitting[0].Low && i.High == fitting[0].High) ? fitting[0] with { Sex = null } : null;
    }

    /// <summary>The intervals as the order form shows them, e.g. "K 117–153, M 134–170".</summary>
    public string ReferenceRange => string.Join(", ", Intervals.Select(i =>
        (i.Sex switch { Sex.Female => "K ", Sex.Male => "M ", _ => "" })
        + (i.MinAge > 18 || i.MaxAge < 200 ? $"{i.MinAge}{(i.MaxAge < 200 ? "–" + (i.MaxAge - 1) : "+")} år " : "")
        + LabFormat.Range(i.Low, i.High)).Distinct());
}

/// <summary>
/// The region's lab catalogue: one code per analysis, the NPU code as Swedish labs report it, used
/// alike by orders, filed results, trends and the demo region's seeding. A result sent with a
/// LOINC or local code is mapped to it by <see cref="AnalysisCodes"/>. A region loads its own
/// lab's catalogue in its place.
/// </summary>
/// <remarks>
/// Codes checked against public NPU listings (the IFCC C-NPU catalogue as quoted in open lab
/// tooling, the Danish KL-term NPU CodeSystem at build.fhir.org/ig/hl7dk/kl-term, and Swedish
/// lab data samples): NPU28309 B—Haemoglobin; mass c. (g/L, Sweden's unit; NPU02319 is the
/// Danish mmol/L property, so it is not an alias), NPU02593 B—Leukocytes; num.c., NPU03568
/// B—Platelets; num.c., NPU03429 P—Sodium ion, NPU03230 P—Potassium ion, NPU04998
/// P—Creatininium; subst.c.(enz.) and NPU18016 P—Creatininium; subst.c., NPU19748 P—C-reactive
/// protein, NPU02192 P—Glucose (NPU22089 is capillary P(kB)—Glucose, another specimen, not an
/// alias), NPU27300 B—Haemoglobin A1c (IFCC), NPU03577 P—Thyrotropin, NPU19651 P—Alanine
/// transaminase, NPU19673 P—Albumin. The old catalogue's NPU19763 (ferritin) and NPU01370
/// (bilirubin) were wrong for ALAT and albumin.
/// Adult reference intervals as commonly published by Swedish laboratories, from the Nordic
/// Reference Interval Project (NORIP: Rustad P et al., Scand J Clin Lab Invest 2004;64:271–284;
/// haematology: Nordin G et al., same issue, 385–398); HbA1c from the IFCC-based Swedish intervals
/// (27–42 mmol/mol under 50 years, 31–46 from 50), CRP and TSH as Swedish lab handbooks give them.
/// Laboratories differ slightly; the lab's own OBX-7 always wins where it sends one.
/// </remarks>
public static class AnalysisCatalogue
{
    private static ReferenceInterval[] Both(double? low, double? high) => [new(low, high)];

    private static ReferenceInterval[] BySex(double? femaleLow, double? femaleHigh, double? maleLow, double? maleHigh) =>
        [new(femaleLow, femaleHigh, Sex.Female), new(maleLow, maleHigh, Sex.Male)];

    public static readonly IReadOnlyList<Analysis> All =
    [
        new("NPU28309", "B-Hemoglobin (Hb)", "Blod", "g/L", 0, BySex(117, 153, 134, 170)),
        new("NPU03429", "P-Natrium", "Plasma", "mmol/L", 0, Both(137, 145)),
        new("NPU03230", "P-Kalium", "Plasma", "mmol/L", 1, Both(3.5, 4.4)),
        new("NPU04998", "P-Kreatinin", "Plasma", "µmol/L", 0, BySex(45, 90, 60, 105)),
        new("NPU19748", "P-CRP", "Plasma", "mg/L", 0, Both(null, 5)),
        new("NPU02192", "P-Glukos", "Plasma", "mmol/L", 1, Both(4.0, 6.0)),
        new("NPU02593", "B-Leukocyter", "Blod", "10⁹/L", 1, Both(3.5, 8.8)),
        new("NPU03568", "B-Trombocyter", "Blod", "10⁹/L", 0, BySex(165, 387, 145, 348)),
        new("NPU19651", "P-ALAT", "Plasma", "µkat/L", 2, BySex(null, 0.76, null, 1.1)),
        new("NPU27300", "B-HbA1c", "Blod", "mmol/mol", 0, [new(27, 42, MaxAge: 50), new(31, 46, MinAge: 50)]),
        new("NPU03577", "P-TSH", "Plasma", "mIE/L", 2, Both(0.4, 4.0)),
        new("NPU19673", "P-Albumin", "Plasma", "g/L", 0, [new(36, 48, MaxAge: 40), new(36, 45, MinAge: 40, MaxAge: 70), new(34, 45, MinAge: 70)]),
    ];

    private static readonly Dictionary<string, Analysis> ByCode = All.ToDictionary(a => a.Code, StringComparer.Ordinal);

    /// <summary>The analysis of a catalogue code, or of a code mapped to one (LOINC, local, another NPU).</summary>
    public static Analysis? Find(string? code) =>
        code is null ? null : ByCode.GetValueOrDefault(code) ?? ByCode.GetValueOrDefault(AnalysisCodes.Canonical(code));

    /// <summary>Age in whole years on a day, for the age bands.</summary>
    public static int? AgeOn(DateOnly? birthDate, DateOnly day)
    {
        if (birthDate is not { } born) return null;
        var age = day.Year - born.Year;
        if (day < born.AddYears(age)) age--;
        return age;
    }
}
