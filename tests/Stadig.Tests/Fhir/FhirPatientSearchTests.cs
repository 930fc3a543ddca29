using System.Net;
using System.Text.Json.Nodes;
using Stadig.Storage;

namespace Stadig.Tests.Fhir;

/// <summary>Patient search runs on the registry: each parameter and date prefix, through a real server, on both engines.</summary>
public class FhirPatientSearchTests(FhirPatientSearchTests.ThreePatients patients) : IClassFixture<FhirPatientSearchTests.ThreePatients>
{
    /// <summary>
    /// One server per engine with the same three patients, made on first use: every case only searches,
    /// so they share it instead of each starting a server and registering the three again.
    /// </summary>
    public sealed class ThreePatients : IAsyncDisposable
    {
        private readonly Dictionary<DatabaseEngine, Task<(FhirTestServer Server, string AnnaId)>> _servers = [];

        public Task<(FhirTestServer Server, string AnnaId)> OnAsync(DatabaseEngine engine)
        {
            lock (_servers)
            {
                if (!_servers.TryGetValue(engine, out var server)) _servers[engine] = server = StartAsync(engine);
                return server;
            }
        }

        private static async Task<(FhirTestServer, string)> StartAsync(DatabaseEngine engine)
        {
            var fhir = await FhirTestServer.StartAsync(engine);
            var client = fhir.Client();
            var anna = await CreateAsync(client, FhirCalls.Patient("191212121212", "Öström", "Anna"));
            await CreateAsync(client, FhirCalls.Patient("198505152390", "Berg", "Bo"));
            var cia = FhirCalls.Patient("201212121212", "Lind-Öström", "Cia");
            ((JsonArray)cia["identifier"]!).Add(new JsonObject { ["system"] = "http://example.org/mrn", ["value"] = "X-17" });
            await CreateAsync(client, cia);
            return (fhir, anna);
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var server in _servers.Values)
            {
                try { await (await server).Server.DisposeAsync(); }
                catch (Exception) when (!server.IsCompletedSuccessfully) { }
            }
        }
    }

    public static TheoryData<DatabaseEngine, string, string> Cases()
    {
        var cases = new TheoryData<DatabaseEngine, string, string>();
        foreach (var engine in new[] { DatabaseEngine.Sqlite, DatabaseEngine.Postgres })
        {
            foreach (var (query, expected) in new[]
            {
                ("identifier=http://electronichealth.se/identifier/personnummer|191212121212", "Öström"),
                ("identifier=198505152390", "Berg"),
                ("identifier=http://example.org/mrn|X-17", "Lind-Öström"),
                ("name=ostrom", "Lind-Öström Öström"),
                ("family=berg", "Berg"),
                ("family:exact=Öström", "Öström"),
                ("family:exact=ostrom", ""),
                ("given=cia", "Lind-Öström"),
                ("gender=male", "Berg Lind-Öström Öström"),
                ("gender=female", ""),
                ("birthdate=1985-05-15", "Berg"),
                ("birthdate=eq1985", "Berg"),
                ("birthdate=lt1985-05-15", "Öström"),
                ("birthdate=le1985-05-15", "Berg Öström"),
                ("birthdate=gt1985-05-15", "Lind-Öström"),
                ("birthdate=ge1985", "Berg Lind-Öström"),
                ("birthdate=ne1985", "Lind-Öström Öström"),
                ("name=ostrom&birthdate=ge2000", "Lind-Öström"),
                ("family=berg,lind", "Berg Lind-Öström"),
                // A name search is read as a union of per-column branches cut at the page's end: paging must still be exact.
                ("name=ostrom&_count=1", "Lind-Öström"),
                ("name=ostrom&_count=1&_offset=1", "Öström"),
                ("family=ostrom&_count=1&_offset=1", "Öström"),
                ("given=bo&gender=male", "Berg"),
            })
            {
                cases.Add(engine, query, expected);
            }
        }
        return cases;
    }

    [Theory, MemberData(nameof(Cases))]
    public async Task Each_parameter_finds_exactly_its_patients(DatabaseEngine engine, string query, string expected)
    {
        var client = (await patients.OnAsync(engine)).Server.Client();

        var (status, bundle, _) = await client.GetFhirAsync($"/fhir/Patient?{query}");
        Assert.True(status == HttpStatusCode.OK, bundle.ToJsonString());
        var found = bundle["entry"]!.AsArray().Select(e => e!["resource"]!["name"]![0]!["family"]!.GetValue<string>()).Order(StringComparer.Ordinal);
        Assert.Equal(expected, string.Join(' ', found));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Id_paging_total_and_unknown_parameters(DatabaseEngine engine)
    {
        var (fhir, anna) = await patients.OnAsync(engine);
        var client = fhir.Client();

        var (_, byId, _) = await client.GetFhirAsync($"/fhir/Patient?_id={anna}");
        Assert.Equal(anna, byId["entry"]![0]!["resource"]!["id"]!.GetValue<string>());

        var (_, first, _) = await client.GetFhirAsync("/fhir/Patient?_count=2&_sort=birthdate&_total=accurate");
        Assert.Equal(3, first["total"]!.GetValue<int>());
        Assert.Equal(["Öström", "Berg"], first["entry"]!.AsArray().Select(e => e!["resource"]!["name"]![0]!["family"]!.GetValue<string>()));
        var next = first["link"]!.AsArray().Single(l => l!["relation"]!.GetValue<string>() == "next")!["url"]!.GetValue<string>();
        var (_, second, _) = await client.GetFhirAsync(new Uri(next).PathAndQuery);
        Assert.Equal(["Lind-Öström"], second["entry"]!.AsArray().Select(e => e!["resource"]!["name"]![0]!["family"]!.GetValue<string>()));
        Assert.DoesNotContain(second["link"]!.AsArray(), l => l!["relation"]!.GetValue<string>() == "next");

        var (strict, _, _) = await client.SendAsync(HttpMethod.Get, "/fhir/Patient?colour=blue", configure: r => r.Headers.Add("Prefer", "handling=strict"));
        Assert.Equal(HttpStatusCode.BadRequest, strict);
        var (badDate, _, _) = await client.GetFhirAsync("/fhir/Patient?birthdate=1985-13-40");
        Assert.Equal(HttpStatusCode.BadRequest, badDate);
    }

    private static async Task<string> CreateAsync(HttpClient client, JsonObject patient)
    {
        var (status, created, _) = await client.PostFhirAsync("/fhir/Patient", patient);
        Assert.True(status == HttpStatusCode.Created, created.ToJsonString());
        return created["id"]!.GetValue<string>();
    }
}
