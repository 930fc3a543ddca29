using System.Globalization;
using Stadig.Hl7.Mllp;

namespace Stadig.Rehearsal;

/// <summary>
/// The laboratory: ORU^R01 results over MLLP at a steady rate, for patients of the clinicians' units
/// (so they reach the result inbox), each message on one of a few connections that wait for the ACK
/// before sending the next, as labs do. A message whose ACK is not AA is an error with the ACK code.
/// <paramref name="rate"/> replaces the config's rate (the overload's added share); <paramref name="seed"/> the patients drawn.
/// </summary>
public sealed class LabFeed(string host, int port, RehearsalConfig config, IReadOnlyList<PoolPatient> patients, Recorder recorder, double? rate = null, int seed = 1000)
{
    public const string Action = "lab-oru";
    private readonly string _run = Guid.NewGuid().ToString("N")[..8];
    private int _sequence;

    /// <summary>Sends until <paramref name="stopping"/> (which also cuts off a message in flight) or <paramref name="offShift"/> (the message in flight finishes).</summary>
    public async Task RunAsync(CancellationToken stopping, CancellationToken offShift = default)
    {
        var perSecond = rate ?? config.LabMessagesPerSecond;
        var people = patients.Where(p => p.IdentifierKind == "Personnummer").ToList();
        if (perSecond <= 0 || people.Count == 0) return;
        var connections = Math.Max(1, config.Lab.Connections);
        // Each connection sends on its own schedule: together they make the configured rate.
        var interval = TimeSpan.FromSeconds(connections / perSecond);
        using var pauses = CancellationTokenSource.CreateLinkedTokenSource(stopping, offShift);
        await Task.WhenAll(Enumerable.Range(0, connections).Select(i => ConnectionAsync(interval, interval * i / connections, people, new Random(seed + i), stopping, pauses.Token)));
    }

    /// <summary>One message on its own connection (the warm-up before the measured run).</summary>
    public async Task WarmUpAsync(CancellationToken cancellationToken)
    {
        var people = patients.Where(p => p.IdentifierKind == "Personnummer").ToList();
        if (people.Count == 0) return;
        await recorder.MeasureAsync(Action, async () =>
        {
            await using var client = await MllpClient.ConnectAsync(host, port, cancellationToken);
            var ack = await client.SendAsync(Oru(people[0], Interlocked.Increment(ref _sequence), new Random(1)), cancellationToken);
            return AckCode(ack) == "AA" ? ActionResult<bool>.Ok(true) : ActionResult<bool>.Error("ACK " + AckCode(ack));
        }, cancellationToken);
    }

    private async Task ConnectionAsync(TimeSpan interval, TimeSpan offset, List<PoolPatient> people, Random random, CancellationToken stopping, CancellationToken pauses)
    {
        MllpClient? client = null;
        var next = recorder.Elapsed + offset.TotalSeconds;
        try
        {
            while (!pauses.IsCancellationRequested)
            {
                var wait = next - recorder.Elapsed;
                if (wait > 0) await Task.Delay(TimeSpan.FromSeconds(wait), pauses);
                next += interval.TotalSeconds;
                var message = Oru(people[random.Next(people.Count)], Interlocked.Increment(ref _sequence), random);
                var sent = DateTimeOffset.UtcNow;
                var result = await recorder.MeasureAsync(Action, async () =>
                {
                    client ??= await MllpClient.ConnectAsync(host, port, stopping);
                    try
                    {
                        var ack = await client.SendAsync(message, stopping);
                        var code = AckCode(ack);
                        return code == "AA" ? ActionResult<bool>.Ok(true) : ActionResult<bool>.Error("ACK " + code);
                    }
                    catch (IOException)
                    {
                        await client.DisposeAsync();
                        client = null; // the next message opens a new connection, as a lab's engine would
                        throw;
                    }
                }, stopping);
                if (result.WasCancelled) return;
                if (result.IsOk) AcknowledgedWrites.Add("lab", message.Split('\r')[0].Split('|')[9], sent);
            }
        }
        catch (OperationCanceledException) when (pauses.IsCancellationRequested)
        {
        }
        finally
        {
            if (client is not null) await client.DisposeAsync();
        }
    }

    private static string AckCode(string ack)
    {
        var msa = ack.Split('\r', '\n').FirstOrDefault(s => s.StartsWith("MSA|", StringComparison.Ordinal));
        return msa?.Split('|') is { Length: > 1 } fields ? fields[1] : "none";
    }

    /// <summary>A chemistry panel for one patient: PID-3 personnummer, the registered name and birth date, five results.</summary>
    private string Oru(PoolPatient p, int n, Random random)
    {
        var now = DateTimeOffset.Now;
        var observations = Math.Max(1, config.Lab.ObservationsPerMessage);
        var obx = string.Concat(Enumerable.Range(0, observations).Select(o =>
        {
            var (code, name, unit, low, high) = Panel[o % Panel.Length];
            var value = low + (high - low) * (random.NextDouble() * 1.4 - 0.2);
            var flag = value < low ? "L" : value > high ? "H" : "N";
            return $"OBX|{o + 1}|NM|{code}^{name}^L||{value.ToString("0.0", CultureInfo.InvariantCulture)}|{unit}|" +
                   $"{low.ToString(CultureInfo.InvariantCulture)}-{high.ToString(CultureInfo.InvariantCulture)}|{flag}|||F|||{now:yyyyMMddHHmm}\r";
        }));
        return $"MSH|^~\\&|LABSYS|KLINKEM|STADIG|REGION|{now:yyyyMMddHHmmsszzz}".Replace(":", "", StringComparison.Ordinal) + $"||ORU^R01|RH{_run}-{n}|P|2.5\r" +
               $"PID|1||{p.Identifier}^^^^PN||{p.FamilyName}^{p.GivenNames.Split(' ')[0]}||{p.BirthDate:yyyyMMdd}\r" +
               $"OBR|1|R{_run}{n}|F{_run}{n}|KEMPAKET^Kemipaket^L|||{now:yyyyMMddHHmm}\r" + obx;
    }

    private static readonly (string Code, string Name, string Unit, double Low, double High)[] Panel =
    [
        ("RH-HB", "B-Hemoglobin", "g/L", 117, 153),
        ("RH-NA", "P-Natrium", "mmol/L", 137, 145),
        ("RH-K", "P-Kalium", "mmol/L", 3.5, 4.4),
        ("RH-KREA", "P-Kreatinin", "umol/L", 45, 90),
        ("RH-CRP", "P-CRP", "mg/L", 0, 5),
    ];
}
