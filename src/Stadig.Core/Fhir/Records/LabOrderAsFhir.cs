using System.Data.Common;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Orders;

namespace Stadig.Fhir.Records;

/// <summary>
/// A lab order (remiss) as a FHIR <c>ServiceRequest</c>, id = the order's Guid, identifier = Stadig's
/// placer order number (type PLAC). Status follows the order: Queued, Acknowledged and Failed (the
/// outbox still tries) are <c>active</c>, Resulted is <c>completed</c>, and an order the lab refused
/// for good (Failed, no attempts left) is <c>revoked</c>; Stadig's own order state is carried in an
/// extension so every state change is a new version. One order may hold several analyses while
/// ServiceRequest.code holds one concept: a single analysis is the code; several are named in
/// code.text and listed one by one in orderDetail (NPU codes from the catalogue).
/// </summary>
public static class LabOrderAsFhir
{
    public const string PlacerSystem = "https://stadig.se/fhir/NamingSystem/placer-order-number";
    public const string OrderStateExtension = "https://stadig.se/fhir/StructureDefinition/lab-order-state";
    public const string NpuSystem = "urn:oid:1.2.208.176.2.1";

    public sealed class Row
    {
        public Guid Id { get; init; }
        public Guid PatientId { get; init; }
        public Guid UnitId { get; init; }
        public string PlacerOrderNumber { get; init; } = "";
        public Guid OrderedBy { get; init; }
        public string OrdererHsaId { get; init; } = "";
        public string OrdererName { get; init; } = "";
        public DateTimeOffset OrderedAt { get; init; }
        public string Status { get; init; } = "";
        public int? Attempts { get; init; }
    }

    public sealed class Item
    {
        public Guid OrderId { get; init; }
        public string AnalysisCode { get; init; } = "";
        public string AnalysisName { get; init; } = "";
    }

    private const string Select =
        """
        SELECT o.id AS Id, o.patient_id AS PatientId, o.unit_id AS UnitId, o.placer_order_number AS PlacerOrderNumber, o.ordered_by AS OrderedBy,
               s.hsa_id AS OrdererHsaId, s.display_name AS OrdererName, o.ordered_at AS OrderedAt, o.status AS Status, m.attempts AS Attempts
        FROM lab_order o JOIN staff s ON s.id = o.ordered_by LEFT JOIN hl7_message m ON m.id = o.message_id
        """;

    public static string Status(Row order) => order.Status switch
    {
        OrderStatus.Resulted => "completed",
        OrderStatus.Failed when order.Attempts >= OrderOutbox.MaxAttempts => "revoked",
        _ => "active",
    };

    public static JsonObject ServiceRequest(Row order, IReadOnlyList<Item> items, string patientReference, JsonObject requester)
    {
        var resource = new JsonObject
        {
            ["resourceType"] = "ServiceRequest",
            ["extension"] = new JsonArray(new JsonObject { ["url"] = OrderStateExtension, ["valueCode"] = order.Status }),
            ["identifier"] = new JsonArray(Placer(order.PlacerOrderNumber)),
            ["requisition"] = Placer(order.PlacerOrderNumber),
            ["status"] = Status(order),
            ["intent"] = "order",
            ["category"] = new JsonArray(new JsonObject
            {
                ["coding"] = new JsonArray(new JsonObject { ["system"] = "http://snomed.info/sct", ["code"] = "108252007", ["display"] = "Laboratory procedure" }),
            }),
        };
        JsonObject Coding(Item item) => new() { ["system"] = NpuSystem, ["code"] = item.AnalysisCode, ["display"] = item.AnalysisName };
        if (items.Count == 1)
        {
            resource["code"] = new JsonObject { ["coding"] = new JsonArray(Coding(items[0])), ["text"] = items[0].AnalysisName };
        }
        else if (items.Count > 1)
        {
            resource["code"] = new JsonObject { ["text"] = string.Join(", ", items.Select(i => i.AnalysisName)) };
            resource["orderDetail"] = new JsonArray(items.Select(i => (JsonNode)new JsonObject { ["coding"] = new JsonArray(Coding(i)), ["text"] = i.AnalysisName }).ToArray());
        }
        resource["subject"] = new JsonObject { ["reference"] = patientReference };
        resource["authoredOn"] = FhirJson.Instant(order.OrderedAt);
        resource["requester"] = requester;
        return resource;
    }

    /// <summary>Publishes the order with <paramref name="orderId"/> as it now stands, on the transaction that changed it.</summary>
    public static async Task PublishAsync(DbConnection connection, DbTransaction transaction, Guid orderId, DateTimeOffset now)
    {
        var order = await connection.QuerySingleAsync<Row>(Select + " WHERE o.id = @orderId", new { orderId }, transaction);
        await PublishAsync(connection, transaction, order, now);
    }

    /// <summary>Publishes the order(s) an outbound message carries (after the outbox recorded the lab's answer).</summary>
    public static async Task PublishByMessageAsync(DbConnection connection, DbTransaction transaction, Guid messageId, DateTimeOffset now)
    {
        foreach (var order in await connection.QueryAsync<Row>(Select + " WHERE o.message_id = @messageId", new { messageId }, transaction))
            await PublishAsync(connection, transaction, order, now);
    }

    /// <summary>
    /// Backfill: publishes up to <paramref name="batchSize"/> orders after the cursor (keyset on the
    /// order id; idempotent). Returns the orders read and the next cursor (null when done).
    /// </summary>
    public static async Task<(int Rows, Guid? Next)> BackfillBatchAsync(DbConnection connection, DbTransaction transaction, Guid? after, int batchSize, DateTimeOffset now)
    {
        var orders = (await connection.QueryAsync<Row>(Select + " WHERE o.id > @after ORDER BY o.id LIMIT @batchSize",
            new { after = after ?? Guid.Empty, batchSize }, transaction)).AsList();
        foreach (var order in orders) await PublishAsync(connection, transaction, order, now);
        return (orders.Count, orders.Count < batchSize ? null : orders[^1].Id);
    }

    private static async Task PublishAsync(DbConnection connection, DbTransaction transaction, Row order, DateTimeOffset now)
    {
        var items = (await connection.QueryAsync<Item>(
            "SELECT order_id AS OrderId, analysis_code AS AnalysisCode, analysis_name AS AnalysisName FROM lab_order_item WHERE order_id = @Id ORDER BY position",
            new { order.Id }, transaction)).AsList();
        var patient = await FhirRecordPublisher.PatientReferenceAsync(connection, transaction, order.PatientId);
        var requester = await DirectoryAsFhir.ReferenceIfPublishedAsync(connection, transaction, "Practitioner", order.OrderedBy, order.OrdererHsaId, order.OrdererName);
        await FhirRecordPublisher.PublishAsync(connection, transaction, ServiceRequest(order, items, patient, requester), order.Id.ToString(),
            order.PatientId, order.UnitId, now);
    }

    private static JsonObject Placer(string placer) => new()
    {
        ["type"] = new JsonObject
        {
            ["coding"] = new JsonArray(new JsonObject { ["system"] = "http://terminology.hl7.org/CodeSystem/v2-0203", ["code"] = "PLAC", ["display"] = "Placer Identifier" }),
        },
        ["system"] = PlacerSystem,
        ["value"] = placer,
    };
}
