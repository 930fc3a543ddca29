using Stadig.Hl7;
using Stadig.Hl7.Mllp;
using Stadig.LabResults;
using Stadig.Storage;
using static Stadig.Tests.Results.IngestLab;

namespace Stadig.Tests.Results;

/// <summary>
/// A message of thousands of OBX over real MLLP: staged in short batches, filed whole in one short
/// transaction, and never in the way of other connections' messages (SQLite has one writer).
/// </summary>
public class LargeMessageTests
{
    private static string Large(string controlId, string number, int observations) =>
        Msh(controlId) + Group(Personnummer(number), "Öberg^Lina", "L" + controlId,
            Enumerable.Range(0, observations).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());

    private static async Task<string> SendOnOwnConnectionAsync(int port, string message, TimeSpan? patience = null)
    {
        await using var client = await MllpClient.ConnectAsync("127.0.0.1", port, Patience);
        return await client.SendAsync(message, patience is { } p ? new CancellationTokenSource(p).Token : Patience);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_10000_OBX_message_is_filed_whole_and_answered_AA_while_a_message_on_another_connection_is_answered_and_filed_first(DatabaseEngine engine)
    {
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var lab = await CreateAsync(engine, new IngestOptions
        {
            BatchStaged = async (_, batch, ct) =>
            {
                if (batch != 3) return;
                held.SetResult();
                await release.Task.WaitAsync(ct);
            },
        });
        var large = TestNumbers.Personnummer(1950, 3, 14);
        var small = TestNumbers.Personnummer(1961, 7, 1, serial: 983);
        var largeId = await lab.PatientAsync(large);
        var smallId = await lab.PatientAsync(small);

        // Patience, not a time limit: a shared CI machine may take minutes over 10,000 lines.
        var largeAck = Task.Run(() => SendOnOwnConnectionAsync(lab.Listener.Port, Large("big", large, 10_000), TimeSpan.FromMinutes(10)));
        await held.Task.WaitAsync(Patience);
        var smallAck = Hl7Parser.Parse(await SendOnOwnConnectionAsync(lab.Listener.Port, Msh("small") + Group(Personnummer(small), "Öberg^Lina", "L7", "4.1")));

        // Answered and filed while the large message is still being taken in, none of it visible yet.
        Assert.Equal(("AA", "small"), (smallAck.Get("MSA-1"), smallAck.Get("MSA-2")));
        Assert.Equal([4.1], await lab.QueryAsync<double>("SELECT value_numeric FROM lab_result WHERE patient_id = @smallId", new { smallId }));
        Assert.False(largeAck.IsCompleted);
        Assert.Equal("Received", await lab.QueryOneAsync<string>("SELECT state FROM hl7_message WHERE control_id = 'big'"));
        Assert.Equal(0, await lab.QueryOneAsync<long>("SELECT COUNT(*) FROM lab_result WHERE patient_id = @largeId", new { largeId }));

        release.SetResult();
        var ack = Hl7Parser.Parse(await largeAck);

        Assert.Equal(("AA", "big"), (ack.Get("MSA-1"), ack.Get("MSA-2")));
        Assert.Equal("Filed", await lab.QueryOneAsync<string>("SELECT state FROM hl7_message WHERE control_id = 'big'"));
        var values = await lab.QueryAsync<double>("SELECT value_numeric FROM lab_result WHERE patient_id = @largeId ORDER BY value_numeric", new { largeId });
        Assert.Equal(Enumerable.Range(0, 10_000).Select(i => (double)i), values);
        Assert.Equal(10_000, await lab.QueryOneAsync<long>(
            "SELECT COUNT(*) FROM fhir_resource WHERE resource_type = 'Observation' AND patient_id = @largeId", new { largeId }));
        Assert.Equal(0, await lab.QueryOneAsync<long>(
            "SELECT COUNT(*) FROM lab_result_staging s JOIN hl7_message m ON m.id = s.message_id WHERE m.control_id = 'big'"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_large_message_that_fails_in_a_late_batch_files_nothing_and_ends_Rejected_with_an_AE_naming_the_problem(DatabaseEngine engine)
    {
        await using var lab = await CreateAsync(engine, new IngestOptions
        {
            BatchObservations = 100,
            BatchStaged = (_, batch, _) => batch == 9 ? throw new InvalidOperationException("disk full") : Task.CompletedTask,
        });
        var number = TestNumbers.Personnummer(1950, 3, 14);
        var patientId = await lab.PatientAsync(number);

        var ack = await lab.SendAsync(Large("late", number, 1_000));
        var resent = await lab.SendAsync(Large("late", number, 1_000));

        Assert.Equal(("AE", "late", "207"), (ack.Get("MSA-1"), ack.Get("MSA-2"), ack.Get("ERR-3.1")));
        Assert.Contains("InvalidOperationException", ack.Get("ERR-8"), StringComparison.Ordinal);
        Assert.Equal(Hl7Writer.Write(ack), Hl7Writer.Write(resent));
        Assert.Equal("Rejected", await lab.QueryOneAsync<string>("SELECT state FROM hl7_message WHERE control_id = 'late'"));
        foreach (var table in new[] { "lab_result", "diagnostic_report", "fhir_resource" })
            Assert.Equal(0, await lab.QueryOneAsync<long>($"SELECT COUNT(*) FROM {table} WHERE patient_id = @patientId", new { patientId }));
        Assert.Equal(0, await lab.QueryOneAsync<long>(
            "SELECT COUNT(*) FROM lab_result_staging s JOIN hl7_message m ON m.id = s.message_id WHERE m.control_id = 'late'"));
        Assert.Equal(0, await lab.ReceivedCountAsync());
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_large_message_cut_off_mid_way_by_a_database_fault_gets_no_ACK_and_its_resend_files_every_value_once(DatabaseEngine engine)
    {
        var faults = 1;
        await using var lab = await CreateAsync(engine, new IngestOptions
        {
            BatchObservations = 100,
            // A database that stops answering mid-message (TimeoutException, like a DbException, is not the message's fault).
            BatchStaged = (_, batch, _) => batch == 5 && Interlocked.Exchange(ref faults, 0) == 1 ? throw new TimeoutException() : Task.CompletedTask,
        });
        var number = TestNumbers.Personnummer(1950, 3, 14);
        var patientId = await lab.PatientAsync(number);

        await Assert.ThrowsAnyAsync<Exception>(() => lab.SendAsync(Large("cut", number, 1_000)));
        Assert.Equal("Received", await lab.QueryOneAsync<string>("SELECT state FROM hl7_message WHERE control_id = 'cut'"));
        Assert.Equal(0, await lab.QueryOneAsync<long>("SELECT COUNT(*) FROM lab_result WHERE patient_id = @patientId", new { patientId }));
        var ack = await lab.SendAsync(Large("cut", number, 1_000));

        Assert.Equal("AA", ack.Get("MSA-1"));
        Assert.Equal(Enumerable.Range(0, 1_000).Select(i => (double)i),
            await lab.QueryAsync<double>("SELECT value_numeric FROM lab_result WHERE patient_id = @patientId ORDER BY value_numeric", new { patientId }));
        Assert.Equal(0, await lab.QueryOneAsync<long>(
            "SELECT COUNT(*) FROM lab_result_staging s JOIN hl7_message m ON m.id = s.message_id WHERE m.control_id = 'cut'"));
    }
}
