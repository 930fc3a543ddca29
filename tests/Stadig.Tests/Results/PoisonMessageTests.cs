using Dapper;
using Stadig.Hl7;
using Stadig.LabResults;
using Stadig.Storage;
using static Stadig.Tests.Results.IngestLab;

namespace Stadig.Tests.Results;

/// <summary>Messages that once threw mid-ingest: each now ends stored and decided, with an AE naming the segment and field; and the watchdog for any that do not.</summary>
public class PoisonMessageTests
{
    public static TheoryData<DatabaseEngine, string, string, string> Cases()
    {
        var data = new TheoryData<DatabaseEngine, string, string, string>();
        foreach (var engine in new[] { DatabaseEngine.Sqlite, DatabaseEngine.Postgres })
        {
            data.Add(engine, "range-space", "OBX|1|NM|K^P-Kalium^L||3.9|mmol/L| |N|||F\r", "");
            data.Add(engine, "obx14-offset", "OBX|1|NM|K^P-Kalium^L||3.9|mmol/L|3.5-4.4|N|||F|||20261204083000+1459\r", "OBX-14");
            data.Add(engine, "obx14-year1", "OBX|1|NM|K^P-Kalium^L||3.9|mmol/L|3.5-4.4|N|||F|||00010101000000+0100\r", "OBX-14");
            data.Add(engine, "obx14-minutes", "OBX|1|NM|K^P-Kalium^L||3.9|mmol/L|3.5-4.4|N|||F|||20261204083000+0175\r", "OBX-14");
        }
        return data;
    }

