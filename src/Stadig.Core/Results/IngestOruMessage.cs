using System.Data.Common;
using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Fhir.Records;
using Stadig.Hl7;
using Stadig.Hl7.Mllp;
using Stadig.Storage;

namespace Stadig.LabResults;

public enum Hl7MessageState
{
    Received,
    Filed,
    Quarantined,
    Rejected,
}

/// <summary>What became of one received message, and the ACK that answers it.</summary>
public sealed record IngestOutcome(Guid MessageId, Hl7MessageState State, string AckCode, string AckText, bool Duplicate);

/// <summary>
/// Takes in an ORU^R01 from a lab: stores the raw message as Received first (its own transaction,
/// so nothing is lost whatever happens next), then in a second transaction binds it to exactly
/// one patient and files a diagnostic report with its observations — or puts it in the quarantine
/// worklist with the precise reason — and records the ACK. A repeated MSH-10 from the same facility
/// gets the stored ACK and stores nothing twice (the unique constraint decides, also under races).
/// </summary>
public sealed class IngestOruMessage(Database database, AuditLog audit, PatientMatcher matcher, Caller lab, TimeProvider clock) : IHl7MessageHandler
{
    public const string Inbound = "Inbound";

    public async Task<string> HandleAsync(ReceivedHl7Message message, CancellationToken cancellationToken) =>
        (await IngestAsync(message.Text, message.Oversized, message.ByteCount, cancellationToken)).AckText;

    public async Task<IngestOutcome> IngestAsync(string text, bool oversized = false, long? byteCount = null, CancellationToken cancellationToken = default)
    {
        var bytes = byteCount ?? Hl7Text.ToBytes(text).LongLength;
        if (oversized)
        {
            return await RejectUnreadableAsync(text, bytes, SalvageControlId(text), Hl7ErrorCode.ApplicationInternalError,
                $"Meddelandet är för stort ({bytes} byte); bara början är sparad.", cancellationToken);
        }
        if (!Hl7Parser.TryParse(text, out var message, out var error))
        {
            return await RejectUnreadableAsync(text, bytes, SalvageControlId(text), Hl7ErrorCode.SegmentSequenceError, error!.Message, cancellationToken);
        }
        if (message!.ControlId.Trim().Length == 0)
        {
            return await RejectUnreadableAsync(text, bytes, "", Hl7ErrorCode.RequiredFieldMissing, "MSH-10 (meddelande-id) saknas.", cancellationToken);
        }

        var (id, inserted) = await StoreReceivedAsync(message, text, bytes, cancellationToken);
        if (!inserted)
        {
            var existingRaw = await database.InTransactionAsync((c, t) =>
                c.QuerySingleAsync<string>("SELECT raw_text FROM hl7_message WHERE id = @id", new { id }, t), cancellationToken);
            if (existingRaw.TrimEnd('\r', '\n') != text.TrimEnd('\r', '\n'))
            {
                // The same MSH-10 for different content: kept and rejected, never dropped as a "duplicate".
                return await RejectUnreadableAsync(text, bytes, message.ControlId, "205",
                    $"MSH-10 {message.ControlId} har redan använts för ett annat meddelande från {message.SendingFacility}.", cancellationToken, message);
            }
        }
        var outcome = await ProcessAsync(id, message, cancellationToken);
        return outcome with { Duplicate = outcome.Duplicate || !inserted };
    }

    private async Task<(Guid Id, bool Inserted)> StoreReceivedAsync(Hl7Message message, string text, long bytes, CancellationToken cancellationToken)
    {
        var id = Guid.CreateVersion7();
        var now = clock.GetUtcNow();
        return await database.InTransactionAsync(async (c, t) =>
        {
            var inserted = await c.ExecuteAsync(
                """
                INSERT INTO hl7_message (id, direction, control_id, sending_application, sending_facility, message_type, received_at,
                    byte_count, raw_text, state, state_changed_at)
                VALUES (@id, @Inbound, @ControlId, @SendingApplication, @SendingFacility, @MessageType, @now, @bytes, @text, @state, @now)
                ON CONFLICT (direction, sending_facility, control_id) DO NOTHING
                """,
                new { id, Inbound, message.ControlId, message.SendingApplication, message.SendingFacility, message.MessageType, now, bytes, text,
                    state = nameof(Hl7MessageState.Received) }, t);
            if (inserted == 0)
            {
                var existing = await c.QuerySingleAsync<Guid>(
                    "SELECT id FROM hl7_message WHERE direction = @Inbound AND sending_facility = @SendingFacility AND control_id = @ControlId",
                    new { Inbound, message.SendingFacility, message.ControlId }, t);
                return (existing, false);
            }
            await AddStateAsync(c, t, id, Hl7MessageState.Received, now, null);
            return (id, true);
        }, cancellationToken);
    }

