using System.Net;
using AngleSharp.Html.Parser;
using Dapper;
using Stadig.Access;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Tests.Web;

/// <summary>The pages that change who sees what: emergency access, blocks and consents, unit groups; each allowed, denied and audited.</summary>
public class AccessPagesTests
{
    /// <summary>A physician ("eva") logged in, and a patient registered at another unit, with a warning written there.</summary>
    private static async Task<(StadigServer Server, HttpClient Client, Caller Eva, Caller Other, Guid Patient)> SceneAsync(DatabaseEngine engine)
    {
        var (server, client, eva) = await StadigServer.WithLoggedInPhysicianAsync(engine);
        var (otherMember, otherAssignments) = await server.AddUserAsync("otto", "lösen");
        var other = StadigServer.CallerFor(otherMember, otherAssignments[0]);
        var patient = (await server.Patients.RegisterAsync(other, "19121212-1212", new("Öberg", "Lina"))).PatientId;
        await server.Services.GetRequiredService<Stadig.Warnings.PatientWarnings>().AddAsync(other, patient,
            new("Hypersensitivity", "Penicillin", "Penicillin", "Utslag"));
        return (server, client, eva, other, patient);
    }

    private static async Task<long> EventsAsync(StadigServer server, Guid? patient, Guid staff, string resource, string outcome, string? activity = null)
    {
        await using var c = await server.Database.OpenUnscopedAsync();
        var sql = "SELECT COUNT(*) FROM audit_event WHERE staff_id = @staff AND resource = @resource AND outcome = @outcome"
            + (patient is null ? " AND patient_id IS NULL" : " AND patient_id = @patient") + (activity is null ? "" : " AND activity = @activity");
        return await c.ExecuteScalarAsync<long>(sql, new { patient, staff, resource, outcome, activity });
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Emergency_access_is_completed_through_its_two_page_steps_and_both_are_audited(DatabaseEngine engine)
    {
        var (server, client, eva, _, patient) = await SceneAsync(engine);
        await using var _s = server;
        Assert.Contains("Ingen åtkomst till journalen", await client.GetStringAsync($"/patients/{patient}"));

        var revealed = await StadigServer.PostFormAsync(client, $"/patients/{patient}/emergency", "emergency-reveal", new());
        Assert.Equal(HttpStatusCode.OK, revealed.StatusCode);
        var page = new HtmlParser().ParseDocument(await revealed.Content.ReadAsStringAsync());
        Assert.Contains("Avdelning", page.QuerySelector("#hidden-records")!.TextContent);
        Assert.NotNull(page.QuerySelector("#open-emergency"));

        // Step two is a post of its own: the form it posts must exist when that post is handled.
        var opened = await StadigServer.PostFormAsync(client, $"/patients/{patient}/emergency", "emergency-open", new() { ["OpenForm.Reason"] = "Medvetslös på akuten" });
        Assert.Equal(HttpStatusCode.Redirect, opened.StatusCode);
        Assert.EndsWith($"/patients/{patient}", opened.Headers.Location!.OriginalString);
        var chart = await client.GetStringAsync($"/patients/{patient}");
        Assert.Contains("Journalen är öppnad med nödåtkomst", chart);
        Assert.Contains("Penicillin", chart);
        Assert.Equal(1, await EventsAsync(server, patient, eva.StaffId, "EmergencyReveal", "Allowed"));
        Assert.Equal(1, await EventsAsync(server, patient, eva.StaffId, "Patient", "Allowed", "EmergencyOpen"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Step_two_without_a_reason_shows_the_problem_on_its_form_and_opens_nothing(DatabaseEngine engine)
    {
        var (server, client, eva, _, patient) = await SceneAsync(engine);
        await using var _s = server;
        var response = await StadigServer.PostFormAsync(client, $"/patients/{patient}/emergency", "emergency-open", new() { ["OpenForm.Reason"] = " " });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var page = new HtmlParser().ParseDocument(await response.Content.ReadAsStringAsync());
        Assert.Contains("skäl", page.QuerySelector("#form-error")!.TextContent);
        Assert.NotNull(page.QuerySelector("#emergency-reason"));
        Assert.Equal(0, await EventsAsync(server, patient, eva.StaffId, "Patient", "Allowed", "EmergencyOpen"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Blocks_and_consents_are_set_and_lifted_on_the_chart_at_the_patients_request_and_audited(DatabaseEngine engine)
    {
        var (server, client, eva, other, patient) = await SceneAsync(engine);
        await using var _s = server;
        await server.Services.GetRequiredService<AccessControl>().RecordCareRelationAsync(eva, patient, "Besök");
        Assert.Contains("Penicillin", await client.GetStringAsync($"/patients/{patient}"));
        Assert.Contains($"/patients/{patient}/blocks", await client.GetStringAsync($"/patients/{patient}"));

        // Without the patient's own request nothing is set.
        var unconfirmed = await StadigServer.PostFormAsync(client, $"/patients/{patient}/blocks", "set-block",
            new() { ["BlockForm.UnitId"] = other.UnitId.ToString(), ["BlockForm.Reason"] = "Patienten begär spärr" });
        Assert.Contains("patientens egen begäran", new HtmlParser().ParseDocument(await unconfirmed.Content.ReadAsStringAsync()).QuerySelector("#form-error")!.TextContent);

        var blocked = await StadigServer.PostFormAsync(client, $"/patients/{patient}/blocks", "set-block",
            new() { ["BlockForm.UnitId"] = other.UnitId.ToString(), ["BlockForm.Reason"] = "Patienten begär spärr vid besök", ["BlockForm.PatientRequested"] = "true" });
        Assert.Equal(HttpStatusCode.Redirect, blocked.StatusCode);
        var page = await client.GetStringAsync($"/patients/{patient}/blocks");
        Assert.Contains("Patienten begär spärr vid besök", new HtmlParser().ParseDocument(page).QuerySelector("#active-blocks")!.TextContent);
        var chart = await client.GetStringAsync($"/patients/{patient}");
        Assert.DoesNotContain("Penicillin", chart);
        Assert.Contains("blocked-exists", chart);

        var consented = await StadigServer.PostFormAsync(client, $"/patients/{patient}/blocks", "record-consent", new()
        {
            ["ConsentForm.ViewerUnitId"] = eva.UnitId.ToString(), ["ConsentForm.SourceUnitId"] = other.UnitId.ToString(),
            ["ConsentForm.Until"] = DateTime.UtcNow.AddDays(30).ToString("yyyy-MM-dd"), ["ConsentForm.Reason"] = "Samtycker vid besök", ["ConsentForm.PatientRequested"] = "true",
        });
        Assert.Equal(HttpStatusCode.Redirect, consented.StatusCode);
        Assert.Contains("Penicillin", await client.GetStringAsync($"/patients/{patient}"));
        var consentId = new HtmlParser().ParseDocument(await client.GetStringAsync($"/patients/{patient}/blocks")).QuerySelector("#active-consents li")!.GetAttribute("data-consent")!;

        var revoked = await StadigServer.PostFormAsync(client, $"/patients/{patient}/blocks", "revoke-consent",
            new() { ["RevokeForm.ConsentId"] = consentId, ["RevokeForm.Reason"] = "Patienten återkallar", ["RevokeForm.PatientRequested"] = "true" });
        Assert.Equal(HttpStatusCode.Redirect, revoked.StatusCode);
        Assert.DoesNotContain("Penicillin", await client.GetStringAsync($"/patients/{patient}"));

        var lifted = await StadigServer.PostFormAsync(client, $"/patients/{patient}/blocks", "lift-block",
            new() { ["LiftForm.UnitId"] = other.UnitId.ToString(), ["LiftForm.Reason"] = "Patienten häver spärren", ["LiftForm.PatientRequested"] = "true" });
        Assert.Equal(HttpStatusCode.Redirect, lifted.StatusCode);
        Assert.Contains("Penicillin", await client.GetStringAsync($"/patients/{patient}"));

        Assert.Equal(2, await EventsAsync(server, patient, eva.StaffId, "Block", "Allowed", "Write"));
        Assert.Equal(2, await EventsAsync(server, patient, eva.StaffId, "Consent", "Allowed", "Write"));
        Assert.True(await EventsAsync(server, patient, eva.StaffId, "BlocksAndConsents", "Allowed", "Read") >= 1);
        await using var c = await server.Database.OpenUnscopedAsync();
        var block = await c.QuerySingleAsync<(string Reason, string LiftReason)>("SELECT reason, lift_reason FROM patient_block WHERE patient_id = @patient", new { patient });
        Assert.Equal(("Patienten begär spärr vid besök", "Patienten häver spärren"), block);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Roles_that_may_not_set_blocks_are_refused_and_audited(DatabaseEngine engine)
    {
        var (server, client, eva, other, patient) = await SceneAsync(engine);
        await using var _s = server;
        var access = server.Services.GetRequiredService<AccessControl>();
        var (lab, labAssignments) = await server.AddUserAsync("labb", "lösen", false, Role.LabStaff);
        var labCaller = StadigServer.CallerFor(lab, labAssignments[0]);
        await access.RecordCareRelationAsync(labCaller, patient, "Provtagning");
        var (admin, adminAssignments) = await server.AddUserAsync("admin", "lösen", false, Role.Administrator);
        var adminCaller = StadigServer.CallerFor(admin, adminAssignments[0]);
        await access.RecordCareRelationAsync(adminCaller, patient, "Registervård");

        foreach (var caller in new[] { labCaller, adminCaller })
        {
            await Assert.ThrowsAsync<Stadig.Common.ForbiddenException>(() => access.BlockAsync(caller, patient, other.UnitId, "Patienten begär spärr"));
            Assert.Equal(1, await EventsAsync(server, patient, caller.StaffId, "Block", "Denied"));
        }
        // Without a care relation, neither: the unit that sets a block is one that takes part in the care.
        await Assert.ThrowsAsync<Stadig.Common.ForbiddenException>(() => access.BlockAsync(eva, patient, other.UnitId, "Patienten begär spärr"));
        Assert.Equal(1, await EventsAsync(server, patient, eva.StaffId, "Block", "Denied"));
        Assert.Contains("Ingen åtkomst till journalen", await client.GetStringAsync($"/patients/{patient}/blocks"));

        var labClient = server.CreateClient();
        await server.PostLoginAsync(labClient, "labb", "lösen");
        Assert.Contains("Ingen åtkomst till journalen", await labClient.GetStringAsync($"/patients/{patient}/blocks"));
        Assert.Equal(1, await EventsAsync(server, patient, labCaller.StaffId, "BlocksAndConsents", "Denied"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Only_an_administrator_groups_units_and_each_change_is_audited_with_the_caller(DatabaseEngine engine)
    {
        var (server, client, eva, other, patient) = await SceneAsync(engine);
        await using var _s = server;
        var (adminMember, _) = await server.AddUserAsync("admin", "lösen", false, Role.Administrator);
        var adminId = adminMember.Id;
        var admin = server.CreateClient();
        await server.PostLoginAsync(admin, "admin", "lösen");

        Assert.DoesNotContain("Penicillin", await client.GetStringAsync($"/patients/{patient}"));
        await server.Services.GetRequiredService<AccessControl>().RecordCareRelationAsync(eva, patient, "Besök");
        foreach (var unit in new[] { eva.UnitId, other.UnitId })
        {
            var grouped = await StadigServer.PostFormAsync(admin, "/admin/unit-groups", "group-unit", new() { ["AddForm.GroupName"] = "Medicinkliniken", ["AddForm.UnitId"] = unit.ToString() });
            Assert.Equal(HttpStatusCode.Redirect, grouped.StatusCode);
        }
        Assert.Contains("Medicinkliniken", await admin.GetStringAsync("/admin/unit-groups"));
        Assert.Equal(2, await EventsAsync(server, null, adminId, "UnitGroup", "Allowed", "Write"));

        var removed = await StadigServer.PostFormAsync(admin, "/admin/unit-groups", "ungroup-unit", new() { ["RemoveForm.Member"] = $"{other.UnitId}|Medicinkliniken" });
        Assert.Equal(HttpStatusCode.Redirect, removed.StatusCode);
        Assert.Equal(3, await EventsAsync(server, null, adminId, "UnitGroup", "Allowed", "Write"));

        // A physician may not: refused, audited, nothing changed.
        var access = server.Services.GetRequiredService<AccessControl>();
        await Assert.ThrowsAsync<Stadig.Common.ForbiddenException>(() => access.GroupUnitsAsync(eva, "Egen grupp", [eva.UnitId, other.UnitId]));
        Assert.Equal(1, await EventsAsync(server, null, eva.StaffId, "UnitGroup", "Denied"));
        Assert.DoesNotContain("Egen grupp", await admin.GetStringAsync("/admin/unit-groups"));
        Assert.Contains("form-error", await client.GetStringAsync("/admin/unit-groups"));
    }
}
