using System.Net;
using AngleSharp.Html.Parser;
using Stadig.Organisation;
using Stadig.Problems;
using Stadig.Storage;
using Stadig.Warnings;

namespace Stadig.Tests.Web;

public class ProblemPagesTests
{
    private static async Task<(StadigServer Server, HttpClient Client, Stadig.Access.Caller User, Guid Patient)> LoggedInAsync(DatabaseEngine engine, Role role = Role.Physician)
    {
        var server = await StadigServer.StartAsync(engine);
        var (member, assignments) = await server.AddUserAsync("eva", "lösen", false, role);
        var user = StadigServer.CallerFor(member, assignments[0]);
        var client = server.CreateClient();
        await server.PostLoginAsync(client, "eva", "lösen");
        var patient = (await server.Patients.RegisterAsync(user, "19121212-1212", new("Öström", "Anna"))).PatientId;
        return (server, client, user, patient);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_hypersensitivity_added_on_the_warnings_page_is_listed_there_and_on_the_chart_and_inactivated_with_a_reason(DatabaseEngine engine)
    {
        var (server, client, user, patient) = await LoggedInAsync(engine);
        await using var _s = server;
        var path = $"/patients/{patient}/warnings";

        var added = await StadigServer.PostFormAsync(client, path, "add-warning", new()
        {
            ["Input.Category"] = "Hypersensitivity", ["Input.Agent"] = "Penicillin", ["Input.Reaction"] = "Anafylaxi",
            ["Input.Severity"] = "LifeThreatening", ["Input.Certainty"] = "Confirmed", ["Input.Text"] = "",
        });
        Assert.Equal(HttpStatusCode.Redirect, added.StatusCode);
        var html = await client.GetStringAsync(added.Headers.Location);
        var document = new HtmlParser().ParseDocument(html);
        Assert.Contains("Öström, Anna", document.QuerySelector(".patient-banner")!.TextContent);
        var row = document.QuerySelector("#warning-list tbody tr.active")!;
        Assert.Contains("Överkänslighet mot Penicillin: Anafylaxi.", row.TextContent);
        Assert.Contains("Livshotande", row.TextContent);
        var chart = await client.GetStringAsync($"/patients/{patient}");
        Assert.Contains("Penicillin", new HtmlParser().ParseDocument(chart).QuerySelector("#warnings")!.TextContent);

        var warning = (await server.Services.GetRequiredService<PatientWarnings>().ListAsync(user, patient)).Single();
        var inactivated = await StadigServer.PostFormAsync(client, path, "inactivate-warning", new() { ["Inactivation.WarningId"] = warning.Id.ToString(), ["Inactivation.Reason"] = "Fel patient." });
        Assert.Equal(HttpStatusCode.Redirect, inactivated.StatusCode);
        var after = new HtmlParser().ParseDocument(await client.GetStringAsync(path));
        Assert.Contains("Fel patient.", after.QuerySelector("#warning-list tbody tr.inactive")!.TextContent);
        Assert.DoesNotContain("Penicillin", new HtmlParser().ParseDocument(await client.GetStringAsync($"/patients/{patient}")).QuerySelector("#warnings")!.TextContent);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_warnings_page_lists_the_signals_other_systems_sent_once_with_their_origin_in_one_audited_read(DatabaseEngine engine)
    {
        var (server, client, user, patient) = await LoggedInAsync(engine);
        await using var _s = server;
        await server.Services.GetRequiredService<PatientWarnings>().AddAsync(user, patient, new NewWarning("Hypersensitivity", "Penicillin ger utslag.", "Penicillin", "Utslag", "Harmful", "Confirmed"));
        var allergy = Stadig.Fhir.FhirJson.Parse($$$"""
            {"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/{{{patient}}}"},
             "clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical","code":"active"}]},
             "code":{"text":"Bigift"},"reaction":[{"manifestation":[{"text":"Anafylaxi"}],"severity":"severe"}],"meta":{"source":"urn:system:primarvarden"}}
            """);
        await server.Database.InUnscopedTransactionAsync(async (c, tx) =>
            await Stadig.Fhir.Store.FhirResourceStore.PutAsync(c, tx, allergy, "bigift", patient, user.UnitId, DateTimeOffset.UtcNow));
        async Task<long> AuditEventsAsync()
        {
            await using var c = await server.Database.OpenUnscopedAsync();
            return await Dapper.SqlMapper.ExecuteScalarAsync<long>(c, "SELECT COUNT(*) FROM audit_event WHERE patient_id = @patient", new { patient });
        }
        var before = await AuditEventsAsync();

        var document = new HtmlParser().ParseDocument(await client.GetStringAsync($"/patients/{patient}/warnings"));

        Assert.Equal(before + 1, await AuditEventsAsync());
        var external = document.QuerySelectorAll("#external-warning-list tbody tr");
        // The other system's allergy, once, with its system; the chart's own penicillin is in the chart's list only (its published copy is not listed again).
        Assert.Single(external);
        Assert.Contains("Bigift", external[0].TextContent);
        Assert.Contains("urn:system:primarvarden", external[0].TextContent);
        Assert.Contains("Penicillin", document.QuerySelector("#warning-list")!.TextContent);
        Assert.DoesNotContain("Penicillin", document.QuerySelector("#external-warnings")!.TextContent);
        // The banner shows both, read in the same event.
        var banner = document.QuerySelector("#attention-signals")!.TextContent;
        Assert.Contains("Bigift", banner);
        Assert.Contains("Penicillin", banner);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_missing_agent_is_shown_at_the_field_and_nothing_is_saved(DatabaseEngine engine)
    {
        var (server, client, user, patient) = await LoggedInAsync(engine);
        await using var _s = server;

        var response = await StadigServer.PostFormAsync(client, $"/patients/{patient}/warnings", "add-warning", new() { ["Input.Category"] = "Hypersensitivity", ["Input.Text"] = "Allergi" });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var document = new HtmlParser().ParseDocument(await response.Content.ReadAsStringAsync());
        Assert.Equal("true", document.QuerySelector("#warning-agent")!.GetAttribute("aria-invalid"));
        Assert.Empty(await server.Services.GetRequiredService<PatientWarnings>().ListAsync(user, patient));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_code_found_by_searching_is_picked_added_listed_on_the_chart_and_resolved(DatabaseEngine engine)
    {
        var (server, client, user, patient) = await LoggedInAsync(engine);
        await using var _s = server;
        var path = $"/patients/{patient}/problems";

        var search = new HtmlParser().ParseDocument(await client.GetStringAsync($"{path}?q=lunginflammation"));
        var pick = search.QuerySelectorAll(".code-matches a").Single(a => a.TextContent.Contains("J18.9"));
        var picked = new HtmlParser().ParseDocument(await client.GetStringAsync(pick.GetAttribute("href")));
        Assert.Equal("J18.9", picked.QuerySelector("#problem-code")!.GetAttribute("value"));
        Assert.Equal("Pneumoni, ospecificerad", picked.QuerySelector("#problem-text")!.GetAttribute("value"));

        var added = await StadigServer.PostFormAsync(client, path, "add-problem", new() { ["Input.Code"] = "J18.9", ["Input.Text"] = "", ["Input.OnsetDate"] = "2026-01-02" });
        Assert.Equal(HttpStatusCode.Redirect, added.StatusCode);
        var list = new HtmlParser().ParseDocument(await client.GetStringAsync(path));
        var row = list.QuerySelector("#problem-list tbody tr.active")!;
        Assert.Contains("Pneumoni, ospecificerad", row.TextContent);
        Assert.Contains("2026-01-02", row.TextContent);
        Assert.Contains("J18.9", new HtmlParser().ParseDocument(await client.GetStringAsync($"/patients/{patient}")).QuerySelector("#problems")!.TextContent);

        var problem = (await server.Services.GetRequiredService<PatientProblems>().ListAsync(user, patient)).Single();
        var resolved = await StadigServer.PostFormAsync(client, path, "resolve-problem", new() { ["Resolution.ProblemId"] = problem.Id.ToString() });
        Assert.Equal(HttpStatusCode.Redirect, resolved.StatusCode);
        Assert.NotNull(new HtmlParser().ParseDocument(await client.GetStringAsync(path)).QuerySelector("#problem-list tbody tr.inactive"));
        Assert.DoesNotContain("J18.9", new HtmlParser().ParseDocument(await client.GetStringAsync($"/patients/{patient}")).QuerySelector("#problems")!.TextContent);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_nurse_reads_the_problems_but_gets_no_form_to_change_them(DatabaseEngine engine)
    {
        var (server, client, user, patient) = await LoggedInAsync(engine, Role.Nurse);
        await using var _s = server;

        var html = await client.GetStringAsync($"/patients/{patient}/problems");

        Assert.Contains("Bara läkare registrerar", html);
        Assert.DoesNotContain("id=\"add-problem\"", html);
        Assert.Contains("id=\"add-warning\"", await client.GetStringAsync($"/patients/{patient}/warnings"));
    }
}
