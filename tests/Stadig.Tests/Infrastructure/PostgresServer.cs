using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;
using Stadig.Tests.Infrastructure;

[assembly: AssemblyFixture(typeof(PostgresServer))]

namespace Stadig.Tests.Infrastructure;

/// <summary>
/// A real, throwaway PostgreSQL cluster for the whole test run: initdb into a temporary folder,
/// started on a free loopback port, stopped and removed at the end. No Docker, no shared server.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private static PostgresServer? _instance;
    private string _root = "";
    private string _binaries = "";
    private bool _asPostgresUser;

    public static PostgresServer Instance => _instance ?? throw new InvalidOperationException("The PostgreSQL fixture has not started.");

    public int Port { get; private set; }

    public string AdminConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Pooling=false";

    public async ValueTask InitializeAsync()
    {
        await CreateClusterAsync();
        await StartClusterAsync();
        _instance = this;
    }

    /// <summary>
    /// A second cluster of a test's own, made but not started: for a test of Stadig starting while its
    /// database is down. Dispose it to stop and remove it.
    /// </summary>
    public static async Task<PostgresServer> CreateStoppedAsync()
    {
        var server = new PostgresServer();
        await server.CreateClusterAsync();
        return server;
    }

    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres";

    /// <summary>The cluster's data directory (PGDATA).</summary>
    public string DataDirectory => Path.Combine(_root, "data");

    /// <summary>Where the server's Unix socket and its log are.</summary>
    public string SocketDirectory => Path.Combine(_root, "sock");

    /// <summary>Whether the server's files belong to the postgres account (the tests run as root) rather than to this process's user.</summary>
    public bool RunsAsPostgresUser => _asPostgresUser;

    /// <summary>
    /// The folders of a cluster whose data directory another tool fills (a restore from backup), with
    /// its own port: an empty, private data directory owned by the account the server runs as.
    /// Start it with <see cref="StartClusterAsync"/>; dispose it to stop and remove it.
    /// </summary>
    public static async Task<PostgresServer> CreateForRestoreAsync()
    {
        var server = new PostgresServer { _binaries = FindBinaries(), _asPostgresUser = Environment.UserName == "root" };
        server._root = Directory.CreateTempSubdirectory("stadig-pg-restore-").FullName;
        Directory.CreateDirectory(server.SocketDirectory);
        Directory.CreateDirectory(server.DataDirectory);
        // PostgreSQL starts only on a data directory nobody else may read.
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(server.DataDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        if (server._asPostgresUser) await RunAsync("chown", ["-R", "postgres:postgres", server._root], asPostgres: false);
        server.Port = FreePort();
        return server;
    }

    /// <summary>Adds settings to the cluster's postgresql.conf (later lines win); they apply at its next start.</summary>
    public Task AppendSettingsAsync(params string[] lines) =>
        File.AppendAllTextAsync(Path.Combine(DataDirectory, "postgresql.conf"), "\n" + string.Join("\n", lines) + "\n");

    /// <summary>Runs a program as the account the server runs as (pgBackRest must read and write what the server does); its output, or an error naming it.</summary>
    public static Task<string> RunAsServerAccountAsync(string file, params string[] arguments) =>
        RunAsync(file, arguments, Environment.UserName == "root");

    /// <summary>
    /// A streaming replica of this (started) cluster, of a test's own: a base backup taken over the
    /// replication protocol and started as a hot standby on its own port. Dispose it to stop and remove it.
    /// </summary>
    public async Task<PostgresServer> StartReplicaAsync()
    {
        var replica = new PostgresServer { _binaries = _binaries, _asPostgresUser = _asPostgresUser };
        replica._root = Directory.CreateTempSubdirectory("stadig-pg-replica-").FullName;
        Directory.CreateDirectory(Path.Combine(replica._root, "sock"));
        if (_asPostgresUser) await RunAsync("chown", ["-R", "postgres:postgres", replica._root], asPostgres: false);
        await RunAsync(Path.Combine(_binaries, "pg_basebackup"),
            ["-h", "127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", "postgres",
             "-D", Path.Combine(replica._root, "data"), "-R", "-X", "stream", "--no-sync"], _asPostgresUser);
        replica.Port = FreePort();
        await replica.StartClusterAsync();
        return replica;
    }

    /// <summary>Runs one statement as the superuser on this cluster's postgres database (ALTER SYSTEM, pg_wal_replay_pause …).</summary>
    public async Task<object?> ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }

    /// <summary>A started cluster of a test's own, for a test that kills PostgreSQL (the shared one serves every other test).</summary>
    public static async Task<PostgresServer> StartOwnAsync()
    {
        var server = await CreateStoppedAsync();
        await server.StartClusterAsync();
        return server;
    }

    /// <summary>
    /// SIGKILL to the postmaster and every backend it started, as a crash of the database node's
    /// processes: no checkpoint, no shutdown, clients cut off mid-transaction. Start it again with
    /// <see cref="StartClusterAsync"/>, which runs crash recovery.
    /// </summary>
    public async Task KillAsync()
    {
        var pidFile = Path.Combine(_root, "data", "postmaster.pid");
        var postmaster = int.Parse(File.ReadLines(pidFile).First(), System.Globalization.CultureInfo.InvariantCulture);
        var family = new List<int> { postmaster };
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
            if (int.TryParse(Path.GetFileName(dir), out var pid) && ParentOf(pid) == postmaster) family.Add(pid);
        foreach (var pid in family)
        {
            try { using var process = Process.GetProcessById(pid); process.Kill(); }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception) { }
        }
        // Gone or a zombie (a container's init may not reap): either way it holds no lock and no shared memory.
        var guard = Stopwatch.StartNew();
        while (family.Any(IsAlive))
        {
            if (guard.Elapsed > TimeSpan.FromMinutes(1)) throw new TimeoutException("PostgreSQL's processes did not die after SIGKILL.");
            await Task.Delay(20);
        }
        // A zombie postmaster's pid still answers kill(pid, 0), and the new postmaster would take it for a running one:
        // in the data folder's lock file and in the socket's.
        File.Delete(pidFile);
        foreach (var socketLock in Directory.EnumerateFiles(Path.Combine(_root, "sock"), ".s.PGSQL.*.lock")) File.Delete(socketLock);
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)] != 'Z';
        }
        catch (IOException) { return false; }
    }

    private static int ParentOf(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException or UnauthorizedAccessException) { return -1; }
    }

    private async Task CreateClusterAsync()
    {
        _binaries = FindBinaries();
        _asPostgresUser = Environment.UserName == "root";
        _root = Directory.CreateTempSubdirectory("stadig-pg-").FullName;
        var data = Path.Combine(_root, "data");
        var sockets = Path.Combine(_root, "sock");
        Directory.CreateDirectory(data);
        Directory.CreateDirectory(sockets);
        if (_asPostgresUser) await RunAsync("chown", ["-R", "postgres:postgres", _root], asPostgres: false);

        await RunAsync(Path.Combine(_binaries, "initdb"),
            ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], _asPostgresUser);
        Port = FreePort();
    }

    public async Task StartClusterAsync()
    {
        var sockets = Path.Combine(_root, "sock");
        await RunAsync(Path.Combine(_binaries, "pg_ctl"),
            ["-D", Path.Combine(_root, "data"), "-l", Path.Combine(sockets, "pg.log"), "-w", "-t", "60",
             "-o", $"-p {Port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=1000", "start"],
            _asPostgresUser);
    }

    /// <summary>Stops the cluster as a crash would (immediate: no checkpoint, clients cut off).</summary>
    public Task StopClusterAsync() =>
        RunAsync(Path.Combine(_binaries, "pg_ctl"), ["-D", Path.Combine(_root, "data"), "-m", "immediate", "-w", "stop"], _asPostgresUser);

    public async ValueTask DisposeAsync()
    {
        if (_root.Length == 0) return;
        try
        {
            if (File.Exists(Path.Combine(_root, "data", "postmaster.pid"))) await StopClusterAsync();
        }
        finally
        {
            try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>
    /// A new database on the server, empty or a copy of <paramref name="template"/> (a database nobody
    /// is connected to); each test gets its own, so tests never share state.
    /// </summary>
    public async Task<string> CreateDatabaseAsync(string? template = null)
    {
        var name = "stadig_" + Guid.NewGuid().ToString("N");
        await using var connection = new NpgsqlConnection(AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE {name}{(template is null ? "" : $" TEMPLATE {template}")}", connection);
        await command.ExecuteNonQueryAsync();
        return $"Host=127.0.0.1;Port={Port};Username=postgres;Database={name};Maximum Pool Size=20";
    }

    private static string FindBinaries()
    {
        var root = "/usr/lib/postgresql";
        var bin = Directory.Exists(root)
            ? Directory.GetDirectories(root).Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb")))
                .OrderByDescending(d => int.TryParse(Path.GetFileName(Path.GetDirectoryName(d)), out var v) ? v : 0).FirstOrDefault()
            : null;
        return bin ?? throw new InvalidOperationException(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin. Run ./test.sh, which installs them.");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<string> RunAsync(string file, string[] arguments, bool asPostgres)
    {
        var start = new ProcessStartInfo(asPostgres ? "runuser" : file)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        if (asPostgres) { start.ArgumentList.Add("-u"); start.ArgumentList.Add("postgres"); start.ArgumentList.Add("--"); start.ArgumentList.Add(file); }
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} failed ({process.ExitCode}): {await stderr}{await stdout}");
        return await stdout;
    }
}
