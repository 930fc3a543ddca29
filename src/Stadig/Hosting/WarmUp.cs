using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
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

    /// <summary>
    /// PostgreSQL connections the warm-up prepares the main pages' statements on, which the pool then
    /// keeps open (its Minimum Pool Size, unless the connection string sets one). 0: one for each
    /// request the admission control serves at once (<see cref="AdmissionOptions.MaxConcurrent"/> +
    /// <see cref="AdmissionOptions.PriorityReserve"/>), so that a node busy to its limit finds them all warm.
    /// </summary>
    public int Connections { get; set; }

    /// <summary>
    /// The FHIR profile validator's compile (tens of seconds of a core, FhirProfileWarmUp) begins once
    /// no request has arrived for this long after start, so that it does not slow the first clinicians.
    /// </summary>
    public double ProfileValidatorQuietSeconds { get; set; } = 3;

    /// <summary>…and at the latest this long after start, quiet or not.</summary>
    public int ProfileValidatorLatestSeconds { get; set; } = 600;

    /// <summary>The connections to warm: none while the warm-up is off.</summary>
    public int ConnectionsFor(AdmissionOptions admission) =>
        !Enabled ? 0 : Connections > 0 ? Connections : admission.MaxConcurrent + admission.PriorityReserve;
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
                // The warm-up touches no one's record, so its failure's message holds no patient data.
                logger.LogWarning("Warm-up failed ({Reason}: {Message}); the node is ready without it.", e.GetType().Name, e.Message);
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
        var database = services.GetRequiredService<Database>();
        if (database.WarmConnections > 0) await WarmConnectionsAsync(http, database, session, cancellationToken);
        else await ScratchPatientAsync(http, null, cancellationToken);
    }

    /// <summary>The searches of every kind run on each warmed connection: words no one has, and digits that start no identity number (month 00).</summary>
    internal static readonly (string Query, string What)[] Searches =
        [(NoSuchName, "two words"), (NoSuchName + " Xqzwarmup", "three words"), (NoSuchName.Split(' ')[0], "one word"), ("000000", "digits")];

    /// <summary>
    /// PostgreSQL: each connection is a server process of its own that, when new, loads its catalog
    /// caches and parses and plans each statement anew (the two-word search's generic plan: ~12 ms),
    /// and Npgsql prepares a statement on a connection only at its fifth use there; the pool hands a
    /// request whichever connection is free. So the warm-up opens the connections the pool keeps
    /// (<see cref="Database.WarmConnections"/>, and any other idle one: held at once, so each is one of its own) and on each
    /// runs the searches and the scratch patient's pages with every statement prepared explicitly:
    /// a clinician's first request finds its statements prepared and planned on whichever it gets.
    /// </summary>
    private async Task WarmConnectionsAsync(HttpClient http, Database database, string session, CancellationToken cancellationToken)
    {
        var pins = new List<Database.ConnectionPin>();
        try
        {
            // The pool may hold more than that by now (the pages above load side by side, background
            // services run meanwhile): every idle one is taken too, until taking one opened a new one.
            var opened = false;
            while (pins.Count < database.WarmConnections || !opened && pins.Count < database.WarmConnections + 20)
            {
                var before = database.Connects;
                pins.Add(await database.PinAsync(prepare: true, cancellationToken));
                opened = database.Connects > before;
            }
            lock (_steps) _warmed.AddRange(pins.Select(p => p.ServerProcessId));
            for (var i = 0; i < pins.Count; i++)
            {
                _connectionNumber = i + 1;
                _pin = pins[i];
                try
                {
                    foreach (var (query, what) in Searches)
                        await GetAsync(http, "/?q=" + Uri.EscapeDataString(query), session, cancellationToken, what);
                }
                finally
                {
                    _pin = null;
                }
                await ScratchPatientAsync(http, pins[i], cancellationToken);
            }
        }
        finally
        {
            _pin = null;
            _connectionNumber = 0;
            foreach (var pin in pins) await pin.DisposeAsync();
        }
        Record(new WarmUpStep("Connections prepared", pins.Count));
    }

    /// <summary>The connection the warm-up's own requests run on while it prepares one (null otherwise).</summary>
    private Database.ConnectionPin? _pin;

    /// <summary>Which warmed connection the steps are on (0: none in particular); steps after the first connection's are named by it.</summary>
    private int _connectionNumber;

    internal Database.ConnectionPin? Pin => State == WarmUpState.Running ? _pin : null;

    private readonly List<int> _warmed = [];

    /// <summary>The server processes (PostgreSQL) of the connections the warm-up prepared.</summary>
    public IReadOnlyList<int> WarmedServerProcesses { get { lock (_steps) return _warmed.ToList(); } }

    /// <summary>The scratch scope the warm-up's own requests join while it writes a note (null otherwise).</summary>
    private Database.ScratchScope? _scratch;

    internal Database.ScratchScope? Scratch => State == WarmUpState.Running ? _scratch : null;

    /// <summary>
    /// What only a caller with a care relation reaches — the chart with its sections, the new note's
    /// form post and insert, the note editor, an autosave — run for a patient of the warm-up's own in a
    /// scratch scope (<see cref="Database.Scratch"/>): one transaction, rolled back at the end, so
    /// the unit, staff member, patient and note it makes are never seen by anyone or kept. Its locks are
    /// on those new rows only; the system audit chain is refused inside it.
    /// </summary>
    private async Task ScratchPatientAsync(HttpClient http, Database.ConnectionPin? pin, CancellationToken cancellationToken)
    {
        var database = services.GetRequiredService<Database>();
        await using var scratch = database.Scratch(pin);
        _scratch = scratch;
        try
        {
            // Everything below writes: outside the scope it would be kept.
            if (!Database.InScratch) throw new InvalidOperationException("The warm-up's scratch scope is not in effect.");
            var (member, assignment, patientId) = await ScratchRecordAsync(cancellationToken);
            var cookies = new Dictionary<string, string> { ["stadig.session"] = SessionCookie(member, assignment) };
            var chart = await SendAsync(http, HttpMethod.Get, $"/patients/{patientId}", cookies, null, cancellationToken);
            var noteType = Stadig.Notes.NoteTypes.For(Role.Physician)[0];
            var posted = await SendAsync(http, HttpMethod.Post, $"/patients/{patientId}", cookies, new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["__RequestVerificationToken"] = AntiforgeryToken(chart), ["_handler"] = "new-note", ["NewNote.NoteType"] = noteType.Name,
            }), cancellationToken);
            var editor = posted.Location is { } location && Uri.TryCreate(http.BaseAddress, location, out var target) ? target.AbsolutePath : "";
            if (!editor.StartsWith("/notes/", StringComparison.Ordinal))
                throw new InvalidOperationException("The warm-up's new note was not created.");
            await SendAsync(http, HttpMethod.Get, editor, cookies, null, cancellationToken);
            var keyword = noteType.Keywords.FirstOrDefault() ?? "";
            await SendAsync(http, HttpMethod.Put, "/api" + editor + "/draft", cookies, JsonContent.Create(new
            {
                version = 1, keywords = new[] { new { keyword, text = "Uppvärmning" } },
            }), cancellationToken);
            await SendAsync(http, HttpMethod.Get, $"/patients/{patientId}", cookies, null, cancellationToken, "with its note");
            await PrescribeAsync(http, patientId, cookies, cancellationToken);
        }
        finally
        {
            _scratch = null;
            await scratch.DisposeAsync();
            CountRolledBack(scratch.RolledBack);
        }
    }

    /// <summary>
    /// A prescription for the scratch patient, as a physician writes one: the medication list, the
    /// product's prescribing form and the post that signs it. The first prescription after start
    /// compiled some 230 methods, 40–77 ms, in the overload runs (docs/benchmarks.md, fourteenth and
    /// fifteenth runs), against a budget of 50 ms. Skipped when the catalogue has no paracetamol (a
    /// region's own catalogue may not).
    /// </summary>
    private async Task PrescribeAsync(HttpClient http, Guid patientId, Dictionary<string, string> cookies, CancellationToken cancellationToken)
    {
        var products = await services.GetRequiredService<Stadig.Medication.ProductCatalogue>().SearchAsync("paracetamol 500", limit: 1, cancellationToken: cancellationToken);
        if (products.Count == 0) return;
        await SendAsync(http, HttpMethod.Get, $"/patients/{patientId}/medication", cookies, null, cancellationToken);
        var form = await SendAsync(http, HttpMethod.Get, $"/patients/{patientId}/medication/prescribe?q=paracetamol&product={products[0].Id}", cookies, null, cancellationToken);
        await SendAsync(http, HttpMethod.Post, $"/patients/{patientId}/medication/prescribe", cookies, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = AntiforgeryToken(form), ["_handler"] = "prescribe", ["Input.ProductId"] = products[0].Id.ToString(),
            ["Input.DoseValue"] = "1", ["Input.DoseUnit"] = "tablett", ["Input.Schedule"] = "AsNeeded", ["Input.MaxDosesPer24h"] = "4", ["Input.Indication"] = "Uppvärmning",
        }), cancellationToken);
    }

    /// <summary>A care unit, a physician working there and a patient registered by them (which gives the unit its care relation), all in the scratch scope.</summary>
    private async Task<(StaffMember Member, Assignment Assignment, Guid PatientId)> ScratchRecordAsync(CancellationToken cancellationToken)
    {
        var staff = services.GetRequiredService<StaffDirectory>();
        string Local() => "WARMUP" + System.Security.Cryptography.RandomNumberGenerator.GetInt32(0, 1_000_000_000).ToString("D9", System.Globalization.CultureInfo.InvariantCulture);
        var provider = await staff.AddProviderAsync("SE0000000000-" + Local(), "Uppvärmning", cancellationToken);
        var unit = await staff.AddUnitAsync(provider.Id, "SE0000000000-" + Local(), "Uppvärmning", UnitKind.Ward, cancellationToken);
        var member = await staff.AddStaffAsync("SE0000000000-" + Local(), "warm-up-" + Guid.NewGuid().ToString("N"), "Uppvärmning", "Läkare", null, false, cancellationToken);
        var assignment = await staff.AddAssignmentAsync(member.Id, unit.Id, Role.Physician, Purpose.CareAndTreatment, cancellationToken);
        var caller = new Caller(member.Id, member.HsaId, member.DisplayName, assignment.Role, assignment.UnitId, assignment.UnitHsaId, assignment.Purpose);
        var registry = services.GetRequiredService<Stadig.Patients.PatientRegistry>();
        var registered = await registry.RegisterAsync(caller, ScratchIdentityNumber(), new Stadig.Patients.PatientDetails("Uppvärmning", "Test"), cancellationToken);
        // A number someone has would lead to their record: the warm-up uses only a patient it made.
        if (!registered.Created) throw new InvalidOperationException("The warm-up's identity number belongs to a patient.");
        Record(new WarmUpStep("Scratch patient", 0));
        return (member, assignment, registered.PatientId);
    }

    /// <summary>A samordningsnummer (day + 60) with a random date and serial, valid by its check digit.</summary>
    private static string ScratchIdentityNumber()
    {
        var date = new DateOnly(1900, 1, 1).AddDays(System.Security.Cryptography.RandomNumberGenerator.GetInt32(0, 36_000));
        var serial = System.Security.Cryptography.RandomNumberGenerator.GetInt32(0, 1000);
        var digits = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{date.Year:D4}{date.Month:D2}{date.Day + 60:D2}{serial:D3}");
        return digits + Stadig.Patients.Identifiers.Luhn.CheckDigit(digits[2..]).ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    private sealed record Answer(int Status, string Body, string? Location);

    /// <summary>A request with the given cookies; cookies the answer sets (the antiforgery cookie) are kept for the next.</summary>
    private async Task<Answer> SendAsync(HttpClient http, HttpMethod method, string path, Dictionary<string, string> cookies, HttpContent? content,
        CancellationToken cancellationToken, string? what = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        request.Headers.Add("Cookie", string.Join("; ", cookies.Select(c => c.Key + "=" + c.Value)));
        using var response = await http.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (response.Headers.TryGetValues("Set-Cookie", out var set))
            foreach (var cookie in set)
                if (cookie.Split(';')[0].Split('=', 2) is [var name, var value] && name != "stadig.session") cookies[name] = value;
        Record(new WarmUpStep($"{method.Method} {PathOnly(path)} (scratch{(what is null ? "" : ", " + what)})", (int)response.StatusCode));
        if ((int)response.StatusCode >= 400)
            throw new InvalidOperationException($"The warm-up's {method.Method} {PathOnly(path)} was answered {(int)response.StatusCode}.");
        return new Answer((int)response.StatusCode, body, response.Headers.Location?.OriginalString);
    }

    private static string AntiforgeryToken(Answer page) =>
        System.Text.RegularExpressions.Regex.Match(page.Body, "name=\"__RequestVerificationToken\"[^>]*value=\"([^\"]*)\"") is { Success: true } m
            ? WebUtility.HtmlDecode(m.Groups[1].Value)
            : throw new InvalidOperationException("The warm-up's chart has no antiforgery token.");

    /// <summary>Two name words no one has: the search runs every branch of its query and finds nobody.</summary>
    internal const string NoSuchName = "Qxzqwarmup Zqxwarmup";

    private async Task GetAsync(HttpClient http, string path, string? session, CancellationToken cancellationToken, string? what = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (session is not null) request.Headers.Add("Cookie", session);
        using var response = await http.SendAsync(request, cancellationToken);
        await response.Content.LoadIntoBufferAsync(cancellationToken);
        Record(new WarmUpStep("GET " + PathOnly(path) + (what is null ? "" : $" ({what})"), (int)response.StatusCode));
        // A search refused or failed would leave the connection without its statements.
        if (what is not null && (int)response.StatusCode >= 400)
            throw new InvalidOperationException($"The warm-up's GET {PathOnly(path)} ({what}) was answered {(int)response.StatusCode}.");
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
        if (_connectionNumber > 1) step = step with { What = $"{step.What} · connection {_connectionNumber}" };
        lock (_steps) _steps.Add(step);
    }

    /// <summary>The path without its ids and query, as the step is recorded and logged.</summary>
    private static string PathOnly(string path) =>
        string.Join('/', path.Split('?')[0].Split('/').Select(part => Guid.TryParse(part, out _) ? "{id}" : part)) + (path.Contains('?') ? "?q=…" : "");

    /// <summary>Nobody: a staff member, unit and assignment that exist nowhere, working as a physician.</summary>
    internal static readonly Guid StaffId = Guid.NewGuid(), UnitId = Guid.NewGuid(), AssignmentId = Guid.NewGuid();

    internal static Caller Caller() => new(StaffId, "WARM-UP", "Uppvärmning", Role.Physician, UnitId, "WARM-UP", Purpose.CareAndTreatment);

    private string SessionCookie() => SessionCookie(
        new StaffMember { Id = StaffId, HsaId = "WARM-UP", DisplayName = "Uppvärmning" },
        new Assignment { Id = AssignmentId, StaffId = StaffId, UnitId = UnitId, UnitHsaId = "WARM-UP", UnitName = "Uppvärmning", Role = Role.Physician, Purpose = Purpose.CareAndTreatment });

    private string SessionCookie(StaffMember member, Assignment assignment)
    {
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
            // While the warm-up writes its scratch note, its requests run in that one transaction.
            if (warmUp.Scratch is { } scratch)
            {
                Database.Join(scratch);
                await next(context);
                return;
            }
            // While it prepares a connection, its requests run on that one.
            using var scope = Database.RollBackEverything(warmUp.Pin);
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
