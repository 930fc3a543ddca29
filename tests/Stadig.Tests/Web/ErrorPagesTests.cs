using System.Net;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Tests.Web;

/// <summary>Failures a person meets in the browser: the status in words, in their language, inside the layout, with the way back.</summary>
public class ErrorPagesTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_unknown_address_gives_the_applications_404_page_in_the_users_language(DatabaseEngine engine)
    {
        var (server, client, _) = await StadigServer.WithLoggedInPhysicianAsync(engine);
        await using var _s = server;

        var swedish = await client.GetAsync("/finns/inte");
        Assert.Equal(HttpStatusCode.NotFound, swedish.StatusCode);
        var html = await swedish.Content.ReadAsStringAsync();
        Assert.Contains("Sidan finns inte", html);
        Assert.Contains("class=\"app-header\"", html);
        Assert.Contains("href=\"/\"", html);

        await client.GetAsync("/culture?name=en&returnUrl=/");
        var english = await client.GetAsync("/finns/inte");
        Assert.Equal(HttpStatusCode.NotFound, english.StatusCode);
        Assert.Contains("The page does not exist", await english.Content.ReadAsStringAsync());
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_patient_id_nobody_has_says_no_such_patient_instead_of_offering_a_care_relation(DatabaseEngine engine)
    {
        var (server, client, _) = await StadigServer.WithLoggedInPhysicianAsync(engine);
        await using var _s = server;

        var html = await client.GetStringAsync($"/patients/{Guid.NewGuid()}");
        Assert.Contains("Patienten finns inte", html);
        Assert.DoesNotContain("care-relation", html);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Unreadable_query_values_are_a_400_naming_the_parameter_and_never_reach_the_log(DatabaseEngine engine)
    {
        await using var server = await StadigServer.StartAsync(engine);
        await server.AddUserAsync("granskare", "lösen", false, Role.LogAuditor);
        var auditor = server.CreateClient();
        await server.PostLoginAsync(auditor, "granskare", "lösen");
        await server.AddUserAsync("eva", "lösen");
        var physician = server.CreateClient();
        await server.PostLoginAsync(physician, "eva", "lösen");

        var audit = await auditor.GetAsync("/audit?offset=191212121212");
        Assert.Equal(HttpStatusCode.BadRequest, audit.StatusCode);
        Assert.Contains("offset", await audit.Content.ReadAsStringAsync());
        var inbox = await physician.GetAsync("/results/inbox?Attested=19121212-1212");
        Assert.Equal(HttpStatusCode.BadRequest, inbox.StatusCode);
        Assert.Contains("attested", await inbox.Content.ReadAsStringAsync());

        Assert.DoesNotContain("191212121212", server.Log.ToString());
        Assert.DoesNotContain("19121212-1212", server.Log.ToString());
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_order_without_analyses_gives_the_form_back_with_a_message(DatabaseEngine engine)
    {
        var (server, client, eva) = await StadigServer.WithLoggedInPhysicianAsync(engine);
        await using var _s = server;
        var patient = (await server.Patients.RegisterAsync(eva, "19121212-1212", new("Öström", "Anna"))).PatientId;
        var path = $"/patients/{patient}/orders";
        var page = await client.GetStringAsync(path);

        var empty = await client.PostAsync(path, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = StadigServer.AntiforgeryToken(page), ["_handler"] = "place-order", ["Input.RequestId"] = "req-empty",
        }));

        Assert.Equal(HttpStatusCode.OK, empty.StatusCode);
        var html = await empty.Content.ReadAsStringAsync();
        Assert.Contains("Välj minst en analys", html);
        Assert.Contains("id=\"place-order\"", html);
        Assert.Empty(await server.Services.GetRequiredService<Stadig.Orders.LabOrders>().ListAsync(eva, patient));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_api_answers_failures_as_problem_details_with_the_one_maps_status(DatabaseEngine engine)
    {
        var (server, client, _) = await StadigServer.WithLoggedInPhysicianAsync(engine);
        await using var _s = server;

        var missing = await client.GetAsync($"/api/patients/{Guid.NewGuid()}");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
    }
}