    private async Task<IngestOutcome> ProcessAsync(Guid id, Hl7Message message, CancellationToken cancellationToken)
    {
        return await database.InTransactionAsync(async (c, t) =>
        {
            var lockClause = database.Engine == DatabaseEngine.Postgres ? " FOR UPDATE" : "";
            var row = await c.QuerySingleAsync<(string State, string? AckCode, string? AckText)>(
                $"SELECT state, ack_code, ack_text FROM hl7_message WHERE id = @id{lockClause}", new { id }, t);
            if (row.State != nameof(Hl7MessageState.Received))
            {
                // Already decided (a resend, or a duplicate that raced this one): the same answer again.
                return new IngestOutcome(id, Enum.Parse<Hl7MessageState>(row.State), row.AckCode!, row.AckText!, Duplicate: true);
            }

            var now = clock.GetUtcNow();
            if (message.Get("MSH-9.1") != "ORU")
                return await FinishAsync(c, t, id, message, Hl7MessageState.Rejected, AckCode.Error, now, Hl7ErrorCode.UnsupportedMessageType,
                    $"Meddelandetypen {message.MessageType} tas inte emot här (bara ORU^R01).");
            if (message.Get("MSH-9.2") != "R01")
                return await FinishAsync(c, t, id, message, Hl7MessageState.Rejected, AckCode.Error, now, Hl7ErrorCode.UnsupportedEventCode,
                    $"Händelsen {message.MessageType} tas inte emot här (bara ORU^R01).");
            IReadOnlyList<OruReport> reports;
            try
            {
                reports = OruObservations.Read(message);
            }
            catch (Hl7ParseException e)
            {
                // A value that is not what its type says (an ED that is not base64): refused whole, naming the field, never half filed.
                return await FinishAsync(c, t, id, message, Hl7MessageState.Rejected, AckCode.Error, now, Hl7ErrorCode.DataTypeError, e.Message);
            }
            if (!reports.Any(r => r.Observations.Count > 0))
                return await FinishAsync(c, t, id, message, Hl7MessageState.Rejected, AckCode.Error, now, Hl7ErrorCode.RequiredFieldMissing,
                    "Meddelandet innehåller inga resultat (OBX).");

            var match = await matcher.MatchAsync(message, c, t);
            if (match.PatientId is { } identified)
                match = await CheckOrdersAsync(c, t, reports, identified) ?? match;
            if (match.PatientId is not { } patientId)
            {
                await c.ExecuteAsync(
                    """
                    INSERT INTO result_quarantine (id, message_id, reason_code, reason_text, state, created_at)
                    VALUES (@quarantineId, @id, @reason, @Detail, 'Open', @now)
                    """, new { quarantineId = Guid.CreateVersion7(), id, reason = match.Reason!.Value.ToString(), match.Detail, now }, t);
                await audit.AppendAsync(new AuditEntry(lab, null, AuditActivity.Write, "ResultQuarantine",
                    Detail: $"HL7 {message.ControlId}: {match.Reason}"), c, t);
                return await FinishAsync(c, t, id, message, Hl7MessageState.Quarantined, AckCode.Accept, now, reason: $"{match.Reason}: {match.Detail}");
            }

            await FileAsync(c, t, id, reports, patientId, lab.UnitId, now, OruObservations.Timestamp(message.Get("MSH-7")));
            // The lab integration files without a care relation, so it does not go through
            // PatientCheckpoint.WriteAsync (which requires one): the lab is the source of the data, not a
            // reader of the record, and a result must reach the patient whoever treats them. It is
            // audited the same way, in the same transaction as the write.
            await audit.AppendAsync(new AuditEntry(lab, patientId, AuditActivity.Write, "DiagnosticReport",
                Detail: $"HL7 ORU^R01 {message.ControlId} från {message.SendingFacility}"), c, t);
            await c.ExecuteAsync("UPDATE hl7_message SET patient_id = @patientId WHERE id = @id", new { patientId, id }, t);
            return await FinishAsync(c, t, id, message, Hl7MessageState.Filed, AckCode.Accept, now);
        }, cancellationToken);
    }

