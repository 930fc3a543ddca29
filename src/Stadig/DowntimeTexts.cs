namespace Stadig;

/// <summary>The downtime snapshot's and its operations section's texts, and back-entry's and the register of downtime periods' (Resources/DowntimeTexts.resx, Swedish; DowntimeTexts.en.resx, English).</summary>
public sealed class DowntimeTexts;
