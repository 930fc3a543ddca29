using Stadig.Hl7;
using Stadig.Hl7.Mllp;
using Stadig.LabResults;
using Stadig.Storage;
using static Stadig.Tests.Results.IngestLab;

namespace Stadig.Tests.Results;

/// <summary>What one MLLP frame may hold, over real TCP: one message, several, a batch, a header broken at MSH; resends; test messages.</summary>
public class IngestFramingTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Two_messages_in_one_frame_are_refused_as_a_whole_with_AR_naming_both_and_nothing_is_filed(DatabaseEngine engine)
    {
        await using var lab = await CreateAsync(engine);
        var numberA = TestNumbers.Personnummer(1950, 3, 14);
        var numberB = TestNumbers.Personnummer(1961, 7, 1, serial: 983);
        var a = await lab.PatientAsync(numberA, "Öberg", "Lina");
        var b = await lab.PatientAsync(numberB, "Lind", "Per");

        var ack = await lab.SendAsync(Msh("fa") + Group(Personnummer(numberA), "Öberg^Lina", "LA", "3.6") + Msh("fb") + Group(Personnummer(numberB), "Lind^Per", "LB", "4.2"));

        Assert.Equal(("AR", "fa", "100"), (ack.Get("MSA-1"), ack.Get("MSA-2"), ack.Get("ERR-3.1")));
        Assert.Contains("fa, fb", ack.Get("ERR-8"), StringComparison.Ordinal);
        Assert.Equal(("LABSYS", "KLINKEM"), (ack.Get("MSH-5"), ack.Get("MSH-6")));
        Assert.Equal(0, await lab.QueryOneAsync<long>("SELECT COUNT(*) FROM lab_result WHERE patient_id IN (@a, @b)", new { a, b }));
        var stored = await lab.QueryAsync<(string State, string Raw)>("SELECT state, raw_text FROM hl7_message");
        var frame = Assert.Single(stored);
        Assert.Equal("Rejected", frame.State);
        Assert.Contains("|fb|", frame.Raw, StringComparison.Ordinal);

        // Sent one per frame afterwards, both are filed, each on its patient.
        Assert.Equal("AA", (await lab.SendAsync(Msh("fa") + Group(Personnummer(numberA), "Öberg^Lina", "LA", "3.6"))).Get("MSA-1"));
        Assert.Equal("AA", (await lab.SendAsync(Msh("fb") + Group(Personnummer(numberB), "Lind^Per", "LB", "4.2"))).Get("MSA-1"));
        Assert.Equal([4.2], await lab.QueryAsync<double>("SELECT value_numeric FROM lab_result WHERE patient_id = @b", new { b }));
        Assert.Equal(0, await lab.ReceivedCountAsync());
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_batch_is_unpacked_each_message_stored_and_filed_on_its_own_and_answered_with_a_batch_of_ACKs(DatabaseEngine engine)
    {
        await using var lab = await CreateAsync(engine);
        var numberA = TestNumbers.Personnummer(1950, 3, 14);
        var numberB = TestNumbers.Personnummer(1961, 7, 1, serial: 983);
        var a = await lab.PatientAsync(numberA, "Öberg", "Lina");
        var b = await lab.PatientAsync(numberB, "Lind", "Per");
        var batch = "FHS|^~\\&|LABSYS|KLINKEM|STADIG|REGION|20261123080000||||F-77\r"
            + "BHS|^~\\&|LABSYS|KLINKEM|STADIG|REGION|20261123080000||||B-77\r"
            + Msh("ba") + Group(Personnummer(numberA), "Öberg^Lina", "LA", "3.6")
            + Msh("bb") + Group(Personnummer(numberB), "Lind^Per", "LB", "4.2")
            + Msh("bc", processing: "X") .Replace("ORU^R01", "ADT^A01", StringComparison.Ordinal) + "PID|1\r"
            + "BTS|3\rFTS|1\r";

        var reply = await lab.SendFrameAsync(batch);

        var lines = reply.Split('\r', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["FHS", "BHS", "MSH", "MSA", "MSH", "MSA", "MSH", "MSA", "ERR", "BTS", "FTS"], lines.Select(l => l[..3]));
        Assert.Equal("F-77", lines[0].Split('|')[11]);
        Assert.Equal("B-77", lines[1].Split('|')[11]);
        Assert.Equal(["AA|ba", "AA|bb", "AE|bc"], lines.Where(l => l.StartsWith("MSA", StringComparison.Ordinal)).Select(l => string.Join('|', l.Split('|')[1..3])));
        Assert.Equal("BTS|3", lines[^2]);
        Assert.Equal([3.6], await lab.QueryAsync<double>("SELECT value_numeric FROM lab_result WHERE patient_id = @a", new { a }));
        Assert.Equal([4.2], await lab.QueryAsync<double>("SELECT value_numeric FROM lab_result WHERE patient_id = @b", new { b }));
        var states = await lab.QueryAsync<(string ControlId, string State)>("SELECT control_id, state FROM hl7_message ORDER BY control_id");
        Assert.Equal([("ba", "Filed"), ("bb", "Filed"), ("bc", "Rejected")], states);

        // The same batch again: every message answered as before, nothing stored twice.
        var again = (await lab.SendFrameAsync(batch)).Split('\r', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["AA|ba", "AA|bb", "AE|bc"], again.Where(l => l.StartsWith("MSA", StringComparison.Ordinal)).Select(l => string.Join('|', l.Split('|')[1..3])));
        Assert.Equal(3, await lab.QueryOneAsync<long>("SELECT COUNT(*) FROM hl7_message"));
        Assert.Equal(0, await lab.ReceivedCountAsync());
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_line_break_right_after_MSH_is_stored_rejected_and_answered_AR_addressed_to_the_sender_every_time(DatabaseEngine engine)
    {
        await using var lab = await CreateAsync(engine);
        foreach (var broken in new[] { "MSH\r|^~\\&|LABSYS|KLINKEM|STADIG|REGION|20261123||ORU^R01|br-1|P|2.5\rPID|1\r", "MSH\n", "MSH" })
        {
            for (var attempt = 0; attempt < 2; attempt++)
            {
                await using var client = await MllpClient.ConnectAsync("127.0.0.1", lab.Listener.Port, Patience);
                var ack = Hl7Parser.Parse(await client.SendAsync(broken, Patience));
                Assert.Equal(("AR", "100"), (ack.Get("MSA-1"), ack.Get("ERR-3.1")));
            }
        }
        Assert.Equal(6, await lab.QueryOneAsync<long>("SELECT COUNT(*) FROM hl7_message WHERE state = 'Rejected' AND ack_code = 'AR'"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_ACK_to_a_message_without_a_readable_MSH_2_or_MSH_10_is_addressed_to_its_sender(DatabaseEngine engine)
    {
        await using var lab = await CreateAsync(engine);

        var brokenEncoding = await lab.SendAsync("MSH|^~|LABSYS|KLINKEM|STADIG|REGION|20261123||ORU^R01|enc-1|T|2.5\rPID|1\r");
        var noControlId = await lab.SendAsync(Msh("") + "PID|1\r");

        Assert.Equal(("AR", "enc-1", "LABSYS", "KLINKEM", "T"),
            (brokenEncoding.Get("MSA-1"), brokenEncoding.Get("MSA-2"), brokenEncoding.Get("MSH-5"), brokenEncoding.Get("MSH-6"), brokenEncoding.Get("MSH-11")));
        Assert.Equal(("AR", "101", "LABSYS", "KLINKEM"), (noControlId.Get("MSA-1"), noControlId.Get("ERR-3.1"), noControlId.Get("MSH-5"), noControlId.Get("MSH-6")));
        Assert.Equal(["KLINKEM", "KLINKEM"], await lab.QueryAsync<string>("SELECT sending_facility FROM hl7_message"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_resend_with_CRLF_or_a_new_MSH_7_gets_the_stored_ACK_and_stores_nothing_twice(DatabaseEngine engine)
    {
        await using var lab = await CreateAsync(engine);
        var number = TestNumbers.Personnummer(1955, 2, 2, serial: 989);
        var patientId = await lab.PatientAsync(number);
        var message = Msh("re-1") + Group(Personnummer(number), "Öberg^Lina", "LR", "3.9");

        var first = await lab.SendFrameAsync(message);
        var crlf = await lab.SendFrameAsync(message.Replace("\r", "\r\n", StringComparison.Ordinal));
        var newTime = await lab.SendFrameAsync(Msh("re-1", sent: "20261123081500+0100") + Group(Personnummer(number), "Öberg^Lina", "LR", "3.9"));
        var changed = await lab.SendAsync(Msh("re-1") + Group(Personnummer(number), "Öberg^Lina", "LR", "4.0"));

        Assert.Equal(first, crlf);
        Assert.Equal(first, newTime);
        Assert.Equal(("AR", "205"), (changed.Get("MSA-1"), changed.Get("ERR-3.1")));
        Assert.Equal(1, await lab.QueryOneAsync<long>("SELECT COUNT(*) FROM lab_result WHERE patient_id = @patientId", new { patientId }));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Test_and_debug_messages_are_answered_with_their_processing_id_and_kept_apart_never_filed(DatabaseEngine engine)
    {
        await using var lab = await CreateAsync(engine);
        var number = TestNumbers.Personnummer(1966, 8, 8, serial: 990);
        var patientId = await lab.PatientAsync(number);

        var test = await lab.SendAsync(Msh("t-1", processing: "T") + Group(Personnummer(number), "Öberg^Lina", "LT", "3.9"));
        var debug = await lab.SendAsync(Msh("d-1", processing: "D") + Group(Personnummer(number), "Öberg^Lina", "LD", "3.9"));
        var production = await lab.SendAsync(Msh("p-1") + Group(Personnummer(number), "Öberg^Lina", "LP", "3.9"));

        Assert.Equal(("AA", "T"), (test.Get("MSA-1"), test.Get("MSH-11")));
        Assert.Equal(("AA", "D"), (debug.Get("MSA-1"), debug.Get("MSH-11")));
        Assert.Equal(("AA", "P"), (production.Get("MSA-1"), production.Get("MSH-11")));
        Assert.Equal(["LP"], await lab.QueryAsync<string>("SELECT filler_order_number FROM lab_result WHERE patient_id = @patientId", new { patientId }));
        var states = await lab.QueryAsync<(string ControlId, string State)>("SELECT control_id, state FROM hl7_message ORDER BY control_id");
        Assert.Equal([("d-1", "NotProduction"), ("p-1", "Filed"), ("t-1", "NotProduction")], states);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Test_messages_are_refused_with_AR_when_the_setting_says_so(DatabaseEngine engine)
    {
        await using var lab = await CreateAsync(engine, new IngestOptions { NonProduction = NonProductionHandling.Refuse });
        var number = TestNumbers.Personnummer(1966, 8, 8, serial: 990);
        var patientId = await lab.PatientAsync(number);

        var ack = await lab.SendAsync(Msh("t-2", processing: "T") + Group(Personnummer(number), "Öberg^Lina", "LT", "3.9"));

        Assert.Equal(("AR", "202", "T"), (ack.Get("MSA-1"), ack.Get("ERR-3.1"), ack.Get("MSH-11")));
        Assert.Equal("Rejected", await lab.QueryOneAsync<string>("SELECT state FROM hl7_message WHERE control_id = 't-2'"));
        Assert.Equal(0, await lab.QueryOneAsync<long>("SELECT COUNT(*) FROM lab_result WHERE patient_id = @patientId", new { patientId }));
    }
}