    [Theory, MemberData(nameof(Cases))]
    public async Task A_value_that_cannot_be_read_ends_the_message_decided_with_an_ACK_naming_the_field_and_nothing_stays_Received(
        DatabaseEngine engine, string controlId, string obx, string field)
    {
        await using var lab = await CreateAsync(engine);
        var number = TestNumbers.Personnummer(1950, 3, 14);
        var patientId = await lab.PatientAsync(number);

        var ack = await lab.SendAsync(Msh(controlId) + $"PID|1||{Personnummer(number)}||Öberg^Lina\rOBR|1||L1|K^Kalium^L\r" + obx);
        var resent = await lab.SendAsync(Msh(controlId) + $"PID|1||{Personnummer(number)}||Öberg^Lina\rOBR|1||L1|K^Kalium^L\r" + obx);

        Assert.Equal(controlId, ack.Get("MSA-2"));
        Assert.Equal(Hl7Writer.Write(ack), Hl7Writer.Write(resent));
        if (field.Length == 0)
        {
            // A blank reference range is no range: the result is filed.
            Assert.Equal("AA", ack.Get("MSA-1"));
            Assert.Equal([3.9], await lab.QueryAsync<double>("SELECT value_numeric FROM lab_result WHERE patient_id = @patientId", new { patientId }));
        }
        else
        {
            Assert.Equal(("AE", "102"), (ack.Get("MSA-1"), ack.Get("ERR-3.1")));
            Assert.StartsWith(field + ":", ack.Get("ERR-8"), StringComparison.Ordinal);
            Assert.Equal("Rejected", await lab.QueryOneAsync<string>("SELECT state FROM hl7_message WHERE control_id = @controlId", new { controlId }));
            Assert.Equal(0, await lab.QueryOneAsync<long>("SELECT COUNT(*) FROM lab_result WHERE patient_id = @patientId", new { patientId }));
        }
        Assert.Equal(0, await lab.ReceivedCountAsync());
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_bad_offset_in_OBR_7_or_MSH_7_is_named_and_a_later_message_is_still_filed(DatabaseEngine engine)
    {
        await using var lab = await CreateAsync(engine);
        var number = TestNumbers.Personnummer(1950, 3, 14);
        var patientId = await lab.PatientAsync(number);
        var pid = $"PID|1||{Personnummer(number)}||Öberg^Lina\r";

        var obr = await lab.SendAsync(Msh("obr7") + pid + "OBR|1||L1|K^Kalium^L|||20261204083000+1459\rOBX|1|NM|K^P-Kalium^L||3.9|mmol/L|||||F\r");
        var msh = await lab.SendAsync(Msh("msh7", sent: "00010101000000+0100") + pid + "OBR|1||L2|K^Kalium^L\rOBX|1|NM|K^P-Kalium^L||3.9|mmol/L|||||F\r");
        var next = await lab.SendAsync(Msh("after") + pid + "OBR|1||L3|K^Kalium^L\rOBX|1|NM|K^P-Kalium^L||4.1|mmol/L|||||F\r");

        Assert.Equal("AE", obr.Get("MSA-1"));
        Assert.StartsWith("OBR-7:", obr.Get("ERR-8"), StringComparison.Ordinal);
        Assert.Equal("AE", msh.Get("MSA-1"));
        Assert.StartsWith("MSH-7:", msh.Get("ERR-8"), StringComparison.Ordinal);
        Assert.Equal("AA", next.Get("MSA-1"));
        Assert.Equal([4.1], await lab.QueryAsync<double>("SELECT value_numeric FROM lab_result WHERE patient_id = @patientId", new { patientId }));
        Assert.Equal(0, await lab.ReceivedCountAsync());
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_time_without_offset_is_read_in_the_regions_zone(DatabaseEngine engine)
    {
        await using var lab = await CreateAsync(engine, new IngestOptions { Region = new Stadig.Common.RegionTime("Europe/Helsinki") });
        var number = TestNumbers.Personnummer(1950, 3, 14);
        var patientId = await lab.PatientAsync(number);

        await lab.SendAsync(Msh("tz-1") + $"PID|1||{Personnummer(number)}||Öberg^Lina\rOBR|1||L1|K^Kalium^L\r"
            + "OBX|1|NM|K^P-Kalium^L||3.9|mmol/L|||||F|||20261204083000\rOBX|2|NM|NA^P-Natrium^L||140|mmol/L|||||F|||20260704083000\r");

        var observed = await lab.QueryAsync<DateTimeOffset>("SELECT observed_at FROM lab_result WHERE patient_id = @patientId ORDER BY analysis_code", new { patientId });
        Assert.Equal([new DateTimeOffset(2026, 12, 4, 6, 30, 0, TimeSpan.Zero), new DateTimeOffset(2026, 7, 4, 5, 30, 0, TimeSpan.Zero)],
            observed.Select(o => o.ToUniversalTime()));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_watchdog_counts_a_message_left_Received_past_the_limit_and_the_overview_shows_it(DatabaseEngine engine)
    {
        await using var lab = await CreateAsync(engine);
        // A message left Received, as a crash between storing and deciding would leave it.
        await using (var c = await lab.Region.Database.OpenUnscopedAsync())
        {
            await c.ExecuteAsync(
                """
                INSERT INTO hl7_message (id, direction, control_id, sending_application, sending_facility, message_type, received_at, byte_count, raw_text, state, state_changed_at)
                VALUES (@id, 'Inbound', 'left-1', 'LABSYS', 'KLINKEM', 'ORU^R01', @at, 10, 'MSH|^~\&|', 'Received', @at)
                """, new { id = Guid.CreateVersion7(), at = Start.AddMinutes(-20) });
        }
        var tracking = new MessageTracking(lab.Region.Database, lab.Region.Audit, lab.Clock);
        var admin = await lab.Region.AddCallerAsync("admin", Stadig.Organisation.Role.Administrator, lab.Region.Ward);

        Assert.Equal(1, await tracking.UnansweredCountAsync(TimeSpan.FromMinutes(15)));
        Assert.Equal(0, await tracking.UnansweredCountAsync(TimeSpan.FromMinutes(30)));
        Assert.Equal(1, (await tracking.OverviewAsync(admin, TimeSpan.FromMinutes(15))).Unanswered);
    }
}
