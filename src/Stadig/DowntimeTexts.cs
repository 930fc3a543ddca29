namespace Stadig;

/// <summary>The downtime snapshot's and its operations section's texts (Resources/DowntimeTexts.resx, Swedish; DowntimeTexts.en.resx, English).</summary>
public sealed class DowntimeTexts;
