namespace Stadig;

/// <summary>The resource class of the warnings and problems pages' texts (Resources/ProblemTexts.resx, Swedish; ProblemTexts.en.resx, English).</summary>
public sealed class ProblemTexts;
