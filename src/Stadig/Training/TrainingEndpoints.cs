using Stadig.Auth;
using Stadig.Common;

namespace Stadig.Training;

/// <summary>The training pages' form posts (start or reset an exercise, check it) and the report as CSV and JSON.</summary>
public static class TrainingEndpoints
{
    public static void MapTrainingEndpoints(this WebApplication app)
    {
        app.MapPost("/training/exercises/{id}/start", async (string id, TrainingExercises exercises, CallerAccessor caller, CancellationToken ct) =>
            await RunAsync(id, async () => await exercises.StartAsync(await caller.CurrentAsync(ct), id, ct), "started"));
        app.MapGet("/training/report.csv", async (string? unit, TrainingReport report, CallerAccessor caller, CancellationToken ct) =>
            Results.Text((await report.ForAsync(await caller.CurrentAsync(ct), Blank(unit), ct)).ToCsv(), "text/csv; charset=utf-8"));
        app.MapGet("/training/report.json", async (string? unit, TrainingReport report, CallerAccessor caller, CancellationToken ct) =>
            Results.Text((await report.ForAsync(await caller.CurrentAsync(ct), Blank(unit), ct)).ToJson(), "application/json; charset=utf-8"));
    }

    private static string? Blank(string? unit) => string.IsNullOrWhiteSpace(unit) ? null : unit.Trim();

    private static async Task<IResult> RunAsync(string id, Func<Task> action, string done)
    {
        var page = "/training/exercises/" + Uri.EscapeDataString(id);
        try
        {
            await action();
            return Results.Redirect(page + "?" + done + "=1");
        }
        catch (StadigException e) when (e is InvalidInputException or ConflictException or NotFoundException or ForbiddenException)
        {
            return Results.Redirect(page + "?error=" + Uri.EscapeDataString(e.Message));
        }
    }
}
