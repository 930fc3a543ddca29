using Stadig.Audit;
using Stadig.Auth;

namespace Stadig.Medication;

/// <summary>The medication endpoints outside the pages: the patient's läkemedelslista as a PDF.</summary>
public static class MedicationEndpoints
{
    public static void MapMedicationEndpoints(this WebApplication app) =>
        app.MapGet("/patients/{id:guid}/medication.pdf", MedicationListPdfAsync).RequireAuthorization("Assigned");

    private static async Task<IResult> MedicationListPdfAsync(Guid id, HttpContext http, CallerAccessor callers, MedicationList medication,
        Printouts printouts, MedicationListPdf pdf, TimeProvider clock)
    {
        var caller = await callers.CurrentAsync(http.RequestAborted);
        // The list is read through the checkpoint (audited, inner secrecy and blocks as on the page), and the printout is
        // logged (Utskrift) before the bytes leave, as the print view's button does; refusals answer as on every patient route.
        var view = await medication.ViewAsync(caller, id, http.RequestAborted);
        await printouts.RecordAsync(caller, id, "MedicationList", http.RequestAborted);
        var now = clock.GetUtcNow();
        var bytes = pdf.Render(view, caller.DisplayName, now);
        http.Response.Headers.CacheControl = "no-store";
        return Results.File(bytes, "application/pdf", $"lakemedelslista-{now:yyyyMMdd}.pdf");
    }
}
