using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Hl7;
using Stadig.Organisation;
using Stadig.Patients.Identifiers;
using Stadig.Storage;

namespace Stadig.LabResults;

/// <summary>A result the lab sent that could not be bound to exactly one patient, as lab staff see it.</summary>
public sealed record QuarantinedResult(
    Guid Id, Guid MessageId, string ReasonCode, string ReasonText, DateTimeOffset CreatedAt, string ControlId, string SendingFacility,
    string Identifiers, string Name, string BirthDate, string Services);

/// <summary>
/// The quarantine worklist: lab staff check each result that did not match a patient, then file it
/// to the right patient or reject it. Both are logged with who, when and why; nothing leaves the
/// list without a decision.
/// </summary>
public sealed class ResultQuarantine(Database database, AuditLog audit, PatientIdentifierRules identifiers, TimeProvider clock, RegionTime? zone = null)
{
    public static bool MayResolve(Role role) => role == Role.LabStaff;

    public async Task<IReadOnlyList<QuarantinedResult>> ListOpenAsync(Caller caller, CancellationToken cancellationToken = default)
    {
        RequireLabStaff(caller);
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        var rows = await connection.QueryAsync<(Guid Id, Guid MessageId, int Group, string ReasonCode, string ReasonText, DateTimeOffset CreatedAt, string ControlId, string Facility, string Raw)>(
            """
            SELECT q.id, q.message_id, q.patient_group, q.reason_code, q.reason_text, q.created_at, m.control_id, m.sending_facility, m.raw_text
            FROM result_quarantine q JOIN hl7_message m ON m.id = q.message_id
            WHERE q.state = 'Open' ORDER BY q.created_at LIMIT 500
            """);
        var list = rows.Select(r =>
        {
            var message = GroupOf(r.Raw, r.Group);
            var services = string.Join(", ", message.All("OBR").Select(o => o[4][1][2][1]).Where(v => v.Length > 0).Distinct());
            return new QuarantinedResult(r.Id, r.MessageId, r.ReasonCode, r.ReasonText, r.CreatedAt, r.ControlId, r.Facility,
                message.Get("PID-3"), $"{message.Get("PID-5.1")}, {message.Get("PID-5.2")}", message.Get("PID-7"), services);
        }).ToList();
        // The list shows patient identity from the messages: audited like a registry read.
        await audit.AppendAsync(new AuditEntry(caller, null, AuditActivity.Read, "ResultQuarantine", Detail: $"{list.Count} i karantän"), cancellationToken);
        return list;
    }

    /// <summary>Files a quarantined result to the patient with <paramref name="identifierInput"/>, after a person checked it.</summary>
    public async Task FileToPatientAsync(Caller caller, Guid quarantineId, string identifierInput, string reason, CancellationToken cancellationToken = default)
    {
        RequireLabStaff(caller);
        var why = Required(reason, "reason", "Ange hur identiteten kontrollerades.");
        var identifier = identifiers.Parse(identifierInput);
        await database.InUnscopedTransactionAsync(async (c, t) =>
        {
            var patient = await c.QuerySingleOrDefaultAsync<(Guid Id, Guid? MergedInto)?>(
                "SELECT id, merged_into_id FROM patient WHERE identifier = @Value", new { identifier.Value }, t)
                ?? throw new InvalidInputException("identifier", "Ingen patient har det numret.");
            var patientId = patient.MergedInto ?? patient.Id;
            var (messageId, raw, group) = await OpenItemAsync(c, t, quarantineId);
            var message = GroupOf(raw, group);
            var now = clock.GetUtcNow();
            var reports = OruObservations.Read(message, zone);
            await IngestOruMessage.FileAsync(c, t, messageId, reports, patientId, caller.UnitId, now,
                OruObservations.Timestamp(message.Get("MSH-7"), "MSH-7", zone));
            await c.ExecuteAsync(
                "UPDATE result_quarantine SET state = 'Filed', resolved_by = @staffId, resolved_at = @now, resolved_patient_id = @patientId WHERE id = @quarantineId",
                new { staffId = caller.StaffId, now, patientId, quarantineId }, t);
            await SettleMessageAsync(c, t, messageId, now, $"Från karantän av {caller.DisplayName}: {why}");
            await audit.AppendAsync(new AuditEntry(caller, patientId, AuditActivity.Write, "DiagnosticReport",
                Detail: $"Från karantän (HL7 {message.ControlId}): {why}"), c, t);
            return 0;
        }, cancellationToken);
    }

