using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Stadig.Rehearsal;

/// <summary>
/// One simulated clinician in a browser: logs in with the form (antiforgery token and cookie, as a
/// browser does), picks an assignment, and then works patient after patient — ward list or
/// worklist, search, chart, a note and the results, writing a note with autosave and signing it;
/// physicians also attest results from the inbox. On a ward, the medication round: physicians prescribe
/// for an inpatient, nurses give a dose (ClinicianSession.Medication.cs). Every step is timed; think times sit between them.
/// </summary>
public sealed partial class ClinicianSession(Uri baseAddress, RehearsalConfig config, PoolUnit unit, bool isPhysician, Recorder recorder, int seed)
{
    private readonly Random _random = new(seed);
    private HttpClient _http = NewClient(baseAddress, config, recorder);
    private bool _signedIn;
    /// <summary>Ends the pauses (think times, waits): the end of the run, or this clinician's shift (see <see cref="RunAsync"/>).</summary>
    private CancellationToken _pauses;

    public static class Actions
    {
        public const string Login = "login";
        public const string ChooseAssignment = "choose-assignment";
        public const string WardList = "ward-list";
        public const string Worklist = "worklist";
        public const string Search = "search";
        public const string Chart = "chart";
        public const string ReadNote = "read-note";
        public const string Results = "results-trend";
        public const string CreateNote = "note-create";
        public const string Autosave = "note-autosave";
        public const string Sign = "note-sign";
        public const string Inbox = "result-inbox";
        public const string Attest = "result-attest";
        public const string MedicationRound = "medication-round";
        public const string MedicationList = "medication-list";
        /// <summary>The product search and the chosen product's prescribing form: pages, like the note editor before a signing.</summary>
        public const string PrescribeForm = "prescribe-form";
        /// <summary>The prescription's posts: the one that shows the checks and the one that signs past them (issue 18's 50 ms).</summary>
        public const string Prescribe = "prescribe";
        /// <summary>The dose's form (a page).</summary>
        public const string AdministerForm = "administer-form";
        /// <summary>The post that records the dose as given (issue 18's 50 ms).</summary>
        public const string Administer = "administer";

        public static readonly string[] All = [Login, ChooseAssignment, WardList, Worklist, Search, Chart, ReadNote, Results, CreateNote, Autosave, Sign, Inbox, Attest,
            MedicationRound, MedicationList, PrescribeForm, Prescribe, AdministerForm, Administer];
    }

    private static HttpClient NewClient(Uri baseAddress, RehearsalConfig config, Recorder recorder) =>
        new(Shedding.Timed(recorder, new SocketsHttpHandler { CookieContainer = new CookieContainer(), UseCookies = true, AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.FromMinutes(10) }))
        {
            BaseAddress = baseAddress,
            Timeout = TimeSpan.FromSeconds(config.RequestTimeoutSeconds),
        };

    /// <summary>
    /// Works until <paramref name="stopping"/> (the end of the run, which also cuts off a request in
    /// flight) or <paramref name="offShift"/> (this clinician stops at the next pause: the request in
    /// flight finishes and is measured — the clinicians added for an overload leave this way).
    /// </summary>
    public async Task RunAsync(CancellationToken stopping, CancellationToken offShift = default)
    {
        using var pauses = CancellationTokenSource.CreateLinkedTokenSource(stopping, offShift);
        _pauses = pauses.Token;
        try
        {
            while (!_pauses.IsCancellationRequested)
            {
                if (!_signedIn)
                {
                    _signedIn = await SignInAsync(stopping);
                    await ThinkAsync(_signedIn ? config.Think.AfterLogin : new ThinkRange(2, 2));
                    continue;
                }
                await PatientCycleAsync(stopping);
                await ThinkAsync(config.Think.BetweenPatients);
            }
        }
        catch (OperationCanceledException) when (_pauses.IsCancellationRequested)
        {
        }
        finally
        {
            _http.Dispose();
        }
    }

    /// <summary>Signs in and works one patient, once (the warm-up before the measured run).</summary>
    public async Task WarmUpAsync(CancellationToken cancellationToken)
    {
        _pauses = cancellationToken;
        try
        {
            if (await SignInAsync(cancellationToken)) await PatientCycleAsync(cancellationToken);
        }
        finally
        {
            _http.Dispose();
        }
    }

