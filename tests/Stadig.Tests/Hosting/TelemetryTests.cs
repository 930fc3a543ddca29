using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using OpenTelemetry.Trace;
using Stadig.Organisation;
using Stadig.Storage;
using Stadig.Telemetry;

namespace Stadig.Tests.Hosting;

[Collection(MetricsScrapeCollection.Name)]
public class TelemetryTests
{
    private const string SigningKey = "telemetry-test-signing-key-long-enough-for-hs256!";
    private const string ScrapeToken = "scrape-secret-for-the-test";
    private static readonly string[] Settings =
        [$"--Stadig:Jwt:SigningKey={SigningKey}", "--Stadig:Jwt:Issuer=test-idp", "--Stadig:Jwt:Audience=stadig", $"--Stadig:Telemetry:ScrapeToken={ScrapeToken}"];

    [Theory]
    [MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Metrics_after_a_request_of_each_class_show_the_listed_series(DatabaseEngine engine)
    {
        await using var server = await StadigServer.StartAsync(engine, Settings);
        var (client, _, note) = await ClinicianWithDraftAsync(server, "19121212-1212", "Tolvansson");

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode); // exempt
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/patients?q=tolvansson")).StatusCode); // interactive
        var saved = await client.PutAsJsonAsync($"/api/notes/{note.Id}/draft", new { version = note.Version, keywords = new[] { new { keyword = "Aktuellt", text = "Mår bra." } } });
        Assert.Equal(HttpStatusCode.OK, saved.StatusCode); // priority: autosave
        var version = (await saved.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("version").GetInt32();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync($"/api/notes/{note.Id}/sign", new { version })).StatusCode); // priority: sign
        Assert.Equal(HttpStatusCode.OK, (await FhirClient(server, await server.AddUserAsync("fhir", "x")).GetAsync("/fhir/Patient?family=tolvansson")).StatusCode); // integration
        // login: ClinicianWithDraftAsync logged in over POST /login.

