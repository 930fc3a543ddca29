using System.Net;

namespace Stadig.Fhir;

/// <summary>
/// One problem found in a FHIR request, as an OperationOutcome.issue: severity and code from the
/// R4 value sets (issue-severity, issue-type), the FHIRPath of the element at fault, and a message
/// a person can act on.
/// </summary>
public sealed record FhirIssue(string Severity, string Code, string? Expression, string Diagnostics)
{
    public static FhirIssue Error(string code, string? expression, string diagnostics) => new("error", code, expression, diagnostics);
}

/// <summary>A FHIR request that cannot be done: answered with its status code and an OperationOutcome.</summary>
public sealed class FhirException(HttpStatusCode status, IReadOnlyList<FhirIssue> issues)
    : Exception(string.Join("; ", issues.Select(i => i.Diagnostics)))
{
    public FhirException(HttpStatusCode status, string code, string? expression, string diagnostics)
        : this(status, [FhirIssue.Error(code, expression, diagnostics)]) { }

    public HttpStatusCode Status { get; } = status;
    public IReadOnlyList<FhirIssue> Issues { get; } = issues;
}