    private async Task<bool> SignInAsync(CancellationToken stopping)
    {
        _http.Dispose();
        _http = NewClient(baseAddress, config, recorder);
        var username = isPhysician ? config.PhysicianUsername : config.NurseUsername;
        var login = await recorder.MeasureAsync(Actions.Login, async () =>
        {
            var form = await GetPageAsync("/login", stopping);
            if (!form.IsOk) return form;
            using var response = await _http.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["__RequestVerificationToken"] = Token(form.Value!), ["username"] = username, ["password"] = config.Password, ["returnUrl"] = "/",
            }), stopping);
            return Redirected(response, out var location) && !location.StartsWith("/login", StringComparison.Ordinal)
                ? ActionResult<string>.Ok(location)
                : Failed<string>(response, "login refused");
        }, stopping);
        if (!login.IsOk) return false;
        if (!login.Value!.StartsWith("/assignment", StringComparison.Ordinal)) return true;

        var assignmentId = isPhysician ? unit.PhysicianAssignmentId : unit.NurseAssignmentId;
        var chosen = await recorder.MeasureAsync(Actions.ChooseAssignment, async () =>
        {
            var page = await GetPageAsync(login.Value!, stopping);
            if (!page.IsOk) return page.As<bool>();
            using var response = await _http.PostAsync("/assignment", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["__RequestVerificationToken"] = Token(page.Value!), ["assignmentId"] = assignmentId.ToString(), ["returnUrl"] = "/",
            }), stopping);
            return Redirected(response, out var location) && location == "/" ? ActionResult<bool>.Ok(true) : Failed<bool>(response, "assignment refused");
        }, stopping);
        return chosen.IsOk;
    }

    private async Task PatientCycleAsync(CancellationToken stopping)
    {
        // The list the day starts from: the ward's inpatients, or the unsigned notes at a clinic.
        var list = await recorder.MeasureAsync(unit.IsWard ? Actions.WardList : Actions.Worklist,
            () => GetPageAsync(unit.IsWard ? "/ward" : "/worklist", stopping), stopping);
        if (!await ContinueAsync(list, stopping)) return;
        await ThinkAsync(config.Think.AfterList);

        var patient = unit.Patients[_random.Next(unit.Patients.Count)];
        var query = _random.NextDouble() < config.SearchByNameShare || patient.IdentifierKind == "Reservnummer"
            ? $"{patient.FamilyName} {patient.GivenNames.Split(' ')[0]}"
            : patient.Identifier;
        var search = await recorder.MeasureAsync(Actions.Search, () => GetPageAsync("/?q=" + Uri.EscapeDataString(query), stopping), stopping);
        if (!await ContinueAsync(search, stopping)) return;
        await ThinkAsync(config.Think.AfterSearch);

        var chart = await recorder.MeasureAsync(Actions.Chart, async () =>
        {
            var page = await GetPageAsync($"/patients/{patient.Id}", stopping);
            // The page answers 200 also when access is refused ("not found, or no care relation").
            return page.IsOk && !page.Value!.Contains("class=\"chart-grid\"", StringComparison.Ordinal) ? ActionResult<string>.Error("200 without chart (no access)") : page;
        }, stopping);
        if (!await ContinueAsync(chart, stopping)) return;
        await ThinkAsync(config.Think.ReadChart);

        var notes = NoteLinks().Matches(chart.Value!).Select(m => m.Groups[1].Value).Distinct().ToList();
        if (notes.Count > 0)
        {
            var note = await recorder.MeasureAsync(Actions.ReadNote, () => GetPageAsync($"/notes/{notes[_random.Next(notes.Count)]}", stopping), stopping);
            if (!await ContinueAsync(note, stopping)) return;
            await ThinkAsync(config.Think.ReadNote);
        }
        var trends = TrendLinks().Matches(chart.Value!).Select(m => WebUtility.HtmlDecode(m.Groups[1].Value)).Distinct().ToList();
        if (trends.Count > 0)
        {
            var trend = await recorder.MeasureAsync(Actions.Results, () => GetPageAsync(trends[_random.Next(trends.Count)], stopping), stopping);
            if (!await ContinueAsync(trend, stopping)) return;
            await ThinkAsync(config.Think.ReadResults);
        }

        if (_random.NextDouble() < config.NoteShare && !await WriteNoteAsync(patient, chart.Value!, stopping)) return;
        if (isPhysician && _random.NextDouble() < config.InboxShare) await AttestResultsAsync(stopping);
        if (unit.IsWard && _random.NextDouble() < (isPhysician ? config.PrescribeShare : config.AdministerShare)) await MedicationRoundAsync(stopping);
    }

    /// <summary>New note from the chart, autosaves while typing, then sign with the editor's form (save at the version seen, then sign).</summary>
    private async Task<bool> WriteNoteAsync(PoolPatient patient, string chartPage, CancellationToken stopping)
    {
        // Each profession writes its own templates (the server refuses the others).
        var noteType = !isPhysician ? "Omvårdnadsanteckning" : unit.IsWard ? "Daganteckning" : "Besöksanteckning";
        var sent = DateTimeOffset.UtcNow;
        var created = await recorder.MeasureAsync(Actions.CreateNote, async () =>
        {
            using var response = await _http.PostAsync($"/patients/{patient.Id}", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["__RequestVerificationToken"] = Token(chartPage), ["_handler"] = "new-note", ["NewNote.NoteType"] = noteType,
            }), stopping);
            if (!Redirected(response, out var location) || !location.StartsWith("/notes/", StringComparison.Ordinal)) return Failed<(string, string)>(response, "note not created");
            var editor = await GetPageAsync(location, stopping); // the browser follows the redirect to the editor
            return editor.IsOk ? ActionResult<(string, string)>.Ok((location, editor.Value!)) : editor.As<(string, string)>();
        }, stopping);
        if (!await ContinueAsync(created, stopping)) return false;
        var (notePath, editorPage) = created.Value;
        var noteId = notePath["/notes/".Length..];
        AcknowledgedWrites.Add("note-create", noteId, sent);
        var keywords = KeywordFields().Matches(editorPage).Select(m => WebUtility.HtmlDecode(m.Groups[1].Value)).ToList();
        var version = int.Parse(VersionField().Match(editorPage).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        var texts = keywords.Select(_ => "").ToArray();

        var saves = _random.Next(config.Notes.AutosavesMin, config.Notes.AutosavesMax + 1);
        for (var i = 0; i < saves; i++)
        {
            await Task.Delay(TimeSpan.FromSeconds(config.Notes.AutosaveSeconds * config.ThinkScale), _pauses);
            var k = i % Math.Max(1, keywords.Count);
            texts[k] += (texts[k].Length == 0 ? "" : " ") + Phrases[_random.Next(Phrases.Length)];
            var body = new { version, keywords = keywords.Select((kw, j) => new { keyword = kw, text = texts[j] }).ToList() };
            sent = DateTimeOffset.UtcNow;
            var saved = await recorder.MeasureAsync(Actions.Autosave, async () =>
            {
                using var response = await _http.PutAsJsonAsync($"/api/notes/{noteId}/draft", body, stopping);
                if (Shedding.IsShed(response)) return ActionResult<int>.Shed;
                if (!response.IsSuccessStatusCode) return Failed<int>(response, "");
                using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(stopping));
                return ActionResult<int>.Ok(json.RootElement.GetProperty("version").GetInt32());
            }, stopping);
            if (saved.WasCancelled) return false;
            if (saved.IsOk)
            {
                version = saved.Value;
                AcknowledgedWrites.Add("autosave", noteId, sent, version.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            // Shed or failed: the editor keeps the text and the next save carries it (as notes.js does).
        }

        var fields = new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = Token(editorPage), ["_handler"] = "note-editor",
            ["Input.Version"] = version.ToString(System.Globalization.CultureInfo.InvariantCulture), ["Input.Action"] = "sign",
        };
        for (var j = 0; j < keywords.Count; j++)
        {
            fields[$"Input.Keywords[{j}]"] = keywords[j];
            fields[$"Input.Texts[{j}]"] = texts[j];
        }
        sent = DateTimeOffset.UtcNow;
        var signed = await recorder.MeasureAsync(Actions.Sign, async () =>
        {
            using var response = await _http.PostAsync(notePath, new FormUrlEncodedContent(fields), stopping);
            return Redirected(response, out var location) && location == notePath ? ActionResult<bool>.Ok(true) : Failed<bool>(response, "not signed");
        }, stopping);
        if (signed.IsOk) AcknowledgedWrites.Add("sign", noteId, sent);
        return await ContinueAsync(signed, stopping);
    }

    private async Task AttestResultsAsync(CancellationToken stopping)
    {
        var inbox = await recorder.MeasureAsync(Actions.Inbox, () => GetPageAsync("/results/inbox", stopping), stopping);
        if (!await ContinueAsync(inbox, stopping)) return;
        await ThinkAsync(config.Think.AfterInbox);
        var reports = ReportBoxes().Matches(inbox.Value!).Select(m => m.Groups[1].Value).ToList();
        if (reports.Count == 0) return;
        var chosen = reports.OrderBy(_ => _random.Next()).Take(_random.Next(1, config.AttestMax + 1)).ToList();
        var fields = chosen.Select(id => new KeyValuePair<string, string>("reportIds", id)).Prepend(new("__RequestVerificationToken", Token(inbox.Value!)));
        var sent = DateTimeOffset.UtcNow;
        var attested = await recorder.MeasureAsync(Actions.Attest, async () =>
        {
            using var response = await _http.PostAsync("/results/attest", new FormUrlEncodedContent(fields), stopping);
            // Another physician may have attested the same report a moment earlier: the inbox then says
            // so and attests the rest, which is the system working, not an error.
            return Redirected(response, out var location) && location.StartsWith("/results/inbox?attested=", StringComparison.Ordinal)
                ? ActionResult<bool>.Ok(true)
                : Failed<bool>(response, "attest refused");
        }, stopping);
        if (attested.IsOk) foreach (var id in chosen) AcknowledgedWrites.Add("attest", id, sent);
        await ContinueAsync(attested, stopping);
    }

    /// <summary>GET a page; a redirect to the login page means the session was lost, which is an error.</summary>
    private async Task<ActionResult<string>> GetPageAsync(string path, CancellationToken stopping)
    {
        using var response = await _http.GetAsync(path, stopping);
        if (Shedding.IsShed(response)) return ActionResult<string>.Shed;
        if (response.StatusCode != HttpStatusCode.OK) return Failed<string>(response, "");
        return ActionResult<string>.Ok(await response.Content.ReadAsStringAsync(stopping));
    }

    /// <summary>After a shed step the user waits as told (Retry-After) and starts the patient over; after an error, signs in again.</summary>
    private async Task<bool> ContinueAsync<T>(ActionResult<T> result, CancellationToken stopping)
    {
        if (result.IsOk) return true;
        if (result.WasCancelled) return false;
        if (result.Outcome == Outcome.Shed) await Task.Delay(Shedding.RetryAfter, _pauses);
        else _signedIn = false;
        return false;
    }

    private static ActionResult<T> Failed<T>(HttpResponseMessage response, string what)
    {
        if (Shedding.IsShed(response)) return ActionResult<T>.Shed;
        var status = Shedding.Status(response);
        if (Redirected(response, out var location))
            status += " to /" + location.TrimStart('/').Split('?', '/')[0]; // the path's first segment only: no ids, no query
        return ActionResult<T>.Error(what.Length == 0 ? status : $"{status} ({what})");
    }

    private static bool Redirected(HttpResponseMessage response, out string location)
    {
        // Razor Components redirect with an absolute URL, the minimal endpoints with a path: compare paths.
        location = response.Headers.Location is { } uri ? uri.IsAbsoluteUri ? uri.PathAndQuery : uri.OriginalString : "";
        return response.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.Found or HttpStatusCode.SeeOther && location.Length > 0;
    }

    private Task ThinkAsync(ThinkRange range) => Task.Delay(range.Draw(_random, config.ThinkScale), _pauses);

    private static string Token(string html) =>
        TokenField().Match(html) is { Success: true } m ? WebUtility.HtmlDecode(m.Groups[1].Value) : throw new InvalidDataException("No antiforgery token in the page.");

    /// <summary>Everyday clinical phrases with no patient in them: what the simulated clinicians type.</summary>
    private static readonly string[] Phrases =
    [
        "Mår bättre sedan i går.", "Inga bröstsmärtor.", "Ingen feber under natten.", "Sover gott, äter bra.", "Lätt andfådd vid ansträngning.",
        "Blodtryck 132/84, puls 72 regelbunden.", "Cor: regelbunden rytm, inga blåsljud.", "Pulm: vesikulärt andningsljud bilateralt.",
        "Buk: mjuk och oöm.", "Fortsatt behandling enligt plan.", "Nytt labb i morgon bitti.", "Mobiliseras med stöd av fysioterapeut.",
        "Anhöriga informerade.", "Planeras för hemgång inom ett par dagar.", "Åter om tre månader för kontroll.",
    ];

    [GeneratedRegex("name=\"__RequestVerificationToken\"[^>]*value=\"([^\"]+)\"")]
    private static partial Regex TokenField();

    [GeneratedRegex("href=\"/notes/([0-9a-fA-F-]{36})\"")]
    private static partial Regex NoteLinks();

    [GeneratedRegex("href=\"(/patients/[0-9a-fA-F-]{36}/trends/[^\"]+)\"")]
    private static partial Regex TrendLinks();

    [GeneratedRegex("name=\"Input\\.Keywords\\[\\d+\\]\" value=\"([^\"]*)\"")]
    private static partial Regex KeywordFields();

    [GeneratedRegex("name=\"Input\\.Version\" value=\"(\\d+)\"")]
    private static partial Regex VersionField();

    [GeneratedRegex("name=\"reportIds\" value=\"([0-9a-fA-F-]{36})\"")]
    private static partial Regex ReportBoxes();
}
