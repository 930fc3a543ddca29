using System.Net;
using System.Net.Http.Json;
using Stadig.Hosting;
using Stadig.Storage;

namespace Stadig.Tests.Web;

public class AdmissionControlTests
{
    [Fact]
    [Hazard("H-06")]
    public async Task When_every_slot_is_taken_reads_get_503_at_once_while_autosave_and_health_still_answer()
    {
        await using var server = await StadigServer.StartAsync(DatabaseEngine.Sqlite, "--Stadig:Admission:MaxConcurrent=2");
        var (member, assignments) = await server.AddUserAsync("eva", "lösen");
        var eva = StadigServer.CallerFor(member, assignments[0]);
        var patientId = (await server.Patients.RegisterAsync(eva, "19121212-1212", new("Ek", "Per"))).PatientId;
        var note = await server.Services.GetRequiredService<Stadig.Notes.ClinicalNotes>().CreateDraftAsync(eva, patientId, "Daganteckning");
        var client = server.CreateClient();
        await server.PostLoginAsync(client, "eva", "lösen");

        // The server is full of interactive work: both slots held.
        var admission = server.Services.GetRequiredService<AdmissionControl>();
        var held = new List<IDisposable>();
        for (var i = 0; i < 2; i++) held.Add((await admission.TryEnterAsync(RequestClass.Interactive, CancellationToken.None))!);

        var refused = await client.GetAsync("/api/patients?q=ek");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
        var saved = await client.PutAsJsonAsync($"/api/notes/{note.Id}/draft", new { version = note.Version, keywords = new[] { new { keyword = "Aktuellt", text = "Ingen feber." } } });
        Assert.Equal(HttpStatusCode.OK, saved.StatusCode);

        // Load drops: reads are served again.
        held.ForEach(h => h.Dispose());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/patients?q=ek")).StatusCode);
    }

