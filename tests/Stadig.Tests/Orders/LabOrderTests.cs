using System.Net;
using Dapper;
using Stadig.Common;
using Stadig.Hl7;
using Stadig.Hl7.Mllp;
using Stadig.LabResults;
using Stadig.Orders;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Patients.Identifiers;
using Stadig.Storage;

namespace Stadig.Tests.Orders;

public class LabOrderTests
{
    /// <summary>A stand-in lab on loopback that answers every message with the given ACK code and keeps what it got.</summary>
    private sealed class FakeLab(string code) : IHl7MessageHandler
    {
        public List<string> Received { get; } = [];

        public Task<string> HandleAsync(ReceivedHl7Message message, CancellationToken cancellationToken)
        {
            lock (Received) Received.Add(message.Text);
            var parsed = Hl7Parser.Parse(message.Text);
            return Task.FromResult(Hl7Writer.Write(Hl7Ack.Create(parsed, code, DateTimeOffset.UtcNow, "LAB1", code == "AA" ? null : "207", code == "AA" ? null : "Okänd analys")));
        }
    }

    private static async Task<(TestRegion Region, Guid PatientId, string Number)> PatientAsync(DatabaseEngine engine, FixedClock? clock = null)
    {
        var region = await TestRegion.CreateAsync(engine, clock);
        var number = TestNumbers.Personnummer(1950, 3, 14);
        var id = (await region.Patients.RegisterAsync(region.Physician, number, new PatientDetails("Öberg", "Lina"))).PatientId;
        return (region, id, number);
    }

