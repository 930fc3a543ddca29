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

/// <summary>
/// Why a FHIR request cannot be done, in the domain's terms. Core says which; the web layer's
/// ProblemMapping is the one place that gives each its HTTP status.
/// </summary>
public enum FhirFailureKind
{
    /// <summary>The request cannot be read: malformed, an unknown parameter, a value of the wrong form.</summary>
    Invalid,

    /// <summary>The request is readable but its resource breaks a rule (a reference to nothing, a required element missing).</summary>
    Unprocessable,

    /// <summary>No such resource, or none the caller may know of.</summary>
    NotFound,

    /// <summary>The resource existed and was deleted.</summary>
    Gone,

    /// <summary>The caller's scopes or role do not reach what was asked.</summary>
    Forbidden,

    /// <summary>The request collides with what is stored (a duplicate, a concurrent change).</summary>
    Conflict,

    /// <summary>A condition the request set (If-Match, If-None-Exist) does not hold.</summary>
    PreconditionFailed,

    /// <summary>An interaction Stadig does not do on this resource (delete, patch).</summary>
    NotAllowed,

    /// <summary>The request is larger than Stadig takes in one piece.</summary>
    TooLarge,

    /// <summary>The body is in a format Stadig does not read.</summary>
    UnsupportedFormat,

    /// <summary>Stadig cannot write now (read-only mode): the same request may succeed later (503, Retry-After).</summary>
    Unavailable,
}

/// <summary>A FHIR request that cannot be done: answered with its kind's status and an OperationOutcome.</summary>
public sealed class FhirException(FhirFailureKind kind, IReadOnlyList<FhirIssue> issues)
    : Exception(string.Join("; ", issues.Select(i => i.Diagnostics)))
{
    public FhirException(FhirFailureKind kind, string code, string? expression, string diagnostics)
        : this(kind, [FhirIssue.Error(code, expression, diagnostics)]) { }

    public FhirFailureKind Kind { get; } = kind;
    public IReadOnlyList<FhirIssue> Issues { get; } = issues;
}
