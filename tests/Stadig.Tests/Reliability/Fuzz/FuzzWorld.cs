using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Routing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Stadig.Access;
using Stadig.Fhir;
using Stadig.LabResults;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Patients.Identifiers;
using Stadig.Storage;

namespace Stadig.Tests.Reliability.Fuzz;

/// <summary>
/// What the fuzz runner feeds: a region (a ward with a physician, a lab, patients with care
/// relations), the real server on Kestrel with its MLLP listener, and the same use cases in-process
/// (FHIR service, registry, ORU ingest) for the bulk of the inputs.
/// </summary>
public sealed class FuzzWorld : IAsyncDisposable
{
    private const string SigningKey = "fuzz-runner-signing-key-that-is-long-enough-for-hs256";
    private const string Password = "fuzz-lösen";

    public required StadigServer Server { get; init; }
    public required Caller Physician { get; init; }
    public required FhirCaller FhirCaller { get; init; }
    public required FhirService Fhir { get; init; }
    public required PatientRegistry Registry { get; init; }
    public required IngestOruMessage Ingest { get; init; }
    public required int MllpPort { get; init; }
    public required HttpClient Bearer { get; init; }
    /// <summary>A physician's browser, signed in, with the antiforgery token its forms carry.</summary>
    public required HttpClient Browser { get; init; }
    public required string FormToken { get; init; }
    public required IReadOnlyList<string> Routes { get; init; }
    public required IReadOnlyList<(Guid Id, string Personnummer)> Patients { get; init; }
    public required IReadOnlyList<Guid> Notes { get; init; }

    public string BaseUrl => Server.Address.ToString().TrimEnd('/') + "/fhir";

    public static async Task<FuzzWorld> StartAsync(DatabaseEngine engine)
    {
        var connectionString = await TestDatabases.CreateForServerAsync(engine);
        var database = new Database(engine, connectionString);
        await new Migrator(database).MigrateAsync();
        var services = CoreServices.Create(database, TimeProvider.System);
        var provider = await services.Staff.AddProviderAsync("SE2321000016-F001", "Fuzzregionen");
        var ward = await services.Staff.AddUnitAsync(provider.Id, "SE2321000016-F002", "Medicinavdelning F", UnitKind.Ward);
        var lab = await services.Staff.AddUnitAsync(provider.Id, "SE2321000016-F003", "Klinisk kemi F", UnitKind.Lab);
        var member = await services.Staff.AddStaffAsync("SE2321000016-FLAK", "fuzzlakare", "Test Fuzzläkare", Role.Physician.Swedish(),
            new Microsoft.AspNetCore.Identity.PasswordHasher<object>().HashPassword(new object(), Password), isDemo: false);
        await services.Staff.AddAssignmentAsync(member.Id, ward.Id, Role.Physician, Purpose.CareAndTreatment);
        var caller = new Caller(member.Id, member.HsaId, member.DisplayName, Role.Physician, ward.Id, ward.HsaId, Purpose.CareAndTreatment);
        var patients = new List<(Guid, string)>();
        var notes = new List<Guid>();
        for (var i = 0; i < 4; i++)
        {
            var number = TestNumbers.Personnummer(1950 + i, 3, 14, 980 + i);
            var id = (await services.Patients.RegisterAsync(caller, number, new PatientDetails("Fuzz", $"Test{i}"))).PatientId;
            await services.Access.RecordCareRelationAsync(caller, id, "Besök");
            notes.Add((await services.Notes.CreateDraftAsync(caller, id, "Daganteckning", null, null)).Id);
            patients.Add((id, number));
        }

        // The profile validator compiles its schemas on first use (tens of seconds on a busy machine): before the
        // run, so that no input's deadline pays for it. The test process compiles them once for every test.
        await Task.Run(Stadig.Fhir.Profiles.FhirProfileValidator.WarmUp);
        var mllpPort = FreePort();
        var server = await StadigServer.StartOnAsync(connectionString, "http://127.0.0.1:0",
            $"--Stadig:Jwt:SigningKey={SigningKey}", "--Stadig:Jwt:Issuer=test-idp", "--Stadig:Jwt:Audience=stadig", $"--Stadig:Mllp:Port={mllpPort}",
            "--Stadig:LoginAttemptsPerMinute=1000000", "--Stadig:Admission:QueueWaitMilliseconds=30000",
            "--Stadig:Admission:IntegrationQueueWaitMilliseconds=30000");
        try
        {
            var labCaller = await LabIntegration.CallerAsync(services.Staff, lab);
            var bearer = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(2) };
            bearer.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token(member.HsaId, ward.HsaId));
            var browser = server.CreateClient();
            browser.Timeout = TimeSpan.FromMinutes(2);
            var login = await server.PostLoginAsync(browser, "fuzzlakare", Password);
            if (login.StatusCode != HttpStatusCode.Redirect && login.StatusCode != HttpStatusCode.Found)
                throw new InvalidOperationException($"The fuzz runner's physician could not sign in: {(int)login.StatusCode}");
            var token = StadigServer.AntiforgeryToken(await browser.GetStringAsync($"/patients/{patients[0].Item1}"));
            var routes = server.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
                .Select(e => e.RoutePattern.RawText ?? "").Where(r => r.Length > 0 && !Excluded.Contains(r)).Distinct().Order(StringComparer.Ordinal).ToList();
            return new FuzzWorld
            {
                Server = server, Physician = caller, FhirCaller = new FhirCaller(caller, FhirScopes.Unlimited),
                Fhir = server.Services.GetRequiredService<FhirService>(), Registry = server.Services.GetRequiredService<PatientRegistry>(),
                Ingest = new IngestOruMessage(database, services.Audit, new PatientMatcher(new PatientIdentifierRules(TimeProvider.System)), labCaller, TimeProvider.System),
                MllpPort = mllpPort, Bearer = bearer, Browser = browser, FormToken = token, Routes = routes, Patients = patients, Notes = notes,
            };
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Routes whose effect would end the run's meaning: signing the browser out, and read-only mode (whose 503s are its promise).</summary>
    private static readonly HashSet<string> Excluded = new(StringComparer.Ordinal) { "/logout", "/operations/read-only" };

    private static string Token(string hsaId, string unitHsaId) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Issuer = "test-idp", Audience = "stadig", Expires = DateTime.UtcNow.AddDays(2),
        Claims = new Dictionary<string, object> { ["hsa_id"] = hsaId, ["unit_hsa_id"] = unitHsaId, ["role"] = "Physician", ["scope"] = "user/*.*" },
        SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(SigningKey)), SecurityAlgorithms.HmacSha256),
    });

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        Bearer.Dispose();
        Browser.Dispose();
        await Server.DisposeAsync();
    }
}
