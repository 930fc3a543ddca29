using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Tests.Fhir;

/// <summary>A running Stadig with JWT bearer tokens switched on, and FHIR clients holding tokens with the scopes a test names.</summary>
public sealed class FhirTestServer : IAsyncDisposable
{
    private const string SigningKey = "fhir-test-signing-key-that-is-long-enough-for-hs256!";

    public required StadigServer Server { get; init; }
    public required StaffMember Member { get; init; }
    public required Assignment Assignment { get; init; }

    private static readonly string[] JwtSettings = [$"--Stadig:Jwt:SigningKey={SigningKey}", "--Stadig:Jwt:Issuer=test-idp", "--Stadig:Jwt:Audience=stadig"];

    public static Task<FhirTestServer> StartAsync(DatabaseEngine engine, params Role[] roles) => StartAsync(engine, [], roles);

    /// <summary>With extra server <paramref name="settings"/> (e.g. admission pool sizes).</summary>
    public static async Task<FhirTestServer> StartAsync(DatabaseEngine engine, string[] settings, params Role[] roles)
    {
        var server = await StadigServer.StartAsync(engine, [.. JwtSettings, .. settings]);
        var (member, assignments) = await server.AddUserAsync("fhir", "x", false, roles.Length == 0 ? [Role.Physician] : roles);
        return new FhirTestServer { Server = server, Member = member, Assignment = assignments[0] };
    }

    /// <summary>On a database of the test's own (a cluster it stops and starts), with extra <paramref name="settings"/>.</summary>
    public static async Task<FhirTestServer> StartOnAsync(string connectionString, string[] settings, params Role[] roles)
    {
        var server = await StadigServer.StartOnAsync(connectionString, "http://127.0.0.1:0", [.. JwtSettings, .. settings]);
        var (member, assignments) = await server.AddUserAsync("fhir", "x", false, roles.Length == 0 ? [Role.Physician] : roles);
        return new FhirTestServer { Server = server, Member = member, Assignment = assignments[0] };
    }

    /// <summary>Stops this server and starts a new process on the same database, as after a restart; the same person and assignment.</summary>
    public async Task<FhirTestServer> RestartAsync()
    {
        await Server.DisposeAsync();
        var server = await StadigServer.StartOnAsync(Server.ConnectionString, "http://127.0.0.1:0", JwtSettings);
        return new FhirTestServer { Server = server, Member = Member, Assignment = Assignment };
    }

    /// <summary>A client whose token carries <paramref name="scope"/> (and, for patient/ scopes, the launch patient).</summary>
    public HttpClient Client(string scope = "user/*.*", string? patient = null, Assignment? assignment = null, StaffMember? member = null)
    {
        var claims = new Dictionary<string, object>
        {
            ["hsa_id"] = (member ?? Member).HsaId, ["unit_hsa_id"] = (assignment ?? Assignment).UnitHsaId, ["scope"] = scope,
            ["role"] = (assignment ?? Assignment).Role.ToString(),
        };
        if (patient is not null) claims["patient"] = patient;
        var token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "test-idp", Audience = "stadig", Expires = DateTime.UtcNow.AddMinutes(10), Claims = claims,
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(SigningKey)), SecurityAlgorithms.HmacSha256),
        });
        var client = Server.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}

/// <summary>FHIR calls in tests: JSON in and out, the status kept.</summary>
public static class FhirCalls
{
    public static StringContent Json(JsonNode body) => new(body.ToJsonString(), Encoding.UTF8, "application/fhir+json");

    public static async Task<(System.Net.HttpStatusCode Status, JsonObject Body, HttpResponseMessage Response)> SendAsync(this HttpClient client, HttpMethod method, string path,
        JsonNode? body = null, Action<HttpRequestMessage>? configure = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = Json(body);
        configure?.Invoke(request);
        var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        var parsed = text.Length > 0 && text.TrimStart().StartsWith('{') ? (JsonObject)JsonNode.Parse(text)! : new JsonObject();
        return (response.StatusCode, parsed, response);
    }

    public static Task<(System.Net.HttpStatusCode Status, JsonObject Body, HttpResponseMessage Response)> GetFhirAsync(this HttpClient client, string path) =>
        client.SendAsync(HttpMethod.Get, path);

    public static Task<(System.Net.HttpStatusCode Status, JsonObject Body, HttpResponseMessage Response)> PostFhirAsync(this HttpClient client, string path, JsonNode body,
        Action<HttpRequestMessage>? configure = null) => client.SendAsync(HttpMethod.Post, path, body, configure);

    public static Task<(System.Net.HttpStatusCode Status, JsonObject Body, HttpResponseMessage Response)> PutFhirAsync(this HttpClient client, string path, JsonNode body,
        Action<HttpRequestMessage>? configure = null) => client.SendAsync(HttpMethod.Put, path, body, configure);

    public static JsonObject Patient(string personnummer, string family, string given) => new()
    {
        ["resourceType"] = "Patient",
        ["identifier"] = new JsonArray(new JsonObject { ["system"] = "http://electronichealth.se/identifier/personnummer", ["value"] = personnummer }),
        ["name"] = new JsonArray(new JsonObject { ["use"] = "official", ["family"] = family, ["given"] = new JsonArray(given) }),
    };

    public static JsonObject Observation(string patientReference, string loinc, double value, string effective) => new()
    {
        ["resourceType"] = "Observation",
        ["status"] = "final",
        ["category"] = new JsonArray(new JsonObject { ["coding"] = new JsonArray(new JsonObject { ["system"] = "http://terminology.hl7.org/CodeSystem/observation-category", ["code"] = "laboratory" }) }),
        ["code"] = new JsonObject { ["coding"] = new JsonArray(new JsonObject { ["system"] = "http://loinc.org", ["code"] = loinc }) },
        ["subject"] = new JsonObject { ["reference"] = patientReference },
        ["effectiveDateTime"] = effective,
        ["valueQuantity"] = new JsonObject { ["value"] = value, ["unit"] = "mmol/L", ["system"] = "http://unitsofmeasure.org", ["code"] = "mmol/L" },
    };

    public static string Issues(JsonObject outcome) => outcome["issue"]?.ToJsonString() ?? outcome.ToJsonString();
}
