using Stadig.Hl7;
using Stadig.Storage;
using static Stadig.Tests.Results.IngestLab;

namespace Stadig.Tests.Results;

/// <summary>
/// Text no database can keep, and frames that hold nothing readable (the full fuzz run's classes):
/// every one is answered AR naming the problem and kept, nothing the lab sent is lost or left unanswered.
/// </summary>
public class IngestUnstorableTextTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_lone_surrogate_in_a_message_is_refused_AR_naming_the_place_and_kept_with_it_written_as_a_hex_escape(DatabaseEngine engine)
    {
        await using var lab = await CreateAsync(engine);
        var number = TestNumbers.Personnummer(1951, 3, 14, serial: 981);
        var patientId = await lab.PatientAsync(number);
        // Text handed in in-process can hold half a character pair; bytes off the wire never do.
        var message = Msh("ls-1") + Group(Personnummer(number), "Öberg^Lina", "LS", "4.1").Replace("mmol/L", "mmol\udc00L", StringComparison.Ordinal);

        var outcome = await lab.Ingest.IngestAsync(message);

        var ack = Hl7Parser.Parse(outcome.AckText);
        Assert.Equal(("AR", "ls-1", "102"), (ack.Get("MSA-1"), ack.Get("MSA-2"), ack.Get("ERR-3.1")));
        Assert.Contains($"U+DC00", ack.Get("ERR-8"), StringComparison.Ordinal);
        Assert.Contains($"tecken {message.IndexOf('\udc00', StringComparison.Ordinal) + 1}", ack.Get("ERR-8"), StringComparison.Ordinal);
        var stored = await lab.QueryOneAsync<(string State, string Raw)>("SELECT state, raw_text FROM hl7_message WHERE id = @MessageId", new { outcome.MessageId });
        Assert.Equal(("Rejected", message.Replace("\udc00", "\\Xdc00\\", StringComparison.Ordinal)), stored);
        Assert.Equal(0, await lab.QueryOneAsync<long>("SELECT COUNT(*) FROM lab_result WHERE patient_id = @patientId", new { patientId }));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_character_pair_as_field_separator_is_answered_AR_naming_its_code_point_and_kept(DatabaseEngine engine)
    {
        await using var lab = await CreateAsync(engine);
        var message = "MSH\U0001F600^~\\&\U0001F600LABSYS\U0001F600KLINKEM\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600ORU^R01\U0001F600sp-1\U0001F600P\U0001F6002.5\rPID\U0001F6001\r";

        var ack = await lab.SendAsync(message);

        Assert.Equal(("AR", "100"), (ack.Get("MSA-1"), ack.Get("ERR-3.1")));
        Assert.Contains("U+1F600", ack.Get("ERR-8"), StringComparison.Ordinal);
        var reasons = await lab.QueryAsync<string>("SELECT s.reason FROM hl7_message_state s JOIN hl7_message m ON m.id = s.message_id WHERE s.state = 'Rejected' AND m.raw_text = @message", new { message });
        Assert.Contains("U+1F600", Assert.Single(reasons), StringComparison.Ordinal);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_batch_without_a_message_is_refused_as_a_whole_with_AR_and_kept_never_answered_as_an_empty_batch(DatabaseEngine engine)
    {
        await using var lab = await CreateAsync(engine);
        // The fuzz run's find: a batch header whose only other content is not a segment of any message.
        var headerOnly = "BHS|±MSHMSHMSHMSH\ufffdMS0000000\r";
        var empty = "BHS|^~\\&|LABSYS|KLINKEM|STADIG|REGION|20261123080000||||B-0\rBTS|0\r";

        foreach (var frame in new[] { headerOnly, empty })
        {
            var ack = await lab.SendAsync(frame);
            Assert.Equal(("AR", "100"), (ack.Get("MSA-1"), ack.Get("ERR-3.1")));
            Assert.Contains("inget meddelande", ack.Get("ERR-8"), StringComparison.Ordinal);
            Assert.Equal("Rejected", await lab.QueryOneAsync<string>("SELECT state FROM hl7_message WHERE raw_text = @frame", new { frame }));
        }
    }
}
