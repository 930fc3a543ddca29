using Microsoft.AspNetCore.Mvc;
using Stadig.Auth;
using Stadig.Common;

namespace Stadig.LabResults;

/// <summary>The quarantine page's form posts: file a result to a patient, or reject it. Errors go back to the page.</summary>
public static class QuarantineEndpoints
{
    public static void MapQuarantineEndpoints(this WebApplication app)
    {
        app.MapPost("/lab/quarantine/{itemId:guid}/file", async (Guid itemId, [FromForm] string? identifier, [FromForm] string? reason,
            ResultQuarantine quarantine, CallerAccessor caller, CancellationToken ct) =>
            await RunAsync(async () => await quarantine.FileToPatientAsync(await caller.CurrentAsync(ct), itemId, identifier ?? "", reason ?? "", ct)));
        app.MapPost("/lab/quarantine/{itemId:guid}/reject", async (Guid itemId, [FromForm] string? reason,
            ResultQuarantine quarantine, CallerAccessor caller, CancellationToken ct) =>
            await RunAsync(async () => await quarantine.RejectAsync(await caller.CurrentAsync(ct), itemId, reason ?? "", ct)));
    }

    private static async Task<IResult> RunAsync(Func<Task> action)
    {
        try
        {
            await action();
            return Results.Redirect("/lab/quarantine");
        }
        catch (StadigException e) when (e is InvalidInputException or ConflictException or NotFoundException or ForbiddenException)
        {
            return Results.Redirect("/lab/quarantine?error=" + Uri.EscapeDataString(e.Message));
        }
    }
}
