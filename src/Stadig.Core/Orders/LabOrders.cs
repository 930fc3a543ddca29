using System.Globalization;
using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Fhir.Records;
using Stadig.Hl7;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Orders;

public static class OrderStatus
{
    public const string Queued = "Queued";
    public const string Acknowledged = "Acknowledged";
    public const string Failed = "Failed";
    public const string Resulted = "Resulted";
}

public sealed record LabOrder
{
    public Guid Id { get; init; }
    public Guid PatientId { get; init; }
    public string PlacerOrderNumber { get; init; } = "";
    public string Status { get; init; } = "";
    public DateTimeOffset OrderedAt { get; init; }
    public Guid? MessageId { get; init; }
    public string? MessageState { get; init; }
    public IReadOnlyList<Analysis> Analyses { get; init; } = [];
}

/// <summary>
/// Lab orders (remisser): a clinician orders analyses from the catalogue; the order, its items and
/// the ORM^O01 that carries it to the lab are stored in one transaction (the outbox), so an order is
/// never lost between Stadig and the lab. <see cref="OrderOutbox"/> delivers it.
/// </summary>
public sealed class LabOrders(PatientCheckpoint checkpoint, TimeProvider clock)
{
    /// <summary>Placer order numbers Stadig issues start with this, so results can be tied back to them.</summary>
    public const string PlacerPrefix = "ST";
    public const string Facility = "REGION";

    public static bool MayOrder(Role role) => role is Role.Physician or Role.Nurse;

    public async Task<LabOrder> PlaceAsync(Caller caller, Guid patientId, IReadOnlyList<string> analysisCodes, string? clientRequestId = null, CancellationToken cancellationToken = default)
    {
        if (!MayOrder(caller.Role)) throw new ForbiddenException("Din roll får inte beställa prover.");
        if (analysisCodes.Count == 0) throw new InvalidInputException("analyses", "Välj minst en analys.");
        var analyses = analysisCodes.Distinct().Select(code => AnalysisCatalogue.Find(code)
            ?? throw new InvalidInputException("analyses", $"Analysen \"{code}\" finns inte i katalogen.")).ToList();
        var id = Guid.CreateVersion7();
        var placer = PlacerPrefix + id.ToString("N")[..16].ToUpperInvariant();
        var orderId = await checkpoint.WriteAsync(caller, patientId, "LabOrder", AuditActivity.Write, async (c, t, _) =>
        {
            var now = clock.GetUtcNow();
            var inserted = await c.ExecuteAsync(
                """
                INSERT INTO lab_order (id, patient_id, unit_id, placer_order_number, ordered_by, ordered_at, status, client_request_id)
                VALUES (@id, @patientId, @unitId, @placer, @staffId, @now, 'Queued', @clientRequestId)
                ON CONFLICT (client_request_id) DO NOTHING
                """, new { id, patientId, unitId = caller.UnitId, placer, staffId = caller.StaffId, now, clientRequestId }, t);
            if (inserted == 0)
                return await c.QuerySingleAsync<Guid>("SELECT id FROM lab_order WHERE client_request_id = @clientRequestId", new { clientRequestId }, t);
            for (var i = 0; i < analyses.Count; i++)
                await c.ExecuteAsync(
                    "INSERT INTO lab_order_item (order_id, patient_id, position, analysis_code, analysis_name, specimen) VALUES (@id, @patientId, @i, @Code, @Name, @Specimen)",
                    new { id, patientId, i, analyses[i].Code, analyses[i].Name, analyses[i].Specimen }, t);
            var patient = await c.QuerySingleAsync<(string Identifier, string Family, string Given, DateOnly? Born, string Sex)>(
                "SELECT identifier, family_name, given_names, birth_date, sex FROM patient WHERE id = @patientId", new { patientId }, t);
            var text = Orm(placer, now, patient, caller, analyses);
            var messageId = Guid.CreateVersion7();
            await c.ExecuteAsync(
                """
                INSERT INTO hl7_message (id, direction, control_id, sending_application, sending_facility, message_type, received_at, byte_count,
                    raw_text, state, state_changed_at, patient_id, attempts)
                VALUES (@messageId, 'Outbound', @placer, 'STADIG', @Facility, 'ORM^O01', @now, @bytes, @text, 'Queued', @now, @patientId, 0)
                """, new { messageId, placer, Facility, now, bytes = System.Text.Encoding.UTF8.GetByteCount(text), text, patientId }, t);
            await c.ExecuteAsync("INSERT INTO hl7_message_state (message_id, seq, state, at, reason) VALUES (@messageId, 1, 'Queued', @now, NULL)",
                new { messageId, now }, t);
            await c.ExecuteAsync("UPDATE lab_order SET message_id = @messageId WHERE id = @id", new { messageId, id }, t);
            await LabOrderAsFhir.PublishAsync(c, t, id, now);
            return id;
        }, cancellationToken);
        return (await ListAsync(caller, patientId, cancellationToken)).Single(o => o.Id == orderId);
    }

