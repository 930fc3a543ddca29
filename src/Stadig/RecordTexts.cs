namespace Stadig;

/// <summary>The resource class of the record's sections, timeline and banner signals (Resources/RecordTexts.resx, Swedish; RecordTexts.en.resx, English).</summary>
public sealed class RecordTexts;
