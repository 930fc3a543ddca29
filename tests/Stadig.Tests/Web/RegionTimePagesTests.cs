using AngleSharp.Html.Parser;
using Stadig.Common;
using Stadig.Encounters;
using Stadig.Storage;

namespace Stadig.Tests.Web;

/// <summary>
/// One clock: pages show the region's wall clock, never the host's zone (UTC in a container; the
/// test run sets TZ=UTC, see test.sh), and the zone is a setting.
/// </summary>
public class RegionTimePagesTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_ward_list_shows_the_admission_time_on_the_Swedish_clock(DatabaseEngine engine)
    {
        var (server, client, eva) = await StadigServer.WithLoggedInPhysicianAsync(engine);
        await using var _s = server;
        var patient = (await server.Patients.RegisterAsync(eva, TestNumbers.Personnummer(1950, 3, 3), new("Öström", "Anna"))).PatientId;
        var admitted = await server.Services.GetRequiredService<PatientEncounters>().AdmitAsync(eva, patient, eva.UnitId, "3");

        var shown = WardRowTime(await client.GetStringAsync("/ward"));

        var stockholm = TimeZoneInfo.FindSystemTimeZoneById("Europe/Stockholm");
        Assert.Equal(TimeZoneInfo.ConvertTime(admitted.StartedAt, stockholm).ToString("yyyy-MM-dd HH:mm"), shown);
        Assert.NotEqual(admitted.StartedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm"), shown);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_region_zone_is_a_setting_and_not_the_hosts(DatabaseEngine engine)
    {
        var (server, client, eva) = await StadigServer.WithLoggedInPhysicianAsync(engine, "--Stadig:TimeZone=Asia/Tokyo");
        await using var _s = server;
        var patient = (await server.Patients.RegisterAsync(eva, TestNumbers.Personnummer(1950, 4, 4), new("Berg", "Bo"))).PatientId;
        var admitted = await server.Services.GetRequiredService<PatientEncounters>().AdmitAsync(eva, patient, eva.UnitId, "4");

        // Tokyo has no summer time: always nine hours ahead of UTC.
        Assert.Equal(admitted.StartedAt.UtcDateTime.AddHours(9).ToString("yyyy-MM-dd HH:mm"), WardRowTime(await client.GetStringAsync("/ward")));
    }

    [Fact]
    public void An_unknown_zone_stops_the_start_with_a_line_naming_it()
    {
        var error = Assert.Throws<ArgumentException>(() => new RegionTime("Europe/Stokholm"));
        Assert.Contains("Europe/Stokholm", error.Message);
    }

    [Fact]
    public void Wall_clock_times_are_read_in_the_region_also_around_the_changes_of_summer_time()
    {
        var sweden = RegionTime.Sweden;
        Assert.Equal(new DateTimeOffset(2026, 7, 1, 15, 0, 0, TimeSpan.Zero), sweden.FromRegion(new DateTime(2026, 7, 1, 17, 0, 0)).ToUniversalTime());
        Assert.Equal(new DateTimeOffset(2026, 12, 4, 16, 0, 0, TimeSpan.Zero), sweden.FromRegion(new DateTime(2026, 12, 4, 17, 0, 0)).ToUniversalTime());
        // 02:30 on 25 October 2026 happens twice; the first (summer time) is taken.
        Assert.Equal(new DateTimeOffset(2026, 10, 25, 0, 30, 0, TimeSpan.Zero), sweden.FromRegion(new DateTime(2026, 10, 25, 2, 30, 0)).ToUniversalTime());
        // 02:30 on 29 March 2026 never happens; read as winter time.
        Assert.Equal(new DateTimeOffset(2026, 3, 29, 1, 30, 0, TimeSpan.Zero), sweden.FromRegion(new DateTime(2026, 3, 29, 2, 30, 0)).ToUniversalTime());
        Assert.Equal(new DateOnly(2026, 12, 5), sweden.Day(new DateTimeOffset(2026, 12, 4, 23, 30, 0, TimeSpan.Zero)));
        Assert.Equal(new DateTimeOffset(2026, 12, 4, 23, 0, 0, TimeSpan.Zero), sweden.StartOfDay(new DateOnly(2026, 12, 5)));
    }

    private static string WardRowTime(string html)
    {
        var row = Assert.Single(new HtmlParser().ParseDocument(html).QuerySelectorAll("#ward-list tbody tr"));
        return System.Text.RegularExpressions.Regex.Match(row.TextContent, @"\d{4}-\d{2}-\d{2} \d{2}:\d{2}").Value;
    }
}
