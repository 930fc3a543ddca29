using System.Net;
using AngleSharp.Html.Parser;
using Dapper;
using Stadig.Downtime;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Tests.Downtime;

/// <summary>The operations page's snapshot section and button (issue 19, item 1).</summary>
public class SnapshotOperationsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_operations_page_shows_each_wards_latest_snapshot_flags_one_without_and_only_an_administrator_has_them_made_now(DatabaseEngine engine)
    {
        var root = Directory.CreateTempSubdirectory("stadig-snapshots-").FullName;
        var keys = Path.Combine(root, "keys");
        await using var server = await StadigServer.StartAsync(engine, $"--Stadig:Downtime:Snapshots:Folder={Path.Combine(root, "share")}",
            $"--Stadig:Downtime:Snapshots:KeyFolder={keys}");
        await server.AddUserAsync("drift", "lösen", false, Role.Administrator);
        await server.AddUserAsync("syster", "lösen", false, Role.Nurse);
        var ward = await server.Staff.AddUnitAsync((await server.Staff.UnitsAsync())[0].ProviderId, "SE2321000016-W777", "Reservavdelningen", UnitKind.Ward);
        SnapshotKeys.Write(keys, ward.HsaId, "avdelningens långa nyckel");
        var admin = server.CreateClient();
        await server.PostLoginAsync(admin, "drift", "lösen");
        var nurse = server.CreateClient();
        await server.PostLoginAsync(nurse, "syster", "lösen");

        var nursePage = await nurse.GetStringAsync("/operations", Ct);
        Assert.DoesNotContain("make-snapshots", nursePage);
        var refused = await nurse.PostAsync("/operations/snapshots", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = StadigServer.AntiforgeryToken(nursePage),
        }), Ct);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);

        var page = await admin.GetStringAsync("/operations", Ct);
        var made = await admin.PostAsync("/operations/snapshots", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = StadigServer.AntiforgeryToken(page),
        }), Ct);
        Assert.Equal(HttpStatusCode.Redirect, made.StatusCode);
        Assert.StartsWith("/operations?snapshotUnits=", made.Headers.Location!.OriginalString);

        var after = new HtmlParser().ParseDocument(await admin.GetStringAsync(made.Headers.Location!.OriginalString, Ct));
        Assert.NotNull(after.QuerySelector("#snapshots-made"));
        var row = after.QuerySelector($"#snapshot-units tr[data-unit='{ward.HsaId}']")!;
        Assert.Matches(@"\d{4}-\d\d-\d\d \d\d:\d\d", row.Children[1].TextContent);
        Assert.Contains("Aktuell", row.Children[2].TextContent);
        Assert.False(row.ClassList.Contains("stale"));
        // The administrator's own ward has no key: no snapshot, flagged stale, with the reason.
        var keyless = after.QuerySelectorAll("#snapshot-units tbody tr").First(r => r.GetAttribute("data-unit") != ward.HsaId);
        Assert.True(keyless.ClassList.Contains("stale"));
        Assert.Contains("Ingen ännu", keyless.TextContent);
        Assert.Contains("saknar reservnyckel", keyless.TextContent);
        Assert.NotEmpty(SnapshotFiles.Generations(Path.Combine(root, "share"), ward.HsaId));

        await using var c = await server.Database.OpenUnscopedAsync(Ct);
        Assert.True(await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM audit_event WHERE resource = @resource AND patient_id IS NULL AND staff_hsa_id = 'SYSTEM'",
            new { resource = UnitSnapshotReader.Resource }) >= 1);
    }
}
