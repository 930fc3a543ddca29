namespace Stadig;

/// <summary>The resource class of the encounter pages' texts (Resources/EncounterTexts.resx, Swedish; EncounterTexts.en.resx, English).</summary>
public sealed class EncounterTexts;
