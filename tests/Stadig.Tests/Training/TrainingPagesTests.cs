using System.Net;
using System.Text.Json;
using Stadig.Hosting;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Tests.Training;

public class TrainingPagesTests
{
    private const string Banner = "ÖVNINGSMILJÖ — inga riktiga patienter";

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    [Hazard("H-10")]
    public async Task A_training_installation_refuses_a_production_database_and_production_refuses_a_training_database_and_training_logins(DatabaseEngine engine)
    {
        var production = await TestDatabases.CreateConnectionStringAsync(engine);
        await using (var server = await StadigServer.StartOnAsync(production, "http://127.0.0.1:0"))
        {
            // A practice account in a production database is refused at login.
            await server.AddUserAsync("ovning", "demo", isDemo: true);
            var login = await server.PostLoginAsync(server.CreateClient(), "ovning", "demo");
            Assert.Contains("error=demo", login.Headers.Location?.OriginalString);
            Assert.DoesNotContain(Banner, await server.CreateClient().GetStringAsync("/login"));
        }
        var refused = await Assert.ThrowsAsync<StartupException>(() => StadigServer.StartOnAsync(production, "http://127.0.0.1:0", "--Stadig:Mode=Training"));
        Assert.Contains("production database", refused.Message);

        var training = await TestDatabases.CreateConnectionStringAsync(engine);
        await using (var server = await StadigServer.StartOnAsync(training, "http://127.0.0.1:0", "--Stadig:Mode=Training", "--Stadig:DemoPatients=5"))
        {
            Assert.Contains(Banner, await server.CreateClient().GetStringAsync("/login"));
            Assert.Equal(0, server.Services.GetRequiredService<StadigOptions>().Mllp.Port);
            // The practice logins work here.
            Assert.DoesNotContain("error", (await server.PostLoginAsync(server.CreateClient(), "sjukskoterska", "demo")).Headers.Location?.OriginalString);
        }
        var refusedTraining = await Assert.ThrowsAsync<StartupException>(() => StadigServer.StartOnAsync(training, "http://127.0.0.1:0"));
        Assert.Contains("training database", refusedTraining.Message);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_trainee_starts_an_exercise_does_it_and_sees_it_done_and_the_unit_manager_sees_it_in_the_report(DatabaseEngine engine)
    {
        await using var server = await StadigServer.StartAsync(engine, "--Stadig:Mode=Training", "--Stadig:DemoPatients=5");
        var (member, assignments) = await server.AddUserAsync("tove", "lösen", isDemo: true);
        var tove = StadigServer.CallerFor(member, assignments[0]);
        await server.Services.GetRequiredService<Stadig.Training.TrainingRoster>().AddAsync(member.Id, tove.UnitId, Role.Physician);
        var client = server.CreateClient();
        await server.PostLoginAsync(client, "tove", "lösen");

        const string exercise = "/training/exercises/physician-problem-diagnosis";
        var page = await client.GetStringAsync(exercise);
        Assert.Contains("I10", page);
        var started = await client.PostAsync(exercise + "/start", new FormUrlEncodedContent(new Dictionary<string, string> { ["__RequestVerificationToken"] = StadigServer.AntiforgeryToken(page) }));
        Assert.Equal(exercise + "?started=1", started.Headers.Location?.OriginalString);
        Assert.Contains("data-status=\"in-progress\"", await client.GetStringAsync("/training"));

        var attempt = (await server.Services.GetRequiredService<Stadig.Training.TrainingExercises>().ProgressAsync(tove)).Single(p => p.Exercise.Id == "physician-problem-diagnosis");
        await server.Services.GetRequiredService<Stadig.Problems.PatientProblems>().AddAsync(tove, attempt.Patients.Single().PatientId, "I10");
        Assert.Contains("id=\"exercise-done\"", await client.GetStringAsync(exercise));
        Assert.Contains("data-exercise=\"physician-problem-diagnosis\" data-status=\"done\"", await client.GetStringAsync("/training"));

        // The unit manager of Tove's unit reads the report; Tove herself may not.
        var (chef, _) = await server.AddUserAsync("chef", "lösen", isDemo: true, Role.UnitManager);
        await server.Staff.AddAssignmentAsync(chef.Id, tove.UnitId, Role.UnitManager, Purpose.Administration);
        var chefClient = server.CreateClient();
        await server.PostLoginAsync(chefClient, "chef", "lösen");
        var choose = await chefClient.GetStringAsync("/assignment");
        var assignment = (await server.Staff.AssignmentsOfAsync(chef.Id)).Single(a => a.UnitId == tove.UnitId);
        await chefClient.PostAsync("/assignment", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = StadigServer.AntiforgeryToken(choose), ["assignmentId"] = assignment.Id.ToString(), ["returnUrl"] = "/",
        }));
        using var json = JsonDocument.Parse(await chefClient.GetStringAsync("/training/report.json"));
        var person = json.RootElement.GetProperty("people").EnumerateArray().Single();
        Assert.Equal(member.HsaId, person.GetProperty("hsaId").GetString());
        Assert.Contains("physician-problem-diagnosis", person.GetProperty("completed").EnumerateArray().Select(e => e.GetString()));
        Assert.Contains(member.HsaId, await chefClient.GetStringAsync("/training/report.csv"));
        Assert.Contains("Utbildningsrapport", await chefClient.GetStringAsync("/training/report"));
        Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync("/training/report.json")).StatusCode);
    }
}
