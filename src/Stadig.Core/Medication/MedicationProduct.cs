namespace Stadig.Medication;

/// <summary>An amount with its unit as the catalogue writes it ("500 mg", "100 E/ml", "0,4 mg/dos").</summary>
public sealed record Amount(double Value, string Unit);

/// <summary>One substance of a product, with its amount where the catalogue gives one.</summary>
public sealed record ProductSubstance(string Name, Amount? Strength);

/// <summary>A product of the medicinal product catalogue (migration 0027).</summary>
public sealed record MedicationProduct
{
    public Guid Id { get; init; }
    /// <summary>The national product register (NPL) id; null for the seeded starter set.</summary>
    public string? NplId { get; init; }
    public string Name { get; init; } = "";
    /// <summary>As written: "Levodopa + Karbidopa".</summary>
    public string Substances { get; init; } = "";
    /// <summary>As written: "100 mg + 25 mg"; empty when the product has none (infusion mixtures, powders).</summary>
    public string Strength { get; init; } = "";
    public double? StrengthValue { get; init; }
    public string? StrengthUnit { get; init; }
    public string DoseForm { get; init; } = "";
    public string Route { get; init; } = "";
    public string AtcCode { get; init; } = "";
    public double? MaxDailyValue { get; init; }
    public string? MaxDailyUnit { get; init; }
    /// <summary>Administration needs a second nurse's check.</summary>
    public bool HighRisk { get; init; }

    /// <summary>"Alvedon 500 mg filmdragerad tablett": how a product is named in a list.</summary>
    public string Display => string.Join(' ', new[] { Name, Strength, DoseForm }.Where(s => s.Length > 0));
}
