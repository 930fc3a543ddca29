using Stadig.Common;

namespace Stadig.Regulatory;

/// <summary>Evidence (hazard log, test results, package graph, reports) that cannot be read; shown as one line.</summary>
public sealed class EvidenceException(string message) : StadigException(message);
