using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Stadig.Common;
using Stadig.Fhir;

namespace Stadig.Hosting;

/// <summary>
/// The one place where failures become HTTP answers. Core throws typed exceptions without status
/// codes; this table gives each its status, and the request decides the form of the answer:
/// ProblemDetails for the JSON API, an OperationOutcome under /fhir (FhirEndpoints), the
/// application's error page (inside the layout, in the user's language) for everything else.
/// <code>
///   failure                        JSON API   FHIR   page
///   InvalidInputException          400        422    400 (parameter named)
///   bad request (framework)        400        400    400
///   NotFoundException              404        404    404
///   ForbiddenException             403        403    403
///   ConflictException              409        409    409
///   ReadOnlyException (read-only)  503        503    503 (the read-only message; Retry-After)
///   DatabaseUnavailableException   503        503    503 (primary gone or commit unconfirmed; Retry-After)
///   request timed out / overload   503        503    503
///   anything else                  500        500    500 (never the exception's text)
/// </code>
/// FHIR answers 422 for a resource that breaks a rule (the FHIR spec's "unprocessable"), 400 only
/// for one it cannot read. Core's FhirException carries a <see cref="FhirFailureKind"/>, whose
/// status is given by <see cref="FhirStatusOf(FhirFailureKind)"/>, also inside batch responses.
/// </summary>
public sealed class ProblemMapping(IProblemDetailsService problems) : IExceptionHandler
{
    public static int StatusOf(Exception exception) => exception switch
    {
        InvalidInputException => StatusCodes.Status400BadRequest,
        NotFoundException => StatusCodes.Status404NotFound,
        ConflictException => StatusCodes.Status409Conflict,
        ForbiddenException => StatusCodes.Status403Forbidden,
        Downtime.ReadOnlyException => StatusCodes.Status503ServiceUnavailable,
        Storage.DatabaseUnavailableException => StatusCodes.Status503ServiceUnavailable,
        StadigException => StatusCodes.Status400BadRequest,
        FhirException fhir => FhirStatusOf(fhir.Kind),
        BadHttpRequestException bad => bad.StatusCode,
        TimeoutException or OperationCanceledException => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status500InternalServerError,
    };

    /// <summary>The status of an expected failure answered over FHIR.</summary>
    public static int FhirStatusOf(StadigException exception) =>
        exception is InvalidInputException ? StatusCodes.Status422UnprocessableEntity : StatusOf(exception);

    public static int FhirStatusOf(FhirFailureKind kind) => kind switch
    {
        FhirFailureKind.Invalid => StatusCodes.Status400BadRequest,
        FhirFailureKind.Unprocessable => StatusCodes.Status422UnprocessableEntity,
        FhirFailureKind.NotFound => StatusCodes.Status404NotFound,
        FhirFailureKind.Gone => StatusCodes.Status410Gone,
        FhirFailureKind.Forbidden => StatusCodes.Status403Forbidden,
        FhirFailureKind.Conflict => StatusCodes.Status409Conflict,
        FhirFailureKind.PreconditionFailed => StatusCodes.Status412PreconditionFailed,
        FhirFailureKind.NotAllowed => StatusCodes.Status405MethodNotAllowed,
        FhirFailureKind.TooLarge => StatusCodes.Status413PayloadTooLarge,
        FhirFailureKind.UnsupportedFormat => StatusCodes.Status415UnsupportedMediaType,
        FhirFailureKind.Unavailable => StatusCodes.Status503ServiceUnavailable,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "A FHIR failure without a status."),
    };

    /// <summary>A batch or transaction response entry's status, as FHIR writes it ("404 NotFound").</summary>
    public static string FhirStatusLine(FhirFailureKind kind)
    {
        var status = FhirStatusOf(kind);
        return $"{status} {(System.Net.HttpStatusCode)status}";
    }

    /// <summary>Requests answered in JSON (ProblemDetails) rather than with a page.</summary>
    public static bool WantsJson(HttpContext http)
    {
        // While an exception is handled the request's path is already the error page's; the feature keeps the original.
        var path = http.Features.Get<IExceptionHandlerPathFeature>()?.Path is { } original ? new PathString(original) : http.Request.Path;
        return path.StartsWithSegments("/api") || path.StartsWithSegments("/fhir");
    }

    private static bool IsFhir(HttpContext http)
    {
        var path = http.Features.Get<IExceptionHandlerPathFeature>()?.Path is { } original ? new PathString(original) : http.Request.Path;
        return path.StartsWithSegments("/fhir");
    }

    /// <summary>Expected failures (a use case said no) are answers, not errors worth a log line with a stack.</summary>
    public static bool IsExpected(Exception exception) =>
        exception is StadigException or FhirException or BadHttpRequestException;

    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        // Pages: the exception handler re-executes the error page with StatusOf's status.
        if (!WantsJson(httpContext)) return false;
        var status = StatusOf(exception);
        // Refused before any endpoint ran (read-only mode's gate): FHIR still answers in FHIR.
        if (exception is Downtime.ReadOnlyException or Storage.DatabaseUnavailableException && IsFhir(httpContext))
        {
            httpContext.Response.StatusCode = status;
            await Fhir.FhirEndpoints.Outcome(status, FhirService.Translate((StadigException)exception).Issues).ExecuteAsync(httpContext);
            return true;
        }
        ProblemDetails details = exception switch
        {
            InvalidInputException invalid => new ValidationProblemDetails(new Dictionary<string, string[]> { [invalid.Field] = [invalid.Message] }) { Detail = invalid.Message, Title = invalid.Message },
            StadigException expected => new ProblemDetails { Detail = expected.Message, Title = expected.Message },
            FhirException fhir => new ProblemDetails { Detail = fhir.Message, Title = fhir.Message },
            BadHttpRequestException bad => new ProblemDetails { Title = bad.StatusCode == 400 ? "The request is not valid." : "The request cannot be served." },
            _ => new ProblemDetails { Title = status == 503 ? "Stadig is busy; try again shortly." : "An unexpected error occurred." },
        };
        // The field and the limit as data, for a client (the editor's autosave) to say in its own language.
        if (exception is InvalidInputException { MaxLength: { } maxLength } tooLong)
        {
            details.Extensions["field"] = tooLong.Field;
            details.Extensions["maxLength"] = maxLength;
        }
        details.Status = status;
        httpContext.Response.StatusCode = status;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = details, Exception = exception });
    }
}
