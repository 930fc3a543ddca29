namespace Stadig;

/// <summary>The resource class of the training pages' texts (Resources/TrainingTexts.resx, Swedish; TrainingTexts.en.resx, English).</summary>
public sealed class TrainingTexts;
