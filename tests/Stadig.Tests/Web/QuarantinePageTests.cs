using System.Net;
using Dapper;
using Stadig.LabResults;
using Stadig.Organisation;
using Stadig.Patients.Identifiers;
using Stadig.Storage;

namespace Stadig.Tests.Web;

public class QuarantinePageTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Lab_staff_see_the_quarantine_and_file_a_result_from_the_page(DatabaseEngine engine)
    {
        await using var server = await StadigServer.StartAsync(engine);
        var (bma, assignments) = await server.AddUserAsync("bma", "lösen", false, Role.LabStaff);
        var labCaller = StadigServer.CallerFor(bma, assignments[0]);
        var number = TestNumbers.Personnummer(1950, 3, 14);
        var patientId = (await server.Patients.RegisterAsync(labCaller, number, new("Öberg", "Lina"))).PatientId;
        var integration = await LabIntegration.CallerAsync(server.Staff, (await server.Staff.UnitsAsync()).First(u => u.Id == assignments[0].UnitId));
        var ingest = new IngestOruMessage(server.Database, server.Services.GetRequiredService<Stadig.Audit.AuditLog>(),
            new PatientMatcher(new PatientIdentifierRules(TimeProvider.System)), integration, TimeProvider.System);
        await ingest.IngestAsync(
            "MSH|^~\\&|LABSYS|KLINKEM|STADIG|REGION|20261123075500+0100||ORU^R01^ORU_R01|QP1|P|2.5\r" +
            $"PID|1||{number.Replace("-", "")}^^^^PN||Öbergh^Lina\rOBR|1|P200|L100|BLODSTATUS^Blodstatus^L\rOBX|1|NM|HB^Hemoglobin^L||128|g/L|117-153|N|||F\r");
        var client = server.CreateClient();
        await server.PostLoginAsync(client, "bma", "lösen");

        var page = await client.GetStringAsync("/lab/quarantine");
        Assert.Contains("Namnet stämmer inte", page);
        Assert.Contains("Öbergh", page);
        var itemId = (await server.Services.GetRequiredService<ResultQuarantine>().ListOpenAsync(labCaller)).Single().Id;

        var empty = await client.PostAsync($"/lab/quarantine/{itemId}/file", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = StadigServer.AntiforgeryToken(page), ["identifier"] = number, ["reason"] = "",
        }));
        Assert.Contains("error=", empty.Headers.Location?.OriginalString);

        var filed = await client.PostAsync($"/lab/quarantine/{itemId}/file", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = StadigServer.AntiforgeryToken(page), ["identifier"] = number, ["reason"] = "Stavfel, pnr stämmer",
        }));
        Assert.Equal("/lab/quarantine", filed.Headers.Location?.OriginalString);
        await using var c = await server.Database.OpenUnscopedAsync();
        Assert.Equal(1, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM lab_result WHERE patient_id = @patientId", new { patientId }));
        Assert.Contains("Inga provsvar i karantän", await client.GetStringAsync("/lab/quarantine"));
    }

    [Fact]
    public async Task The_operations_page_shows_message_states_to_administrators_only()
    {
        await using var server = await StadigServer.StartAsync(DatabaseEngine.Sqlite);
        await server.AddUserAsync("drift", "lösen", false, Role.Administrator);
        await server.AddUserAsync("doktor", "lösen", false, Role.Physician);
        var admin = server.CreateClient();
        await server.PostLoginAsync(admin, "drift", "lösen");
        var response = await admin.GetAsync("/operations");
        Assert.True(response.IsSuccessStatusCode, server.Log.ToString());
        var page = await response.Content.ReadAsStringAsync();
        Assert.Contains("Drift: meddelandeflöden", page);
        Assert.Contains("Inga meddelanden har fastnat", page);

        var doctor = server.CreateClient();
        await server.PostLoginAsync(doctor, "doktor", "lösen");
        Assert.DoesNotContain("message-counts", await doctor.GetStringAsync("/operations"));
    }

    [Fact]
    public async Task A_message_left_unanswered_raises_an_alert_on_the_operations_page_and_degrades_health_ready()
    {
        await using var server = await StadigServer.StartAsync(DatabaseEngine.Sqlite);
        await server.AddUserAsync("drift", "lösen", false, Role.Administrator);
        var admin = server.CreateClient();
        await server.PostLoginAsync(admin, "drift", "lösen");
        Assert.DoesNotContain("id=\"unanswered\"", await admin.GetStringAsync("/operations"));
        Assert.Equal("Healthy", (await server.CreateClient().GetStringAsync("/health/ready")).Trim());

        // What a crash between storing and deciding leaves behind: a message Received an hour ago.
        await using (var c = await server.Database.OpenUnscopedAsync())
        {
            await c.ExecuteAsync(
                """
                INSERT INTO hl7_message (id, direction, control_id, sending_application, sending_facility, message_type, received_at, byte_count, raw_text, state, state_changed_at)
                VALUES (@id, 'Inbound', 'left-1', 'LABSYS', 'KLINKEM', 'ORU^R01', @at, 10, 'MSH|^~\&|', 'Received', @at)
                """, new { id = Guid.CreateVersion7(), at = DateTimeOffset.UtcNow.AddHours(-1) });
        }

        Assert.Contains("id=\"unanswered\"", await admin.GetStringAsync("/operations"));
        var ready = await server.CreateClient().GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        var body = await ready.Content.ReadAsStringAsync();
        Assert.StartsWith("Degraded", body, StringComparison.Ordinal);
        Assert.Contains("hl7-messages", body, StringComparison.Ordinal);
    }
}
