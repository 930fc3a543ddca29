using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Tests.Web;

public class PatientApiTests
{
    private const string SigningKey = "test-signing-key-that-is-long-enough-for-hs256!";

    private static async Task<(StadigServer Server, HttpClient Client, StaffMember Member, Assignment Assignment)> StartWithTokenAsync(DatabaseEngine engine)
    {
        var server = await StadigServer.StartAsync(engine, $"--Stadig:Jwt:SigningKey={SigningKey}", "--Stadig:Jwt:Issuer=test-idp", "--Stadig:Jwt:Audience=stadig");
        var (member, assignments) = await server.AddUserAsync("api", "x");
        var client = server.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token(member.HsaId, assignments[0].UnitHsaId));
        return (server, client, member, assignments[0]);
    }

    private static string Token(string hsaId, string unitHsaId, string key = SigningKey, string audience = "stadig", DateTime? expires = null) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Issuer = "test-idp",
        Audience = audience,
        NotBefore = (expires ?? DateTime.UtcNow.AddMinutes(5)).AddMinutes(-10),
        Expires = expires ?? DateTime.UtcNow.AddMinutes(5),
        Claims = new Dictionary<string, object> { ["hsa_id"] = hsaId, ["unit_hsa_id"] = unitHsaId },
        SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(System.Text.Encoding.UTF8.GetBytes(key)), SecurityAlgorithms.HmacSha256),
    });

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_bearer_token_registers_finds_and_reads_a_patient(DatabaseEngine engine)
    {
        var (server, client, _, _) = await StartWithTokenAsync(engine);
        await using var _s = server;

        var created = await client.PostAsJsonAsync("/api/patients", new { identifier = "191212121212", familyName = "Öström", givenNames = "Anna" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var patient = await created.Content.ReadFromJsonAsync<JsonElement>();
        var id = patient.GetProperty("id").GetString();

        var again = await client.PostAsJsonAsync("/api/patients", new { identifier = "19121212-1212", familyName = "Annan", givenNames = "Person" });
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(id, (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString());

        var found = await client.GetFromJsonAsync<JsonElement>("/api/patients?q=ostrom");
        Assert.Equal(id, found.GetProperty("patients")[0].GetProperty("id").GetString());
        var read = await client.GetFromJsonAsync<JsonElement>($"/api/patients/{id}");
        Assert.Equal("Öström", read.GetProperty("familyName").GetString());
        Assert.Equal("Personnummer", read.GetProperty("identifierKind").GetString());
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Bad_input_gets_a_problem_naming_the_field_and_nothing_is_stored(DatabaseEngine engine)
    {
        var (server, client, _, _) = await StartWithTokenAsync(engine);
        await using var _s = server;

        var response = await client.PostAsJsonAsync("/api/patients", new { identifier = "19121212-1213", familyName = "Ek", givenNames = "Per" });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("kontrollsiffra", problem.GetProperty("errors").GetProperty("identifier")[0].GetString());

        var malformed = await client.PostAsync("/api/patients", new StringContent("{ not json", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);

        Assert.Empty((await server.Patients.SearchAsync(Stadig.Access.Caller.System, "ek")).Patients);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/api/patients/{Guid.NewGuid()}")).StatusCode);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_stale_update_is_409_and_changes_nothing(DatabaseEngine engine)
    {
        var (server, client, _, _) = await StartWithTokenAsync(engine);
        await using var _s = server;
        var created = await (await client.PostAsJsonAsync("/api/patients", new { identifier = "191212121212", familyName = "Ek", givenNames = "Per" }))
            .Content.ReadFromJsonAsync<JsonElement>();
        var id = created.GetProperty("id").GetString();

        var first = await client.PutAsJsonAsync($"/api/patients/{id}", new { version = 1, familyName = "Ek", givenNames = "Per", city = "Mora" });
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var stale = await client.PutAsJsonAsync($"/api/patients/{id}", new { version = 1, familyName = "Ek", givenNames = "Per", city = "Orsa" });
        Assert.Equal(HttpStatusCode.Conflict, stale.StatusCode);
        Assert.Equal("Mora", (await client.GetFromJsonAsync<JsonElement>($"/api/patients/{id}")).GetProperty("city").GetString());
    }

    [Fact]
    public async Task Without_a_valid_token_the_api_answers_401()
    {
        var (server, client, member, assignment) = await StartWithTokenAsync(DatabaseEngine.Sqlite);
        await using var _s = server;
        var anonymous = server.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/patients?q=x")).StatusCode);

        anonymous.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token(member.HsaId, assignment.UnitHsaId, key: "another-key-that-is-also-long-enough-for-hs256"));
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/patients?q=x")).StatusCode);

        anonymous.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token(member.HsaId, assignment.UnitHsaId, audience: "another-system"));
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/patients?q=x")).StatusCode);
        Assert.Contains(server.Log.Lines, line => line.Contains("Bearer token refused") && line.Contains("SecurityTokenInvalidAudienceException"));

        anonymous.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token(member.HsaId, assignment.UnitHsaId, expires: DateTime.UtcNow.AddMinutes(-10)));
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/patients?q=x")).StatusCode);

        anonymous.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token("SE2321000016-NOBODY", assignment.UnitHsaId));
        Assert.Equal(HttpStatusCode.Forbidden, (await anonymous.GetAsync("/api/patients?q=x")).StatusCode);
    }
}
