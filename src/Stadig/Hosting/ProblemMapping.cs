using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Stadig.Common;

namespace Stadig.Hosting;

/// <summary>The one place where expected failures become HTTP answers (ProblemDetails).</summary>
public sealed class ProblemMapping(IProblemDetailsService problems) : IExceptionHandler
{
    public static int StatusOf(StadigException exception) => exception switch
    {
        InvalidInputException => StatusCodes.Status400BadRequest,
        NotFoundException => StatusCodes.Status404NotFound,
        ConflictException => StatusCodes.Status409Conflict,
        ForbiddenException => StatusCodes.Status403Forbidden,
        _ => StatusCodes.Status400BadRequest,
    };

    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not StadigException expected) return false;
        var status = StatusOf(expected);
        var details = expected is InvalidInputException invalid
            ? new ValidationProblemDetails(new Dictionary<string, string[]> { [invalid.Field] = [invalid.Message] }) { Detail = invalid.Message }
            : new ProblemDetails { Detail = expected.Message };
        // The field and the limit as data, for a client (the editor's autosave) to say in its own language.
        if (expected is InvalidInputException { MaxLength: { } maxLength } tooLong)
        {
            details.Extensions["field"] = tooLong.Field;
            details.Extensions["maxLength"] = maxLength;
        }
        details.Status = status;
        details.Title = expected.Message;
        httpContext.Response.StatusCode = status;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = details, Exception = exception });
    }
}
