using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Identity;
using Stadig.Hosting;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Tests.Infrastructure;

/// <summary>
/// The real Stadig web application on real Kestrel, on a free loopback port, over its own fresh
/// database. Tests talk to it over HTTP like a browser or an integration would.
/// </summary>
public sealed partial class StadigServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private StadigServer(WebApplication app, Uri address, CapturedLog log)
    {
        _app = app;
        Address = address;
        Log = log;
    }

    /// <summary>Everything the application logged, for asserting what logs may and may not contain.</summary>
    public CapturedLog Log { get; }

    public Uri Address { get; }

    public string ConnectionString { get; private init; } = "";

    public IServiceProvider Services => _app.Services;

    public Database Database => Services.GetRequiredService<Database>();

    public PatientRegistry Patients => Services.GetRequiredService<PatientRegistry>();

    public StaffDirectory Staff => Services.GetRequiredService<StaffDirectory>();

    public static async Task<StadigServer> StartAsync(DatabaseEngine engine, params string[] settings) =>
        await StartOnAsync(await TestDatabases.CreateForServerAsync(engine), "http://127.0.0.1:0", settings);

    /// <summary>A server with extra wiring of the test's own (an in-memory trace exporter, say).</summary>
    public static async Task<StadigServer> StartAsync(DatabaseEngine engine, Action<WebApplicationBuilder> configure, params string[] settings) =>
        await StartOnAsync(await TestDatabases.CreateForServerAsync(engine), "http://127.0.0.1:0", settings, null, configure);

    /// <summary>A server whose clock stands still unless the test moves it.</summary>
    public static async Task<StadigServer> StartWithClockAsync(DatabaseEngine engine, TimeProvider clock, params string[] settings) =>
        await StartOnAsync(await TestDatabases.CreateForServerAsync(engine), "http://127.0.0.1:0", settings, clock);

    /// <summary>Starts on a given database and address: a restart of the same server, as after a crash.</summary>
    public static Task<StadigServer> StartOnAsync(string connectionString, string url, params string[] settings) => StartOnAsync(connectionString, url, settings, null);

    private static async Task<StadigServer> StartOnAsync(string connectionString, string url, string[] settings, TimeProvider? clock,
        Action<WebApplicationBuilder>? configure = null)
    {
        // MLLP off unless a test asks: parallel servers must not contend for the one default port.
        // Warm-up off unless a test asks: it is the node's own work at start, and most tests want a server ready at once.
        // The request deadline (10 s in production) is a promise about speed, judged by the rehearsal on
        // a quiet machine (bench/): here a correct answer may take longer on a busy CI machine, so tests
        // judge what is answered, not how fast. Tests of the deadline itself set their own.
        var args = new List<string> { "--database", connectionString, "--urls", url, "--Stadig:SeedDemoAtStart=false", "--Stadig:Mllp:Port=0", "--Stadig:WarmUp:Enabled=false",
            "--Stadig:Admission:RequestTimeoutSeconds=300" };
        args.AddRange(settings);
        var log = new CapturedLog();
        var app = await StadigHost.BuildAsync(args.ToArray(), builder =>
        {
            builder.Logging.AddProvider(log);
            if (clock is not null) builder.Services.AddSingleton(clock);
            configure?.Invoke(builder);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return new StadigServer(app, new Uri(address), log) { ConnectionString = connectionString };
    }

    /// <summary>A client with its own cookie jar that does not follow redirects, so tests see them.</summary>
    public HttpClient CreateClient() =>
        new(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false, UseCookies = true }) { BaseAddress = Address };

    public string HashPassword(string password) => Services.GetRequiredService<IPasswordHasher<object>>().HashPassword(new object(), password);

    private static int _nextNumber = Random.Shared.Next(0, 8000);

    /// <summary>A provider, a unit and a person with a password and the given assignments.</summary>
    public async Task<(StaffMember Staff, IReadOnlyList<Assignment> Assignments)> AddUserAsync(string username, string password, bool isDemo = false, params Role[] roles)
    {
        var providers = await Staff.UnitsAsync();
        var providerId = providers.Count > 0 ? providers[0].ProviderId : (await Staff.AddProviderAsync("SE2321000016-0001", "Testregionen")).Id;
        // Numbers from a counter, not at random: two random unit numbers of one test's server could
        // collide (it happened in CI: UNIQUE constraint failed: care_unit.hsa_id).
        var unitNumber = 1000 + Interlocked.Increment(ref _nextNumber) % 9000;
        var unit = await Staff.AddUnitAsync(providerId, $"SE2321000016-U{unitNumber}", $"Avdelning {unitNumber}", UnitKind.Ward);
        var member = await Staff.AddStaffAsync($"SE2321000016-P{100000 + Interlocked.Increment(ref _nextNumber) % 900000}", username, $"Test {username}", "Läkare", HashPassword(password), isDemo);
        var assignments = new List<Assignment>();
        foreach (var role in roles.Length == 0 ? [Role.Physician] : roles)
            assignments.Add(await Staff.AddAssignmentAsync(member.Id, unit.Id, role, Purpose.CareAndTreatment));
        return (member, assignments);
    }

    /// <summary>The caller a person is when working in <paramref name="assignment"/>.</summary>
    public static Stadig.Access.Caller CallerFor(StaffMember member, Assignment assignment) =>
        new(member.Id, member.HsaId, member.DisplayName, assignment.Role, assignment.UnitId, assignment.UnitHsaId, assignment.Purpose);

    /// <summary>A running server with one physician ("eva") logged in on a client, and the caller she is.</summary>
    public static async Task<(StadigServer Server, HttpClient Client, Stadig.Access.Caller Eva)> WithLoggedInPhysicianAsync(DatabaseEngine engine, params string[] settings)
    {
        var server = await StartAsync(engine, settings);
        var (member, assignments) = await server.AddUserAsync("eva", "lösen");
        var client = server.CreateClient();
        await server.PostLoginAsync(client, "eva", "lösen");
        return (server, client, CallerFor(member, assignments[0]));
    }

    /// <summary>A running server with one nurse ("sara", a ward of her own) logged in on a client, and the caller she is.</summary>
    public static async Task<(StadigServer Server, HttpClient Client, Stadig.Access.Caller Sara)> WithLoggedInNurseAsync(DatabaseEngine engine)
    {
        var server = await StartAsync(engine);
        var (member, assignments) = await server.AddUserAsync("sara", "lösen", false, Role.Nurse);
        var client = server.CreateClient();
        await server.PostLoginAsync(client, "sara", "lösen");
        return (server, client, CallerFor(member, assignments[0]));
    }

    /// <summary>
    /// The medication tests' ground: Anna Öström registered by <paramref name="caller"/> and the product
    /// catalogue seeded, with the catalogue to pick products from and the medication list to prescribe on.
    /// </summary>
    public async Task<(Guid Patient, Stadig.Medication.ProductCatalogue Catalogue, Stadig.Medication.MedicationList Medication)> WithPatientAndCatalogueAsync(
        Stadig.Access.Caller caller, CancellationToken cancellationToken = default)
    {
        var patient = (await Patients.RegisterAsync(caller, "19121212-1212", new("Öström", "Anna"), cancellationToken: cancellationToken)).PatientId;
        var catalogue = Services.GetRequiredService<Stadig.Medication.ProductCatalogue>();
        await catalogue.SeedIfEmptyAsync(cancellationToken);
        return (patient, catalogue, Services.GetRequiredService<Stadig.Medication.MedicationList>());
    }

    /// <summary>Posts a page's server-rendered form as a browser does: its antiforgery token and its form name.</summary>
    public static async Task<HttpResponseMessage> PostFormAsync(HttpClient client, string path, string formName, Dictionary<string, string> fields)
    {
        var page = await client.GetStringAsync(path);
        fields["__RequestVerificationToken"] = AntiforgeryToken(page);
        fields["_handler"] = formName;
        return await client.PostAsync(path, new FormUrlEncodedContent(fields));
    }

    /// <summary>Fetches the login form (for its antiforgery token) and posts it, as a browser does.</summary>
    public async Task<HttpResponseMessage> PostLoginAsync(HttpClient client, string username, string password)
    {
        var form = await client.GetStringAsync("/login");
        return await client.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = AntiforgeryToken(form), ["username"] = username, ["password"] = password, ["returnUrl"] = "/",
        }));
    }

    public static string AntiforgeryToken(string html) =>
        TokenPattern().Match(html) is { Success: true } m ? WebUtility.HtmlDecode(m.Groups[1].Value) : throw new InvalidOperationException("No antiforgery token in the page.");

    [GeneratedRegex("name=\"__RequestVerificationToken\"[^>]*value=\"([^\"]+)\"")]
    private static partial Regex TokenPattern();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