    /// <summary>
    /// An order number Stadig issued (OBR-2 with its prefix) must exist and belong to the patient
    /// PID identifies (merges followed); otherwise the result waits in quarantine. Order numbers of
    /// other systems are not Stadig's to check. Matched orders are marked as resulted.
    /// </summary>
    private static async Task<PatientMatchResult?> CheckOrdersAsync(DbConnection c, DbTransaction t, IReadOnlyList<OruReport> reports, Guid patientId)
    {
        var placers = reports.Select(r => r.PlacerOrderNumber).OfType<string>()
            .Where(p => p.StartsWith(Orders.LabOrders.PlacerPrefix, StringComparison.Ordinal)).Distinct().ToList();
        foreach (var placer in placers)
        {
            var orderedFor = await c.QuerySingleOrDefaultAsync<Guid?>(
                "SELECT COALESCE(p.merged_into_id, p.id) FROM lab_order o JOIN patient p ON p.id = o.patient_id WHERE o.placer_order_number = @placer",
                new { placer }, t);
            if (orderedFor is null)
                return PatientMatchResult.Quarantine(QuarantineReason.UnknownOrder, $"OBR-2 {placer}: ingen sådan beställning.");
            if (orderedFor != patientId)
                return PatientMatchResult.Quarantine(QuarantineReason.OrderPatientMismatch, $"OBR-2 {placer}: beställningen gäller en annan patient.");
        }
        foreach (var placer in placers)
            await c.ExecuteAsync("UPDATE lab_order SET status = 'Resulted' WHERE placer_order_number = @placer", new { placer }, t);
        return null;
    }

    /// <summary>
/// Stores the reports and observations of one message for one patient (also used when lab staff
/// file from quarantine), and publishes them as FHIR Observations and DiagnosticReports.
/// </summary>
    internal static async Task FileAsync(DbConnection c, DbTransaction t, Guid messageId, IReadOnlyList<OruReport> reports, Guid patientId, Guid unitId,
        DateTimeOffset now, DateTimeOffset? sentAt)
    {
        foreach (var report in reports.Where(r => r.Observations.Count > 0))
        {
            var reportId = Guid.CreateVersion7();
            var narrative = report.Observations.All(o => o.ValueType is "TX" or "FT")
                ? string.Join('\n', report.Observations.Select(o => o.ValueText ?? ""))
                : null;
            await c.ExecuteAsync(
                """
                INSERT INTO diagnostic_report (id, patient_id, unit_id, message_id, placer_order_number, filler_order_number, service_code,
                    service_name, status, report_text, observed_at, created_at, comment)
                VALUES (@reportId, @patientId, @unitId, @messageId, @PlacerOrderNumber, @FillerOrderNumber, @ServiceCode, @ServiceName,
                    @Status, @narrative, @ObservedAt, @now, @Comment)
                """,
                new { reportId, patientId, unitId, messageId, report.PlacerOrderNumber, report.FillerOrderNumber, report.ServiceCode,
                    report.ServiceName, report.Status, narrative, report.ObservedAt, now, report.Comment }, t);
            foreach (var o in report.Observations)
            {
                var resultId = Guid.CreateVersion7();
                await c.ExecuteAsync(
                    """
                    INSERT INTO lab_result (id, patient_id, unit_id, analysis_code, analysis_name, value_numeric, value_text, unit, reference_low,
                        reference_high, abnormal_flag, status, observed_at, report_id, message_id, filler_order_number, value_type, reference_range, performer,
                        comment, attachment_type, attachment_data)
                    VALUES (@resultId, @patientId, @unitId, @Code, @Name, @ValueNumeric, @ValueText, @Unit, @ReferenceLow,
                        @ReferenceHigh, @AbnormalFlag, @Status, @observedAt, @reportId, @messageId, @FillerOrderNumber, @ValueType, @ReferenceRange, @Performer,
                        @Comment, @attachmentType, @attachmentData)
                    """,
                    new { resultId, patientId, unitId, o.Code, o.Name, o.ValueNumeric, o.ValueText, o.Unit, o.ReferenceLow, o.ReferenceHigh,
                        o.AbnormalFlag, o.Status, observedAt = o.ObservedAt ?? report.ObservedAt ?? sentAt ?? now, reportId, messageId,
                        report.FillerOrderNumber, o.ValueType, o.ReferenceRange, o.Performer, o.Comment,
                        attachmentType = o.Attachment?.ContentType, attachmentData = o.Attachment?.Data }, t);
                if (report.FillerOrderNumber is not null)
                {
                    // A later status of the same observation (corrected, final after preliminary, cancelled) supersedes
                    // the earlier one from another message; the earlier row stays, pointing at its successor.
                    await c.ExecuteAsync(
                        """
                        UPDATE lab_result SET superseded_by = @resultId
                        WHERE patient_id = @patientId AND filler_order_number = @FillerOrderNumber AND analysis_code = @Code
                          AND superseded_by IS NULL AND id <> @resultId AND message_id IS NOT NULL AND message_id <> @messageId
                        """, new { resultId, patientId, report.FillerOrderNumber, o.Code, messageId }, t);
                }
            }
        }
        await LabResultAsFhir.PublishFiledAsync(c, t, messageId, patientId, now);
    }

