using Stadig.Auth;

namespace Stadig.Audit;

/// <summary>The audit endpoints outside the pages: the patient's log extract as a PDF.</summary>
public static class AuditEndpoints
{
    public static void MapAuditEndpoints(this WebApplication app)
    {
        app.MapGet("/patients/{id:guid}/log-extract.pdf", LogExtractPdfAsync).RequireAuthorization("Assigned");
    }

    private static async Task<IResult> LogExtractPdfAsync(Guid id, HttpContext http, CallerAccessor callers, AuditQueries queries,
        LogExtractPdf pdf, AuditSettings settings)
    {
        var caller = await callers.CurrentAsync(http.RequestAborted);
        // Audited as a print (Utskrift) before the bytes leave; refused callers get 403 via ProblemMapping.
        var extract = await queries.LogExtractAsync(caller, id, settings.IncludeStaffNamesInLogExtract, AuditActivity.Print,
            cancellationToken: http.RequestAborted);
        var bytes = pdf.Render(extract);
        http.Response.Headers.CacheControl = "no-store";
        return Results.File(bytes, "application/pdf", $"loggutdrag-{extract.ProducedAt:yyyyMMdd}.pdf");
    }
}
