using System.Net;
using System.Text.Json.Nodes;
using Stadig.Access;
using Stadig.Fhir;
using Stadig.Fhir.Records;
using Stadig.Fhir.Validation;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Tests.Fhir.Records;

/// <summary>A running server with a physician (as a chart caller and as a FHIR client) and one registered patient.</summary>
public sealed class ChartFhir : IAsyncDisposable
{
    public required FhirTestServer Fhir { get; init; }
    public required HttpClient Client { get; init; }
    public required Caller Caller { get; init; }
    public required Guid PatientId { get; init; }

    public string PatientReference => $"Patient/{PatientId}";
    public StadigServer Server => Fhir.Server;
    public T Get<T>() where T : notnull => Server.Services.GetRequiredService<T>();

    public static async Task<ChartFhir> StartAsync(DatabaseEngine engine, string personnummer = "19121212-1212")
    {
        var fhir = await FhirTestServer.StartAsync(engine);
        var caller = StadigServer.CallerFor(fhir.Member, fhir.Assignment);
        var patient = await fhir.Server.Patients.RegisterAsync(caller, personnummer, new PatientDetails("Öström", "Åsa"), TestContext.Current.CancellationToken);
        return new ChartFhir { Fhir = fhir, Client = fhir.Client(), Caller = caller, PatientId = patient.PatientId };
    }

    public async Task<Guid> RegisterAsync(string personnummer, string family, string given) =>
        (await Server.Patients.RegisterAsync(Caller, personnummer, new PatientDetails(family, given), TestContext.Current.CancellationToken)).PatientId;

    /// <summary>GET that must answer 200.</summary>
    public async Task<JsonObject> ReadAsync(string path)
    {
        var (status, body, _) = await Client.GetFhirAsync(path);
        Assert.True(status == HttpStatusCode.OK, $"{path}: {status} {FhirCalls.Issues(body)}"
            + (status == HttpStatusCode.InternalServerError ? Environment.NewLine + Server.Log : ""));
        return body;
    }

    /// <summary>The ids a search answers with.</summary>
    public async Task<IReadOnlyList<string>> SearchIdsAsync(string path) =>
        ((await ReadAsync(path))["entry"] as JsonArray ?? []).Select(e => e!["resource"]!["id"]!.GetValue<string>()).ToList();

    /// <summary>What the mapping makes of the record now, read on its own connection.</summary>
    public async Task<JsonObject> MappedAsync<TRow>(FhirRecordMapping<TRow> mapping, Guid id) where TRow : class
    {
        await using var connection = await Server.Database.OpenUnscopedAsync(TestContext.Current.CancellationToken);
        return await mapping.MapAsync(connection, id) ?? throw new InvalidOperationException($"No record {id}.");
    }

    /// <summary>The served resource is the mapping, with the id, a version and the source tag added.</summary>
    public static void AssertServedAsMapped(JsonObject mapped, JsonObject served, Guid id)
    {
        Assert.Equal(id.ToString(), served["id"]!.GetValue<string>());
        Assert.True(FhirRecordPublisher.IsPublished(served), "The source tag is missing.");
        var body = (JsonObject)served.DeepClone();
        body.Remove("id");
        body.Remove("meta");
        Assert.Equal(FhirJson.Serialize(FhirJson.Ordered(mapped)), FhirJson.Serialize(FhirJson.Ordered(body)));
        AssertValid(served);
    }

    public static void AssertValid(JsonObject resource)
    {
        var errors = FhirValidator.Validate(resource).Where(i => i.Severity is "error" or "fatal").ToList();
        Assert.True(errors.Count == 0, $"{resource["resourceType"]}/{resource["id"]}: " + string.Join("; ", errors.Select(e => $"{e.Expression}: {e.Diagnostics}")));
    }

    public async Task<int> VersionCountAsync(string type, Guid id) =>
        ((await ReadAsync($"/fhir/{type}/{id}/_history"))["entry"] as JsonArray)!.Count;

    public ValueTask DisposeAsync() => Fhir.DisposeAsync();
}
