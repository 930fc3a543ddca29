using Microsoft.AspNetCore.Http.HttpResults;
using Stadig.Auth;

namespace Stadig.Audit;

/// <summary>
/// The print button's call: a printout is recorded (Utskrift) before the page goes to the printer.
/// The browser prints only after this answers 204; a refusal prints nothing.
/// </summary>
public static class PrintEndpoints
{
    public sealed record PrintRequest(string? Kind);

    public static void MapPrintEndpoints(this WebApplication app) =>
        app.MapGroup("/api").DisableAntiforgery().MapPost("/patients/{id:guid}/printouts", RecordAsync).RequireAuthorization("Assigned");

    private static async Task<NoContent> RecordAsync(Guid id, PrintRequest request, Printouts printouts, CallerAccessor callers, CancellationToken ct)
    {
        await printouts.RecordAsync(await callers.CurrentAsync(ct), id, request.Kind, ct);
        return TypedResults.NoContent();
    }
}
