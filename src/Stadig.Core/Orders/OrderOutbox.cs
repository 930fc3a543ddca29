using System.Net.Sockets;
using Dapper;
using Stadig.Fhir.Records;
using Stadig.Hl7;
using Stadig.Hl7.Mllp;
using Stadig.Storage;

namespace Stadig.Orders;

public sealed record DeliveryReport(int Acknowledged, int Failed, int Rejected);

/// <summary>
/// Delivers queued outbound messages (orders) to the lab over MLLP, oldest first. Each attempt is
/// recorded: AA → Acknowledged; AR → Failed for good (the lab refuses the message: a person must
/// look); AE or no answer → Failed and tried again after a back-off that grows with each attempt.
/// A message never leaves the outbox without a terminal state.
/// </summary>
public sealed class OrderOutbox(Database database, TimeProvider clock)
{
    public const int MaxAttempts = 10;

    public async Task<DeliveryReport> DeliverDueAsync(string host, int port, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var now = clock.GetUtcNow();
        List<(Guid Id, string Raw, int Attempts)> due;
        await using (var c = await database.OpenUnscopedAsync(cancellationToken))
            due = (await c.QueryAsync<(Guid, string, int)>(
                """
                SELECT id, raw_text, attempts FROM hl7_message
                WHERE direction = 'Outbound' AND attempts < @MaxAttempts
                  AND ((state IN ('Queued', 'Failed') AND (next_attempt_at IS NULL OR next_attempt_at <= @now))
                       -- Sent with no answer recorded: the sender stopped mid-delivery; send again (the lab's MSH-10 check makes it harmless).
                       OR (state = 'Sent' AND state_changed_at < @stale))
                ORDER BY received_at LIMIT 100
                """, new { MaxAttempts, now, stale = now - TimeSpan.FromMinutes(5) })).ToList();

        int acknowledged = 0, failed = 0, rejected = 0;
        foreach (var (id, raw, attempts) in due)
        {
            // Marked Sent before the bytes go out, so a delivery cut short is visible, never silent.
            await SetStateAsync(id, "Sent", clock.GetUtcNow(), null, cancellationToken);
            string? ack = null;
            string? problem = null;
            try
            {
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                deadline.CancelAfter(timeout);
                await using var client = await MllpClient.ConnectAsync(host, port, deadline.Token);
                ack = await client.SendAsync(raw, deadline.Token);
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or TimeoutException)
            {
                problem = $"Labbet svarar inte ({e.GetType().Name}).";
            }

            var code = ack is not null && Hl7Parser.TryParse(ack, out var parsed, out _) ? parsed!.Get("MSA-1") : null;
            var (state, orderStatus, reason, retry) = code switch
            {
                AckCode.Accept => ("Acknowledged", OrderStatus.Acknowledged, (string?)null, false),
                AckCode.Reject => ("Failed", OrderStatus.Failed, $"Labbet avvisade meddelandet (AR): {Text(ack)}", false),
                AckCode.Error => ("Failed", OrderStatus.Failed, $"Labbet kunde inte ta emot meddelandet (AE): {Text(ack)}", true),
                _ => ("Failed", OrderStatus.Failed, problem ?? "Labbets svar gick inte att läsa.", true),
            };
            var at = clock.GetUtcNow();
            var next = retry ? at + TimeSpan.FromMinutes(Math.Min(60, 1 << Math.Min(attempts, 6))) : (DateTimeOffset?)null;
            await database.InUnscopedTransactionAsync(async (c, t) =>
            {
                await c.ExecuteAsync(
                    """
                    UPDATE hl7_message SET state = @state, state_changed_at = @at, attempts = @attempts, next_attempt_at = @next,
                        ack_code = @code, ack_text = @ack WHERE id = @id
                    """, new { state, at, attempts = retry ? attempts + 1 : MaxAttempts, next, code, ack, id }, t);
                await AddStateAsync(c, t, id, state, at, reason);
                await c.ExecuteAsync("UPDATE lab_order SET status = @orderStatus WHERE message_id = @id AND status <> 'Resulted'", new { orderStatus, id }, t);
                await LabOrderAsFhir.PublishByMessageAsync(c, t, id, at);
                return 0;
            }, cancellationToken);
            if (state == "Acknowledged") acknowledged++;
            else if (retry) failed++;
            else rejected++;
        }
        return new DeliveryReport(acknowledged, failed, rejected);
    }

    private Task SetStateAsync(Guid id, string state, DateTimeOffset at, string? reason, CancellationToken cancellationToken) =>
        database.InUnscopedTransactionAsync(async (c, t) =>
        {
            await c.ExecuteAsync("UPDATE hl7_message SET state = @state, state_changed_at = @at WHERE id = @id", new { state, at, id }, t);
            await AddStateAsync(c, t, id, state, at, reason);
            return 0;
        }, cancellationToken);

    private static async Task AddStateAsync(System.Data.Common.DbConnection c, System.Data.Common.DbTransaction t, Guid id, string state, DateTimeOffset at, string? reason)
    {
        var seq = await c.ExecuteScalarAsync<long>("SELECT COALESCE(MAX(seq), 0) + 1 FROM hl7_message_state WHERE message_id = @id", new { id }, t);
        await c.ExecuteAsync("INSERT INTO hl7_message_state (message_id, seq, state, at, reason) VALUES (@id, @seq, @state, @at, @reason)",
            new { id, seq, state, at, reason }, t);
    }

    private static string Text(string? ack) =>
        ack is not null && Hl7Parser.TryParse(ack, out var parsed, out _) ? parsed!.Get("ERR-8") is { Length: > 0 } text ? text : parsed.Get("MSA-3") : "";
}
