using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Stadig.Tests.Reliability;

/// <summary>
/// stadig.dll serve as an operator starts it, in a process of its own that can be killed outright
/// (SIGKILL: no shutdown, no flushing, no finishing of requests under way). The build is the test
/// project's own copy of the server, so no run builds it again.
/// </summary>
public sealed class StadigProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private int _killed;

    private StadigProcess(Process process, Uri url, int mllpPort) => (_process, Url, MllpPort) = (process, url, mllpPort);

    public Uri Url { get; }

    public int MllpPort { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>The last lines the server wrote (for a failure's message; it logs no patient data).</summary>
    public string Output
    {
        get { lock (_output) return _output.Length > 8000 ? _output.ToString(_output.Length - 8000, 8000) : _output.ToString(); }
    }

    public static async Task<StadigProcess> StartAsync(string connectionString, IEnumerable<string> settings, CancellationToken cancellationToken)
    {
        var url = new Uri($"http://127.0.0.1:{FreePort()}");
        var mllpPort = FreePort();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "stadig.dll"));
        foreach (var a in new[]
        {
            "serve", "--database", connectionString, "--urls", url.ToString().TrimEnd('/'), "--Stadig:SeedDemoAtStart=false",
            $"--Stadig:Mllp:Port={mllpPort}", "--Stadig:WarmUp:Enabled=false",
        }.Concat(settings)) start.ArgumentList.Add(a);
        start.WorkingDirectory = Directory.CreateTempSubdirectory("stadig-crash-").FullName;
        var server = new StadigProcess(Process.Start(start)!, url, mllpPort);
        server._process.OutputDataReceived += (_, e) => server.Append(e.Data);
        server._process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();
        try
        {
            await server.WaitUntilReadyAsync(cancellationToken);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        return server;
    }

    /// <summary>Until /health/ready answers 200 (after a start, or after its database came back).</summary>
    public async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        using var probe = new HttpClient { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(10) };
        var guard = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited) throw new InvalidOperationException($"The server stopped before it was ready.\n{Output}");
            try
            {
                using var response = await probe.GetAsync("/health/ready", cancellationToken);
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested) { }
            // A guard against a hang only: a server that never gets ready fails the run.
            if (guard.Elapsed > TimeSpan.FromMinutes(3)) throw new TimeoutException($"The server did not get ready.\n{Output}");
            // Polling another process: there is nothing in it to wait on.
            await Task.Delay(25, cancellationToken);
        }
    }

    public void Kill()
    {
        if (Interlocked.Exchange(ref _killed, 1) == 0)
        {
            try { _process.Kill(); } catch (InvalidOperationException) { }
        }
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private int _disposed;

    /// <summary>Kills and waits for the process once; a second call does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        Kill();
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
