using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Stadig.Access;
using Stadig.Patients;
using Stadig.Storage;
using Stadig.Tests.Fhir;

namespace Stadig.Tests.Hosting;

/// <summary>
/// What the hot paths cost the database, counted (Server-Timing's db-round-trips and db-statements),
/// not timed: a change that adds a round trip to a search, a chart, a new note or a FHIR call fails
/// here instead of waiting for a benchmark on a quiet machine (issue 23; docs/benchmarks.md).
/// Each is the second request of its kind, so one-off work (a chain's first event) is not counted.
/// </summary>
public partial class RequestCostTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private sealed record Cost(int RoundTrips, int Statements);

    [GeneratedRegex(@"db-round-trips;desc=(\d+).*db-statements;desc=(\d+)")]
    private static partial Regex CountsPattern();

    private static Cost CostOf(HttpResponseMessage response)
    {
        var timing = string.Join(",", response.Headers.GetValues("Server-Timing"));
        var match = CountsPattern().Match(timing);
        Assert.True(match.Success, timing);
        return new Cost(int.Parse(match.Groups[1].Value), int.Parse(match.Groups[2].Value));
    }

    private sealed record Setup(FhirTestServer Fhir, HttpClient Browser, HttpClient Integration, Guid PatientId, string Personnummer);

    private static async Task<Setup> SetUpAsync(DatabaseEngine engine)
    {
        var fhir = await FhirTestServer.StartAsync(engine);
        var caller = StadigServer.CallerFor(fhir.Member, fhir.Assignment);
        var personnummer = "19121212-1212";
        var patient = (await fhir.Server.Patients.RegisterAsync(caller, personnummer, new PatientDetails("Ek", "Per"))).PatientId;
        await fhir.Server.Services.GetRequiredService<AccessControl>().RecordCareRelationAsync(caller, patient, "Besök", Cancel);
        var browser = fhir.Server.CreateClient();
        await fhir.Server.PostLoginAsync(browser, "fhir", "x");
        return new Setup(fhir, browser, fhir.Client(), patient, personnummer);
    }

    private static async Task<Cost> SecondAsync(Setup s, string what, Func<Task<HttpResponseMessage>> send)
    {
        var first = await send();
        Assert.True(first.IsSuccessStatusCode || first.StatusCode == HttpStatusCode.Redirect, $"{what}: {first.StatusCode}\n{s.Fhir.Server.Log}");
        var response = await send();
        Assert.True(response.IsSuccessStatusCode || response.StatusCode == HttpStatusCode.Redirect, $"{what}: {response.StatusCode}\n{s.Fhir.Server.Log}");
        var cost = CostOf(response);
        TestContext.Current.TestOutputHelper?.WriteLine($"{what}: {cost.RoundTrips} round trips, {cost.Statements} statements");
        return cost;
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Print_the_costs(DatabaseEngine engine)
    {
        var s = await SetUpAsync(engine);
        await using var _ = s.Fhir;
        TestContext.Current.TestOutputHelper?.WriteLine(engine.ToString());
        await SecondAsync(s, "search page", () => s.Browser.GetAsync("/?q=Ek", Cancel));
        await SecondAsync(s, "chart overview", () => s.Browser.GetAsync($"/patients/{s.PatientId}", Cancel));
        await SecondAsync(s, "new note (POST)", () => StadigServer.PostFormAsync(s.Browser, $"/patients/{s.PatientId}", "new-note",
            new() { ["NewNote.NoteType"] = "Daganteckning" }));
        await SecondAsync(s, "FHIR Patient read", () => s.Integration.GetAsync($"/fhir/Patient/{s.PatientId}", Cancel));
        await SecondAsync(s, "FHIR Patient search by identifier", () => s.Integration.GetAsync(
            "/fhir/Patient?identifier=" + Uri.EscapeDataString("http://electronichealth.se/identifier/personnummer|191212121212"), Cancel));
        var n = 0;
        await SecondAsync(s, "FHIR Patient create", () => s.Integration.PostAsync("/fhir/Patient",
            FhirCalls.Json(FhirCalls.Patient(TestNumbers.Personnummer(1950 + n++, 3, 4).Replace("-", ""), "Lind", "Eva")), Cancel));
    }
}
