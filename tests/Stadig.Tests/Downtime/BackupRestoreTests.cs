using System.Diagnostics;
using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Downtime;
using Stadig.Storage;

namespace Stadig.Tests.Downtime;

/// <summary>Backup and restore (issue 19, item 4): a backup taken while writing, restored and checked; a tampered restore found.</summary>
public class BackupRestoreTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static string TempFile(string name) => Path.Combine(Directory.CreateTempSubdirectory("stadig-backup-").FullName, name);

    private static async Task<(Database Database, string ConnectionString)> SqliteSourceAsync()
    {
        var connectionString = await TestDatabases.CreateConnectionStringAsync(DatabaseEngine.Sqlite);
        var database = Database.FromConnectionString(connectionString);
        await new Migrator(database).MigrateAsync(cancellationToken: Cancel);
        return (database, connectionString);
    }

    private static async Task<List<(string Table, long Rows)>> CountsAsync(Database database) =>
        (await new RestoreCheck(database).RunAsync(Cancel)).Tables.ToList();

    private static async Task<List<string>> DetailsAsync(Database database, string chain)
    {
        await using var c = await database.OpenUnscopedAsync(Cancel);
        return (await c.QueryAsync<string>("SELECT detail FROM audit_event WHERE chain_key = @chain ORDER BY chain_seq", new { chain })).ToList();
    }

    [Fact]
    public async Task A_backup_taken_while_a_writer_writes_restores_to_a_database_that_passes_restore_check_with_every_write_up_to_the_backup_point()
    {
        var (source, sourceConnection) = await SqliteSourceAsync();
        var audit = new AuditLog(source, TimeProvider.System);
        var chain = Guid.NewGuid();
        using var stop = new CancellationTokenSource();
        var written = 0;
        // Each event is its own committed transaction, numbered: a consistent copy holds exactly a prefix of them.
        var writer = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await audit.AppendAsync(new AuditEntry(Caller.System, chain, AuditActivity.Write, "backup-test", Detail: written.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                Interlocked.Increment(ref written);
            }
        }, Cancel);
        while (Volatile.Read(ref written) < 50) await Task.Yield();

        var before = Volatile.Read(ref written);
        var file = TempFile("stadig-backup.db");
        var summary = await SqliteBackup.BackupAsync(sourceConnection, file, overwrite: false, Cancel);
        var after = Volatile.Read(ref written);
        await stop.CancelAsync();
        await writer;
        Assert.Equal(file, summary.File);

        var restoredConnection = $"Data Source={TempFile("restored.db")}";
        await SqliteBackup.RestoreAsync(file, restoredConnection, overwrite: false, Cancel);
        var restored = Database.FromConnectionString(restoredConnection);
        var check = await new RestoreCheck(restored).RunAsync(Cancel);
        Assert.True(check.Passed);
        Assert.Empty(check.PendingMigrations);
        Assert.True(check.Audit.Intact);

        // Every write committed before the backup began is there, none half: the numbers are a gap-free prefix.
        var details = await DetailsAsync(restored, chain.ToString());
        Assert.InRange(details.Count, before, after);
        Assert.Equal(Enumerable.Range(0, details.Count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), details);
        // Tables the writer did not touch have the same rows as the source.
        var sourceCounts = await CountsAsync(source);
        Assert.Equal(sourceCounts.Where(t => !t.Table.StartsWith("audit_", StringComparison.Ordinal)),
            check.Tables.Where(t => !t.Table.StartsWith("audit_", StringComparison.Ordinal)));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Restore_check_fails_naming_the_event_when_an_audit_row_was_changed(DatabaseEngine engine)
    {
        var database = await TestDatabases.CreateAsync(engine);
        var audit = new AuditLog(database, TimeProvider.System);
        var patient = Guid.NewGuid();
        for (var i = 0; i < 3; i++) await audit.AppendAsync(new AuditEntry(Caller.System, patient, AuditActivity.Read, "restore-check"), Cancel);
        Assert.True((await new RestoreCheck(database).RunAsync(Cancel)).Passed);

        await using (var c = await database.OpenUnscopedAsync(Cancel))
        {
            // As an owner with full access could: the triggers that forbid it dropped first.
            await c.ExecuteAsync(engine == DatabaseEngine.Postgres ? "ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_update" : "DROP TRIGGER audit_event_no_update");
            await c.ExecuteAsync("UPDATE audit_event SET resource = 'altered' WHERE chain_key = @chain AND chain_seq = 2", new { chain = patient.ToString() });
        }
        var check = await new RestoreCheck(database).RunAsync(Cancel);
        Assert.False(check.Passed);
        var finding = Assert.Single(check.Audit.Findings, f => f.ChainKey == patient.ToString());
        Assert.Equal(TamperKind.Changed, finding.Kind);
        Assert.Equal(2, finding.ChainSeq);
    }

    [Fact]
    public async Task The_commands_back_up_restore_and_check_and_refuse_to_overwrite_or_to_restore_what_is_not_a_backup()
    {
        var (source, sourceConnection) = await SqliteSourceAsync();
        await new AuditLog(source, TimeProvider.System).AppendAsync(new AuditEntry(Caller.System, null, AuditActivity.Write, "cli-test"), Cancel);
        var file = TempFile("backup.db");
        var backup = await RunAsync("backup", "--to", file, "--database", sourceConnection);
        Assert.Equal(0, backup.ExitCode);
        Assert.Contains("integrity check ok", backup.Out);

        var target = $"Data Source={TempFile("restored.db")}";
        Assert.Equal(0, (await RunAsync("restore", "--from", file, "--database", target)).ExitCode);
        var again = await RunAsync("restore", "--from", file, "--database", target);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("--force", again.Error);
        Assert.Equal(0, (await RunAsync("restore", "--from", file, "--database", target, "--force")).ExitCode);
        var notABackup = TempFile("notes.txt");
        await File.WriteAllTextAsync(notABackup, "inte en databas", Cancel);
        var refused = await RunAsync("restore", "--from", notABackup, "--database", $"Data Source={TempFile("other.db")}");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("not a readable SQLite database", refused.Error);

        var check = await RunAsync("restore-check", "--database", target);
        Assert.Equal(0, check.ExitCode);
        Assert.Contains("every migration applied", check.Out);
        Assert.Contains("audit_event", check.Out);
        Assert.Contains("Restore check passed.", check.Out);

        var restored = Database.FromConnectionString(target);
        await using (var c = await restored.OpenUnscopedAsync(Cancel))
        {
            await c.ExecuteAsync("DROP TRIGGER audit_event_no_update");
            await c.ExecuteAsync("UPDATE audit_event SET resource = 'altered' WHERE resource = 'cli-test'");
        }
        restored.ClearPool();
        var tampered = await RunAsync("restore-check", "--database", target);
        Assert.Equal(2, tampered.ExitCode);
        Assert.Contains("Changed: chain system", tampered.Out);
        Assert.Contains("Restore check FAILED.", tampered.Out);
    }

    private static async Task<(int ExitCode, string Out, string Error)> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "stadig.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        start.WorkingDirectory = Directory.CreateTempSubdirectory("stadig-cli-").FullName;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(Cancel);
        var stderr = process.StandardError.ReadToEndAsync(Cancel);
        await process.WaitForExitAsync(Cancel);
        return (process.ExitCode, await stdout, await stderr);
    }
}
