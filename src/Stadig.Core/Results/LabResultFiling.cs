using System.Data;
using System.Data.Common;
using System.Text;
using Dapper;
using Stadig.Fhir.Records;
using Stadig.Fhir.Search;
using Stadig.Storage;

namespace Stadig.LabResults;

/// <summary>A report of a message as it will be stored, its rows' ids given up front so that its lines can be staged before it is filed.</summary>
internal sealed record PlannedReport(Guid Id, int Group, OruReport Report, IReadOnlyList<PlannedLine> Lines);

/// <summary>One OBX as it will be stored.</summary>
internal sealed record PlannedLine(Guid Id, OruObservation Observation, DateTimeOffset ObservedAt);

/// <summary>A message whose lines and FHIR resources were staged by <paramref name="Attempt"/>, with the Stadig orders its FHIR names (placer → order id, null: none).</summary>
internal sealed record StagedMessage(Guid Attempt, IReadOnlyDictionary<string, Guid?> Orders);

/// <summary>
/// Writes the reports and result lines of a message for one patient. The cost of filing is the
/// number of statements, not their size, so lines go a hundred to a statement, what a line
/// corrects is found by one query per filler order, and FHIR is published in bulk: a message of
/// 10,000 OBX took 35 s on SQLite as one statement or more per line and an O(n²) correction scan.
/// A large message's lines can instead be staged beforehand (<see cref="StageAsync"/>, in short
/// transactions of their own) and moved into lab_result by the filing transaction.
/// </summary>
internal static class LabResultFiling
{
    private const string LineColumns =
        "id, unit_id, analysis_code, analysis_name, value_numeric, value_text, unit, reference_low, reference_high, abnormal_flag, status, observed_at, " +
        "report_id, message_id, filler_order_number, value_type, reference_range, performer, comment, attachment_type, attachment_data";

    // About twenty parameters a line: a hundred lines stay far below either engine's limit per statement.
    private const int LinesPerInsert = 100;

    public static List<PlannedReport> Plan(int group, IReadOnlyList<OruReport> reports, DateTimeOffset now, DateTimeOffset? sentAt) =>
        reports.Where(r => r.Observations.Count > 0)
            .Select(r => new PlannedReport(Guid.CreateVersion7(), group, r,
                r.Observations.Select(o => new PlannedLine(Guid.CreateVersion7(), o, o.ObservedAt ?? r.ObservedAt ?? sentAt ?? now)).ToList()))
            .ToList();

    /// <summary>
    /// Stores <paramref name="reports"/> for one patient and publishes them as FHIR. Lines staged by
    /// <paramref name="stagedAttempt"/> are moved from the staging table (all of them, or the
    /// transaction fails); otherwise they are inserted here.
    /// </summary>
    public static async Task FileAsync(DbConnection c, DbTransaction t, Guid messageId, IReadOnlyList<PlannedReport> reports, Guid patientId, Guid unitId,
        DateTimeOffset now, StagedMessage? staged)
    {
        var stagedAttempt = staged?.Attempt;
        foreach (var planned in reports)
        {
            var report = planned.Report;
            var narrative = Narrative(report);
            await c.ExecuteAsync(
                """
                INSERT INTO diagnostic_report (id, patient_id, unit_id, message_id, placer_order_number, filler_order_number, service_code,
                    service_name, status, report_text, observed_at, created_at, comment)
                VALUES (@Id, @patientId, @unitId, @messageId, @PlacerOrderNumber, @FillerOrderNumber, @ServiceCode, @ServiceName,
                    @Status, @narrative, @ObservedAt, @now, @Comment)
                """,
                new { planned.Id, patientId, unitId, messageId, report.PlacerOrderNumber, report.FillerOrderNumber, report.ServiceCode,
                    report.ServiceName, report.Status, narrative, report.ObservedAt, now, report.Comment }, t);
        }
        var lines = reports.SelectMany(r => r.Lines.Select(l => (r, l))).ToList();
        if (stagedAttempt is { } attempt)
        {
            var engine = FhirSqlValues.EngineOf(c);
            var moved = 0;
            foreach (var group in reports.Select(r => r.Group).Distinct())
            {
                var parameters = new DynamicParameters(new { group });
                parameters.AddGuid(engine, "patientId", patientId);
                parameters.AddGuid(engine, "attempt", attempt);
                moved += await c.ExecuteAsync(
                    $"INSERT INTO lab_result (patient_id, {LineColumns}) SELECT @patientId, {LineColumns} FROM lab_result_staging WHERE attempt_id = @attempt AND patient_group = @group",
                    parameters, t);
            }
            if (moved != lines.Count) throw new InvalidOperationException($"{moved} of {lines.Count} staged result lines were found.");
        }
        else
        {
            await InsertAsync(c, t, "lab_result (patient_id, ", staged: false, patientId, lines, messageId, unitId);
        }
        var superseded = await SupersedeAsync(c, t, messageId, reports, patientId);
        // Staged resources assumed new Observations and the orders as they were: a correction, or an order
        // placed or removed meanwhile, is published the old way (correct, only not as short).
        if (staged is not null && superseded == 0 && SameOrders(staged.Orders, await OrdersAsync(c, t, reports)))
            await FileStagedFhirAsync(c, t, messageId, reports, patientId, now, staged);
        else
            await LabResultAsFhir.PublishFiledAsync(c, t, messageId, patientId, now);
    }

