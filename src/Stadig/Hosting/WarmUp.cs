using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Stadig.Access;
using Stadig.Auth;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Hosting;

/// <summary>Stadig:WarmUp: the first use of each main page after start, done by the node itself before it says it is ready.</summary>
public sealed class WarmUpSettings
{
    public bool Enabled { get; set; } = true;

    /// <summary>The longest the node stays not ready for the warm-up; then it is ready, warm or not.</summary>
    public int TimeoutSeconds { get; set; } = 30;
}

public enum WarmUpState { Off, Pending, Running, Done, Failed, TimedOut }

/// <summary>
/// The first request of each main page after start paid for loading and compiling its code (the
/// first chart ~400 ms, the first new note ~650 ms against budgets of 100 and 30 ms). Right after
/// start, before /health/ready says Ready, the node sends those pages' requests to itself over HTTP,
/// through the whole pipeline, as a synthetic caller who is nobody: a staff id, unit and assignment
/// that do not exist, so the checkpoint finds no care relation and no patient. Nothing it does is
/// kept: its requests run inside <see cref="Database.RollBackEverything"/>, so the audit events they
/// write (and anything else) are rolled back — the audit log holds only real accesses, and no
/// patient data is created. Of what only a granted caller reaches, the chart's statements are run for
/// the id of no patient (<see cref="Stadig.Chart.PatientChart.WarmUpAsync"/>).
/// </summary>
public sealed class WarmUp(WarmUpSettings settings, IServer server, IHostApplicationLifetime lifetime,
    IOptionsMonitor<CookieAuthenticationOptions> cookies, IServiceProvider services, ILogger<WarmUp> logger) : BackgroundService
{
    public const string Header = "X-Stadig-Warm-Up";

    /// <summary>Known only to this process: only its own warm-up requests run with the roll-back.</summary>
    private readonly string _secret = Convert.ToHexString(RandomNumberGenerator.GetBytes(32));
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<WarmUpStep> _steps = [];
    private int _rolledBack;

    public WarmUpState State { get; private set; } = settings.Enabled ? WarmUpState.Pending : WarmUpState.Off;

    /// <summary>Completes when the warm-up is over (done, failed, timed out or off).</summary>
    public Task Finished => _finished.Task;

    /// <summary>What the warm-up did: each request or call and how it was answered.</summary>
    public IReadOnlyList<WarmUpStep> Steps { get { lock (_steps) return _steps.ToList(); } }

    /// <summary>Transactions the warm-up's requests began and rolled back instead of committing (audit events among them).</summary>
    public int RolledBack => Volatile.Read(ref _rolledBack);

    public TimeSpan Elapsed { get; private set; }

    /// <summary>A request of this warm-up (its header carries the secret) while the warm-up runs.</summary>
    internal bool IsOwnRequest(HttpContext context) =>
        State == WarmUpState.Running
        && context.Request.Headers[Header] is [{ } value]
        && CryptographicOperations.FixedTimeEquals(System.Text.Encoding.ASCII.GetBytes(value), System.Text.Encoding.ASCII.GetBytes(_secret));

    internal void CountRolledBack(int count) => Interlocked.Add(ref _rolledBack, count);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!settings.Enabled)
        {
            _finished.TrySetResult();
            return;
        }
        try
        {
            // The server listens from here on; until the warm-up is over /health/ready says not ready.
            await WhenStartedAsync(stoppingToken);
            // A database that was down at start: the warm-up waits for it (its requests would only be refused).
            await services.GetRequiredService<DatabaseReadiness>().WhenReady.WaitAsync(stoppingToken);
            State = WarmUpState.Running;
            var started = Stopwatch.GetTimestamp();
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            deadline.CancelAfter(TimeSpan.FromSeconds(settings.TimeoutSeconds));
            try
            {
                await RunAsync(deadline.Token);
                State = WarmUpState.Done;
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
                State = WarmUpState.TimedOut;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A warm-up is an optimisation: a node that cannot do it still serves, only slower at first.
                State = WarmUpState.Failed;
                logger.LogWarning("Warm-up failed ({Reason}); the node is ready without it.", e.GetType().Name);
            }
            Elapsed = Stopwatch.GetElapsedTime(started);
            logger.LogInformation("Warm-up {State} in {Milliseconds:0} ms: {Steps} steps, {RolledBack} transactions rolled back.",
                State, Elapsed.TotalMilliseconds, Steps.Count, RolledBack);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            _finished.TrySetResult();
        }
    }

    private Task WhenStartedAsync(CancellationToken cancellationToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        return started.Task.WaitAsync(cancellationToken);
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var address = OwnAddress();
        using var http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false, UseCookies = false,
            // Its own loopback address: the certificate is the one this process serves.
            SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
        }) { BaseAddress = address };
        http.DefaultRequestHeaders.Add(Header, _secret);
        var session = "stadig.session=" + SessionCookie();
        var nobody = Guid.NewGuid();

        // What a load balancer sees meanwhile (not ready), then anonymous pages (the login form and its
        // antiforgery token), then the main pages as the synthetic caller.
        await GetAsync(http, "/health/ready", null, cancellationToken);
        await GetAsync(http, "/login", null, cancellationToken);
        foreach (var path in (string[])["/", "/?q=" + Uri.EscapeDataString(NoSuchName), $"/patients/{nobody}", $"/notes/{nobody}",
                     "/worklist", "/ward", "/results/inbox"])
            await GetAsync(http, path, session, cancellationToken);
        await NewNoteAsync(nobody, cancellationToken);
        await services.GetRequiredService<Stadig.Chart.PatientChart>().WarmUpAsync(Caller(), nobody, cancellationToken);
        Record(new WarmUpStep("PatientChart.WarmUpAsync", 0));
    }

    /// <summary>Two name words no one has: the search runs every branch of its query and finds nobody.</summary>
    internal const string NoSuchName = "Qxzqwarmup Zqxwarmup";

    private async Task GetAsync(HttpClient http, string path, string? session, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (session is not null) request.Headers.Add("Cookie", session);
        using var response = await http.SendAsync(request, cancellationToken);
        await response.Content.LoadIntoBufferAsync(cancellationToken);
        Record(new WarmUpStep("GET " + PathOnly(path), (int)response.StatusCode));
    }

    /// <summary>
    /// A new note is a form post answered by the note editor; the caller has no patient, so the post
    /// cannot get past the checkpoint. The use case is run in the process instead, as far as the
    /// checkpoint lets it: the refusal and its (rolled back) audit event.
    /// </summary>
    private async Task NewNoteAsync(Guid nobody, CancellationToken cancellationToken)
    {
        using var scope = Database.RollBackEverything();
        var notes = services.GetRequiredService<Stadig.Notes.ClinicalNotes>();
        var outcome = 0;
        try
        {
            await notes.CreateDraftAsync(Caller(), nobody, Stadig.Notes.NoteTypes.For(Role.Physician)[0].Name, cancellationToken: cancellationToken);
        }
        catch (Stadig.Common.NotFoundException)
        {
            outcome = StatusCodes.Status404NotFound;
        }
        CountRolledBack(scope.RolledBack);
        Record(new WarmUpStep("ClinicalNotes.CreateDraftAsync", outcome));
    }

    private void Record(WarmUpStep step)
    {
        lock (_steps) _steps.Add(step);
    }

    /// <summary>The path without its ids and query, as the step is recorded and logged.</summary>
    private static string PathOnly(string path) =>
        string.Join('/', path.Split('?')[0].Split('/').Select(part => Guid.TryParse(part, out _) ? "{id}" : part)) + (path.Contains('?') ? "?q=…" : "");

    /// <summary>Nobody: a staff member, unit and assignment that exist nowhere, working as a physician.</summary>
    internal static readonly Guid StaffId = Guid.NewGuid(), UnitId = Guid.NewGuid(), AssignmentId = Guid.NewGuid();

    internal static Caller Caller() => new(StaffId, "WARM-UP", "Uppvärmning", Role.Physician, UnitId, "WARM-UP", Purpose.CareAndTreatment);

    private string SessionCookie()
    {
        var member = new StaffMember { Id = StaffId, HsaId = "WARM-UP", DisplayName = "Uppvärmning" };
        var assignment = new Assignment { Id = AssignmentId, StaffId = StaffId, UnitId = UnitId, UnitHsaId = "WARM-UP", UnitName = "Uppvärmning", Role = Role.Physician, Purpose = Purpose.CareAndTreatment };
        var now = DateTimeOffset.UtcNow;
        var ticket = new AuthenticationTicket(LoginService.PrincipalFor(member, assignment),
            new AuthenticationProperties { IssuedUtc = now, ExpiresUtc = now.AddMinutes(5) }, CookieAuthenticationDefaults.AuthenticationScheme);
        return cookies.Get(CookieAuthenticationDefaults.AuthenticationScheme).TicketDataFormat.Protect(ticket);
    }

    /// <summary>The server's own address, on loopback where it listens on every address.</summary>
    private Uri OwnAddress()
    {
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var chosen = addresses.FirstOrDefault(a => a.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) ?? addresses.FirstOrDefault()
            ?? throw new InvalidOperationException("The server has no address.");
        var uri = new UriBuilder(chosen.Replace("://+", "://localhost").Replace("://*", "://localhost"));
        if (uri.Host is "0.0.0.0" or "localhost") uri.Host = IPAddress.Loopback.ToString();
        else if (uri.Host is "[::]" or "::") uri.Host = "[::1]";
        return uri.Uri;
    }
}