    [Fact]
    public async Task Logins_have_their_own_pool_so_a_login_rush_is_turned_away_while_those_at_work_are_served()
    {
        await using var server = await StadigServer.StartAsync(DatabaseEngine.Sqlite,
            "--Stadig:Admission:MaxConcurrentLogin=1", "--Stadig:Admission:LoginQueueWaitMilliseconds=0");
        await server.AddUserAsync("eva", "lösen");
        var atWork = server.CreateClient();
        await server.PostLoginAsync(atWork, "eva", "lösen");

        var admission = server.Services.GetRequiredService<AdmissionControl>();
        using (await admission.TryEnterAsync(RequestClass.Login, CancellationToken.None))
        {
            var rush = await server.CreateClient().PostAsync("/login",
                new FormUrlEncodedContent(new Dictionary<string, string> { ["username"] = "eva", ["password"] = "lösen" }), TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, rush.StatusCode);
            Assert.NotNull(rush.Headers.RetryAfter);
            // A browser's login form gets a page in Swedish, not JSON.
            using var fromBrowser = new HttpRequestMessage(HttpMethod.Post, "/login")
            {
                Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["username"] = "eva", ["password"] = "lösen" }),
            };
            fromBrowser.Headers.Accept.ParseAdd("text/html");
            var page = await server.CreateClient().SendAsync(fromBrowser, TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, page.StatusCode);
            Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
            var text = await page.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
            Assert.Contains("hårt belastat", text);
            Assert.Contains("skicka igen", text); // a sent form is to be sent again: nothing was received
            Assert.Equal(HttpStatusCode.OK, (await atWork.GetAsync("/api/patients?q=ek", TestContext.Current.CancellationToken)).StatusCode);
        }
    }

    [Fact]
    public async Task A_freed_slot_goes_to_the_waiting_autosave_before_an_earlier_waiting_screen()
    {
        var admission = new AdmissionControl(new AdmissionOptions
        {
            MaxConcurrent = 1, PriorityReserve = 0, QueueWaitMilliseconds = 60_000, PriorityQueueWaitMilliseconds = 60_000,
        });
        var held = (await admission.TryEnterAsync(RequestClass.Interactive, CancellationToken.None))!;
        var screen = admission.TryEnterAsync(RequestClass.Interactive, CancellationToken.None);
        var autosave = admission.TryEnterAsync(RequestClass.Priority, CancellationToken.None);
        Assert.False(screen.IsCompleted);
        Assert.False(autosave.IsCompleted);
        Assert.True(admission.CliniciansBusy);

        held.Dispose();
        var saving = await autosave;
        Assert.NotNull(saving);
        Assert.False(screen.IsCompleted);

        saving.Dispose();
        var reading = await screen;
        Assert.NotNull(reading);
        reading.Dispose();
        // Every slot came back: the next request gets one without waiting.
        Assert.True((await admission.TryEnterAsync(RequestClass.Interactive, CancellationToken.None)) is not null);
    }

    [Fact]
    public async Task Within_a_class_the_request_that_waited_least_gets_the_freed_slot_and_the_oldest_is_turned_away_when_its_wait_runs_out()
    {
        var admission = new AdmissionControl(new AdmissionOptions { MaxConcurrent = 1, QueueWaitMilliseconds = 60_000 });
        var held = (await admission.TryEnterAsync(RequestClass.Interactive, CancellationToken.None))!;
        using var oldestGivesUp = new CancellationTokenSource();
        var oldest = admission.TryEnterAsync(RequestClass.Interactive, oldestGivesUp.Token);
        var newest = admission.TryEnterAsync(RequestClass.Interactive, CancellationToken.None);

        held.Dispose();
        var admitted = await newest;
        Assert.NotNull(admitted);
        Assert.False(oldest.IsCompleted);

        // Its wait runs out (here: its client goes away): it is answered, and holds no slot.
        await oldestGivesUp.CancelAsync();
        Assert.Null(await oldest);
        admitted.Dispose();
        Assert.NotNull(await admission.TryEnterAsync(RequestClass.Interactive, CancellationToken.None));
    }

    [Fact]
    [Hazard("H-06")]
    public async Task Autosave_and_sign_have_reserve_slots_when_screens_fill_the_node_and_a_request_that_waits_too_long_is_turned_away()
    {
        var admission = new AdmissionControl(new AdmissionOptions { MaxConcurrent = 2, PriorityReserve = 1, QueueWaitMilliseconds = 1, PriorityQueueWaitMilliseconds = 1 });
        var screens = new[] { await admission.TryEnterAsync(RequestClass.Interactive, CancellationToken.None), await admission.TryEnterAsync(RequestClass.Interactive, CancellationToken.None) };
        Assert.All(screens, Assert.NotNull);

        Assert.Null(await admission.TryEnterAsync(RequestClass.Interactive, CancellationToken.None));
        Assert.Null(await admission.TryEnterAsync(RequestClass.Integration, CancellationToken.None));
        var save = await admission.TryEnterAsync(RequestClass.Priority, CancellationToken.None);
        Assert.NotNull(save);
        Assert.Null(await admission.TryEnterAsync(RequestClass.Priority, CancellationToken.None));
        Assert.NotNull(await admission.TryEnterAsync(RequestClass.Exempt, CancellationToken.None));

        // The requests that gave up are not handed a slot later: freed slots stay free for the next.
        screens[0]!.Dispose();
        save!.Dispose();
        var next = await admission.TryEnterAsync(RequestClass.Interactive, CancellationToken.None);
        Assert.NotNull(next);
        Assert.Null(await admission.TryEnterAsync(RequestClass.Interactive, CancellationToken.None));
    }

    [Fact]
    public async Task While_clinicians_keep_the_node_busy_a_login_is_asked_to_come_back_at_once_and_gets_in_when_there_is_room()
    {
        var admission = new AdmissionControl(new AdmissionOptions { MaxConcurrent = 4, LoginQueueWaitMilliseconds = 60_000 });
        var screens = new List<IDisposable>();
        for (var i = 0; i < 3; i++) screens.Add((await admission.TryEnterAsync(RequestClass.Interactive, CancellationToken.None))!);
        Assert.True(admission.CliniciansBusy);
        var login = admission.TryEnterAsync(RequestClass.Login, CancellationToken.None);
        Assert.True(login.IsCompleted); // no waiting: the answer is 503 + Retry-After at once
        Assert.Null(await login);

        screens[0].Dispose();
        Assert.False(admission.CliniciansBusy);
        Assert.NotNull(await admission.TryEnterAsync(RequestClass.Login, CancellationToken.None));
    }

    [Fact]
    public async Task Every_answer_carries_the_servers_own_time_also_when_it_is_turned_away()
    {
        await using var server = await StadigServer.StartAsync(DatabaseEngine.Sqlite, "--Stadig:Admission:MaxConcurrent=1", "--Stadig:Admission:QueueWaitMilliseconds=0");
        var client = server.CreateClient();
        var served = await client.GetAsync("/login", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Matches(@"^queue;dur=\d+\.\d, access;dur=\d+\.\d, audit;dur=\d+\.\d, db;dur=\d+\.\d, db-round-trips;desc=\d+, db-statements;desc=\d+, db-connects;desc=\d+, gc;dur=\d+\.\d, jit;desc=\d+, alloc-kb;desc=\d+, total;dur=\d+\.\d$", served.Headers.GetValues("Server-Timing").Single());

        var admission = server.Services.GetRequiredService<AdmissionControl>();
        using (await admission.TryEnterAsync(RequestClass.Interactive, CancellationToken.None))
        {
            var refused = await client.GetAsync("/login", TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Matches(@"^queue;dur=\d+\.\d, access;dur=\d+\.\d, audit;dur=\d+\.\d, db;dur=\d+\.\d, db-round-trips;desc=\d+, db-statements;desc=\d+, db-connects;desc=\d+, gc;dur=\d+\.\d, jit;desc=\d+, alloc-kb;desc=\d+, total;dur=\d+\.\d$", refused.Headers.GetValues("Server-Timing").Single());
        }
    }

    /// <summary>A page's scripts and styles are never shed: a page loaded under load keeps its autosave (notes.js) and its keys.</summary>
    [Fact]
    public async Task A_pages_scripts_and_styles_are_served_while_every_slot_is_taken()
    {
        await using var server = await StadigServer.StartAsync(DatabaseEngine.Sqlite, "--Stadig:Admission:MaxConcurrent=1", "--Stadig:Admission:QueueWaitMilliseconds=0");
        var client = server.CreateClient();
        var admission = server.Services.GetRequiredService<AdmissionControl>();
        using (await admission.TryEnterAsync(RequestClass.Interactive, CancellationToken.None))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/login", TestContext.Current.CancellationToken)).StatusCode);
            var script = await client.GetAsync("/js/notes.js", TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, script.StatusCode);
            Assert.Contains("draft", await script.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        }
    }

    [Theory]
    [InlineData("GET", "/health/ready", RequestClass.Exempt)]
    [InlineData("PUT", "/api/notes/0b6e3e6e-2f0a-4f4e-9a43-7b7b7b7b7b7b/draft", RequestClass.Priority)]
    [InlineData("POST", "/api/notes/0b6e3e6e-2f0a-4f4e-9a43-7b7b7b7b7b7b/sign", RequestClass.Priority)]
    [InlineData("POST", "/notes/0b6e3e6e-2f0a-4f4e-9a43-7b7b7b7b7b7b", RequestClass.Priority)]
    [InlineData("GET", "/notes/0b6e3e6e-2f0a-4f4e-9a43-7b7b7b7b7b7b", RequestClass.Interactive)]
    [InlineData("GET", "/api/patients", RequestClass.Interactive)]
    [InlineData("GET", "/fhir/Patient/0b6e3e6e-2f0a-4f4e-9a43-7b7b7b7b7b7b", RequestClass.Integration)]
    [InlineData("POST", "/fhir", RequestClass.Integration)]
    [InlineData("GET", "/fhirish", RequestClass.Interactive)]
    [InlineData("POST", "/login", RequestClass.Login)]
    [InlineData("GET", "/login", RequestClass.Interactive)]
    public void Requests_are_classed_so_that_saving_and_signing_keep_their_own_capacity(string method, string path, RequestClass expected)
    {
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        context.Request.Method = method;
        context.Request.Path = path;
        Assert.Equal(expected, AdmissionControl.Classify(context.Request));
    }
}