    private static async Task<T> OneAsync<T>(TestRegion region, string sql, object parameters)
    {
        await using var c = await region.Database.OpenUnscopedAsync();
        return await c.QuerySingleAsync<T>(sql, parameters);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_order_is_stored_with_its_ORM_in_the_outbox_and_delivered_to_the_lab_until_acknowledged(DatabaseEngine engine)
    {
        var (region, patientId, number) = await PatientAsync(engine);
        var order = await region.Services.Orders.PlaceAsync(region.Physician, patientId, ["NPU03230", "NPU03429"]);
        Assert.StartsWith(LabOrders.PlacerPrefix, order.PlacerOrderNumber);
        Assert.Equal("Queued", order.MessageState);
        Assert.Equal(["P-Kalium", "P-Natrium"], order.Analyses.Select(a => a.Name));

        var lab = new FakeLab("AA");
        await using var listener = new MllpListener(lab, new MllpOptions { Port = 0, Address = IPAddress.Loopback });
        listener.Start();
        var report = await region.Services.Outbox.DeliverDueAsync("127.0.0.1", listener.Port, TimeSpan.FromSeconds(30));

        Assert.Equal(1, report.Acknowledged);
        var orm = Hl7Parser.Parse(Assert.Single(lab.Received));
        Assert.Equal("ORM^O01", orm.MessageType);
        Assert.Equal("UNICODE UTF-8", orm.Get("MSH-18")); // the set its bytes are in, so the lab reads "Öberg" as Öberg
        Assert.Equal(number.Replace("-", ""), orm.Get("PID-3.1"));
        Assert.Equal("Öberg", orm.Get("PID-5.1"));
        Assert.Equal(order.PlacerOrderNumber, orm.Get("ORC-2"));
        Assert.Equal(2, orm.All("OBR").Count());
        Assert.Equal("Acknowledged", (await region.Services.Orders.ListAsync(region.Physician, patientId)).Single().MessageState);
        // Delivered once: nothing is due any more.
        Assert.Equal(new DeliveryReport(0, 0, 0), await region.Services.Outbox.DeliverDueAsync("127.0.0.1", listener.Port, TimeSpan.FromSeconds(30)));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_lab_that_does_not_answer_leaves_the_order_failed_with_a_retry_and_a_rejecting_lab_fails_it_for_good(DatabaseEngine engine)
    {
        var clock = new FixedClock(new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero));
        var (region, patientId, _) = await PatientAsync(engine, clock);
        var order = await region.Services.Orders.PlaceAsync(region.Physician, patientId, ["NPU19748"]);

        // Nothing listens on this port.
        using var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var deadPort = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Assert.Equal(1, (await region.Services.Outbox.DeliverDueAsync("127.0.0.1", deadPort, TimeSpan.FromSeconds(10))).Failed);
        Assert.Equal(1, await OneAsync<int>(region, "SELECT attempts FROM hl7_message WHERE id = @id", new { id = order.MessageId }));
        // Not due again before its back-off.
        Assert.Equal(new DeliveryReport(0, 0, 0), await region.Services.Outbox.DeliverDueAsync("127.0.0.1", deadPort, TimeSpan.FromSeconds(10)));

        clock.Advance(TimeSpan.FromMinutes(5));
        var rejecting = new FakeLab("AR");
        await using var listener = new MllpListener(rejecting, new MllpOptions { Port = 0, Address = IPAddress.Loopback });
        listener.Start();
        Assert.Equal(1, (await region.Services.Outbox.DeliverDueAsync("127.0.0.1", listener.Port, TimeSpan.FromSeconds(30))).Rejected);
        Assert.Equal("Failed", await OneAsync<string>(region, "SELECT state FROM hl7_message WHERE id = @id", new { id = order.MessageId }));
        // Queued, Sent, Failed (no answer), Sent, Failed (refused): every step in the history.
        Assert.Equal(5, await OneAsync<long>(region, "SELECT COUNT(*) FROM hl7_message_state WHERE message_id = @id", new { id = order.MessageId }));
        clock.Advance(TimeSpan.FromDays(1));
        Assert.Equal(new DeliveryReport(0, 0, 0), await region.Services.Outbox.DeliverDueAsync("127.0.0.1", listener.Port, TimeSpan.FromSeconds(30)));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_result_is_tied_to_its_order_and_an_unknown_or_foreign_order_number_waits_in_quarantine(DatabaseEngine engine)
    {
        var (region, patientId, number) = await PatientAsync(engine);
        var other = TestNumbers.Personnummer(1961, 4, 2, 983);
        var otherId = (await region.Patients.RegisterAsync(region.Physician, other, new PatientDetails("Holm", "Per"))).PatientId;
        var order = await region.Services.Orders.PlaceAsync(region.Physician, patientId, ["NPU03230"]);
        var otherOrder = await region.Services.Orders.PlaceAsync(region.Physician, otherId, ["NPU03230"]);
        var labUnit = await region.Staff.AddUnitAsync(region.Ward.ProviderId, "SE2321000016-0099", "Klinisk kemi", UnitKind.Lab);
        var ingest = new IngestOruMessage(region.Database, region.Audit, new PatientMatcher(new PatientIdentifierRules(TimeProvider.System)),
            await LabIntegration.CallerAsync(region.Staff, labUnit), TimeProvider.System);
        string Oru(string control, string placer) =>
            $"MSH|^~\\&|LAB|LAB|STADIG|REGION|20261123||ORU^R01|{control}|P|2.5\rPID|1||{number.Replace("-", "")}^^^^PN||Öberg^Lina\r" +
            $"OBR|1|{placer}|F{control}|NPU03230^P-Kalium^NPU\rOBX|1|NM|NPU03230^P-Kalium^NPU||4.1|mmol/L|3.5-4.4|N|||F\r";

        Assert.Equal(Hl7MessageState.Filed, (await ingest.IngestAsync(Oru("O1", order.PlacerOrderNumber))).State);
        Assert.Equal("Resulted", (await region.Services.Orders.ListAsync(region.Physician, patientId)).Single().Status);
        Assert.Equal(Hl7MessageState.Quarantined, (await ingest.IngestAsync(Oru("O2", "ST0000000000000000"))).State);
        Assert.Equal(Hl7MessageState.Quarantined, (await ingest.IngestAsync(Oru("O3", otherOrder.PlacerOrderNumber))).State);
        // Another system's order number is not Stadig's to check.
        Assert.Equal(Hl7MessageState.Filed, (await ingest.IngestAsync(Oru("O4", "X12345"))).State);

        await using var c = await region.Database.OpenUnscopedAsync();
        var reasons = (await c.QueryAsync<string>("SELECT reason_code FROM result_quarantine ORDER BY created_at")).ToList();
        Assert.Equal([nameof(QuarantineReason.UnknownOrder), nameof(QuarantineReason.OrderPatientMismatch)], reasons);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Bad_orders_are_refused_and_a_retried_order_is_placed_once(DatabaseEngine engine)
    {
        var (region, patientId, _) = await PatientAsync(engine);
        await Assert.ThrowsAsync<InvalidInputException>(() => region.Services.Orders.PlaceAsync(region.Physician, patientId, []));
        await Assert.ThrowsAsync<InvalidInputException>(() => region.Services.Orders.PlaceAsync(region.Physician, patientId, ["NPU99999"]));
        var secretary = await region.AddCallerAsync("sekr", Role.MedicalSecretary, region.Ward);
        await Assert.ThrowsAsync<ForbiddenException>(() => region.Services.Orders.PlaceAsync(secretary, patientId, ["NPU03230"]));
        var stranger = await region.AddCallerAsync("annan", Role.Physician, region.Clinic);
        await Assert.ThrowsAsync<ForbiddenException>(() => region.Services.Orders.PlaceAsync(stranger, patientId, ["NPU03230"]));

        var first = await region.Services.Orders.PlaceAsync(region.Physician, patientId, ["NPU03230"], clientRequestId: "ord-1");
        var retry = await region.Services.Orders.PlaceAsync(region.Physician, patientId, ["NPU03230"], clientRequestId: "ord-1");
        Assert.Equal(first.Id, retry.Id);
        Assert.Single(await region.Services.Orders.ListAsync(region.Physician, patientId));
        Assert.Equal(1, await OneAsync<long>(region, "SELECT COUNT(*) FROM hl7_message WHERE direction = 'Outbound' AND patient_id = @patientId", new { patientId }));
    }
}
