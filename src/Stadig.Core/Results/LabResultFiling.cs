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
        DateTimeOffset now, Guid? stagedAttempt)
    {
        foreach (var planned in reports)
        {
            var report = planned.Report;
            var narrative = report.Observations.All(o => o.ValueType is "TX" or "FT")
                ? string.Join('\n', report.Observations.Select(o => o.ValueText ?? ""))
                : null;
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
        await SupersedeAsync(c, t, messageId, reports, patientId);
        await LabResultAsFhir.PublishFiledAsync(c, t, messageId, patientId, now);
    }

    /// <summary>Writes lines of a message, not yet bound to a patient, where no reader of the record looks.</summary>
    public static Task StageAsync(DbConnection c, DbTransaction t, IReadOnlyList<(PlannedReport Report, PlannedLine Line)> lines, Guid messageId,
        Guid unitId, Guid attempt) =>
        InsertAsync(c, t, "lab_result_staging (attempt_id, patient_group, ", staged: true, attempt, lines, messageId, unitId);

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
    private static async Task SupersedeAsync(DbConnection c, DbTransaction t, Guid messageId, IReadOnlyList<PlannedReport> reports, Guid patientId)
    {
        var engine = FhirSqlValues.EngineOf(c);
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
                    await c.ExecuteAsync($"UPDATE lab_result SET superseded_by = @successor WHERE id IN ({ids})", parameters, t);
                }
            }
        }
    }
}