    private async Task<IngestOutcome> FinishAsync(DbConnection c, DbTransaction t, Guid id, Hl7Message message, Hl7MessageState state, string code,
        DateTimeOffset now, string? errorCode = null, string? errorText = null, string? reason = null)
    {
        var ack = Hl7Writer.Write(Hl7Ack.Create(message, code, now, AckControlId(), errorCode, errorText));
        await c.ExecuteAsync(
            "UPDATE hl7_message SET state = @state, state_changed_at = @now, ack_code = @code, ack_text = @ack WHERE id = @id",
            new { state = state.ToString(), now, code, ack, id }, t);
        await AddStateAsync(c, t, id, state, now, reason ?? errorText);
        return new IngestOutcome(id, state, code, ack, Duplicate: false);
    }

    /// <summary>Stores bytes that cannot be taken as a message as Rejected, with an AR naming the problem.</summary>
    private async Task<IngestOutcome> RejectUnreadableAsync(string text, long bytes, string salvagedControlId, string errorCode, string problem,
        CancellationToken cancellationToken, Hl7Message? parsed = null)
    {
        var id = Guid.CreateVersion7();
        var now = clock.GetUtcNow();
        var ack = Hl7Writer.Write(parsed is null
            ? Hl7Ack.CreateForUnreadable(salvagedControlId, AckCode.Reject, now, AckControlId(), errorCode, problem)
            : Hl7Ack.Create(parsed, AckCode.Reject, now, AckControlId(), errorCode, problem));
        await database.InTransactionAsync(async (c, t) =>
        {
            await c.ExecuteAsync(
                """
                INSERT INTO hl7_message (id, direction, control_id, sending_application, sending_facility, message_type, received_at,
                    byte_count, raw_text, state, state_changed_at, ack_code, ack_text)
                VALUES (@id, @Inbound, NULL, @application, @facility, @type, @now, @bytes, @text, @state, @now, @code, @ack)
                """,
                new { id, Inbound, application = parsed?.SendingApplication ?? "", facility = parsed?.SendingFacility ?? "", type = parsed?.MessageType ?? "",
                    now, bytes, text, state = nameof(Hl7MessageState.Rejected), code = AckCode.Reject, ack }, t);
            await AddStateAsync(c, t, id, Hl7MessageState.Received, now, null);
            await AddStateAsync(c, t, id, Hl7MessageState.Rejected, now, problem);
            return 0;
        }, cancellationToken);
        return new IngestOutcome(id, Hl7MessageState.Rejected, AckCode.Reject, ack, Duplicate: false);
    }

    internal static Task AddStateAsync(DbConnection c, DbTransaction t, Guid id, Hl7MessageState state, DateTimeOffset at, string? reason) =>
        c.ExecuteAsync(
            """
            INSERT INTO hl7_message_state (message_id, seq, state, at, reason)
            VALUES (@id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM hl7_message_state WHERE message_id = @id), @state, @at, @reason)
            """, new { id, state = state.ToString(), at, reason }, t);

    private static string AckControlId() => "S" + Guid.NewGuid().ToString("N")[..19];

    /// <summary>MSH-10 read the plain way from a message the parser refused, so the ACK can still name it.</summary>
    private static string SalvageControlId(string text)
    {
        var start = text.IndexOf("MSH", StringComparison.Ordinal);
        if (start < 0 || text.Length < start + 4) return "";
        var line = text[start..].Split('\r', '\n')[0];
        var fields = line.Split(line[3]);
        var controlId = fields.Length > 9 ? fields[9] : "";
        return controlId.Length <= 50 && controlId.All(ch => !char.IsControl(ch)) ? controlId : "";
    }
}
