using Microsoft.AspNetCore.Mvc;
using Stadig.Auth;

namespace Stadig.Downtime;

public static class ReadOnlyEndpoints
{
    /// <summary>The operations page's switch: an administrator turns read-only mode on or off for every node (audited).</summary>
    public static void MapReadOnlyEndpoints(this WebApplication app) =>
        app.MapPost("/operations/read-only", async ([FromForm] bool on, ReadOnlyMode mode, CallerAccessor caller, CancellationToken ct) =>
        {
            await mode.SwitchAsync(await caller.CurrentAsync(ct), on, ct);
            return Results.Redirect("/operations#read-only");
        }).RequireAuthorization("Assigned");
}
