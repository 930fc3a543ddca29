using System.Net;
using Dapper;
using Stadig.LabResults;
using Stadig.Organisation;
using Stadig.Patients.Identifiers;
using Stadig.Storage;

namespace Stadig.Tests.Web;

public class InboxPageTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_physician_cannot_attest_a_critical_result_from_the_inbox_but_opens_it_sees_its_values_and_attests_it_there(DatabaseEngine engine)
    {
        await using var server = await StadigServer.StartAsync(engine);
        var (doctor, assignments) = await server.AddUserAsync("doktor", "lösen");
        var caller = StadigServer.CallerFor(doctor, assignments[0]);
        var number = TestNumbers.Personnummer(1950, 3, 14);
        await server.Patients.RegisterAsync(caller, number, new("Öberg", "Lina"));
        var labUnit = await server.Staff.AddUnitAsync((await server.Staff.UnitsAsync())[0].ProviderId, "SE2321000016-0099", "Klinisk kemi", UnitKind.Lab);
        var ingest = new IngestOruMessage(server.Database, server.Services.GetRequiredService<Stadig.Audit.AuditLog>(),
            new PatientMatcher(new PatientIdentifierRules(TimeProvider.System)), await LabIntegration.CallerAsync(server.Staff, labUnit), TimeProvider.System);
        await ingest.IngestAsync("MSH|^~\\&|LABSYS|KLINKEM|STADIG|REGION|20261123075500+0100||ORU^R01|I1|P|2.5\r" +
            $"PID|1||{number.Replace("-", "")}^^^^PN||Öberg^Lina\rOBR|1|P1|F1|K^Kalium^L\rOBX|1|NM|K^P-Kalium^L||6.9|mmol/L|3.5-4.4|HH|||F\r");
        var client = server.CreateClient();
        await server.PostLoginAsync(client, "doktor", "lösen");

        var page = await client.GetStringAsync("/results/inbox");
        Assert.Contains("Kritiskt", page);
        Assert.Contains("Öberg, Lina", page);
        Assert.Contains("P-Kalium 6,9 mmol/L (HH)", page);
        // No box to tick for a critical result, and a hand-made post is refused with the reason.
        Assert.DoesNotContain("name=\"reportIds\"", page);
        var reportId = System.Text.RegularExpressions.Regex.Match(page, "href=\"/results/([0-9a-f-]{36})\"").Groups[1].Value;
        var fromList = await client.PostAsync("/results/attest", new FormUrlEncodedContent(
        [
            new("__RequestVerificationToken", StadigServer.AntiforgeryToken(page)), new("reportIds", reportId),
        ]));
        Assert.StartsWith("/results/inbox?error=", fromList.Headers.Location?.OriginalString);
        Assert.Contains("avvikande värden", await client.GetStringAsync(fromList.Headers.Location!.OriginalString));

        var next = await client.GetAsync("/results/inbox/next");
        Assert.Equal($"/results/{reportId}", next.Headers.Location?.OriginalString);
        var view = await client.GetStringAsync($"/results/{reportId}");
        Assert.Contains("6,9", view);
        Assert.Contains("3,5–4,4", view);
        Assert.Contains("Kritiskt högt", view);
        var seen = System.Text.RegularExpressions.Regex.Match(view, "name=\"seen\" value=\"([0-9a-f]+)\"").Groups[1].Value;
        var attested = await client.PostAsync($"/results/{reportId}/attest", new FormUrlEncodedContent(
        [
            new("__RequestVerificationToken", StadigServer.AntiforgeryToken(view)), new("seen", seen),
        ]));
        Assert.Equal($"/results/{reportId}?attested=1", attested.Headers.Location?.OriginalString);
        Assert.Contains("Vidimerat av", await client.GetStringAsync($"/results/{reportId}"));
        Assert.Contains("Inga ovidimerade svar", await client.GetStringAsync("/results/inbox"));
        Assert.Equal("/results/inbox?done=1", (await client.GetAsync("/results/inbox/next")).Headers.Location?.OriginalString);
    }
}
