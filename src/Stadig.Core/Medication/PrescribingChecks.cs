using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Stadig.Patients;

namespace Stadig.Medication;

/// <summary>A recorded hypersensitivity as the checks read it: the agent in the recorder's words, a code when one was sent.</summary>
public sealed record Allergy(string Agent, string? Code);

/// <summary>
/// The prescribing checks of issue #18, as pure rules over what the use case has read: the product
/// and its substances, the dose, the patient's recorded hypersensitivities (the chart's and those
/// other systems sent over FHIR, one list) and the current ordinations. Each finding is shown before
/// signing; none is ever silent, and going on needs a reason (see docs/architecture.md, Medication).
/// </summary>
public static partial class PrescribingChecks
{
    /// <summary>The ATC level the duplicate-therapy and substance-group checks compare: the chemical subgroup (N02BE, M01AE).</summary>
    public const int GroupLength = 5;

    /// <summary>
    /// Drug-class words a hypersensitivity is often recorded as, with the ATC group they mean. A word
    /// is matched folded (lower case, no diacritics), singular or plural.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> ClassNames = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["penicillin"] = "J01C", ["penicilliner"] = "J01C",
        ["cefalosporin"] = "J01D", ["cefalosporiner"] = "J01D",
        ["sulfa"] = "J01E", ["sulfonamid"] = "J01E", ["sulfonamider"] = "J01E",
        ["makrolid"] = "J01FA", ["makrolider"] = "J01FA",
        ["kinolon"] = "J01M", ["kinoloner"] = "J01M",
        ["tetracyklin"] = "J01AA", ["tetracykliner"] = "J01AA",
        ["nsaid"] = "M01A", ["nsaid-preparat"] = "M01A",
        ["opioid"] = "N02A", ["opioider"] = "N02A", ["opiat"] = "N02A", ["opiater"] = "N02A",
        ["bensodiazepin"] = "N05BA", ["bensodiazepiner"] = "N05BA",
        ["statin"] = "C10AA", ["statiner"] = "C10AA",
        ["ace-hammare"] = "C09A", ["acehammare"] = "C09A",
        ["betablockerare"] = "C07",
        ["heparin"] = "B01AB", ["hepariner"] = "B01AB",
        ["jodkontrast"] = "V08A", ["kontrastmedel"] = "V08",
    };

    /// <summary>Words of an allergy text that say nothing about the agent.</summary>
    private static readonly HashSet<string> Filler = new(StringComparer.Ordinal)
    {
        "allergi", "allergisk", "mot", "overkanslighet", "overkanslig", "intolerans", "reaktion", "mot", "och", "eller", "for", "av", "med",
    };

    [GeneratedRegex("^[A-Z][0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?$")]
    private static partial Regex AtcCode();

    /// <summary>An ATC code at any level, upper case (N, N02, N02B, N02BE, N02BE01).</summary>
    public static bool IsAtcCode(string code) => AtcCode().IsMatch(code);

    /// <summary>The group the duplicate-therapy check compares: the first <see cref="GroupLength"/> characters, or a shorter code as it is.</summary>
    public static string Group(string atc) => atc.Length >= GroupLength ? atc[..GroupLength] : atc;

    /// <summary>The folded words of an allergy's agent worth matching, and class words kept whole ("ace-hammare").</summary>
    public static IReadOnlyList<string> AgentWords(string agent) =>
        NameSearch.Words(agent).Where(w => !Filler.Contains(w)).Distinct().ToList();

    /// <summary>The ATC prefixes an allergy names by itself: an ATC code in its text or code, or a drug-class word.</summary>
    public static IReadOnlyList<string> NamedGroups(Allergy allergy)
    {
        var groups = new List<string>();
        foreach (var token in allergy.Agent.Split([' ', ',', ';', '(', ')', '/'], StringSplitOptions.RemoveEmptyEntries).Append(allergy.Code ?? ""))
        {
            var upper = token.Trim().ToUpperInvariant();
            if (upper.Length > 0 && AtcCode().IsMatch(upper)) groups.Add(upper);
        }
        // Whole words only ("nystatin" is no statin); a class name's own hyphen is a word boundary once folded.
        var folded = "-" + NameSearch.Fold(allergy.Agent).Replace(' ', '-') + "-";
        foreach (var (name, atc) in ClassNames)
            if (folded.Contains("-" + name + "-", StringComparison.Ordinal)) groups.Add(atc);
        return groups.Distinct().ToList();
    }

    /// <summary>
    /// All four checks. <paramref name="substanceGroups"/> gives, per folded substance name an allergy
    /// names, the ATC groups (<see cref="GroupLength"/>) of catalogue products holding it, so that an
    /// allergy to ibuprofen is found for naproxen (both M01AE).
    /// </summary>
    /// <remarks>
    /// <paramref name="foreign"/>: the current medications other systems sent over FHIR, classified (see
    /// <see cref="ExternalMedications"/>). One in the product's group is a duplicate like an ordination here;
    /// one that could not be classified is a <see cref="CheckKind.NotChecked"/> finding naming it, so the
    /// prescriber sees that this check could not be made against it and goes on only with a reason.
    /// </remarks>
    public static IReadOnlyList<CheckFinding> Run(MedicationProduct product, IReadOnlyList<ProductSubstance> substances, MedicationDraft draft,
        IReadOnlyList<Allergy> allergies, IReadOnlyDictionary<string, IReadOnlyList<string>> substanceGroups, IReadOnlyList<MedicationOrder> current,
        IReadOnlyList<ForeignMedication>? foreign = null)
    {
        var findings = new List<CheckFinding>();
        var productSubstances = substances.Select(s => NameSearch.Fold(s.Name)).Where(s => s.Length > 0).ToList();
        var group = product.AtcCode.Length >= GroupLength ? product.AtcCode[..GroupLength] : product.AtcCode;
        foreach (var allergy in allergies)
        {
            var words = AgentWords(allergy.Agent);
            var substance = productSubstances.FirstOrDefault(s => words.Any(w => w == s || (w.Length >= 5 && s.Contains(w, StringComparison.Ordinal))
                || (s.Length >= 5 && w.Contains(s, StringComparison.Ordinal))) || NameSearch.Fold(allergy.Agent) == s);
            if (substance is not null)
            {
                findings.Add(new(nameof(CheckKind.AllergySubstance),
                    $"Överkänslighet mot {allergy.Agent}: {product.Display} innehåller {substances.First(s => NameSearch.Fold(s.Name) == substance).Name}."));
                continue;
            }
            var named = NamedGroups(allergy).FirstOrDefault(g => product.AtcCode.StartsWith(g, StringComparison.Ordinal));
            named ??= words.Append(NameSearch.Fold(allergy.Agent)).SelectMany(w => substanceGroups.GetValueOrDefault(w) ?? [])
                .FirstOrDefault(g => g.Length >= GroupLength && product.AtcCode.StartsWith(g, StringComparison.Ordinal));
            if (named is not null)
                findings.Add(new(nameof(CheckKind.AllergyAtcGroup),
                    $"Överkänslighet mot {allergy.Agent} (ATC-grupp {named}): {product.Display} har ATC-kod {product.AtcCode}."));
        }
        foreach (var other in current.Where(o => o.IsCurrent && o.Current.AtcCode is { Length: >= GroupLength } atc && atc[..GroupLength] == group))
            findings.Add(new(nameof(CheckKind.DuplicateTherapy),
                $"Dubbelbehandling: {other.Current.ProductText} ({other.Current.AtcCode}) är redan ordinerat, i samma ATC-grupp {group}."));
        foreach (var other in (foreign ?? []).Where(f => f.Classified))
        {
            if (other.Groups.FirstOrDefault(g => g.Length >= GroupLength ? g == group : product.AtcCode.StartsWith(g, StringComparison.Ordinal)) is { } same)
                findings.Add(new(nameof(CheckKind.DuplicateTherapy),
                    $"Dubbelbehandling: {Named(other.Entry)} från {other.Entry.Source ?? "FHIR"} ({other.Basis}) är aktuellt, i samma ATC-grupp {same}."));
        }
        if (product.MaxDailyValue is { } max && product.MaxDailyUnit is { } maxUnit && DailyAmount(product, draft, maxUnit) is { } daily && daily > max * 1.0000001)
            findings.Add(new(nameof(CheckKind.MaxDose),
                $"Dygnsdosen {Number(daily)} {maxUnit} är över maxdosen för {product.Display}, {Number(max)} {maxUnit} per dygn."));
        foreach (var other in (foreign ?? []).Where(f => !f.Classified))
            findings.Add(new(nameof(CheckKind.NotChecked),
                $"Ej kontrollerat mot dubbelbehandling: {Named(other.Entry)} från {other.Entry.Source ?? "FHIR"} saknar ATC-kod och känd substans."));
        return findings;
    }

    private static string Named(Chart.RecordEntry entry) => entry.Title.Length > 0 ? entry.Title : entry.Key;

    /// <summary>
    /// The most the dosage gives in 24 hours, in <paramref name="unit"/>; null when it cannot be
    /// reckoned from the dose and the product's strength (a unit the catalogue does not convert).
    /// </summary>
    public static double? DailyAmount(MedicationProduct product, MedicationDraft draft, string unit)
    {
        var perDay = DosesPerDay(draft);
        if (perDay is null) return null;
        var target = MassFactor(unit);
        if (target is null) return null;
        var doseUnit = NameSearch.Fold(draft.DoseUnit);
        double? mg = MassFactor(doseUnit) is { } f ? draft.DoseValue * f : null;
        if (mg is null && product.StrengthValue is { } strength && product.StrengthUnit is { } strengthUnit)
        {
            var parts = strengthUnit.Split('/');
            if (parts.Length == 1 && CountUnits.Contains(doseUnit) && MassFactor(parts[0]) is { } sf) mg = draft.DoseValue * strength * sf;
            else if (parts.Length == 2 && NameSearch.Fold(parts[1]) is var per && (per == doseUnit || (per == "dos" && CountUnits.Contains(doseUnit)))
                     && MassFactor(parts[0]) is { } pf) mg = draft.DoseValue * strength * pf;
        }
        return mg is { } amount ? amount * perDay.Value / target.Value : null;
    }

    /// <summary>Doses in 24 hours: the scheduled times, 24 over the interval, or the as-needed maximum.</summary>
    public static double? DosesPerDay(MedicationDraft draft) =>
        draft.AsNeeded ? draft.MaxDosesPer24h
        : draft.TimesOfDay.Count > 0 ? draft.TimesOfDay.Count
        : draft.IntervalHours is { } hours && hours > 0 ? Math.Ceiling(24.0 / hours)
        : null;

    private static readonly HashSet<string> CountUnits = new(StringComparer.Ordinal)
    {
        "st", "tablett", "tabletter", "tabl", "kapsel", "kapslar", "dos", "doser", "suppositorium", "supp", "brustablett", "depottablett", "plaster", "plaster",
    };

    /// <summary>Milligrams per unit for mass units.</summary>
    private static double? MassFactor(string unit) => NameSearch.Fold(unit) switch
    {
        "g" => 1000,
        "mg" => 1,
        "mikrog" or "µg" or "μg" or "mcg" or "ug" => 0.001,
        _ => null,
    };

    private static string Number(double value) => value.ToString("0.###", CultureInfo.GetCultureInfo("sv-SE"));

    public static string SerializeFindings(IReadOnlyList<CheckFinding> findings) =>
        JsonSerializer.Serialize(findings.Select(f => new Dictionary<string, string> { ["kind"] = f.Kind, ["text"] = f.Text }));

    public static IReadOnlyList<CheckFinding> ParseFindings(string? json)
    {
        if (string.IsNullOrEmpty(json)) return [];
        var rows = JsonSerializer.Deserialize<List<Dictionary<string, string>>>(json) ?? [];
        return rows.Select(r => new CheckFinding(r.GetValueOrDefault("kind") ?? "", r.GetValueOrDefault("text") ?? "")).ToList();
    }
}
