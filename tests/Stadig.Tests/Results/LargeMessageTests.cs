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
        // Its Observations are being staged with its lines, and none can be found yet.
        Assert.True(await StagedResourcesAsync(lab, "big") >= 3_000);
        Assert.Equal(0, await SearchableObservationsAsync(lab, largeId));

        release.SetResult();
        var ack = Hl7Parser.Parse(await largeAck);

        Assert.Equal(("AA", "big"), (ack.Get("MSA-1"), ack.Get("MSA-2")));
        Assert.Equal("Filed", await lab.QueryOneAsync<string>("SELECT state FROM hl7_message WHERE control_id = 'big'"));
        var values = await lab.QueryAsync<double>("SELECT value_numeric FROM lab_result WHERE patient_id = @largeId ORDER BY value_numeric", new { largeId });
        Assert.Equal(Enumerable.Range(0, 10_000).Select(i => (double)i), values);
        Assert.Equal(10_000, await lab.QueryOneAsync<long>(
            "SELECT COUNT(*) FROM fhir_resource WHERE resource_type = 'Observation' AND patient_id = @largeId", new { largeId }));
        Assert.Equal(10_000, await SearchableObservationsAsync(lab, largeId));
        Assert.Equal(0, await lab.QueryOneAsync<long>(
            "SELECT COUNT(*) FROM lab_result_staging s JOIN hl7_message m ON m.id = s.message_id WHERE m.control_id = 'big'"));
        Assert.Equal(0, await StagedResourcesAsync(lab, "big"));
    }

    /// <summary>Observations found by a search on the patient's subject reference (the search index, as the FHIR API searches it).</summary>
    private static Task<long> SearchableObservationsAsync(IngestLab lab, Guid patientId) =>
        lab.QueryOneAsync<long>(
            "SELECT COUNT(DISTINCT id) FROM fhir_search WHERE resource_type = 'Observation' AND param = 'subject' AND value = @reference",
            new { reference = $"Patient/{patientId}" });

    /// <summary>Staged FHIR rows of a message (resources and index rows): none may be left once it is decided.</summary>
    private static async Task<long> StagedResourcesAsync(IngestLab lab, string controlId) =>
        await lab.QueryOneAsync<long>(
            "SELECT COUNT(*) FROM fhir_resource_staging s JOIN hl7_message m ON m.id = s.message_id WHERE m.control_id = @controlId", new { controlId })
        + await lab.QueryOneAsync<long>(
            "SELECT COUNT(*) FROM fhir_search_staging s JOIN hl7_message m ON m.id = s.message_id WHERE m.control_id = @controlId", new { controlId });

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_filing_transaction_of_a_staged_message_sends_as_many_statements_for_3000_OBX_as_for_600(DatabaseEngine engine)
    {
        using var statements = new FilingStatements();
        await using var lab = await CreateAsync(engine, new IngestOptions
        {
            BatchObservations = 200, FilingStarted = statements.Start, FilingFinishing = statements.Stop,
        });
        var few = TestNumbers.Personnummer(1950, 3, 14);
        var many = TestNumbers.Personnummer(1961, 7, 1, serial: 983);
        var fewId = await lab.PatientAsync(few);
        var manyId = await lab.PatientAsync(many);

        var fewAck = await lab.SendAsync(Large("few", few, 600));
        var fewStatements = statements.Count;
        var manyAck = await lab.SendAsync(Large("many", many, 3_000));
        var manyStatements = statements.Count;

        Assert.Equal(("AA", "AA"), (fewAck.Get("MSA-1"), manyAck.Get("MSA-1")));
        // The filing transaction moves what was staged: its statements do not depend on the number of OBX.
        Assert.InRange(fewStatements, 1, 80);
        Assert.Equal(fewStatements, manyStatements);
        Assert.Equal((600, 3_000), (await SearchableObservationsAsync(lab, fewId), await SearchableObservationsAsync(lab, manyId)));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Staged_FHIR_resources_are_stamped_when_filed_and_are_what_publishing_the_filed_rows_gives(DatabaseEngine engine)
    {
        FixedClock? clock = null;
        await using var lab = await CreateAsync(engine, new IngestOptions
        {
            BatchObservations = 100,
            // Staging takes time: what is filed carries the moment of filing, not of staging.
            BatchStaged = (_, _, _) => { clock!.Advance(TimeSpan.FromMinutes(1)); return Task.CompletedTask; },
        });
        clock = lab.Clock;
        var number = TestNumbers.Personnummer(1950, 3, 14);
        var patientId = await lab.PatientAsync(number);

        var ack = await lab.SendAsync(Large("stamped", number, 300));

        Assert.Equal("AA", ack.Get("MSA-1"));
        var filedAt = lab.Clock.GetUtcNow();
        Assert.Equal(Start.AddMinutes(3), filedAt);
        var rows = await lab.QueryAsync<(string Type, string Id, int Version, DateTimeOffset LastUpdated, string Content)>(
            "SELECT resource_type, id, version_id, last_updated, content FROM fhir_resource WHERE patient_id = @patientId", new { patientId });
        Assert.Equal((300, 1), (rows.Count(r => r.Type == "Observation"), rows.Count(r => r.Type == "DiagnosticReport")));
        Assert.All(rows, r =>
        {
            Assert.Equal((1, filedAt), (r.Version, r.LastUpdated));
            var resource = Stadig.Fhir.FhirJson.Parse(r.Content);
            Assert.Equal(Stadig.Fhir.FhirJson.Instant(filedAt), resource["meta"]!["lastUpdated"]!.GetValue<string>());
            Assert.Equal($"Patient/{patientId}", resource["subject"]!["reference"]!.GetValue<string>());
        });
        var report = Stadig.Fhir.FhirJson.Parse(rows.Single(r => r.Type == "DiagnosticReport").Content);
        Assert.Equal(Stadig.Fhir.FhirJson.Instant(filedAt), report["issued"]!.GetValue<string>());
        // The index holds what the indexer extracts from each stored resource, on the patient.
        var indexed = await lab.QueryAsync<(string Id, string Param, string? Value)>(
            "SELECT id, param, value FROM fhir_search WHERE patient_id = @patientId", new { patientId });
        var expected = rows.SelectMany(r => Stadig.Fhir.Search.FhirSearchIndexer.Extract(Stadig.Fhir.FhirJson.Parse(r.Content)).Select(v => (r.Id, v.Param, v.Value)));
        Assert.Equal(expected.Order(), indexed.Order());

        // Publishing the filed rows again (what the backfill does) finds nothing to change: staging mapped them the same way.
        var messageId = await lab.QueryOneAsync<Guid>("SELECT id FROM hl7_message WHERE control_id = 'stamped'");
        await lab.Region.Database.InUnscopedTransactionAsync(async (c, t) =>
        {
            await Stadig.Fhir.Records.LabResultAsFhir.PublishFiledAsync(c, t, messageId, patientId, filedAt.AddHours(1));
            return 0;
        });
        Assert.Equal(1, await lab.QueryOneAsync<int>("SELECT MAX(version_id) FROM fhir_resource WHERE patient_id = @patientId", new { patientId }));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_large_correction_of_a_large_message_makes_each_Observation_a_new_version_and_leaves_nothing_staged(DatabaseEngine engine)
    {
        await using var lab = await CreateAsync(engine, new IngestOptions { BatchObservations = 100 });
        var number = TestNumbers.Personnummer(1950, 3, 14);
        var patientId = await lab.PatientAsync(number);
        string Report(string controlId, string status, double offset) =>
            Msh(controlId) + $"PID|1||{Personnummer(number)}||Öberg^Lina\r" + "ORC|RE||L-SAME\r" + "OBR|1||L-SAME|PAN^Panel^L|||20261123070000+0100\r" +
            string.Concat(Enumerable.Range(1, 250).Select(i => $"OBX|{i}|NM|C{i}^Analys {i}^L||{i + offset}|mmol/L||N|||{status}\r"));

        var first = await lab.SendAsync(Report("first", "F", 0));
        var corrected = await lab.SendAsync(Report("corrected", "C", 0.5));

        Assert.Equal(("AA", "AA"), (first.Get("MSA-1"), corrected.Get("MSA-1")));
        var observations = await lab.QueryAsync<(int Version, string Content)>(
            "SELECT version_id, content FROM fhir_resource WHERE resource_type = 'Observation' AND patient_id = @patientId", new { patientId });
        Assert.Equal(250, observations.Count);
        Assert.All(observations, o =>
        {
            Assert.Equal(2, o.Version);
            Assert.Equal("corrected", Stadig.Fhir.FhirJson.Parse(o.Content)["status"]!.GetValue<string>());
        });
        Assert.Equal(250, await SearchableObservationsAsync(lab, patientId));
        Assert.Equal((0, 0), (await StagedResourcesAsync(lab, "first"), await StagedResourcesAsync(lab, "corrected")));
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
        Assert.Equal(0, await StagedResourcesAsync(lab, "late"));
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
        // Each value is one Observation, found by search: the cut-off attempt's staged resources were never filed, and are gone.
        Assert.Equal(1_000, await SearchableObservationsAsync(lab, patientId));
        Assert.Equal(1_000, await lab.QueryOneAsync<long>(
            "SELECT COUNT(*) FROM fhir_resource WHERE resource_type = 'Observation' AND patient_id = @patientId", new { patientId }));
        Assert.Equal(0, await StagedResourcesAsync(lab, "cut"));
    }
}
