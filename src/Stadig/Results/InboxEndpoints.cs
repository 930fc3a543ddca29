using Microsoft.AspNetCore.Mvc;
using Stadig.Auth;
using Stadig.Common;

namespace Stadig.LabResults;

public static class InboxEndpoints
{
    /// <summary>The inbox's attest form: the checked reports, attested at once.</summary>
    public static void MapInboxEndpoints(this WebApplication app) =>
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
}