/// <summary>One thing the warm-up did: a request and its status, or a call and its outcome.</summary>
public sealed record WarmUpStep(string What, int Outcome);

/// <summary>Not ready while the warm-up runs: a load balancer sends no users to a cold node.</summary>
public sealed class WarmUpHealthCheck(WarmUp warmUp) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(StatusOf(warmUp.State) == HealthStatus.Healthy ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("warming up"));

    /// <summary>A failed or timed-out warm-up does not keep the node out of service: it is then only slower at first.</summary>
    public static HealthStatus StatusOf(WarmUpState state) =>
        state is WarmUpState.Pending or WarmUpState.Running ? HealthStatus.Unhealthy : HealthStatus.Healthy;
}

public static class WarmUpMiddleware
{
    /// <summary>The warm-up's own requests run with every commit rolled back (audit events included).</summary>
    public static void UseWarmUpRollBack(this WebApplication app)
    {
        var warmUp = app.Services.GetRequiredService<WarmUp>();
        app.Use(async (context, next) =>
        {
            if (!warmUp.IsOwnRequest(context))
            {
                await next(context);
                return;
            }
            using var scope = Database.RollBackEverything();
            try
            {
                await next(context);
            }
            finally
            {
                warmUp.CountRolledBack(scope.RolledBack);
            }
        });
    }
}