    private static async Task FileStagedFhirAsync(DbConnection c, DbTransaction t, Guid messageId, IReadOnlyList<PlannedReport> reports, Guid patientId,
        DateTimeOffset now, StagedMessage staged)
    {
        var reference = await Fhir.Records.FhirRecordPublisher.PatientReferenceAsync(c, t, patientId);
        var filed = 0;
        foreach (var group in reports.Select(r => r.Group).Distinct())
            filed += await Fhir.Store.FhirStaging.FileAsync(c, t, messageId, staged.Attempt, group, patientId, reference, now);
        var expected = reports.Sum(r => 1 + r.Lines.Count(l => l.Observation.Attachment?.ContentType is null));
        if (filed != expected) throw new InvalidOperationException($"{filed} of {expected} staged FHIR resources were found.");
        var orders = reports.Select(r => r.Report.PlacerOrderNumber).OfType<string>()
            .Select(p => staged.Orders.GetValueOrDefault(p)).OfType<Guid>();
        await LabResultAsFhir.PublishOrdersAsync(c, t, orders, now);
    }

    /// <summary>The Stadig orders the reports name, by placer order number (null where no such order exists).</summary>
    public static async Task<IReadOnlyDictionary<string, Guid?>> OrdersAsync(DbConnection c, DbTransaction? t, IEnumerable<PlannedReport> reports)
    {
        var orders = new Dictionary<string, Guid?>(StringComparer.Ordinal);
        foreach (var placer in reports.Select(r => r.Report.PlacerOrderNumber).OfType<string>()
                     .Where(p => p.StartsWith(Orders.LabOrders.PlacerPrefix, StringComparison.Ordinal)).Distinct())
            orders[placer] = await c.QuerySingleOrDefaultAsync<Guid?>("SELECT id FROM lab_order WHERE placer_order_number = @placer", new { placer }, t);
        return orders;
    }

    private static bool SameOrders(IReadOnlyDictionary<string, Guid?> staged, IReadOnlyDictionary<string, Guid?> now) =>
        now.All(o => staged.TryGetValue(o.Key, out var id) && id == o.Value);

    /// <summary>A report of text lines only is a narrative, kept as the report's text.</summary>
    private static string? Narrative(OruReport report) =>
        report.Observations.All(o => o.ValueType is "TX" or "FT") ? string.Join('\n', report.Observations.Select(o => o.ValueText ?? "")) : null;

