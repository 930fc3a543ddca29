namespace Stadig;

/// <summary>The resource class of the downtime pages' texts: back-entry and the register of downtime periods (Resources/DowntimeTexts.resx, Swedish; DowntimeTexts.en.resx, English).</summary>
public sealed class DowntimeTexts;
