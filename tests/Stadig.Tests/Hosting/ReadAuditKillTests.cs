using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Dapper;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Stadig.Access;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Tests.Hosting;

/// <summary>
/// The rule issue 23's cheaper reads must keep: a read's audit event is durable before the answer
/// leaves. The real server runs as its own process, is read from on several connections at once and
/// killed (SIGKILL, no shutdown) at a random moment, again and again, on the same database; every
/// read that was answered 200 must then have its event. An answer sent before its event was written
/// would be missing its event whenever the kill fell between the two.
/// </summary>
public class ReadAuditKillTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private const string SigningKey = "read-audit-kill-test-signing-key-long-enough-for-hs256";
    private const int Rounds = 4;
    private const int Readers = 4;

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_server_killed_at_random_moments_answered_no_read_without_its_audit_event(DatabaseEngine engine)
    {
        var connectionString = await TestDatabases.CreateConnectionStringAsync(engine);
        var database = new Database(engine, connectionString);
        await new Migrator(database).MigrateAsync();
        var services = CoreServices.Create(database, TimeProvider.System);
        var provider = await services.Staff.AddProviderAsync("SE2321000016-K001", "Killregionen");
        var ward = await services.Staff.AddUnitAsync(provider.Id, "SE2321000016-K002", "Medicinavdelning K", UnitKind.Ward);
        var member = await services.Staff.AddStaffAsync("SE2321000016-KLAK", "klakare", "Test Klakare", Role.Physician.Swedish(), null, isDemo: false);
        await services.Staff.AddAssignmentAsync(member.Id, ward.Id, Role.Physician, Purpose.CareAndTreatment);
        var caller = new Caller(member.Id, member.HsaId, member.DisplayName, Role.Physician, ward.Id, ward.HsaId, Purpose.CareAndTreatment);
        var patients = new List<Guid>();
        for (var i = 0; i < 6; i++)
        {
            var id = (await services.Patients.RegisterAsync(caller, TestNumbers.Personnummer(1940 + i, 5, 6), new PatientDetails("Kill", $"Test{i}"))).PatientId;
            await services.Access.RecordCareRelationAsync(caller, id, "Besök", Cancel);
            patients.Add(id);
        }

        var answered = new long[patients.Count];
        var random = new Random();
        var interrupted = 0;
        for (var round = 0; round < Rounds; round++)
        {
            await using var server = await ServerProcess.StartAsync(connectionString);
            using var http = new HttpClient { BaseAddress = server.Url };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token(member.HsaId, ward.HsaId));
            // The kill comes when the round's random number of reads has been answered, while the other readers' reads are under way.
            var killAt = random.Next(5, 60);
            var answeredThisRound = 0;
            await Task.WhenAll(Enumerable.Range(0, Readers).Select(reader => Task.Run(async () =>
            {
                for (var i = reader; ; i++)
                {
                    var patient = i % patients.Count;
                    HttpResponseMessage response;
                    try { response = await http.GetAsync($"/fhir/Patient/{patients[patient]}", Cancel); }
                    catch (Exception e) when (e is HttpRequestException or IOException)
                    {
                        // Refused: sent after the kill. Anything else: under way when it came.
                        if (e.InnerException is not SocketException { SocketErrorCode: SocketError.ConnectionRefused }) Interlocked.Increment(ref interrupted);
                        return;
                    }
                    using (response)
                    {
                        // A busy node's 503 answers nothing: not a read, and no event owed.
                        if (response.StatusCode == HttpStatusCode.ServiceUnavailable) continue;
                        Assert.True(response.StatusCode == HttpStatusCode.OK, $"read answered {response.StatusCode}\n{server.Output}");
                        // Answered means the whole body arrived: a kill mid-body is no answer.
                        try { await response.Content.ReadAsByteArrayAsync(Cancel); }
                        catch (Exception e) when (e is HttpRequestException or IOException) { Interlocked.Increment(ref interrupted); return; }
                    }
                    Interlocked.Increment(ref answered[patient]);
                    // The readers go on until the dead server fails them: the others' reads are then under way at the kill.
                    if (Interlocked.Increment(ref answeredThisRound) == killAt) server.Kill();
                }
            }, Cancel)));
            Assert.True(answeredThisRound >= killAt, $"round {round}: {answeredThisRound} reads answered before the server went away\n{server.Output}");
        }

        await using var connection = await database.OpenUnscopedAsync(Cancel);
        for (var i = 0; i < patients.Count; i++)
        {
            var events = await connection.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM audit_event WHERE patient_id = @patientId AND staff_id = @staffId AND activity = 'Read' AND outcome = 'Allowed'",
                new { patientId = patients[i], staffId = member.Id });
            Assert.True(events >= answered[i], $"patient {i}: {answered[i]} reads answered, {events} read events in the audit log ({interrupted} reads under way at the kills)");
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"{answered.Sum()} reads answered over {Rounds} kills, {interrupted} under way at a kill");
    }

    private static string Token(string hsaId, string unitHsaId) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Issuer = "test-idp", Audience = "stadig", Expires = DateTime.UtcNow.AddMinutes(30),
        Claims = new Dictionary<string, object> { ["hsa_id"] = hsaId, ["unit_hsa_id"] = unitHsaId, ["role"] = "Physician", ["scope"] = "user/*.*" },
        SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(SigningKey)), SecurityAlgorithms.HmacSha256),
    });

    /// <summary>stadig.dll serve as an operator starts it, in a process of its own that the test can kill outright.</summary>
    private sealed class ServerProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();
        private int _killed;

        private ServerProcess(Process process, Uri url) => (_process, Url) = (process, url);

        public Uri Url { get; }

        public string Output
        {
            get { lock (_output) return _output.ToString(); }
        }

        public static async Task<ServerProcess> StartAsync(string connectionString)
        {
            var url = new Uri($"http://127.0.0.1:{FreePort()}");
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "stadig.dll"));
            foreach (var a in new[]
            {
                "serve", "--database", connectionString, "--urls", url.ToString().TrimEnd('/'), "--Stadig:SeedDemoAtStart=false", "--Stadig:Mllp:Port=0",
                "--Stadig:WarmUp:Enabled=false", $"--Stadig:Jwt:SigningKey={SigningKey}", "--Stadig:Jwt:Issuer=test-idp", "--Stadig:Jwt:Audience=stadig",
                "--Stadig:Admission:QueueWaitMilliseconds=5000", "--Stadig:Admission:IntegrationQueueWaitMilliseconds=5000",
            }) start.ArgumentList.Add(a);
            start.WorkingDirectory = Directory.CreateTempSubdirectory("stadig-kill-").FullName;
            var server = new ServerProcess(Process.Start(start)!, url);
            server._process.OutputDataReceived += (_, e) => server.Append(e.Data);
            server._process.ErrorDataReceived += (_, e) => server.Append(e.Data);
            server._process.BeginOutputReadLine();
            server._process.BeginErrorReadLine();
            using var probe = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(5) };
            var deadline = Stopwatch.StartNew();
            while (true)
            {
                Assert.False(server._process.HasExited, $"the server stopped before it was ready\n{server.Output}");
                try
                {
                    if ((await probe.GetAsync("/health/ready", Cancel)).IsSuccessStatusCode) return server;
                }
                catch (HttpRequestException) { }
                catch (TaskCanceledException) when (!Cancel.IsCancellationRequested) { }
                Assert.True(deadline.Elapsed < TimeSpan.FromMinutes(5), $"the server did not get ready\n{server.Output}");
                // Polling for the process to listen: there is nothing to wait on in another process.
                await Task.Delay(50, Cancel);
            }
        }

        /// <summary>SIGKILL: no shutdown, no flushing, no finishing of requests under way.</summary>
        public void Kill()
        {
            if (Interlocked.Exchange(ref _killed, 1) == 0) _process.Kill();
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

        public async ValueTask DisposeAsync()
        {
            Kill();
            await _process.WaitForExitAsync();
            _process.Dispose();
        }
    }
}