    /// <summary>A line as <see cref="ResultLineRows"/> will read it once filed, its patient not yet known.</summary>
    private static ResultLineRow Row(PlannedReport report, PlannedLine line, Guid unitId, string? sendingFacility)
    {
        var o = line.Observation;
        return new ResultLineRow
        {
            Id = line.Id, UnitId = unitId, AnalysisCode = o.Code, AnalysisName = o.Name, ValueNumeric = o.ValueNumeric, ValueText = o.ValueText, Unit = o.Unit,
            ReferenceLow = o.ReferenceLow, ReferenceHigh = o.ReferenceHigh, ReferenceRange = o.ReferenceRange, AbnormalFlag = o.AbnormalFlag, Status = o.Status,
            ObservedAt = line.ObservedAt, ReportId = report.Id, FillerOrderNumber = report.Report.FillerOrderNumber, ValueType = o.ValueType,
            SendingFacility = sendingFacility, Comment = o.Comment, ReportComment = report.Report.Comment,
            AttachmentType = o.Attachment?.ContentType, AttachmentData = o.Attachment?.Data,
        };
    }

    private static Guid? OrderOf(PlannedReport report, IReadOnlyDictionary<string, Guid?> orders) =>
        report.Report.PlacerOrderNumber is { } placer ? orders.GetValueOrDefault(placer) : null;

    /// <summary>The Observations of lines to be staged, mapped before the transaction that stages them.</summary>
    public static Fhir.Store.FhirStaging.Prepared PrepareObservations(IReadOnlyList<(PlannedReport Report, PlannedLine Line)> lines, Guid unitId,
        string? sendingFacility, Guid attempt, IReadOnlyDictionary<string, Guid?> orders, System.Text.Json.Nodes.JsonObject? performer) =>
        LabResultAsFhir.StagedObservations(attempt,
            lines.Select(l => new LabResultAsFhir.StagedLine(l.Report.Group, Row(l.Report, l.Line, unitId, sendingFacility), OrderOf(l.Report, orders))).ToList(),
            performer);

    /// <summary>The DiagnosticReports of a message, mapped before the transaction that stages them.</summary>
    public static Fhir.Store.FhirStaging.Prepared PrepareReports(IReadOnlyList<PlannedReport> reports, Guid unitId, string? sendingFacility, Guid attempt,
        IReadOnlyDictionary<string, Guid?> orders, System.Text.Json.Nodes.JsonObject? performer) =>
        LabResultAsFhir.StagedReports(attempt, reports.Select(r => new LabResultAsFhir.StagedReport(r.Group,
            new LabResultAsFhir.ReportRow
            {
                Id = r.Id, UnitId = unitId, PlacerOrderNumber = r.Report.PlacerOrderNumber, FillerOrderNumber = r.Report.FillerOrderNumber,
                ServiceCode = r.Report.ServiceCode, ServiceName = r.Report.ServiceName, Status = r.Report.Status, ReportText = Narrative(r.Report),
                ObservedAt = r.Report.ObservedAt, CreatedAt = Fhir.Store.FhirStaging.Placeholder, SendingFacility = sendingFacility, Comment = r.Report.Comment,
            },
            r.Lines.Select(l => Row(r, l, unitId, sendingFacility)).ToList(), OrderOf(r, orders))).ToList(), performer);

    /// <summary>Writes lines of a message, not yet bound to a patient, and their prepared FHIR where no reader of the record or of FHIR looks.</summary>
    public static async Task StageAsync(DbConnection c, DbTransaction t, IReadOnlyList<(PlannedReport Report, PlannedLine Line)> lines, Guid unitId,
        Fhir.Store.FhirStaging.Target target, Fhir.Store.FhirStaging.Prepared fhir)
    {
        await InsertAsync(c, t, "lab_result_staging (attempt_id, patient_group, ", staged: true, target.Attempt, lines, target.MessageId, unitId);
        await Fhir.Store.FhirStaging.StageAsync(c, t, target, fhir);
    }

