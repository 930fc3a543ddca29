using System.Net;
using Dapper;
using Stadig.Access;
using Stadig.Hl7;
using Stadig.Hl7.Mllp;
using Stadig.LabResults;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Patients.Identifiers;
using Stadig.Storage;

namespace Stadig.Tests.Results;

/// <summary>A region with a lab unit, the ORU ingest and an MLLP listener on a free loopback port.</summary>
internal sealed class IngestLab : IAsyncDisposable
{
    public static readonly DateTimeOffset Start = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);

    public required TestRegion Region { get; init; }
    public required MllpListener Listener { get; init; }
    public required IngestOruMessage Ingest { get; init; }
    public required Caller Caller { get; init; }
    public required FixedClock Clock { get; init; }

    // A guard against a hang, not a judgement of speed: a large message on a busy 2-core CI machine took over a minute.
    public static CancellationToken Patience => new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token;

    public static async Task<IngestLab> CreateAsync(DatabaseEngine engine, IngestOptions? options = null)
    {
        var clock = new FixedClock(Start);
        var region = await TestRegion.CreateAsync(engine, clock);
        var labUnit = await region.Staff.AddUnitAsync(region.Ward.ProviderId, "SE2321000016-0099", "Klinisk kemi", UnitKind.Lab);
        var caller = await LabIntegration.CallerAsync(region.Staff, labUnit);
        var ingest = new IngestOruMessage(region.Database, region.Audit, new PatientMatcher(new PatientIdentifierRules(clock)), caller, clock, options);
        var listener = new MllpListener(ingest, new MllpOptions { Port = 0, Address = IPAddress.Loopback });
        listener.Start();
        return new IngestLab { Region = region, Listener = listener, Ingest = ingest, Caller = caller, Clock = clock };
    }

    /// <summary>Sends one frame over a new MLLP connection and returns the ACK text.</summary>
    public async Task<string> SendFrameAsync(string frame)
    {
        await using var client = await MllpClient.ConnectAsync("127.0.0.1", Listener.Port, Patience);
        return await client.SendAsync(frame, Patience);
    }

    public async Task<Hl7Message> SendAsync(string message) => Hl7Parser.Parse(await SendFrameAsync(message));

    public async Task<T> QueryOneAsync<T>(string sql, object? parameters = null)
    {
        await using var c = await Region.Database.OpenUnscopedAsync();
        return await c.QuerySingleAsync<T>(sql, parameters);
    }

    public async Task<List<T>> QueryAsync<T>(string sql, object? parameters = null)
    {
        await using var c = await Region.Database.OpenUnscopedAsync();
        return (await c.QueryAsync<T>(sql, parameters)).ToList();
    }

    public async Task<Guid> PatientAsync(string number, string family = "Öberg", string given = "Lina") =>
        (await Region.Patients.RegisterAsync(Region.Physician, number, new PatientDetails(family, given))).PatientId;

    /// <summary>Messages of this region's database still in Received (ingest must never leave one there).</summary>
    public Task<long> ReceivedCountAsync() => QueryOneAsync<long>("SELECT COUNT(*) FROM hl7_message WHERE state = 'Received'");

    public async ValueTask DisposeAsync() => await Listener.DisposeAsync();

    public static string Digits(string number) => number.Replace("-", "", StringComparison.Ordinal);

    public static string Msh(string controlId, string processing = "P", string sent = "20261123075500+0100") =>
        $"MSH|^~\\&|LABSYS|KLINKEM|STADIG|REGION|{sent}||ORU^R01^ORU_R01|{controlId}|{processing}|2.5\r";

    /// <summary>One PATIENT_RESULT group: PID, ORC, OBR and one OBX per value.</summary>
    public static string Group(string pid3, string name, string filler, params string[] values) =>
        $"PID|1||{pid3}||{name}\r" +
        $"ORC|RE||{filler}\r" +
        $"OBR|1||{filler}|K^Kalium^L|||20261123070000+0100\r" +
        string.Concat(values.Select((v, i) => $"OBX|{i + 1}|NM|K^P-Kalium^L||{v}|mmol/L|3.5-4.4|N|||F\r"));

    public static string Personnummer(string number) => $"{Digits(number)}^^^^PN";
}
