using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Stadig.Tests.Readiness;

namespace Stadig.Tests.Reliability;

/// <summary>
/// The production database layout of docs/operations.md ("High availability") on loopback ports, as
/// bench/ha/loopback.sh starts it: etcd, three PostgreSQL nodes under Patroni with synchronous
/// replication, HAProxy in front. A folder and a port range of its own. Every call of the script has a
/// deadline, and disposing kills everything it started (every process running from its folder, and
/// their children), even after a failed or timed-out start.
/// </summary>
public sealed class PatroniLayout : IAsyncDisposable
{
    private static readonly string Script = Path.Combine(Evidence.RepositoryRoot, "bench", "ha", "loopback.sh");
    private readonly string _dir;
    private readonly string _logs;
    private readonly int _basePort;
    private readonly HttpClient _api = new() { Timeout = TimeSpan.FromSeconds(2) };
    private int _runs;

    private PatroniLayout(string dir, string logs, int basePort) => (_dir, _logs, _basePort) = (dir, logs, basePort);

    /// <summary>Read-write: HAProxy's port to whichever node is primary now.</summary>
    public string Primary { get; private set; } = "";

    /// <summary>Read-only: HAProxy's port to the streaming replicas.</summary>
    public string Replicas { get; private set; } = "";

    public static string[] Nodes { get; } = ["node1", "node2", "node3"];

    public int PostgresPort(string node) => _basePort + 20 + int.Parse(node[^1..], CultureInfo.InvariantCulture);

    private int ApiPort(string node) => _basePort + 30 + int.Parse(node[^1..], CultureInfo.InvariantCulture);

    /// <summary>Starts the layout (fsync off: a killed process loses nothing the kernel holds) and waits until it is whole.</summary>
    public static async Task<PatroniLayout> StartAsync(CancellationToken cancellationToken)
    {
        var logs = Directory.CreateTempSubdirectory("stadig-ha-logs-").FullName;
        // The script makes the folder itself and gives it to the postgres user.
        var layout = new PatroniLayout(Path.Combine(Path.GetTempPath(), "stadig-ha-" + Guid.NewGuid().ToString("N")[..12]), logs, FreePortRange(34));
        try
        {
            var (exit, output) = await layout.RunAsync(TimeSpan.FromMinutes(4), cancellationToken,
                "start", "--dir", layout._dir, "--base-port", layout._basePort.ToString(CultureInfo.InvariantCulture), "--fast");
            if (exit != 0)
                throw new InvalidOperationException($"bench/ha/loopback.sh start failed (exit {exit}; needs patroni, etcd-server and haproxy, which test.sh installs):\n{output}\n{layout.Logs()}");
            foreach (var line in File.ReadLines(Path.Combine(layout._dir, "env")))
            {
                var (name, value) = (line.Split('=', 2)[0], line.Split('=', 2).ElementAtOrDefault(1)?.Trim('"') ?? "");
                if (name == "PRIMARY") layout.Primary = value;
                if (name == "REPLICAS") layout.Replicas = value;
            }
            return layout;
        }
        catch
        {
            await layout.DisposeAsync();
            throw;
        }
    }

    /// <summary>The node whose Patroni says it is the primary now, or null while none is (a failover under way).</summary>
    public async Task<string?> LeaderAsync(CancellationToken cancellationToken)
    {
        foreach (var node in Nodes)
        {
            try
            {
                var state = JsonNode.Parse(await _api.GetStringAsync($"http://127.0.0.1:{ApiPort(node)}/patroni", cancellationToken));
                if (state?["role"]?.GetValue<string>() is "master" or "primary" && state["state"]?.GetValue<string>() == "running") return node;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException && !cancellationToken.IsCancellationRequested)
            {
                // This node is down or busy: the others may answer.
            }
        }
        return null;
    }

    /// <summary>kill -9 of <paramref name="node"/>'s postmaster (its backends die with it; its Patroni lives on).</summary>
    public Task KillPostgresAsync(string node, CancellationToken cancellationToken) => RequireAsync(cancellationToken, "kill-postgres", node);

    /// <summary>kill -9 of every process of <paramref name="node"/>: Patroni, the postmaster and its children (the machine died).</summary>
    public Task KillNodeAsync(string node, CancellationToken cancellationToken) => RequireAsync(cancellationToken, "kill-node", node);

    /// <summary>Starts <paramref name="node"/>'s Patroni again after <see cref="KillNodeAsync"/>: it rejoins as a replica.</summary>
    public Task RestartNodeAsync(string node, CancellationToken cancellationToken) => RequireAsync(cancellationToken, "restart-node", node);

    /// <summary>The members, their roles, states and lag as Patroni sees them (for a failure's message).</summary>
    public async Task<string> StatusAsync()
    {
        try
        {
            return (await RunAsync(TimeSpan.FromSeconds(30), CancellationToken.None, "status")).Output;
        }
        catch (TimeoutException e)
        {
            return e.Message;
        }
    }

    /// <summary>The tail of each daemon's log (for a failure's message; the databases hold test data only).</summary>
    public string Logs()
    {
        var text = new System.Text.StringBuilder();
        foreach (var log in new[] { "etcd.log", "haproxy.log" }.Concat(Nodes.Select(n => Path.Combine(n, "patroni.log"))))
        {
            var path = Path.Combine(_dir, log);
            if (!File.Exists(path)) continue;
            var lines = File.ReadAllLines(path);
            text.AppendLine(CultureInfo.InvariantCulture, $"--- {log} (last lines)").AppendJoin('\n', lines.TakeLast(15)).AppendLine();
        }
        return text.ToString();
    }

