namespace Stadig;

/// <summary>The resource class of the audit pages' texts (Resources/AuditTexts.resx, Swedish; AuditTexts.en.resx, English).</summary>
public sealed class AuditTexts;
