using System.Data.Common;
using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Fhir.Records;
using Stadig.Fhir.Store;
using Stadig.Hl7;
using Stadig.Hl7.Mllp;
using Stadig.Storage;
using Stadig.Telemetry;

namespace Stadig.LabResults;

public enum Hl7MessageState
{
    Received,
    Filed,
    Quarantined,
    Rejected,
    /// <summary>A test or debugging message (MSH-11 T or D): answered and kept, never filed in a chart.</summary>
    NotProduction,
}

/// <summary>What becomes of a message whose MSH-11 is not P (production).</summary>
public enum NonProductionHandling
{
    /// <summary>Stored in state NotProduction and answered AA: the sender's test goes through, no chart is touched.</summary>
    KeepApart,
    /// <summary>Stored as Rejected and answered AR (error 202): for a live link that must never carry test traffic.</summary>
    Refuse,
}

public sealed record IngestOptions
{
    public NonProductionHandling NonProduction { get; init; } = NonProductionHandling.KeepApart;

    /// <summary>The region's clock, in whose zone HL7 times without an offset are read.</summary>
    public RegionTime Region { get; init; } = RegionTime.Sweden;

    /// <summary>
    /// A message with more observations than this is staged in batches of this many, each its own short
    /// transaction, before one short transaction files it: SQLite has one writer, and other labs'
    /// messages must get their turn while a large one is written.
    /// </summary>
    public int BatchObservations { get; init; } = 1000;

    /// <summary>Called after each staged batch of a large message is committed (message id, batches so far): tests hold or fail a message there.</summary>
    public Func<Guid, int, CancellationToken, Task>? BatchStaged { get; init; }

    /// <summary>
    /// Called at the start of each message's filing transaction, and just before it commits, with its
    /// connection: tests count what that transaction sends (it must not grow with the message).
    /// </summary>
    public Action<DbConnection>? FilingStarted { get; init; }

    /// <inheritdoc cref="FilingStarted"/>
    public Action<DbConnection>? FilingFinishing { get; init; }
}

/// <summary>What became of one received message, and the ACK that answers it.</summary>
public sealed record IngestOutcome(Guid MessageId, Hl7MessageState State, string AckCode, string AckText, bool Duplicate);

/// <summary>One patient group of a message, read, and what it is to become: filed on a patient or quarantined.</summary>
public sealed record GroupDecision(OruGroup Group, IReadOnlyList<OruReport> Reports, PatientMatchResult Match);

/// <summary>A message read before its filing transaction: its patient groups, their rows, and what staged them (null: not staged).</summary>
internal sealed record PreparedMessage(IReadOnlyList<(OruGroup Group, IReadOnlyList<OruReport> Reports)> Groups, IReadOnlyList<PlannedReport> Plans,
    StagedMessage? Staged);

