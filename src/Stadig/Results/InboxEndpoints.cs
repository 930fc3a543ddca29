using Microsoft.AspNetCore.Mvc;
using Stadig.Auth;
using Stadig.Common;

namespace Stadig.LabResults;

public static class InboxEndpoints
{
    public static void MapInboxEndpoints(this WebApplication app)
    {
        // The inbox's attest form: the checked reports (only ones without abnormal values), all or none.
        app.MapPost("/results/attest", async ([FromForm] Guid[]? reportIds, ResultInbox inbox, CallerAccessor caller, CancellationToken ct) =>
        {
            try
            {
                var count = await inbox.AttestAsync(await caller.CurrentAsync(ct), reportIds ?? [], ct);
                return Results.Redirect($"/results/inbox?attested={count}");
            }
            catch (StadigException e) when (e is InvalidInputException or NotFoundException or ForbiddenException)
            {
                return Results.Redirect("/results/inbox?error=" + Uri.EscapeDataString(e.Message));
            }
        });

        // A report's own view attests it, with the token of the lines the physician saw.
        app.MapPost("/results/{reportId:guid}/attest", async (Guid reportId, [FromForm] string? seen, ResultReports reports, CallerAccessor caller,
            CancellationToken ct) =>
        {
            try
            {
                await reports.AttestAsync(await caller.CurrentAsync(ct), reportId, seen, ct);
                return Results.Redirect($"/results/{reportId}?attested=1");
            }
            catch (StadigException e) when (e is ConflictException or ForbiddenException or InvalidInputException)
            {
                return Results.Redirect($"/results/{reportId}?error=" + Uri.EscapeDataString(e.Message));
            }
            catch (NotFoundException e)
            {
                return Results.Redirect("/results/inbox?error=" + Uri.EscapeDataString(e.Message));
            }
        });

        // "Next result": the next unattested report in the inbox's order (after the one being read), or back to the inbox when none is left.
        app.MapGet("/results/inbox/next", async (Guid? after, ResultInbox inbox, CallerAccessor caller, CancellationToken ct) =>
        {
            try
            {
                var next = await inbox.NextAsync(await caller.CurrentAsync(ct), after, ct);
                return Results.Redirect(next is { } id ? $"/results/{id}" : "/results/inbox?done=1");
            }
            catch (ForbiddenException e)
            {
                return Results.Redirect("/results/inbox?error=" + Uri.EscapeDataString(e.Message));
            }
        }).RequireAuthorization("Assigned");
    }
}
