namespace Stadig;

/// <summary>The medication pages' texts (Resources/MedicationTexts.resx, Swedish; MedicationTexts.en.resx, English).</summary>
public sealed class MedicationTexts;