/// <summary>
/// Takes in ORU^R01 from a lab. A frame holds one message, or a batch (FHS/BHS … BTS/FTS) whose
/// messages are taken one by one; several messages without a batch envelope are refused as a whole
/// (AR) rather than guessed apart. Each message is stored as Received first (its own transaction,
/// so nothing is lost whatever happens next), then in a second transaction each of its patient
/// groups (<see cref="OruGroups"/>) is bound to exactly one patient and filed — or put in the
/// quarantine worklist with the precise reason — and the ACK is recorded. A repeated MSH-10 from the
/// same facility with the same content gets the stored ACK and stores nothing twice (the unique
/// constraint decides, also under races). Whatever fails while a message is taken in ends with the
/// message stored as Rejected and an AE naming the problem: nothing stays Received. The message is
/// read before the filing transaction; a large one's lines are staged beforehand in short
/// transactions (<see cref="IngestOptions.BatchObservations"/>) that file nothing, and the filing
/// transaction moves them, so no result is ever half filed and no other message waits long.
/// </summary>
public sealed partial class IngestOruMessage(Database database, AuditLog audit, PatientMatcher matcher, Caller lab, TimeProvider clock, IngestOptions? options = null)
    : IHl7MessageHandler
{
    public const string Inbound = "Inbound";

    private readonly IngestOptions _options = options ?? new IngestOptions();

    public async Task<string> HandleAsync(ReceivedHl7Message message, CancellationToken cancellationToken) =>
        (await IngestAsync(message.Text, message.Oversized, message.ByteCount, cancellationToken)).AckText;

    /// <summary>Takes in one MLLP frame's text; the outcome's ACK answers the whole frame (a batch ACK for a batch).</summary>
    public async Task<IngestOutcome> IngestAsync(string text, bool oversized = false, long? byteCount = null, CancellationToken cancellationToken = default)
    {
        if (!database.Writes.CanWrite) return RefuseWhileReadOnly(text);
        try
        {
            return await IngestWritableAsync(text, oversized, byteCount, cancellationToken);
        }
        catch (Exception e) when (Downtime.WriteAvailability.IsRefusal(e))
        {
            // Every step is its own transaction and rolled back when refused: the lab sends the message again.
            database.Writes.DatabaseRefused(clock.GetUtcNow());
            return RefuseWhileReadOnly(text);
        }
    }

    /// <summary>
    /// Read-only mode: nothing is stored, and the answer is AR with error 207 (application internal
    /// error), HL7 v2.5's original-mode answer for a message refused for reasons unrelated to its content
    /// ("system down"): the lab keeps it and sends it again later.
    /// </summary>
    private IngestOutcome RefuseWhileReadOnly(string text)
    {
        const string problem = "Stadig är i läsläge och kan inte ta emot meddelanden just nu; skicka igen senare.";
        var now = clock.GetUtcNow();
        var ack = Hl7Parser.TryParse(text, out var parsed, out _) && parsed!.ControlId.Trim().Length > 0
            ? Hl7Ack.Create(parsed, AckCode.Reject, now, AckControlId(), Hl7ErrorCode.ApplicationInternalError, problem)
            : Hl7Ack.CreateForUnreadable(Hl7Ack.Salvage(text).ControlId, AckCode.Reject, now, AckControlId(), Hl7ErrorCode.ApplicationInternalError, problem, Hl7Ack.Salvage(text));
        return new IngestOutcome(Guid.Empty, Hl7MessageState.Rejected, AckCode.Reject, Hl7Writer.Write(ack), Duplicate: false);
    }

    private async Task<IngestOutcome> IngestWritableAsync(string text, bool oversized, long? byteCount, CancellationToken cancellationToken)
    {
        var bytes = byteCount ?? Hl7Text.ToBytes(text).LongLength;
        if (oversized)
        {
            // Kept as far as it was read: a NUL read as Latin-1 is escaped like in a message of normal size.
            var start = EscapeUnstorable(text);
            return await RejectUnreadableAsync(start, bytes, Hl7Ack.Salvage(start), Hl7ErrorCode.ApplicationInternalError,
                $"Meddelandet är för stort ({bytes} byte); bara början är sparad.", cancellationToken);
        }
        if (Unstorable(text) is var bad and >= 0)
        {
            // HL7 v2 text has no NUL, and PostgreSQL's text cannot hold one; half of a surrogate pair (text handed in
            // in-process, never bytes off the wire) is not text at all and no database encoding takes it. Refused as a
            // whole with the place named, and kept with each such character written as HL7's hex escape (\X00\,
            // \Xdc00\), so nothing the lab sent is lost.
            var kept = EscapeUnstorable(text);
            var refusal = text[bad] == '\0'
                ? $"Meddelandet innehåller ett nolltecken (NUL, 0x00) vid tecken {bad + 1}, vilket HL7 v2 inte tillåter; det är sparat med tecknet skrivet \\X00\\."
                : $"Meddelandet innehåller ett ensamt surrogattecken (U+{(int)text[bad]:X4}, halva teckenpar) vid tecken {bad + 1}, vilket inte är text; det är sparat med tecknet skrivet \\X{(int)text[bad]:x4}\\.";
            return await RejectUnreadableAsync(kept, bytes, Hl7Ack.Salvage(kept), Hl7ErrorCode.DataTypeError, refusal, cancellationToken);
        }
        var frame = Hl7Frame.Split(text);
        if (frame.Problem is { } problem)
            return await RejectUnreadableAsync(text, bytes, Hl7Ack.Salvage(text), Hl7ErrorCode.SegmentSequenceError, problem, cancellationToken);
        return frame.IsBatch
            ? await IngestBatchAsync(frame, cancellationToken)
            : await IngestMessageAsync(text, bytes, cancellationToken);
    }

    /// <summary>The first NUL or lone surrogate in the text (-1: none): characters no database column can keep.</summary>
    private static int Unstorable(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\0') return i;
            if (!char.IsSurrogate(c)) continue;
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
            return i;
        }
        return -1;
    }

    /// <summary>The text with each NUL and lone surrogate written as HL7's hex escape of its code.</summary>
    private static string EscapeUnstorable(string text)
    {
        var kept = new System.Text.StringBuilder(text.Length + 16);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { kept.Append(c).Append(text[++i]); continue; }
            if (c == '\0') kept.Append("\\X00\\");
            else if (char.IsSurrogate(c)) kept.Append("\\X").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture)).Append('\\');
            else kept.Append(c);
        }
        return kept.ToString();
    }

    /// <summary>
    /// A batch: every message is stored, matched and tracked as if sent alone, and the frame is answered
    /// with an acknowledgement batch (HL7 v2.5 2.10.3): [FHS] BHS, the ACK of each message, BTS with
    /// their count [FTS]; BHS-12 names the batch's BHS-11.
    /// </summary>
    private async Task<IngestOutcome> IngestBatchAsync(Hl7Frame frame, CancellationToken cancellationToken)
    {
        var outcomes = new List<IngestOutcome>();
        foreach (var message in frame.Messages)
            outcomes.Add(await IngestMessageAsync(message, Hl7Text.ToBytes(message).LongLength, cancellationToken));
        var now = clock.GetUtcNow();
        var ack = Hl7Ack.CreateBatch(frame.FileHeader, frame.BatchHeader, outcomes.Select(o => o.AckText).ToList(), now, AckControlId());
        var worst = outcomes.FirstOrDefault(o => o.AckCode != AckCode.Accept) ?? outcomes.FirstOrDefault();
        return new IngestOutcome(worst?.MessageId ?? Guid.Empty, worst?.State ?? Hl7MessageState.Filed, worst?.AckCode ?? AckCode.Accept, ack,
            outcomes.Count > 0 && outcomes.All(o => o.Duplicate));
    }

    private async Task<IngestOutcome> IngestMessageAsync(string text, long bytes, CancellationToken cancellationToken)
    {
        Hl7Message? message;
        Hl7ParseException? error;
        using (StadigTelemetry.Hl7.StartActivity("hl7 parse"))
            Hl7Parser.TryParse(text, out message, out error);
        using var filing = StadigTelemetry.Hl7.StartActivity("hl7 file");
        var outcome = await FileMessageAsync(text, bytes, message, error, cancellationToken);
        if (filing is not null)
        {
            // Kinds and codes only: MSH-9 when it has the shape of a message type (a sender's free text could be anything).
            if (message is not null && MessageTypeShape().IsMatch(message.MessageType)) filing.SetTag("hl7.message_type", message.MessageType);
            filing.SetTag("hl7.state", outcome.State.ToString());
            filing.SetTag("hl7.ack_code", outcome.AckCode);
        }
        return outcome;
    }

    [System.Text.RegularExpressions.GeneratedRegex("^[A-Z0-9]{3}\\^[A-Z0-9]{3}$")]
    private static partial System.Text.RegularExpressions.Regex MessageTypeShape();

    private async Task<IngestOutcome> FileMessageAsync(string text, long bytes, Hl7Message? message, Hl7ParseException? error, CancellationToken cancellationToken)
    {
        if (message is null)
        {
            return await RejectUnreadableAsync(text, bytes, Hl7Ack.Salvage(text), Hl7ErrorCode.SegmentSequenceError, error!.Message, cancellationToken);
        }
        if (message!.ControlId.Trim().Length == 0)
        {
            return await RejectUnreadableAsync(text, bytes, Hl7Ack.Salvage(text), Hl7ErrorCode.RequiredFieldMissing, "MSH-10 (meddelande-id) saknas.",
                cancellationToken, message);
        }

        var (id, inserted) = await StoreReceivedAsync(message, text, bytes, cancellationToken);
        if (!inserted)
        {
            var existingRaw = await database.InUnscopedTransactionAsync((c, t) =>
                c.QuerySingleAsync<string>("SELECT raw_text FROM hl7_message WHERE id = @id", new { id }, t), cancellationToken);
            if (!SameContent(existingRaw, message))
            {
                // The same MSH-10 for different content: kept and rejected, never dropped as a "duplicate".
                return await RejectUnreadableAsync(text, bytes, Hl7Ack.Salvage(text), Hl7ErrorCode.DuplicateKeyIdentifier,
                    $"MSH-10 {message.ControlId} har redan använts för ett annat meddelande från {message.SendingFacility}.", cancellationToken, message);
            }
        }
        try
        {
            var outcome = await ProcessAsync(id, message, cancellationToken);
            return outcome with { Duplicate = outcome.Duplicate || !inserted };
        }
        catch (Exception e) when (e is not (DbException or Storage.DatabaseUnavailableException or TimeoutException or OperationCanceledException))
        {
            // A poison message must not stay Received: an in-order sender would resend it forever and block every later result.
            // A database fault is not the message's (nor a deadlock the database broke by rolling this one back, nor a
            // commit it could not confirm): it goes on, the sender gets no ACK and sends again, and meanwhile the
            // watchdog shows the message still Received.
            return await FailAsync(id, message, e, cancellationToken);
        }
    }

    /// <summary>
    /// A resend is the same message when its segments and fields are the same; MSH-7 (regenerated by
    /// some senders on every try) and the segment terminators (CR, LF, CRLF) do not count.
    /// </summary>
    private static bool SameContent(string storedRaw, Hl7Message sent)
    {
        if (!Hl7Parser.TryParse(storedRaw, out var stored, out _)) return false;
        return Canonical(stored!) == Canonical(sent);
    }

    private static string Canonical(Hl7Message message)
    {
        var copy = Hl7Parser.Parse(Hl7Writer.Write(message));
        copy.Segments[0].Set(7, "");
        return Hl7Writer.Write(copy);
    }

    private async Task<(Guid Id, bool Inserted)> StoreReceivedAsync(Hl7Message message, string text, long bytes, CancellationToken cancellationToken)
    {
        var id = Guid.CreateVersion7();
        var now = clock.GetUtcNow();
        return await database.InUnscopedTransactionAsync(async (c, t) =>
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
        var prepared = await PrepareAsync(id, message, cancellationToken);
        var outcome = await database.InUnscopedTransactionAsync(async (c, t) =>
        {
            // Synchronous on purpose: whatever a test's hook sets in the async flow stays for the rest of this transaction.
            _options.FilingStarted?.Invoke(c);
            var outcome = await DecideAndFileAsync(c, t, id, message, prepared);
            // Filed or decided by another attempt: what any attempt staged for this message is no longer needed.
            if (prepared?.Staged is not null) await LabResultFiling.ClearStagedAsync(c, t, id);
            _options.FilingFinishing?.Invoke(c);
            return outcome;
        }, cancellationToken);
        if (prepared?.Staged is not null) await ClearStagedFhirAsync(id, cancellationToken);
        return outcome;
    }

    /// <summary>
    /// SQLite's writers wait for its one lock by polling with growing sleeps, so batches written back to
    /// back would leave other connections' messages little chance to get in (their busy timeout then
    /// runs out and they go unanswered). After each batch the large message leaves the lock free for
    /// as long as the batch held it (at most a second): the others wait about one batch at most.
    /// PostgreSQL locks rows, not the database: no pause there.
    /// </summary>
    private async Task YieldWriteLockAsync(TimeSpan held, CancellationToken cancellationToken)
    {
        if (database.Engine != DatabaseEngine.Sqlite) return;
        await Task.Delay(held < TimeSpan.FromSeconds(1) ? held : TimeSpan.FromSeconds(1), cancellationToken);
    }

    /// <summary>Staged FHIR rows of a decided message are many: removed after its decision commits, a staging batch a transaction.</summary>
    private async Task ClearStagedFhirAsync(Guid id, CancellationToken cancellationToken)
    {
        while (await database.InUnscopedTransactionAsync((c, t) => FhirStaging.ClearBatchAsync(c, t, id), cancellationToken)) { }
    }

    private static bool IsProductionResult(Hl7Message message) =>
        message.Get("MSH-9.1") == "ORU" && message.Get("MSH-9.2") == "R01" && message.Get("MSH-11").Trim() == "P";

    /// <summary>
    /// Reads a production ORU^R01 still Received before its filing transaction, and stages the lines of
    /// a large one: each batch its own short transaction, so that SQLite's one write lock is free
    /// between them and no long transaction holds up other connections' messages. Null for anything
    /// the filing transaction answers without reading observations.
    /// </summary>
    private async Task<PreparedMessage?> PrepareAsync(Guid id, Hl7Message message, CancellationToken cancellationToken)
    {
        if (!IsProductionResult(message)) return null;
        var prepared = Prepare(message);
        var lines = prepared.Plans.SelectMany(r => r.Lines.Select(l => (r, l))).ToList();
        if (lines.Count <= _options.BatchObservations) return prepared;
        IReadOnlyDictionary<string, Guid?> orders;
        await using (var c = await database.OpenUnscopedAsync(cancellationToken))
        {
            // A resend of a message already decided is answered from what is stored: nothing to stage.
            var state = await c.QuerySingleAsync<string>("SELECT state FROM hl7_message WHERE id = @id", new { id });
            if (state != nameof(Hl7MessageState.Received)) return null;
            orders = await LabResultFiling.OrdersAsync(c, null, prepared.Plans);
        }
        var performer = await database.InUnscopedTransactionAsync((c, t) => LabResultAsFhir.StagingPerformerAsync(c, t, lab.UnitId), cancellationToken);
        var attempt = Guid.CreateVersion7();
        var batches = 0;
        foreach (var batch in lines.Chunk(_options.BatchObservations))
        {
            var target = new FhirStaging.Target(attempt, id, ++batches);
            // Mapped and serialized before the transaction: SQLite's write lock is held for the writes only.
            var fhir = LabResultFiling.PrepareObservations(batch, lab.UnitId, message.SendingFacility, attempt, orders, performer);
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            await database.InUnscopedTransactionAsync(async (c, t) =>
            {
                await LabResultFiling.StageAsync(c, t, batch, lab.UnitId, target, fhir);
                return 0;
            }, cancellationToken);
            var held = System.Diagnostics.Stopwatch.GetElapsedTime(started);
            if (_options.BatchStaged is { } staged) await staged(id, batches, cancellationToken);
            await YieldWriteLockAsync(held, cancellationToken);
        }
        var reports = LabResultFiling.PrepareReports(prepared.Plans, lab.UnitId, message.SendingFacility, attempt, orders, performer);
        await database.InUnscopedTransactionAsync(async (c, t) =>
        {
            await FhirStaging.StageAsync(c, t, new FhirStaging.Target(attempt, id, batches + 1), reports);
            return 0;
        }, cancellationToken);
        return prepared with { Staged = new StagedMessage(attempt, orders) };
    }

    private PreparedMessage Prepare(Hl7Message message)
    {
        var sentAt = OruObservations.Timestamp(message.Get("MSH-7"), "MSH-7", _options.Region);
        var groups = Read(message);
        var now = clock.GetUtcNow();
        return new PreparedMessage(groups, groups.SelectMany(g => LabResultFiling.Plan(g.Group.Number, g.Reports, now, sentAt)).ToList(), null);
    }

    private async Task<IngestOutcome> DecideAndFileAsync(DbConnection c, DbTransaction t, Guid id, Hl7Message message, PreparedMessage? prepared)
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
        var processingId = message.Get("MSH-11").Trim();
        if (processingId != "P")
        {
            // Only production messages reach a chart; a lab's test run must never show up as a patient's result.
            var why = $"MSH-11 är {(processingId.Length == 0 ? "tomt" : processingId)}, inte P (produktion): meddelandet journalförs inte.";
            return _options.NonProduction == NonProductionHandling.Refuse
                ? await FinishAsync(c, t, id, message, Hl7MessageState.Rejected, AckCode.Reject, now, Hl7ErrorCode.UnsupportedProcessingId, why)
                : await FinishAsync(c, t, id, message, Hl7MessageState.NotProduction, AckCode.Accept, now, reason: why);
        }
        prepared ??= Prepare(message);
        var decisions = await DecideAsync(prepared.Groups, c, t);
        if (decisions.Count == 0)
            return await FinishAsync(c, t, id, message, Hl7MessageState.Rejected, AckCode.Error, now, Hl7ErrorCode.RequiredFieldMissing,
                "Meddelandet innehåller inga resultat (OBX).");

        var quarantined = decisions.Where(d => d.Match.PatientId is null).ToList();
        foreach (var d in quarantined)
        {
            await c.ExecuteAsync(
                """
                INSERT INTO result_quarantine (id, message_id, patient_group, reason_code, reason_text, state, created_at)
                VALUES (@quarantineId, @id, @group, @reason, @Detail, 'Open', @now)
                """, new { quarantineId = Guid.CreateVersion7(), id, group = d.Group.Number, reason = d.Match.Reason!.Value.ToString(), d.Match.Detail, now }, t);
            await audit.AppendAsync(new AuditEntry(lab, null, AuditActivity.Write, "ResultQuarantine",
                Detail: $"HL7 {message.ControlId} grupp {d.Group.Number}: {d.Match.Reason}"), c, t);
        }
        var filed = decisions.Where(d => d.Match.PatientId is not null).GroupBy(d => d.Match.PatientId!.Value).ToList();
        var resends = new List<string>();
        foreach (var perPatient in filed)
        {
            var patientId = perPatient.Key;
            var reports = perPatient.SelectMany(d => d.Reports).ToList();
            await MarkOrdersResultedAsync(c, t, reports);
            var groups = perPatient.Select(d => d.Group.Number).ToHashSet();
            var plans = prepared.Plans.Where(p => groups.Contains(p.Group)).ToList();
            // Results the lab held or resent after a downtime under a new MSH-10: what is already current is not filed twice.
            var resent = await LabResultResends.FindAsync(c, t, plans, patientId, id);
            if (resent.Count > 0)
                resends.AddRange(resent.Select(r => r.Report.FillerOrderNumber!).Distinct());
            if (resent.Count == plans.Count) continue;
            // A staged message's lines are moved per patient group, all of them: a partly resent large message is filed whole (superseding as before).
            if (resent.Count > 0 && prepared.Staged is null) plans = plans.Except(resent).ToList();
            await LabResultFiling.FileAsync(c, t, id, plans, patientId, lab.UnitId, now, prepared.Staged);
            // The lab integration files without a care relation, so it does not go through
            // PatientCheckpoint.WriteAsync (which requires one): the lab is the source of the data, not a
            // reader of the record, and a result must reach the patient whoever treats them. It is
            // audited the same way, in the same transaction as the write.
            await audit.AppendAsync(new AuditEntry(lab, patientId, AuditActivity.Write, "DiagnosticReport",
                Detail: $"HL7 ORU^R01 {message.ControlId} från {message.SendingFacility}"), c, t);
        }
        // The message names its patient only when all of it went to one; otherwise each result row does.
        if (filed.Count == 1 && quarantined.Count == 0)
            await c.ExecuteAsync("UPDATE hl7_message SET patient_id = @patientId WHERE id = @id", new { patientId = filed[0].Key, id }, t);
        if (quarantined.Count > 0)
        {
            var reasons = string.Join("; ", quarantined.Select(d => (decisions.Count > 1 ? $"grupp {d.Group.Number}: " : "") + $"{d.Match.Reason}: {d.Match.Detail}"));
            return await FinishAsync(c, t, id, message, Hl7MessageState.Quarantined, AckCode.Accept, now, reason: reasons);
        }
        return await FinishAsync(c, t, id, message, Hl7MessageState.Filed, AckCode.Accept, now,
            reason: resends.Count == 0 ? null : $"Omsänt: redan journalfört ({string.Join(", ", resends.Distinct())}); inget sparat två gånger.");
    }

    /// <summary>
    /// What every patient group of <paramref name="message"/> is to become: each group is read and
    /// matched on its own PID, never on another group's, and a group without observations is left out.
    /// Reads only; the property tests run this same code many thousand times.
    /// </summary>
    public Task<IReadOnlyList<GroupDecision>> DecideAsync(Hl7Message message, DbConnection c, DbTransaction t) => DecideAsync(Read(message), c, t);

    /// <summary>The patient groups of a message that hold observations, each read on its own (CPU only: done before any transaction).</summary>
    private List<(OruGroup Group, IReadOnlyList<OruReport> Reports)> Read(Hl7Message message) =>
        OruGroups.Split(message)
            .Select(group => (group, OruObservations.Read(group.Message, _options.Region)))
            .Where(g => g.Item2.Any(r => r.Observations.Count > 0))
            .ToList();

    private async Task<IReadOnlyList<GroupDecision>> DecideAsync(IReadOnlyList<(OruGroup Group, IReadOnlyList<OruReport> Reports)> groups, DbConnection c, DbTransaction t)
    {
        var decisions = new List<GroupDecision>();
        foreach (var (group, reports) in groups)
        {
            var match = group.HasPid
                ? await matcher.MatchAsync(group.Message, c, t)
                : PatientMatchResult.Quarantine(QuarantineReason.NoIdentifier, "Resultatgruppen saknar PID.");
            if (match.PatientId is { } identified)
                match = await CheckOrdersAsync(c, t, reports, identified) ?? match;
            decisions.Add(new GroupDecision(group, reports, match));
        }
        return decisions;
    }

    /// <summary>
    /// An order number Stadig issued (OBR-2 with its prefix) must exist and belong to the patient
    /// PID identifies (merges followed); otherwise the result waits in quarantine. Order numbers of
    /// other systems are not Stadig's to check.
    /// </summary>
    private static async Task<PatientMatchResult?> CheckOrdersAsync(DbConnection c, DbTransaction t, IReadOnlyList<OruReport> reports, Guid patientId)
    {
        foreach (var placer in StadigPlacers(reports))
        {
            var orderedFor = await c.QuerySingleOrDefaultAsync<Guid?>(
                "SELECT COALESCE(p.merged_into_id, p.id) FROM lab_order o JOIN patient p ON p.id = o.patient_id WHERE o.placer_order_number = @placer",
                new { placer }, t);
            if (orderedFor is null)
                return PatientMatchResult.Quarantine(QuarantineReason.UnknownOrder, $"OBR-2 {placer}: ingen sådan beställning.");
            if (orderedFor != patientId)
                return PatientMatchResult.Quarantine(QuarantineReason.OrderPatientMismatch, $"OBR-2 {placer}: beställningen gäller en annan patient.");
        }
        return null;
    }

    private static IEnumerable<string> StadigPlacers(IReadOnlyList<OruReport> reports) =>
        reports.Select(r => r.PlacerOrderNumber).OfType<string>().Where(p => p.StartsWith(Orders.LabOrders.PlacerPrefix, StringComparison.Ordinal)).Distinct();

    /// <summary>The Stadig orders a filed result answers are marked as resulted.</summary>
    private static async Task MarkOrdersResultedAsync(DbConnection c, DbTransaction t, IReadOnlyList<OruReport> reports)
    {
        foreach (var placer in StadigPlacers(reports))
            await c.ExecuteAsync("UPDATE lab_order SET status = 'Resulted' WHERE placer_order_number = @placer", new { placer }, t);
    }

    /// <summary>
    /// Stores the reports and observations of one message for one patient (also used when lab staff
    /// file from quarantine), and publishes them as FHIR Observations and DiagnosticReports.
    /// </summary>
    internal static Task FileAsync(DbConnection c, DbTransaction t, Guid messageId, IReadOnlyList<OruReport> reports, Guid patientId, Guid unitId,
        DateTimeOffset now, DateTimeOffset? sentAt) =>
        LabResultFiling.FileAsync(c, t, messageId, LabResultFiling.Plan(0, reports, now, sentAt), patientId, unitId, now, staged: null);

    private async Task<IngestOutcome> FinishAsync(DbConnection c, DbTransaction t, Guid id, Hl7Message message, Hl7MessageState state, string code,
        DateTimeOffset now, string? errorCode = null, string? errorText = null, string? reason = null)
    {
        // Problem texts quote what was sent: whatever half of a character pair a quote cut off is not stored or sent.
        errorText = errorText is null ? null : UnicodeText.WellFormed(errorText);
        reason = reason is null ? null : UnicodeText.WellFormed(reason);
        var ack = UnicodeText.WellFormed(Hl7Writer.Write(Hl7Ack.Create(message, code, now, AckControlId(), errorCode, errorText)));
        await c.ExecuteAsync(
            "UPDATE hl7_message SET state = @state, state_changed_at = @now, ack_code = @code, ack_text = @ack WHERE id = @id",
            new { state = state.ToString(), now, code, ack, id }, t);
        await AddStateAsync(c, t, id, state, now, reason ?? errorText);
        return new IngestOutcome(id, state, code, ack, Duplicate: false);
    }

    /// <summary>
    /// A message that was stored as Received but could not be taken in (a value that cannot be read,
    /// or a fault): it ends as Rejected with an AE naming the segment and field where that is known.
    /// If even this cannot be stored the exception goes on: the listener then closes without an ACK,
    /// the sender keeps the message, and the watchdog shows the message still Received.
    /// </summary>
    private async Task<IngestOutcome> FailAsync(Guid id, Hl7Message message, Exception failure, CancellationToken cancellationToken)
    {
        var (code, text) = failure switch
        {
            Hl7FieldException e => (Hl7ErrorCode.DataTypeError, e.Message),
            _ => (Hl7ErrorCode.ApplicationInternalError, $"Meddelandet kunde inte tas emot ({failure.GetType().Name}){Locate(message)}."),
        };
        var outcome = await database.InUnscopedTransactionAsync(async (c, t) =>
        {
            // A fault mid-staging leaves batches behind: a rejected message files nothing.
            await LabResultFiling.ClearStagedAsync(c, t, id);
            var state = await c.QuerySingleAsync<string>("SELECT state FROM hl7_message WHERE id = @id", new { id }, t);
            if (state != nameof(Hl7MessageState.Received))
            {
                var row = await c.QuerySingleAsync<(string AckCode, string AckText)>("SELECT ack_code, ack_text FROM hl7_message WHERE id = @id", new { id }, t);
                return new IngestOutcome(id, Enum.Parse<Hl7MessageState>(state), row.AckCode, row.AckText, Duplicate: true);
            }
            return await FinishAsync(c, t, id, message, Hl7MessageState.Rejected, AckCode.Error, clock.GetUtcNow(), code, text);
        }, cancellationToken);
        await ClearStagedFhirAsync(id, cancellationToken);
        return outcome;
    }

    /// <summary>Which order or observation segment a reading fault comes from, found by reading them one at a time.</summary>
    private string Locate(Hl7Message message)
    {
        for (var n = 1; n < message.Segments.Count; n++)
        {
            var segment = message.Segments[n];
            if (segment.Id is not ("OBR" or "OBX" or "ORC")) continue;
            try
            {
                OruObservations.Read(new Hl7Message(message.Encoding, [message.Segments[0], segment]), _options.Region);
            }
            catch (Exception)
            {
                return $" i segment {n + 1} ({segment.Id})";
            }
        }
        return "";
    }

    /// <summary>Stores bytes that cannot be taken as a message as Rejected, with an AR naming the problem.</summary>
    private async Task<IngestOutcome> RejectUnreadableAsync(string text, long bytes, SalvagedHeader salvaged, string errorCode, string problem,
        CancellationToken cancellationToken, Hl7Message? parsed = null)
    {
        var id = Guid.CreateVersion7();
        var now = clock.GetUtcNow();
        // The problem quotes what was sent: a quote that cut a character pair in half must still be stored and answered.
        problem = UnicodeText.WellFormed(problem);
        var ack = UnicodeText.WellFormed(Hl7Writer.Write(parsed is null
            ? Hl7Ack.CreateForUnreadable(salvaged.ControlId, AckCode.Reject, now, AckControlId(), errorCode, problem, salvaged)
            : Hl7Ack.Create(parsed, AckCode.Reject, now, AckControlId(), errorCode, problem)));
        await database.InUnscopedTransactionAsync(async (c, t) =>
        {
            await c.ExecuteAsync(
                """
                INSERT INTO hl7_message (id, direction, control_id, sending_application, sending_facility, message_type, received_at,
                    byte_count, raw_text, state, state_changed_at, ack_code, ack_text)
                VALUES (@id, @Inbound, NULL, @application, @facility, @type, @now, @bytes, @text, @state, @now, @code, @ack)
                """,
                new { id, Inbound, application = parsed?.SendingApplication ?? salvaged.SendingApplication, facility = parsed?.SendingFacility ?? salvaged.SendingFacility,
                    type = parsed?.MessageType ?? "", now, bytes, text, state = nameof(Hl7MessageState.Rejected), code = AckCode.Reject, ack }, t);
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
}
