using Stadig.Storage;

namespace Stadig.Tests.Web;

public class NoPatientDataInLogsTests
{
    [Fact]
    public async Task A_full_ui_flow_leaves_no_patient_name_or_number_in_the_application_log()
    {
        await using var server = await StadigServer.StartAsync(DatabaseEngine.Sqlite, "--Logging:LogLevel:Default=Trace", "--Logging:LogLevel:Microsoft=Trace", "--Logging:LogLevel:Microsoft.AspNetCore=Trace");
        await server.AddUserAsync("eva", "lösen");
        var client = server.CreateClient();
        await server.PostLoginAsync(client, "eva", "lösen");

        var form = await client.GetStringAsync("/patients/new");
        var registered = await client.PostAsync("/patients/new", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = StadigServer.AntiforgeryToken(form), ["_handler"] = "register-patient",
            ["Input.Identifier"] = "19121212-1212", ["Input.FamilyName"] = "Wallenquist", ["Input.GivenNames"] = "Ottilia",
            ["Input.AddressLine"] = "Lönngången 7", ["Input.ProtectedIdentity"] = "None",
        }));
        await client.GetStringAsync(registered.Headers.Location);
        await client.GetStringAsync("/?q=wallenquist");
        await client.GetStringAsync("/?q=191212121212");
        await client.GetStringAsync("/api/patients?q=ottilia");
        // A failing request too: the error path must not log the input either.
        await client.PostAsync("/patients/new", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = StadigServer.AntiforgeryToken(form), ["_handler"] = "register-patient",
            ["Input.Identifier"] = "19121212-1213", ["Input.FamilyName"] = "Wallenquist", ["Input.GivenNames"] = "Ottilia",
        }));

        var log = server.Log.ToString();
        Assert.NotEmpty(server.Log.Lines);
        foreach (var secret in new[] { "Wallenquist", "wallenquist", "Ottilia", "ottilia", "191212121212", "19121212-1212", "1212121212", "Lönngången" })
            Assert.DoesNotContain(secret, log);
    }
}