    public async Task<IReadOnlyList<LabOrder>> ListAsync(Caller caller, Guid patientId, CancellationToken cancellationToken = default)
    {
        var grant = await checkpoint.ReadAsync(caller, patientId, "LabOrder", cancellationToken);
        await using var c = await grant.OpenAsync(cancellationToken);
        return await ListInAsync(grant, c);
    }

    /// <summary>The orders page: the patient, the orders and the banner's attention signals, under one grant and audit event.</summary>
    public async Task<(Patients.Patient Patient, IReadOnlyList<LabOrder> Orders, IReadOnlyList<Chart.RecordEntry> Signals)> PageAsync(Caller caller, Guid patientId,
        CancellationToken cancellationToken = default)
    {
        var grant = await checkpoint.ReadAsync(caller, patientId, "LabOrder", cancellationToken);
        await using var c = await grant.OpenAsync(cancellationToken);
        var patient = await Patients.PatientRegistry.FindInAsync(grant, c, null) ?? throw new NotFoundException("Patienten finns inte.");
        return (patient, await ListInAsync(grant, c), await Chart.PatientRecord.SignalsAsync(c, Fhir.Search.FhirSqlValues.EngineOf(c), grant.Context));
    }

    private static async Task<IReadOnlyList<LabOrder>> ListInAsync(PatientAccessGrant grant, System.Data.Common.DbConnection c)
    {
        var orders = (await c.QueryAsync<LabOrder>(
            """
            SELECT o.id AS Id, o.patient_id AS PatientId, o.placer_order_number AS PlacerOrderNumber, o.status AS Status,
                   o.ordered_at AS OrderedAt, o.message_id AS MessageId, m.state AS MessageState
            FROM lab_order o LEFT JOIN hl7_message m ON m.id = o.message_id
            WHERE o.patient_id = @patientId ORDER BY o.ordered_at DESC
            """, new { patientId = grant.PatientId })).ToList();
        // An item ordered under an older catalogue keeps the name and specimen it was ordered with.
        var items = (await c.QueryAsync<(Guid OrderId, string Code, string Name, string Specimen)>(
            "SELECT order_id, analysis_code, analysis_name, specimen FROM lab_order_item WHERE patient_id = @patientId ORDER BY position",
            new { patientId = grant.PatientId }))
            .ToLookup(i => i.OrderId, i => AnalysisCatalogue.Find(i.Code) is { } known && known.Code == i.Code
                ? known : new Analysis(i.Code, i.Name, i.Specimen, "", 0, []));
        return orders.Select(o => o with { Analyses = items[o.Id].ToList() }).ToList();
    }

    /// <summary>ORM^O01: MSH, PID (identity as the registry has it), ORC (new order), one OBR per analysis.</summary>
    internal static string Orm(string placer, DateTimeOffset now, (string Identifier, string Family, string Given, DateOnly? Born, string Sex) patient,
        Caller caller, IReadOnlyList<Analysis> analyses)
    {
        string E(string value) => Hl7Writer.Escape(value, Hl7Encoding.Default);
        var time = now.UtcDateTime.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture) + "+0000";
        var kind = patient.Identifier.StartsWith("99", StringComparison.Ordinal) ? "RN" : "PN";
        var sex = patient.Sex switch { "Female" => "F", "Male" => "M", _ => "U" };
        var lines = new List<string>
        {
            $"MSH|^~\\&|STADIG|{Facility}|LAB|LAB|{time}||ORM^O01^ORM_O01|{placer}|P|2.5|||AL|NE|SWE|UNICODE UTF-8",
            $"PID|1||{E(patient.Identifier)}^^^^{kind}||{E(patient.Family)}^{E(patient.Given)}||{patient.Born:yyyyMMdd}|{sex}",
            $"ORC|NW|{placer}|||||||{time}|||{E(caller.HsaId)}^{E(caller.DisplayName)}|||||{E(caller.UnitHsaId)}",
        };
        for (var i = 0; i < analyses.Count; i++)
            lines.Add($"OBR|{i + 1}|{placer}||{E(analyses[i].Code)}^{E(analyses[i].Name)}^NPU|||{time}|||||||||{E(caller.HsaId)}^{E(caller.DisplayName)}");
        return string.Join('\r', lines) + "\r";
    }
}