    /// <summary>Rejects a quarantined result (e.g. sent for the wrong patient; the lab is told outside Stadig). The message stays.</summary>
    public async Task RejectAsync(Caller caller, Guid quarantineId, string reason, CancellationToken cancellationToken = default)
    {
        RequireLabStaff(caller);
        var why = Required(reason, "reason", "Ange varför resultatet avvisas.");
        await database.InUnscopedTransactionAsync(async (c, t) =>
        {
            var (messageId, _, _) = await OpenItemAsync(c, t, quarantineId);
            var now = clock.GetUtcNow();
            await c.ExecuteAsync("UPDATE result_quarantine SET state = 'Rejected', resolved_by = @staffId, resolved_at = @now WHERE id = @quarantineId",
                new { staffId = caller.StaffId, now, quarantineId }, t);
            await SettleMessageAsync(c, t, messageId, now, $"Avvisat av {caller.DisplayName}: {why}");
            await audit.AppendAsync(new AuditEntry(caller, null, AuditActivity.Write, "ResultQuarantine", Detail: $"Avvisat: {why}"), c, t);
            return 0;
        }, cancellationToken);
    }

    private static async Task<(Guid MessageId, string Raw, int Group)> OpenItemAsync(System.Data.Common.DbConnection c, System.Data.Common.DbTransaction t, Guid quarantineId)
    {
        var item = await c.QuerySingleOrDefaultAsync<(Guid MessageId, string State, string Raw, int Group)?>(
            "SELECT q.message_id, q.state, m.raw_text, q.patient_group FROM result_quarantine q JOIN hl7_message m ON m.id = q.message_id WHERE q.id = @quarantineId",
            new { quarantineId }, t) ?? throw new NotFoundException("Posten finns inte i karantänen.");
        if (item.State != "Open") throw new ConflictException("Posten är redan hanterad.");
        return (item.MessageId, item.Raw, item.Group);
    }

    /// <summary>The patient group a quarantine item is about: its own PID and results, not the message's first.</summary>
    private static Hl7Message GroupOf(string raw, int group)
    {
        var message = Hl7Parser.Parse(raw);
        return OruGroups.Split(message).FirstOrDefault(g => g.Number == group)?.Message ?? message;
    }

    /// <summary>
    /// Once no group of the message waits in quarantine any more, the message is decided: Filed if any of
    /// it reached a chart (automatically or by lab staff), otherwise Rejected. Until then it stays Quarantined.
    /// </summary>
    private static async Task SettleMessageAsync(System.Data.Common.DbConnection c, System.Data.Common.DbTransaction t, Guid messageId, DateTimeOffset now, string reason)
    {
        var open = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM result_quarantine WHERE message_id = @messageId AND state = 'Open'", new { messageId }, t);
        if (open > 0) return;
        var patients = (await c.QueryAsync<Guid>("SELECT DISTINCT patient_id FROM diagnostic_report WHERE message_id = @messageId", new { messageId }, t)).ToList();
        var state = patients.Count > 0 ? Hl7MessageState.Filed : Hl7MessageState.Rejected;
        // The message names its patient only when all of it went to one.
        await c.ExecuteAsync("UPDATE hl7_message SET state = @state, state_changed_at = @now, patient_id = @patientId WHERE id = @messageId",
            new { state = state.ToString(), now, patientId = patients.Count == 1 ? patients[0] : (Guid?)null, messageId }, t);
        await IngestOruMessage.AddStateAsync(c, t, messageId, state, now, reason);
    }

    private static void RequireLabStaff(Caller caller)
    {
        if (!MayResolve(caller.Role)) throw new ForbiddenException("Bara laboratoriepersonal hanterar karantänen.");
    }

    private static string Required(string? value, string field, string message) =>
        string.IsNullOrWhiteSpace(value) ? throw new InvalidInputException(field, message) : value.Trim();
}
