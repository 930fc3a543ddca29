using System.Data.Common;
using System.Text.Json.Nodes;
using Stadig.Fhir.Store;
using Stadig.LabResults;

namespace Stadig.Fhir.Records;

/// <summary>
/// A large message's FHIR resources, staged with its lines (<see cref="FhirStaging"/>) before the
/// message is filed. They are mapped exactly as <see cref="PublishFiledAsync"/> maps them once filed,
/// on two assumptions the filing transaction checks before it uses them: each line is a new
/// Observation (it corrects no earlier line, so its id is its own), and the orders named are the ones
/// that exist when it is filed. Otherwise filing publishes the old way and the staged rows are dropped.
/// </summary>
public static partial class LabResultAsFhir
{
    /// <summary>A staged line: its patient group, the row as it will be read once filed (patient not yet known) and the order it answers.</summary>
    internal sealed record StagedLine(int Group, ResultLineRow Row, Guid? OrderId);

    /// <summary>A staged report with all of its lines (values and documents).</summary>
    internal sealed record StagedReport(int Group, ReportRow Report, IReadOnlyList<ResultLineRow> Lines, Guid? OrderId);

    internal static async Task StageObservationsAsync(DbConnection connection, DbTransaction transaction, FhirStaging.Target target,
        IReadOnlyList<StagedLine> lines)
    {
        var subject = FhirStaging.Subject(target.Attempt);
        var performers = new Dictionary<Guid, JsonObject?>();
        var resources = new List<(JsonObject, string, Guid, int)>();
        foreach (var line in lines.Where(l => l.Row.AttachmentType is null))
        {
            var performer = await PerformerAsync(connection, transaction, performers, line.Row.UnitId);
            resources.Add((Observation(line.Row, subject, performer, line.OrderId), line.Row.Id.ToString(), line.Row.UnitId, line.Group));
        }
        await FhirStaging.StageAsync(connection, transaction, target, resources);
    }

    internal static async Task StageReportsAsync(DbConnection connection, DbTransaction transaction, FhirStaging.Target target,
        IReadOnlyList<StagedReport> reports)
    {
        var subject = FhirStaging.Subject(target.Attempt);
        var performers = new Dictionary<Guid, JsonObject?>();
        var resources = new List<(JsonObject, string, Guid, int)>();
        foreach (var staged in reports)
        {
            var observations = Listed(staged.Lines.Where(l => l.AttachmentType is null)).Select(l => l.Id).Distinct().ToList();
            var documents = Listed(staged.Lines.Where(l => l.AttachmentType is not null)).ToList();
            var performer = await PerformerAsync(connection, transaction, performers, staged.Report.UnitId);
            resources.Add((DiagnosticReport(staged.Report, observations, subject, performer, staged.OrderId, documents), staged.Report.Id.ToString(),
                staged.Report.UnitId, staged.Group));
        }
        await FhirStaging.StageAsync(connection, transaction, target, resources);
    }

    /// <summary>How many resources <see cref="StageObservationsAsync"/> and <see cref="StageReportsAsync"/> stage for these reports.</summary>
    internal static int StagedCount(IEnumerable<StagedReport> reports) =>
        reports.Sum(r => 1 + r.Lines.Count(l => l.AttachmentType is null));

    /// <summary>The ServiceRequests a staged message answers, republished when it is filed (the ingest has just marked them resulted).</summary>
    internal static async Task PublishOrdersAsync(DbConnection connection, DbTransaction transaction, IEnumerable<Guid> orderIds, DateTimeOffset now)
    {
        foreach (var orderId in orderIds.Distinct()) await LabOrderAsFhir.PublishAsync(connection, transaction, orderId, now);
    }

    private static async Task<JsonObject?> PerformerAsync(DbConnection connection, DbTransaction transaction, Dictionary<Guid, JsonObject?> known, Guid unitId)
    {
        if (!known.TryGetValue(unitId, out var performer)) known[unitId] = performer = await PerformerOfAsync(connection, transaction, unitId);
        return performer;
    }
}