    private async Task RequireAsync(CancellationToken cancellationToken, params string[] command)
    {
        var (exit, output) = await RunAsync(TimeSpan.FromSeconds(60), cancellationToken, command);
        if (exit != 0) throw new InvalidOperationException($"bench/ha/loopback.sh {string.Join(' ', command)} failed (exit {exit}):\n{output}");
    }

    /// <summary>
    /// One call of the script, its output into a file rather than a pipe: the daemons it starts outlive
    /// it, and none of them may hold this process's output open. Killed with everything it started
    /// when the deadline passes.
    /// </summary>
    private async Task<(int Exit, string Output)> RunAsync(TimeSpan limit, CancellationToken cancellationToken, params string[] arguments)
    {
        if (arguments[0] != "start" && !arguments.Contains("--dir")) arguments = [.. arguments, "--dir", _dir];
        var log = Path.Combine(_logs, $"{Interlocked.Increment(ref _runs):D3}-{arguments[0]}.log");
        var start = new ProcessStartInfo("bash") { UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("exec bash \"$0\" \"$@\" >\"$STADIG_LOOPBACK_LOG\" 2>&1 </dev/null");
        start.ArgumentList.Add(Script);
        foreach (var a in arguments) start.ArgumentList.Add(a);
        start.Environment["STADIG_LOOPBACK_LOG"] = log;
        using var process = Process.Start(start)!;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(limit);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            await process.WaitForExitAsync(CancellationToken.None);
            var partial = File.Exists(log) ? await File.ReadAllTextAsync(log, CancellationToken.None) : "";
            if (cancellationToken.IsCancellationRequested) throw;
            throw new TimeoutException($"bench/ha/loopback.sh {arguments[0]} did not finish within {limit.TotalSeconds:0} s:\n{partial}");
        }
        return (process.ExitCode, File.Exists(log) ? await File.ReadAllTextAsync(log, CancellationToken.None) : "");
    }

    /// <summary>A base port with the 34 ports the layout uses free, below Linux's ephemeral range (where clients' ports come from).</summary>
    private static int FreePortRange(int count)
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var first = Random.Shared.Next(12000, 32000 - count);
            var listeners = new List<TcpListener>();
            try
            {
                for (var port = first; port < first + count; port++)
                {
                    var listener = new TcpListener(IPAddress.Loopback, port);
                    listener.Start();
                    listeners.Add(listener);
                }
                return first;
            }
            catch (SocketException)
            {
                // Taken: another range.
            }
            finally
            {
                foreach (var l in listeners) l.Stop();
            }
        }
        throw new InvalidOperationException("No range of 34 free loopback ports found for the Patroni layout.");
    }

    public async ValueTask DisposeAsync()
    {
        _api.Dispose();
        // Killed rather than stopped (the script's stop shuts each node down in turn, half a minute): the
        // data is thrown away. A Patroni may start a postmaster as it dies, so the folder is swept until
        // nothing runs from it.
        var guard = Stopwatch.StartNew();
        while (KillLeftovers(_dir) > 0)
        {
            if (guard.Elapsed > TimeSpan.FromMinutes(1)) throw new TimeoutException($"Processes of the Patroni layout in {_dir} survived SIGKILL for a minute.");
            await Task.Delay(200);
        }
        try { if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        try { Directory.Delete(_logs, recursive: true); } catch (IOException) { }
    }

    /// <summary>
    /// SIGKILL to every process still running from the layout's folder (its command line names the
    /// folder: etcd, the Patronis, HAProxy, the postmasters) and to their children (PostgreSQL's
    /// backends name only the cluster). The folder is this layout's own, so nothing else matches.
    /// </summary>
    private static int KillLeftovers(string dir)
    {
        var processes = new List<(int Pid, int Parent, string CommandLine)>();
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out var pid)) continue;
            try
            {
                var commandLine = File.ReadAllText(Path.Combine(entry, "cmdline")).Replace('\0', ' ');
                var stat = File.ReadAllText(Path.Combine(entry, "stat"));
                var parent = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
                processes.Add((pid, parent, commandLine));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }
        }
        var doomed = processes.Where(p => p.CommandLine.Contains(dir, StringComparison.Ordinal)).Select(p => p.Pid).ToHashSet();
        for (var grew = true; grew;)
        {
            var children = processes.Where(p => doomed.Contains(p.Parent) && !doomed.Contains(p.Pid)).Select(p => p.Pid).ToList();
            grew = children.Count > 0;
            doomed.UnionWith(children);
        }
        doomed.Remove(Environment.ProcessId);
        var alive = 0;
        foreach (var pid in doomed)
        {
            // A zombie is dead already (a container's init may be slow to reap it).
            if (IsZombie(pid)) continue;
            alive++;
            try { using var process = Process.GetProcessById(pid); process.Kill(); }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception) { }
        }
        return alive;
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[stat.LastIndexOf(')') + 2] is 'Z' or 'X';
        }
        catch (IOException) { return true; }
    }
}
