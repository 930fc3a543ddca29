using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Tests.Hosting;

/// <summary>
/// The first search, chart and new note after a start find their code compiled (issue 17, item 11).
/// Counted, not timed: the real executable is started in a process of its own (the test process has
/// compiled everything long ago), and each answer's Server-Timing says how many methods the process
/// compiled while it ran (<c>jit;desc=</c>). Tiered compilation is off in that process, so each
/// method is compiled once and a background recompilation of hot code does not count as new code.
/// </summary>
public partial class FirstUseTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [GeneratedRegex(@"jit;desc=(\d+)")]
    private static partial Regex JitPattern();

    /// <summary>
    /// More than this many methods compiled for one request means its path was not warmed up. Measured
    /// on SQLite with the warm-up of every kept connection: search 4, chart 0, new-note post 1, editor 0;
    /// the margin is for a background service's first run falling within a request.
    /// </summary>
    private const int MostNewMethods = 30;

    // SQLite only in CI: with tiered compilation off a run costs minutes of CPU on CI's two cores, and
    // the PostgreSQL run doubled that. The warm-up itself is checked on both engines (WarmUpTests), and
    // the PostgreSQL case runs with InlineData(DatabaseEngine.Postgres) added here when the warm-up changes.
    [Theory, InlineData(DatabaseEngine.Sqlite)]
    public async Task After_start_the_first_search_chart_and_new_note_compile_almost_no_new_methods(DatabaseEngine engine)
    {
        var connectionString = await TestDatabases.CreateConnectionStringAsync(engine);
        Guid patientId;
        await using (var setup = await StadigServer.StartOnAsync(connectionString, "http://127.0.0.1:0"))
        {
            var (member, assignments) = await setup.AddUserAsync("eva", "lösen");
            patientId = (await setup.Patients.RegisterAsync(StadigServer.CallerFor(member, assignments[0]), "19121212-1212", new PatientDetails("Ekvall", "Per"))).PatientId;
        }

        await using var node = await Node.StartAsync(connectionString);
        using var client = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false }) { BaseAddress = node.Address };
        var login = await client.GetStringAsync("/login", Cancel);
        var signedIn = await client.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = StadigServer.AntiforgeryToken(login), ["username"] = "eva", ["password"] = "lösen", ["returnUrl"] = "/",
        }), Cancel);
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);

        var search = await client.GetAsync("/?q=" + Uri.EscapeDataString("Ekvall Per"), Cancel);
        var chart = await client.GetAsync($"/patients/{patientId}", Cancel);
        var chartPage = await chart.Content.ReadAsStringAsync(Cancel);
        var posted = await client.PostAsync($"/patients/{patientId}", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = StadigServer.AntiforgeryToken(chartPage), ["_handler"] = "new-note", ["NewNote.NoteType"] = "Daganteckning",
        }), Cancel);
        Assert.Equal(HttpStatusCode.Redirect, posted.StatusCode);
        var location = posted.Headers.Location!;
        var editor = await client.GetAsync(location.IsAbsoluteUri ? location.PathAndQuery : location.OriginalString, Cancel);

        var counts = new Dictionary<string, int>
        {
            ["search"] = Jitted(search), ["chart"] = Jitted(chart), ["new note (POST)"] = Jitted(posted), ["note editor"] = Jitted(editor),
        };
        TestContext.Current.TestOutputHelper?.WriteLine(string.Join(", ", counts.Select(c => $"{c.Key}: {c.Value} methods compiled")));
        Assert.Equal(HttpStatusCode.OK, search.StatusCode);
        Assert.Contains("id=\"search-results\"", await search.Content.ReadAsStringAsync(Cancel));
        Assert.Contains("class=\"chart-grid\"", chartPage);
        Assert.Contains("id=\"note-editor\"", await editor.Content.ReadAsStringAsync(Cancel));
        foreach (var (what, methods) in counts)
            Assert.True(methods <= MostNewMethods, $"The first {what} after start compiled {methods} methods (at most {MostNewMethods}): {string.Join(", ", counts)}\n{node.Output}");
    }

    private static int Jitted(HttpResponseMessage response)
    {
        var timing = string.Join(",", response.Headers.GetValues("Server-Timing"));
        var match = JitPattern().Match(timing);
        Assert.True(match.Success, timing);
        return int.Parse(match.Groups[1].Value);
    }

    /// <summary>The executable serving on a free port of its own, with the warm-up on, as a node is started.</summary>
    private sealed class Node : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();
        private readonly TaskCompletionSource _profilesWarmed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private Node(Process process, Uri address)
        {
            _process = process;
            Address = address;
        }

        public Uri Address { get; }

        public string Output { get { lock (_output) return _output.ToString(); } }

        public static async Task<Node> StartAsync(string connectionString)
        {
            var port = FreePort();
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "stadig.dll"));
            foreach (var a in (string[])["serve", "--database", connectionString, "--urls", $"http://127.0.0.1:{port}", "--Stadig:SeedDemoAtStart=false",
                         "--Stadig:Mllp:Port=0", "--Stadig:WarmUp:Enabled=true", "--Stadig:WarmUp:TimeoutSeconds=600"])
                start.ArgumentList.Add(a);
            // Each method compiled once, fully: a tier-1 recompilation in the background is not new code.
            start.Environment["DOTNET_TieredCompilation"] = "0";
            start.WorkingDirectory = Directory.CreateTempSubdirectory("stadig-first-use-").FullName;
            var node = new Node(Process.Start(start)!, new Uri($"http://127.0.0.1:{port}"));
            node._process.OutputDataReceived += (_, e) => node.Read(e.Data);
            node._process.ErrorDataReceived += (_, e) => node.Read(e.Data);
            node._process.BeginOutputReadLine();
            node._process.BeginErrorReadLine();
            try
            {
                await node.ReadyAsync();
            }
            catch
            {
                await node.DisposeAsync();
                throw;
            }
            return node;
        }

        private void Read(string? line)
        {
            if (line is null) return;
            lock (_output) _output.AppendLine(line);
            // The FHIR profile validator compiles in the background after start; its compilation is not the pages'.
            if (line.Contains("FHIR profile validator warm", StringComparison.Ordinal)) _profilesWarmed.TrySetResult();
        }

        /// <summary>Until /health/ready says Healthy and the validator's compile is over.</summary>
        private async Task ReadyAsync()
        {
            using var http = new HttpClient { BaseAddress = Address };
            using var ticks = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
            while (await ticks.WaitForNextTickAsync(Cancel))
            {
                if (_process.HasExited) throw new InvalidOperationException($"The node stopped ({_process.ExitCode}):\n{Output}");
                try
                {
                    if ((await http.GetAsync("/health/ready", Cancel)).StatusCode == HttpStatusCode.OK) break;
                }
                catch (HttpRequestException)
                {
                    // Not listening yet.
                }
            }
            await _profilesWarmed.Task.WaitAsync(Cancel);
            Assert.Contains("Warm-up Done", Output);
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync(CancellationToken.None);
            }
            _process.Dispose();
        }
    }
}
