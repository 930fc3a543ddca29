using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Stadig.Hl7.Mllp;

namespace Stadig.Tests.Reliability;

/// <summary>A patient of the load: registered with a care relation at the ward.</summary>
public sealed record LoadPatient(Guid Id, string Personnummer, string Family, string Given);

/// <summary>
/// The mixed write load of one round against one server: notes (create, autosave, sign, amend) over
/// the JSON API, ORU^R01 over MLLP, FHIR transactions, attestation through the inbox's form, and a
/// merge. Every acknowledged write goes into the round's ledger and counts towards the kill; a
/// write that was refused, cut off or never answered is only recorded as sent.
/// </summary>
public sealed partial class CrashLoad(
    StadigProcess server, string token, string username, string password, IReadOnlyList<LoadPatient> patients,
    (LoadPatient Source, LoadPatient Target)? merge, CrashLedger ledger, Channel<string> filed, Func<int> nextNumber,
    Func<string, CancellationToken, Task<Guid?>> reportOf,
    string run, Action acknowledged, Random random)
{
    public const int ObxPerMessage = 3;
    private static readonly string[] Phrases = ["Mår bättre.", "Ingen feber.", "Blodtryck 132/84.", "Fortsatt behandling enligt plan.", "Åter om tre månader."];

    /// <summary>Set at the kill point: what fails from then on is the kill's doing, not an error of the run.</summary>
    public volatile bool Killing;

    /// <summary>
    /// How long a worker waits before it tries again after a refused or failed write. Zero (the crash
    /// points: the server is either up or killed) tries at once; an outage that lasts seconds (a
    /// failover) is waited out as a client honouring Retry-After would, not hammered.
    /// </summary>
    public TimeSpan RetryPause { get; init; }

    /// <summary>Answers that were neither a success nor a busy node's 503 while the server was up, for the report.</summary>
    public List<string> Errors { get; } = [];

    public Task RunAsync(CancellationToken stop)
    {
        var workers = new List<Task>
        {
            Guarded(() => NotesAsync(stop), stop),
            Guarded(() => NotesAsync(stop), stop),
            Guarded(() => MessagesAsync(stop), stop),
            Guarded(() => TransactionsAsync(stop), stop),
            Guarded(() => AttestAsync(stop), stop),
        };
        if (merge is { } pair) workers.Add(Guarded(() => MergeAsync(pair.Source, pair.Target, stop), stop));
        return Task.WhenAll(workers);
    }

    /// <summary>The workers share one seeded generator, which is not safe to call from several threads at once.</summary>
    private int Next(int max) { lock (random) return random.Next(max); }

    private int Next(int min, int max) { lock (random) return random.Next(min, max); }

    /// <summary>A worker ends when the round stops (the kill); anything it meets before that is an error of the run.</summary>
    private async Task Guarded(Func<Task> work, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await work();
                return;
            }
            catch (Exception) when (stop.IsCancellationRequested || Killing)
            {
                return;
            }
            catch (Exception e) when (e is HttpRequestException or IOException or System.Net.Sockets.SocketException or TaskCanceledException or UnexpectedAnswer)
            {
                lock (Errors) Errors.Add(e is UnexpectedAnswer ? e.Message : $"{e.GetType().Name}: {e.Message}");
                // The same work again on a fresh start, unless the run is stopping.
                if (RetryPause > TimeSpan.Zero)
                {
                    try { await Task.Delay(RetryPause, stop); }
                    catch (OperationCanceledException) { return; }
                }
            }
        }
    }

    private HttpClient Bearer() => new(new SocketsHttpHandler { AllowAutoRedirect = false })
    {
        BaseAddress = server.Url,
        Timeout = TimeSpan.FromMinutes(2),
        DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", token) },
    };

    private async Task NotesAsync(CancellationToken stop)
    {
        using var http = Bearer();
        while (!stop.IsCancellationRequested)
        {
            var patient = patients[Next(patients.Count)];
            var note = await CreateNoteAsync(http, patient.Id, stop);
            note = await WriteAndSignAsync(http, note, stop);
            if (Next(3) == 0)
            {
                // An amendment: a new draft of the signed note, written and signed in its turn.
                var amendment = await ReadNoteAsync(await Expect(await http.PostAsync($"/api/notes/{note.Id}/amend", null, stop), HttpStatusCode.Created, stop), stop);
                Acknowledge("amend", amendment);
                await WriteAndSignAsync(http, amendment, stop);
            }
        }
    }

    private async Task<CrashLedger.NoteState> CreateNoteAsync(HttpClient http, Guid patientId, CancellationToken stop)
    {
        var created = await http.PostAsJsonAsync($"/api/patients/{patientId}/notes",
            new { noteType = "Daganteckning", clientRequestId = Guid.NewGuid().ToString("N") }, stop);
        var note = await ReadNoteAsync(await Expect(created, HttpStatusCode.Created, stop), stop);
        Acknowledge("create", note);
        return note;
    }

    private async Task<CrashLedger.NoteState> WriteAndSignAsync(HttpClient http, CrashLedger.NoteState note, CancellationToken stop)
    {
        var texts = note.Keywords.Select(k => k.Text).ToArray();
        for (var save = Next(1, 4); save > 0; save--)
        {
            var k = Next(texts.Length);
            texts[k] = (texts[k] + " " + Phrases[Next(Phrases.Length)]).Trim();
            var body = new { version = note.Version, keywords = note.Keywords.Select((kw, j) => new { keyword = kw.Keyword, text = texts[j] }).ToList() };
            note = await ReadNoteAsync(await Expect(await http.PutAsJsonAsync($"/api/notes/{note.Id}/draft", body, stop), HttpStatusCode.OK, stop), stop);
            Acknowledge("autosave", note);
        }
        note = await ReadNoteAsync(await Expect(await http.PostAsJsonAsync($"/api/notes/{note.Id}/sign", new { version = note.Version }, stop), HttpStatusCode.OK, stop), stop);
        Acknowledge("sign", note);
        return note;
    }

    private void Acknowledge(string kind, CrashLedger.NoteState note)
    {
        ledger.Notes[note.Id] = note;
        ledger.Count(kind);
        acknowledged();
    }

    private static async Task<CrashLedger.NoteState> ReadNoteAsync(HttpResponseMessage response, CancellationToken stop)
    {
        using (response)
        {
            var json = (await response.Content.ReadFromJsonAsync<JsonObject>(stop))!;
            var keywords = json["keywords"]!.AsArray().Select(k => (k!["keyword"]!.GetValue<string>(), k["text"]!.GetValue<string>())).ToList();
            return new CrashLedger.NoteState(json["id"]!.GetValue<Guid>(), json["status"]!.GetValue<string>(), json["version"]!.GetValue<int>(), keywords,
                json["amendsNoteId"] is JsonNode amends ? amends.GetValue<Guid>() : null);
        }
    }

    private async Task MessagesAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var patient = patients[Next(patients.Count)];
            var controlId = $"CR{run}-{nextNumber()}";
            ledger.MessagesSent[controlId] = ObxPerMessage;
            await using var client = await MllpClient.ConnectAsync("127.0.0.1", server.MllpPort, stop);
            var ack = await client.SendAsync(Oru(patient, controlId), stop);
            var code = ack.Split('\r', '\n').FirstOrDefault(s => s.StartsWith("MSA|", StringComparison.Ordinal))?.Split('|') is { Length: > 1 } msa ? msa[1] : "none";
            if (code != "AA") throw new UnexpectedAnswer($"ORU answered {code}");
            ledger.Messages[controlId] = ObxPerMessage;
            ledger.Count("hl7");
            acknowledged();
            await filed.Writer.WriteAsync(controlId, stop);
        }
    }

    private static string Oru(LoadPatient p, string controlId)
    {
        var digits = p.Personnummer.Replace("-", "", StringComparison.Ordinal);
        var now = DateTimeOffset.UtcNow;
        var obx = string.Concat(Enumerable.Range(0, ObxPerMessage).Select(o =>
            $"OBX|{o + 1}|NM|CR-{o}^Analys {o}^L||{(4.0 + o / 10.0).ToString("0.0", CultureInfo.InvariantCulture)}|mmol/L|3.5-5.0|N|||F|||{now:yyyyMMddHHmm}\r"));
        return $"MSH|^~\\&|LABSYS|KLINKEM|STADIG|REGION|{now:yyyyMMddHHmmss}||ORU^R01|{controlId}|P|2.5\r" +
               $"PID|1||{digits}^^^^PN||{p.Family}^{p.Given}||{digits[..8]}\r" +
               $"OBR|1|P{controlId}|F{controlId}|CRPANEL^Kemipaket^L|||{now:yyyyMMddHHmm}\r" + obx;
    }

    private async Task TransactionsAsync(CancellationToken stop)
    {
        using var http = Bearer();
        while (!stop.IsCancellationRequested)
        {
            var n = nextNumber();
            var marker = $"crash-{run}-{n}";
            var personnummer = CrashHarness.Personnummer(n);
            ledger.TransactionsSent[marker] = personnummer;
            var patientUrl = "urn:uuid:" + Guid.NewGuid();
            JsonObject Entry(JsonObject resource, string type, string fullUrl) => new()
            {
                ["fullUrl"] = fullUrl, ["resource"] = resource, ["request"] = new JsonObject { ["method"] = "POST", ["url"] = type },
            };
            var bundle = new JsonObject
            {
                ["resourceType"] = "Bundle", ["type"] = "transaction",
                ["entry"] = new JsonArray(
                    Entry(new JsonObject
                    {
                        ["resourceType"] = "Patient",
                        ["identifier"] = new JsonArray(new JsonObject { ["system"] = "http://electronichealth.se/identifier/personnummer", ["value"] = personnummer.Replace("-", "", StringComparison.Ordinal) }),
                        ["name"] = new JsonArray(new JsonObject { ["use"] = "official", ["family"] = "Krasch", ["given"] = new JsonArray("Test") }),
                    }, "Patient", patientUrl),
                    Entry(Observation(patientUrl, marker, 0, 4.2), "Observation", "urn:uuid:" + Guid.NewGuid()),
                    Entry(Observation(patientUrl, marker, 1, 140), "Observation", "urn:uuid:" + Guid.NewGuid())),
            };
            using var content = new StringContent(bundle.ToJsonString(), Encoding.UTF8, "application/fhir+json");
            using var response = await Expect(await http.PostAsync("/fhir", content, stop), HttpStatusCode.OK, stop);
            ledger.Transactions[marker] = personnummer;
            ledger.Count("fhir-transaction");
            acknowledged();
        }
    }

    private static JsonObject Observation(string subject, string marker, int index, double value) => new()
    {
        ["resourceType"] = "Observation",
        ["identifier"] = new JsonArray(new JsonObject { ["system"] = "urn:stadig:crash-points", ["value"] = $"{marker}/{index}" }),
        ["status"] = "final",
        ["code"] = new JsonObject { ["coding"] = new JsonArray(new JsonObject { ["system"] = "http://loinc.org", ["code"] = index == 0 ? "2823-3" : "2951-2" }) },
        ["subject"] = new JsonObject { ["reference"] = subject },
        ["effectiveDateTime"] = "2026-12-01T08:00:00+01:00",
        ["valueQuantity"] = new JsonObject { ["value"] = value, ["unit"] = "mmol/L", ["system"] = "http://unitsofmeasure.org", ["code"] = "mmol/L" },
    };

    /// <summary>A physician in a browser: signs in with the form, then attests each filed report from the inbox's form.</summary>
    private async Task AttestAsync(CancellationToken stop)
    {
        using var http = new HttpClient(new SocketsHttpHandler { CookieContainer = new CookieContainer(), UseCookies = true, AllowAutoRedirect = false })
        {
            BaseAddress = server.Url, Timeout = TimeSpan.FromMinutes(2),
        };
        var login = await PageAsync(http, "/login", stop);
        using (var response = await http.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = Token(login), ["username"] = username, ["password"] = password, ["returnUrl"] = "/",
        }), stop))
        {
            if (response.StatusCode != HttpStatusCode.Redirect && response.StatusCode != HttpStatusCode.Found || response.Headers.Location?.OriginalString.Contains("/login", StringComparison.Ordinal) != false)
                throw new UnexpectedAnswer($"login answered {(int)response.StatusCode} {response.Headers.Location}");
        }
        while (!stop.IsCancellationRequested)
        {
            var controlId = await filed.Reader.ReadAsync(stop);
            var report = await reportOf(controlId, stop);
            if (report is null) continue;
            var inbox = await PageAsync(http, "/results/inbox", stop);
            using var response = await http.PostAsync("/results/attest", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["__RequestVerificationToken"] = Token(inbox), ["reportIds"] = report.Value.ToString(),
            }), stop);
            var location = response.Headers.Location?.OriginalString ?? "";
            if (!location.Contains("/results/inbox?attested=", StringComparison.Ordinal)) throw new UnexpectedAnswer($"attest answered {(int)response.StatusCode} {location}");
            ledger.Attested[report.Value] = true;
            ledger.Count("attest");
            acknowledged();
        }
    }

    private async Task MergeAsync(LoadPatient source, LoadPatient target, CancellationToken stop)
    {
        using var http = Bearer();
        // Something of the source's record for the merge to move.
        await CreateNoteAsync(http, source.Id, stop);
        ledger.MergesTried[source.Id] = target.Id;
        using var response = await Expect(await http.PostAsJsonAsync($"/api/patients/{source.Id}/merge",
            new { targetPatientId = target.Id, reason = "Identifierad vid krasch-test" }, stop), HttpStatusCode.OK, stop);
        ledger.Merges[source.Id] = target.Id;
        ledger.Count("merge");
        acknowledged();
    }

    private static async Task<string> PageAsync(HttpClient http, string path, CancellationToken stop)
    {
        using var response = await Expect(await http.GetAsync(path, stop), HttpStatusCode.OK, stop);
        return await response.Content.ReadAsStringAsync(stop);
    }

    /// <summary>The answer if it has the expected status; a 503 (a busy node shedding) or anything else is no acknowledgement.</summary>
    private static async Task<HttpResponseMessage> Expect(HttpResponseMessage response, HttpStatusCode expected, CancellationToken stop)
    {
        if (response.StatusCode == expected) return response;
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync(stop);
            throw new UnexpectedAnswer($"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.AbsolutePath} answered {(int)response.StatusCode}: {body[..Math.Min(300, body.Length)]}");
        }
    }

    private static string Token(string html) =>
        TokenField().Match(html) is { Success: true } m ? WebUtility.HtmlDecode(m.Groups[1].Value) : throw new UnexpectedAnswer("no antiforgery token in the page");

    [GeneratedRegex("name=\"__RequestVerificationToken\"[^>]*value=\"([^\"]+)\"")]
    private static partial Regex TokenField();

    private sealed class UnexpectedAnswer(string message) : Exception(message);
}
