using Dapper;
using Stadig.Audit;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Tests.Audit;

public class AuditVerifierTests
{
    /// <summary>A region with a patient whose chain holds several events (register, reads, update).</summary>
    private static async Task<(TestRegion Region, Guid PatientId)> WithHistoryAsync(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        var id = (await region.Patients.RegisterAsync(region.Physician, "19121212-1212", new PatientDetails("Ek", "Per"))).PatientId;
        await region.Patients.GetAsync(region.Physician, id);
        await region.Patients.UpdateAsync(region.Physician, id, 1, new PatientDetails("Ek", "Per", City: "Mora"));
        await region.Patients.GetAsync(region.Physician, id);
        return (region, id);
    }

    /// <summary>Tampering as someone with the database owner's powers would: past the append-only guard.</summary>
    private static async Task TamperAsync(Database database, string sql, object parameters)
    {
        await using var c = await database.OpenUnscopedAsync();
        if (database.Engine == DatabaseEngine.Postgres)
        {
            await c.ExecuteAsync("ALTER TABLE audit_event DISABLE TRIGGER USER");
            await c.ExecuteAsync(sql, parameters);
            await c.ExecuteAsync("ALTER TABLE audit_event ENABLE TRIGGER USER");
        }
        else
        {
            await c.ExecuteAsync("DROP TRIGGER audit_event_no_update; DROP TRIGGER audit_event_no_delete;");
            await c.ExecuteAsync(sql, parameters);
        }
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_untouched_log_verifies_intact(DatabaseEngine engine)
    {
        var (region, _) = await WithHistoryAsync(engine);
        var result = await new AuditVerifier(region.Database).VerifyAsync();
        Assert.True(result.Intact, string.Join("; ", result.Findings));
        Assert.True(result.EventsChecked >= 4);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_application_cannot_change_or_delete_an_audit_event(DatabaseEngine engine)
    {
        var (region, id) = await WithHistoryAsync(engine);
        await using var c = await region.Database.OpenUnscopedAsync();
        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => c.ExecuteAsync("UPDATE audit_event SET staff_name = 'Någon annan' WHERE patient_id = @id", new { id }));
        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => c.ExecuteAsync("DELETE FROM audit_event WHERE patient_id = @id", new { id }));
        Assert.True((await new AuditVerifier(region.Database).VerifyAsync()).Intact);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_edited_event_is_found_and_named(DatabaseEngine engine)
    {
        var (region, id) = await WithHistoryAsync(engine);
        await TamperAsync(region.Database, "UPDATE audit_event SET staff_name = 'Någon annan' WHERE chain_key = @chain AND chain_seq = 2", new { chain = id.ToString() });

        var finding = Assert.Single((await new AuditVerifier(region.Database).VerifyAsync()).Findings);
        Assert.Equal(TamperKind.Changed, finding.Kind);
        Assert.Equal(id.ToString(), finding.ChainKey);
        Assert.Equal(2, finding.ChainSeq);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_removed_event_is_found_in_the_middle_and_at_the_end(DatabaseEngine engine)
    {
        var (region, id) = await WithHistoryAsync(engine);
        await TamperAsync(region.Database, "DELETE FROM audit_event WHERE chain_key = @chain AND chain_seq = 2", new { chain = id.ToString() });
        var middle = Assert.Single((await new AuditVerifier(region.Database).VerifyAsync()).Findings);
        Assert.Equal(TamperKind.Removed, middle.Kind);
        Assert.Equal(2, middle.ChainSeq);

        var (other, otherId) = await WithHistoryAsync(engine);
        await TamperAsync(other.Database, "DELETE FROM audit_event WHERE chain_key = @chain AND chain_seq = (SELECT MAX(chain_seq) FROM audit_event WHERE chain_key = @chain)", new { chain = otherId.ToString() });
        var end = Assert.Single((await new AuditVerifier(other.Database).VerifyAsync()).Findings);
        Assert.Equal(TamperKind.Removed, end.Kind);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Reordered_events_are_found(DatabaseEngine engine)
    {
        var (region, id) = await WithHistoryAsync(engine);
        // Swap the places of events 2 and 3 (their sequence numbers), keeping each event's own content.
        await TamperAsync(region.Database,
            """
            UPDATE audit_event SET chain_seq = CASE chain_seq WHEN 2 THEN -3 WHEN 3 THEN -2 END WHERE chain_key = @chain AND chain_seq IN (2, 3);
            UPDATE audit_event SET chain_seq = -chain_seq WHERE chain_key = @chain AND chain_seq < 0;
            """, new { chain = id.ToString() });

        var findings = (await new AuditVerifier(region.Database).VerifyAsync()).Findings;
        Assert.NotEmpty(findings);
        Assert.All(findings, f => Assert.Equal(id.ToString(), f.ChainKey));
        Assert.Contains(findings, f => f.ChainSeq is 2 or 3);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_whole_chain_deleted_with_its_head_is_found_once_a_checkpoint_recorded_it(DatabaseEngine engine)
    {
        var (region, id) = await WithHistoryAsync(engine);
        var other = (await region.Patients.RegisterAsync(region.Physician, TestNumbers.Personnummer(1950, 1, 1), new PatientDetails("Ek", "Eva"))).PatientId;
        await new AuditCheckpoints(region.Database, TimeProvider.System).TakeAsync();
        await TamperAsync(region.Database, "DELETE FROM audit_event WHERE chain_key = @chain; DELETE FROM audit_chain_head WHERE chain_key = @chain", new { chain = id.ToString() });

        var result = await new AuditVerifier(region.Database).VerifyAsync();
        var finding = Assert.Single(result.Findings);
        Assert.Equal(TamperKind.Removed, finding.Kind);
        Assert.Equal(id.ToString(), finding.ChainKey);
        Assert.NotEqual(other, id);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_chain_cut_short_with_its_head_rewritten_is_found_once_a_checkpoint_recorded_it(DatabaseEngine engine)
    {
        var (region, id) = await WithHistoryAsync(engine);
        await new AuditCheckpoints(region.Database, TimeProvider.System).TakeAsync();
        await TamperAsync(region.Database,
            """
            DELETE FROM audit_event WHERE chain_key = @chain AND chain_seq > 2;
            UPDATE audit_chain_head SET last_seq = 2, last_hash = (SELECT hash FROM audit_event WHERE chain_key = @chain AND chain_seq = 2) WHERE chain_key = @chain;
            """, new { chain = id.ToString() });

        var finding = Assert.Single((await new AuditVerifier(region.Database).VerifyAsync()).Findings);
        Assert.Equal(TamperKind.Removed, finding.Kind);
        Assert.Equal(id.ToString(), finding.ChainKey);
        Assert.Equal(3, finding.ChainSeq);

        // A later checkpoint does not take the shorter chain over as the truth.
        await new AuditCheckpoints(region.Database, TimeProvider.System).TakeAsync();
        Assert.Single((await new AuditVerifier(region.Database).VerifyAsync()).Findings);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_chain_deleted_with_its_head_and_its_checkpoint_record_is_found(DatabaseEngine engine)
    {
        var (region, id) = await WithHistoryAsync(engine);
        await new AuditCheckpoints(region.Database, TimeProvider.System).TakeAsync();
        await TamperAsync(region.Database,
            "DELETE FROM audit_event WHERE chain_key = @chain; DELETE FROM audit_chain_head WHERE chain_key = @chain; DELETE FROM audit_checkpoint_chain WHERE chain_key = @chain",
            new { chain = id.ToString() });

        var finding = Assert.Single((await new AuditVerifier(region.Database).VerifyAsync()).Findings);
        Assert.Equal(AuditVerifier.CheckpointChain, finding.ChainKey);
        Assert.Equal(TamperKind.Changed, finding.Kind);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Checkpoints_taken_between_writes_keep_an_untouched_log_intact(DatabaseEngine engine)
    {
        var (region, id) = await WithHistoryAsync(engine);
        var checkpoints = new AuditCheckpoints(region.Database, TimeProvider.System);
        var first = await checkpoints.TakeAsync();
        await region.Patients.GetAsync(region.Physician, id);
        await region.Patients.RegisterAsync(region.Physician, TestNumbers.Personnummer(1950, 1, 1), new PatientDetails("Ek", "Eva"));
        var second = await checkpoints.TakeAsync();
        Assert.Null(await checkpoints.TakeAsync(TimeSpan.FromHours(1)));

        var result = await new AuditVerifier(region.Database).VerifyAsync();
        Assert.True(result.Intact, string.Join("; ", result.Findings));
        Assert.Equal(second!.Hash, result.LastCheckpoint!.Hash);
        Assert.Equal(first!.Hash, second.PrevHash);
        Assert.Equal(result.ChainsChecked, second.ChainCount);
        Assert.Equal(result.EventsChecked, second.EventCount);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Verify_during_concurrent_audited_writes_reports_intact(DatabaseEngine engine)
    {
        var (region, id) = await WithHistoryAsync(engine);
        var checkpoints = new AuditCheckpoints(region.Database, TimeProvider.System);
        using var stop = new CancellationTokenSource();
        // New chains begin (a new patient each) and existing ones grow while verify and checkpoints run.
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            var written = 0;
            while (!stop.IsCancellationRequested || written < 5)
            {
                var patient = (await region.Patients.RegisterAsync(region.Physician, TestNumbers.Personnummer(1900 + written % 100, w + 1, 1 + written / 100 % 28), new PatientDetails("Ek", $"W{w}n{written}"))).PatientId;
                await region.Patients.GetAsync(region.Physician, patient);
                await region.Patients.GetAsync(region.Physician, id);
                written++;
            }
            return written;
        })).ToList();

        var verifications = new List<AuditVerification>();
        for (var i = 0; i < 15; i++)
        {
            verifications.Add(await new AuditVerifier(region.Database).VerifyAsync());
            if (i % 3 == 0) await checkpoints.TakeAsync();
        }
        stop.Cancel();
        await Task.WhenAll(writers);
        verifications.Add(await new AuditVerifier(region.Database).VerifyAsync());

        Assert.All(verifications, v => Assert.True(v.Intact, string.Join("; ", v.Findings)));
        Assert.True(verifications[^1].EventsChecked > verifications[0].EventsChecked);
    }
}
