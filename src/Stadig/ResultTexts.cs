namespace Stadig;

/// <summary>The resource class of the result inbox and result pages' texts (Resources/ResultTexts.resx, Swedish; ResultTexts.en.resx, English).</summary>
public sealed class ResultTexts;
