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

    /// <summary>The lab unit's performer reference, read once before staging (null when the unit is not published).</summary>
    internal static Task<JsonObject?> StagingPerformerAsync(DbConnection connection, DbTransaction transaction, Guid unitId) => PerformerOfAsync(connection, transaction, unitId);

    /// <summary>The Observations of staged lines, mapped before the transaction that stages them (CPU only).</summary>
    internal static FhirStaging.Prepared StagedObservations(Guid attempt, IReadOnlyList<StagedLine> lines, JsonObject? performer)
    {
        var subject = FhirStaging.Subject(attempt);
        return FhirStaging.Prepare(lines.Where(l => l.Row.AttachmentType is null)
            .Select(l => (Observation(l.Row, subject, performer, l.OrderId), l.Row.Id.ToString(), l.Row.UnitId, l.Group)));
    }

    /// <summary>The DiagnosticReports of a message whose lines are all staged, mapped before the transaction that stages them.</summary>
    internal static FhirStaging.Prepared StagedReports(Guid attempt, IReadOnlyList<StagedReport> reports, JsonObject? performer)
    {
        var subject = FhirStaging.Subject(attempt);
        return FhirStaging.Prepare(reports.Select(staged =>
        {
            var observations = Listed(staged.Lines.Where(l => l.AttachmentType is null)).Select(l => l.Id).Distinct().ToList();
            var documents = Listed(staged.Lines.Where(l => l.AttachmentType is not null)).ToList();
            return (DiagnosticReport(staged.Report, observations, subject, performer, staged.OrderId, documents), staged.Report.Id.ToString(),
                staged.Report.UnitId, staged.Group);
        }));
    }

    /// <summary>How many resources <see cref="StageObservationsAsync"/> and <see cref="StageReportsAsync"/> stage for these reports.</summary>
    internal static int StagedCount(IEnumerable<StagedReport> reports) =>
        reports.Sum(r => 1 + r.Lines.Count(l => l.AttachmentType is null));

    /// <summary>The ServiceRequests a staged message answers, republished when it is filed (the ingest has just marked them resulted).</summary>
    internal static async Task PublishOrdersAsync(DbConnection connection, DbTransaction transaction, IEnumerable<Guid> orderIds, DateTimeOffset now)
    {
        foreach (var orderId in orderIds.Distinct()) await LabOrderAsFhir.PublishAsync(connection, transaction, orderId, now);
    }
}