        var scraper = server.CreateClient();
        scraper.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ScrapeToken);
        // A request's time is recorded when its pipeline ends, which may be just after its answer reached
        // the client: scrape again until the last one is in (a hang fails at the deadline).
        string[] classes = ["exempt", "interactive", "priority", "integration", "login"];
        string Series(string requestClass) => $"stadig_request_duration_seconds_count{{otel_scope_name=\"Stadig\",request_class=\"{requestClass}\"}}";
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TimeSpan.FromMinutes(2));
        var metrics = await scraper.GetStringAsync("/metrics");
        while (!classes.All(c => metrics.Contains(Series(c), StringComparison.Ordinal)) && !deadline.IsCancellationRequested)
            metrics = await scraper.GetStringAsync("/metrics", deadline.Token);

        foreach (var requestClass in classes)
            Assert.Contains(Series(requestClass), metrics);
        foreach (var series in new[]
        {
            "stadig_requests_shed_total{", "stadig_admission_in_use{", "stadig_admission_waiting{",
            "stadig_hl7_messages{otel_scope_name=\"Stadig\",hl7_direction=\"Inbound\",hl7_state=\"Received\"}",
            "stadig_notes_autosave_duration_seconds_count", "stadig_notes_sign_duration_seconds_count",
            "http_server_request_duration_seconds_count",
        })
            Assert.Contains(series, metrics);
        if (engine == DatabaseEngine.Postgres)
        {
            // The connection pool: connections by state, and its size.
            Assert.Contains("db_client_connection_count{", metrics);
            Assert.Contains("db_client_connection_max{", metrics);
        }
    }

    [Fact]
    public async Task A_scrape_without_the_token_or_an_administrator_is_refused()
    {
        await using var server = await StadigServer.StartAsync(DatabaseEngine.Sqlite, Settings);
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.CreateClient().GetAsync("/metrics")).StatusCode);

        var wrong = server.CreateClient();
        wrong.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ScrapeToken + "x");
        Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync("/metrics")).StatusCode);

        // A clinician is signed in but is no operator.
        await server.AddUserAsync("eva", "lösen");
        var clinician = server.CreateClient();
        await server.PostLoginAsync(clinician, "eva", "lösen");
        Assert.Equal(HttpStatusCode.Forbidden, (await clinician.GetAsync("/metrics")).StatusCode);

        await server.AddUserAsync("anna", "lösen", false, Role.Administrator);
        var administrator = server.CreateClient();
        await server.PostLoginAsync(administrator, "anna", "lösen");
        var scraped = await administrator.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, scraped.StatusCode);
        Assert.Contains("stadig_admission_in_use", await scraped.Content.ReadAsStringAsync());
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task No_span_or_metric_carries_a_personnummer_or_a_name_sent_in_path_query_or_body(DatabaseEngine engine)
    {
        var spans = new LockedList();
        await using var server = await StadigServer.StartAsync(engine,
            builder => builder.Services.AddOpenTelemetry().WithTracing(tracing => TelemetrySetup.ConfigureTracing(tracing).AddInMemoryExporter(spans)),
            Settings);
        const string number = "19121212-1212", compact = "191212121212", family = "Wallenquist", given = "Ottilia";
        var (client, patientId, note) = await ClinicianWithDraftAsync(server, number, family, given);

        await client.GetAsync($"/api/patients?q={family}");
        await client.GetAsync($"/api/patients?q={compact}");
        await client.GetAsync($"/?q={given}");
        await client.GetAsync($"/api/patients/{number}"); // not a route: the number is in the path
        await client.GetAsync($"/patients/{number}");
        await client.GetAsync($"/api/patients/{patientId}");
        await client.PutAsJsonAsync($"/api/notes/{note.Id}/draft", new { version = note.Version, keywords = new[] { new { keyword = "Aktuellt", text = $"{given} {family} {number}" } } });
        await client.PostAsJsonAsync("/api/patients", new { identifier = number, familyName = family, givenNames = given }); // already registered: a body with both
        var fhir = FhirClient(server, await server.AddUserAsync("fhir", "x"));
        await fhir.GetAsync($"/fhir/Patient?identifier=http://electronichealth.se/identifier/personnummer|{compact}");
        await fhir.GetAsync($"/fhir/Patient?family={family}&given={given}");
        await fhir.GetAsync($"/fhir/Patient/{compact}");

        var scraper = server.CreateClient();
        scraper.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ScrapeToken);
        var metrics = await scraper.GetStringAsync("/metrics");
        // Spans end as their requests end; the exporter has them once the provider flushes.
        server.Services.GetRequiredService<TracerProvider>().ForceFlush();

        Assert.Contains(spans.ToArray(), s => s.Kind == ActivityKind.Server && s.DisplayName == "GET /api/patients/{id:guid}");
        Assert.Contains(spans.ToArray(), s => s.Source.Name == (engine == DatabaseEngine.Postgres ? "Npgsql" : "Stadig.Storage"));
        var recorded = new StringBuilder(metrics);
        foreach (var span in spans.ToArray())
            {
                recorded.Append(span.DisplayName).Append(' ').Append(span.StatusDescription).Append('\n');
                foreach (var tag in span.TagObjects) recorded.Append(tag.Key).Append('=').Append(tag.Value).Append('\n');
                foreach (var e in span.Events)
                {
                    recorded.Append(e.Name).Append('\n');
                    foreach (var tag in e.Tags) recorded.Append(tag.Key).Append('=').Append(tag.Value).Append('\n');
                }
                foreach (var baggage in span.Baggage) recorded.Append(baggage.Key).Append('=').Append(baggage.Value).Append('\n');
            }
        var text = recorded.ToString();
        foreach (var secret in new[] { number, compact, "1212121212", family, given })
            Assert.DoesNotContain(secret, text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("url.query", text);
    }

    private static async Task<(HttpClient Client, Guid PatientId, Stadig.Notes.Note Note)> ClinicianWithDraftAsync(StadigServer server, string number, string family, string given = "Tolvan")
    {
        var (member, assignments) = await server.AddUserAsync("eva", "lösen");
        var eva = StadigServer.CallerFor(member, assignments[0]);
        var patientId = (await server.Patients.RegisterAsync(eva, number, new(family, given))).PatientId;
        var note = await server.Services.GetRequiredService<Stadig.Notes.ClinicalNotes>().CreateDraftAsync(eva, patientId, "Daganteckning");
        var client = server.CreateClient();
        await server.PostLoginAsync(client, "eva", "lösen");
        return (client, patientId, note);
    }

    private static HttpClient FhirClient(StadigServer server, (StaffMember Member, IReadOnlyList<Assignment> Assignments) user)
    {
        var token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "test-idp", Audience = "stadig", Expires = DateTime.UtcNow.AddMinutes(10),
            Claims = new Dictionary<string, object>
            {
                ["hsa_id"] = user.Member.HsaId, ["unit_hsa_id"] = user.Assignments[0].UnitHsaId, ["scope"] = "user/*.*", ["role"] = user.Assignments[0].Role.ToString(),
            },
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(SigningKey)), SecurityAlgorithms.HmacSha256),
        });
        var client = server.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>The exporter adds from whichever thread ends a span (a background service's query among them).</summary>
    private sealed class LockedList : System.Collections.ObjectModel.Collection<Activity>
    {
        protected override void InsertItem(int index, Activity item) { lock (this) base.InsertItem(index, item); }
        public Activity[] ToArray() { lock (this) return [.. this]; }
    }
}
