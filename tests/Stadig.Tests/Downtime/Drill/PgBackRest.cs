using System.Diagnostics;
using System.Globalization;

namespace Stadig.Tests.Downtime.Drill;

/// <summary>
/// pgBackRest (Debian package <c>pgbackrest</c>) backing up one cluster the way docs/operations.md,
/// "Backup and restore", sets it up for PostgreSQL: a repository, WAL archived by the server's
/// archive_command (archive-push) with an archive_timeout, full and incremental backups taken while
/// Stadig serves, and a point-in-time restore into a new, empty data directory. Everything (config,
/// repository, log, lock) lives in a folder of its own that belongs to the account the server runs as.
/// </summary>
public sealed class PgBackRest : IAsyncDisposable
{
    public const string Stanza = "stadig";
    public const string Executable = "/usr/bin/pgbackrest";

    private readonly string _root;

    private PgBackRest(string root, TimeSpan archiveTimeout) => (_root, ArchiveTimeout) = (root, archiveTimeout);

    public string ConfigFile => Path.Combine(_root, "pgbackrest.conf");

    public string Repository => Path.Combine(_root, "repo");

    public TimeSpan ArchiveTimeout { get; }

    /// <summary>
    /// The repository and config for <paramref name="cluster"/> (made, not started), and its
    /// postgresql.conf set to archive every WAL segment into it: the settings apply when it starts.
    /// </summary>
    public static async Task<PgBackRest> ForClusterAsync(PostgresServer cluster, TimeSpan archiveTimeout)
    {
        if (!File.Exists(Executable))
            throw new InvalidOperationException($"{Executable} is missing: install Debian's pgbackrest (./test.sh does).");
        var root = Directory.CreateTempSubdirectory("stadig-pgbackrest-").FullName;
        foreach (var folder in new[] { "repo", "log", "lock", "spool" }) Directory.CreateDirectory(Path.Combine(root, folder));
        var backRest = new PgBackRest(root, archiveTimeout);
        // One file says it all, as /etc/pgbackrest.conf does on a database node: the commands below name only the stanza.
        await File.WriteAllTextAsync(backRest.ConfigFile, $"""
            [global]
            repo1-path={backRest.Repository}
            repo1-retention-full=2
            log-path={Path.Combine(root, "log")}
            lock-path={Path.Combine(root, "lock")}
            spool-path={Path.Combine(root, "spool")}
            log-level-console=warn
            log-level-file=info
            start-fast=y
            compress-type=lz4

            [{Stanza}]
            pg1-path={cluster.DataDirectory}
            pg1-port={cluster.Port}
            pg1-socket-path={cluster.SocketDirectory}
            pg1-user=postgres

            """);
        if (Environment.UserName == "root") await RunAsync("chown", "-R", "postgres:postgres", root);
        await cluster.AppendSettingsAsync(
            "wal_level = replica",
            "archive_mode = on",
            $"archive_command = '{Executable} --config={backRest.ConfigFile} --stanza={Stanza} archive-push %p'",
            $"archive_timeout = {(int)archiveTimeout.TotalSeconds}");
        return backRest;
    }

    /// <summary>The stanza, once the cluster runs (it checks that archiving works).</summary>
    public Task StanzaCreateAsync() => CommandAsync("stanza-create");

    /// <summary>A backup of the running cluster (full, diff or incr); how long it took.</summary>
    public async Task<TimeSpan> BackupAsync(string type)
    {
        var started = Stopwatch.GetTimestamp();
        await CommandAsync("backup", $"--type={type}");
        return Stopwatch.GetElapsedTime(started);
    }

    /// <summary>Switches to a new WAL segment and waits until it is in the repository (pgBackRest's own check).</summary>
    public async Task<TimeSpan> CheckAsync()
    {
        var started = Stopwatch.GetTimestamp();
        await CommandAsync("check");
        return Stopwatch.GetElapsedTime(started);
    }

    /// <summary>
    /// Restores into <paramref name="target"/>'s empty data directory, recovering to <paramref name="time"/>
    /// and promoting there; the restored server archives nothing (it is a copy, not the primary).
    /// </summary>
    public Task RestoreToTimeAsync(PostgresServer target, DateTimeOffset time) =>
        CommandAsync("restore", $"--pg1-path={target.DataDirectory}", "--type=time",
            "--target=" + time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.ffffff'+00'", CultureInfo.InvariantCulture),
            "--target-action=promote", "--archive-mode=off");

    /// <summary>The repository's backups as pgBackRest reports them (JSON).</summary>
    public Task<string> InfoAsync() => CommandAsync("info", "--output=json");

    private Task<string> CommandAsync(string command, params string[] options) =>
        PostgresServer.RunAsServerAccountAsync(Executable, [$"--config={ConfigFile}", $"--stanza={Stanza}", .. options, command]);

    private static async Task RunAsync(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{file} failed ({process.ExitCode}): {await error}");
    }

    public ValueTask DisposeAsync()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        return ValueTask.CompletedTask;
    }
}
