using Microsoft.AspNetCore.Mvc;
using Stadig.Auth;
using Stadig.Organisation;

namespace Stadig.Downtime;

public static class SnapshotEndpoints
{
    /// <summary>The operations page's button: an administrator has every ward's (or one <c>unit</c>'s) snapshot made now (the files hold patient data; the administrator sees none of it).</summary>
    public static void MapSnapshotEndpoints(this WebApplication app) =>
        app.MapPost("/operations/snapshots", async ([FromForm] string? unit, DowntimeSnapshots snapshots, CallerAccessor callers, CancellationToken ct) =>
        {
            var caller = await callers.CurrentAsync(ct);
            if (caller.Role != Role.Administrator) throw new Common.ForbiddenException("Bara en administratör kan skapa ögonblicksbilder.");
            var made = (await snapshots.GenerateAsync(string.IsNullOrWhiteSpace(unit) ? null : unit, cancellationToken: ct)).Where(o => o.File is not null).ToList();
            return Results.Redirect($"/operations?snapshotUnits={made.Count}&snapshotPatients={made.Sum(o => o.Patients)}#snapshots");
        }).RequireAuthorization("Assigned");
}
