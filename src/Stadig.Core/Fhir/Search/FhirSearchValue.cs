namespace Stadig.Fhir.Search;

/// <summary>
/// One row of the search index (table fhir_search) for one value of one search parameter:
/// token → System + Value (code); string → Value folded (lower case, accents removed) and System
/// the text as written (for :exact);
/// reference → Value "Type/id"; date → Low (inclusive) and High (exclusive) of the period the value
/// covers; number and quantity → Number (quantity also System = unit system, Value = unit code).
/// </summary>
public sealed record FhirSearchValue(string Param, string? System = null, string? Value = null,
    DateTimeOffset? Low = null, DateTimeOffset? High = null, double? Number = null);
