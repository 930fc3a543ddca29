namespace Stadig;

/// <summary>The medication round's and administration's texts (Resources/AdministrationTexts.resx, Swedish; AdministrationTexts.en.resx, English).</summary>
public sealed class AdministrationTexts;