    /// <summary>Removes what any attempt staged for a message (once it is filed or rejected; also what a crashed attempt left).</summary>
    public static Task ClearStagedAsync(DbConnection c, DbTransaction t, Guid messageId) =>
        c.ExecuteAsync("DELETE FROM lab_result_staging WHERE message_id = @messageId", new { messageId }, t);

    private static async Task InsertAsync(DbConnection c, DbTransaction t, string into, bool staged, Guid key,
        IReadOnlyList<(PlannedReport Report, PlannedLine Line)> lines, Guid messageId, Guid unitId)
    {
        foreach (var chunk in lines.Chunk(LinesPerInsert))
        {
            var b = new BulkStatement(c);
            var (keyValue, unit, message) = (b.Guid(key), b.Guid(unitId), b.Guid(messageId));
            b.Sql.Append($"INSERT INTO {into}{LineColumns}) VALUES ");
            for (var i = 0; i < chunk.Length; i++)
            {
                var (report, line) = chunk[i];
                var o = line.Observation;
                b.Sql.Append(i == 0 ? "(" : ", (").Append(keyValue).Append(", ");
                if (staged) b.Sql.Append(b.Add(report.Group, DbType.Int32)).Append(", ");
                b.Sql.AppendJoin(", ", b.Guid(line.Id), unit, b.Text(o.Code), b.Text(o.Name), b.Double(o.ValueNumeric), b.Text(o.ValueText), b.Text(o.Unit),
                    b.Double(o.ReferenceLow), b.Double(o.ReferenceHigh), b.Text(o.AbnormalFlag), b.Text(o.Status), b.Time(line.ObservedAt), b.Guid(report.Id), message,
                    b.Text(report.Report.FillerOrderNumber), b.Text(o.ValueType), b.Text(o.ReferenceRange), b.Text(o.Performer), b.Text(o.Comment),
                    b.Text(o.Attachment?.ContentType), b.Binary(o.Attachment?.Data)).Append(')');
            }
            await b.ExecuteAsync(t);
        }
    }

    /// <summary>
    /// A later status of the same observation (corrected, final after preliminary, cancelled) supersedes
    /// the still current line of another message with the same patient, filler order number and code;
    /// the earlier row stays, pointing at its successor, the first line of this message with that code.
    /// </summary>
    private static async Task<int> SupersedeAsync(DbConnection c, DbTransaction t, Guid messageId, IReadOnlyList<PlannedReport> reports, Guid patientId)
    {
        var engine = FhirSqlValues.EngineOf(c);
        var count = 0;
        foreach (var byFiller in reports.Where(r => r.Report.FillerOrderNumber is not null).GroupBy(r => r.Report.FillerOrderNumber!))
        {
            var successors = new Dictionary<string, Guid>(StringComparer.Ordinal);
            foreach (var line in byFiller.SelectMany(r => r.Lines)) successors.TryAdd(line.Observation.Code, line.Id);
            var current = await c.QueryAsync<(Guid Id, string Code)>(
                """
                SELECT id, analysis_code FROM lab_result
                WHERE patient_id = @patientId AND filler_order_number = @filler AND superseded_by IS NULL
                  AND message_id IS NOT NULL AND message_id <> @messageId
                """, new { patientId, filler = byFiller.Key, messageId }, t);
            foreach (var superseded in current.Where(r => successors.ContainsKey(r.Code)).GroupBy(r => successors[r.Code]))
            {
                foreach (var chunk in superseded.Chunk(500))
                {
                    var parameters = new DynamicParameters();
                    parameters.AddGuid(engine, "successor", superseded.Key);
                    for (var i = 0; i < chunk.Length; i++) parameters.AddGuid(engine, $"id{i}", chunk[i].Id);
                    var ids = string.Join(", ", chunk.Select((_, i) => $"@id{i}"));
                    count += await c.ExecuteAsync($"UPDATE lab_result SET superseded_by = @successor WHERE id IN ({ids})", parameters, t);
                }
            }
        }
        return count;
    }
}
