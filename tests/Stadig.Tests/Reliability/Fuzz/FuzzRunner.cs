using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Stadig.Fhir;
using Stadig.Fhir.Validation;
using Stadig.Hl7;
using Stadig.Hl7.Mllp;
using Stadig.Hosting;
using Stadig.Storage;
using Stadig.Tests.Fhir;
using Stadig.Tests.Fhir.Validation;
using Stadig.Tests.Hl7;

namespace Stadig.Tests.Reliability.Fuzz;

/// <summary>Where an input goes, and so which answers are allowed.</summary>
public enum FuzzTarget
{
    /// <summary>Hl7Parser: only its own parse error.</summary>
    Hl7Parse,
    /// <summary>ORU ingest in-process: always an ACK (AA, AE or AR), never an exception.</summary>
    Hl7Ingest,
    /// <summary>The real MLLP listener: every framed message answered with an ACK.</summary>
    Mllp,
    /// <summary>FhirJson.ParseResource then FhirValidator: only FHIR's own error, and the validator never throws.</summary>
    FhirParse,
    /// <summary>FhirService create or bundle in-process: only failures that answer below 500.</summary>
    FhirWrite,
    /// <summary>FhirService search in-process.</summary>
    FhirSearch,
    /// <summary>The patient registry's search in-process.</summary>
    RegistrySearch,
    /// <summary>Real HTTP on Kestrel: FHIR bodies and searches, form posts and query strings on every route, JSON APIs. No answer ≥ 500.</summary>
    Http,
}

public sealed record FuzzOptions(DatabaseEngine Engine, int Inputs, int Seed, TimeSpan Deadline);

public sealed record FuzzFailure(FuzzTarget Target, string Signature, string Input, string Detail);

/// <summary>
/// The fuzz runner (issue 20, item 4): seeded mutations of real HL7 v2 messages, FHIR resources and
/// bundles, search parameters, form posts and query strings, most of them through the parsers and
/// use cases in-process, a share through Kestrel and the MLLP listener. An input fails when it gets
/// an exception other than the target's own refusal, an answer ≥ 500, or no answer within the
/// deadline. Every failing input is kept (deduplicated by the failure's signature) for the corpus.
/// </summary>
public sealed class FuzzRunner
{
    /// <summary>How often each target is picked, per 1000 inputs: parsers in bulk, use cases and the wire as a share.</summary>
    private static readonly (FuzzTarget Target, int Weight)[] Weights =
    [
        (FuzzTarget.Hl7Parse, 460), (FuzzTarget.FhirParse, 440), (FuzzTarget.Hl7Ingest, 20), (FuzzTarget.FhirWrite, 20),
        (FuzzTarget.FhirSearch, 20), (FuzzTarget.RegistrySearch, 15), (FuzzTarget.Http, 20), (FuzzTarget.Mllp, 5),
    ];

    private static readonly string[] SearchTypes = ["Patient", "Observation", "DiagnosticReport", "Condition", "Encounter", "AuditEvent", "Practitioner", "Nonsense", "patient", ""];

    private readonly FuzzOptions _options;
    private readonly FuzzWorld _world;
    private readonly Random _random;
    private readonly Hl7Mutator _hl7;
    private readonly FhirJsonMutator _json;
    private readonly QueryMutator _query;
    private readonly TextMutator _free;
    private readonly string[] _hl7Seeds;
    private readonly JsonObject[] _fhirSeeds;
    private readonly Dictionary<FuzzTarget, long> _counts = Enum.GetValues<FuzzTarget>().ToDictionary(t => t, _ => 0L);
    private readonly Dictionary<FuzzTarget, long> _ticks = Enum.GetValues<FuzzTarget>().ToDictionary(t => t, _ => 0L);
    private readonly List<FuzzFailure> _failures = [];
    private readonly Dictionary<string, int> _signatures = new(StringComparer.Ordinal);
    private sealed record Running(FuzzTarget Target, string Input, long Started);

    private volatile Running? _current;

    public FuzzRunner(FuzzOptions options, FuzzWorld world)
    {
        _options = options;
        _world = world;
        _random = new Random(options.Seed);
        _hl7 = new Hl7Mutator(_random);
        _json = new FhirJsonMutator(_random);
        _query = new QueryMutator(_random);
        _free = new TextMutator(_random, [.. QueryMutator.Values, .. FhirJsonMutator.Dictionary]);
        _hl7Seeds = [.. Hl7Samples.Messages().Concat(Hl7Samples.BadInputs()).Select(File.ReadAllText).Where(s => s.Length > 0), .. world.Patients.Select(p => Oru(p.Personnummer))];
        _fhirSeeds = [.. FhirSeeds(world)];
    }

    /// <summary>The official examples, the Swedish profiles' examples, and bundles in the shapes integrations send.</summary>
    private static IEnumerable<JsonObject> FhirSeeds(FuzzWorld world)
    {
        foreach (var folder in new[] { OfficialExamplesTests.ExamplesFolder, Path.Combine(FhirSamples.Folder, "Hl7SwedenExamples") })
            foreach (var file in Directory.EnumerateFiles(folder, "*.json").Order(StringComparer.Ordinal))
                if (JsonNode.Parse(File.ReadAllText(file)) is JsonObject resource) yield return resource;
        // A Synthea record's first entries as a transaction: the shape a record import sends, at a size the in-process share can afford.
        foreach (var file in FhirSamples.SyntheaBundles().Take(3))
        {
            var bundle = JsonNode.Parse(File.ReadAllText(file))!.AsObject();
            var entries = bundle["entry"]!.AsArray().Take(6).Select(e => e!.DeepClone()).ToArray();
            yield return new JsonObject { ["resourceType"] = "Bundle", ["type"] = "transaction", ["entry"] = new JsonArray(entries) };
        }
        var patient = world.Patients[0];
        yield return new JsonObject
        {
            ["resourceType"] = "Bundle", ["type"] = "transaction",
            ["entry"] = new JsonArray(
                new JsonObject
                {
                    ["fullUrl"] = "urn:uuid:9a5c5a8e-0000-4000-8000-000000000001",
                    ["resource"] = FhirCalls.Patient(TestNumbers.Personnummer(1977, 7, 7, 990).Replace("-", "", StringComparison.Ordinal), "Fuzz", "Bundle"),
                    ["request"] = new JsonObject { ["method"] = "POST", ["url"] = "Patient" },
                },
                new JsonObject
                {
                    ["fullUrl"] = "urn:uuid:9a5c5a8e-0000-4000-8000-000000000002",
                    ["resource"] = FhirCalls.Observation("urn:uuid:9a5c5a8e-0000-4000-8000-000000000001", "2823-3", 4.1, "2026-12-01T08:00:00+01:00"),
                    ["request"] = new JsonObject { ["method"] = "POST", ["url"] = "Observation" },
                },
                new JsonObject
                {
                    ["resource"] = FhirCalls.Observation($"Patient/{patient.Id}", "2951-2", 141, "2026-12-01T08:00:00+01:00"),
                    ["request"] = new JsonObject { ["method"] = "PUT", ["url"] = "Observation/fuzz-1" },
                },
                new JsonObject { ["request"] = new JsonObject { ["method"] = "GET", ["url"] = $"Patient/{patient.Id}" } },
                new JsonObject { ["request"] = new JsonObject { ["method"] = "DELETE", ["url"] = "Observation/fuzz-2" } }),
        };
        yield return FhirCalls.Observation($"Patient/{patient.Id}", "2823-3", 3.9, "2026-12-01T08:00:00+01:00");
    }

    private static string Oru(string personnummer)
    {
        var digits = personnummer.Replace("-", "", StringComparison.Ordinal);
        return "MSH|^~\\&|LABSYS|KLINKEM|STADIG|REGION|20261123075500+0100||ORU^R01^ORU_R01|FUZZ1|P|2.5\r" +
               $"PID|1||{digits}^^^^PN||Fuzz^Test0||{digits[..8]}\r" +
               "ORC|RE||F1\rOBR|1||F1|K^Kalium^L|||20261123070000+0100\r" +
               "OBX|1|NM|K^P-Kalium^L||4.1|mmol/L|3.5-4.4|N|||F\rNTE|1||Hemolys\rOBX|2|ST|X^Text^L||Ej påvisad||||||F\r";
    }

    /// <summary>Runs the inputs; a hang (an input past the deadline that cannot be abandoned) ends the run with it as the last failure.</summary>
    public async Task<FuzzReport> RunAsync(CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var hang = new TaskCompletionSource<FuzzFailure>(TaskCreationOptions.RunContinuationsAsynchronously);
        // The watchdog: an input that runs past the deadline is a hang, whether or not it ever returns.
        using var watchdog = new Timer(_ =>
        {
            if (_current is { } current && Stopwatch.GetElapsedTime(current.Started) > _options.Deadline)
                hang.TrySetResult(new FuzzFailure(current.Target, $"{current.Target}: hang", current.Input, $"no answer within {_options.Deadline.TotalSeconds:0} s"));
        }, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        var loop = Task.Run(() => LoopAsync(cancellationToken), cancellationToken);
        var finished = await Task.WhenAny(loop, hang.Task);
        if (finished == hang.Task) Record(await hang.Task);
        else await loop;
        return new FuzzReport(_options.Engine.ToString(), _options.Seed, _counts.Values.Sum(), new SortedDictionary<string, long>(_counts.ToDictionary(c => c.Key.ToString(), c => c.Value)),
            [.. _failures], _signatures.Values.Sum(), clock.Elapsed.TotalSeconds,
            new SortedDictionary<string, double>(_ticks.ToDictionary(t => t.Key.ToString(), t => Math.Round((double)t.Value / Stopwatch.Frequency, 1))));
    }

    private async Task LoopAsync(CancellationToken cancellationToken)
    {
        var total = Weights.Sum(w => w.Weight);
        for (var i = 0; i < _options.Inputs; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var pick = _random.Next(total);
            var target = Weights.First(w => (pick -= w.Weight) < 0).Target;
            _counts[target]++;
            var started = Stopwatch.GetTimestamp();
            await RunOneAsync(target, cancellationToken);
            _ticks[target] += Stopwatch.GetTimestamp() - started;
        }
        _current = null;
    }

    private async Task RunOneAsync(FuzzTarget target, CancellationToken cancellationToken)
    {
        switch (target)
        {
            case FuzzTarget.Hl7Parse:
            case FuzzTarget.Hl7Ingest:
            case FuzzTarget.Mllp:
            {
                var text = _hl7.Mutate(_hl7Seeds[_random.Next(_hl7Seeds.Length)]);
                if (target == FuzzTarget.Mllp) text = text.Replace("\u000b", "", StringComparison.Ordinal).Replace("\u001c", "", StringComparison.Ordinal);
                await CheckAsync(target, text, cancellationToken);
                break;
            }
            case FuzzTarget.FhirParse:
            case FuzzTarget.FhirWrite:
                await CheckAsync(target, _json.Mutate(_fhirSeeds[_random.Next(_fhirSeeds.Length)]), cancellationToken);
                break;
            case FuzzTarget.FhirSearch:
                await CheckAsync(target, SearchTypes[_random.Next(SearchTypes.Length)] + "\n" + (_random.Next(2) == 0 ? "strict" : "lenient") + "\n" + QueryMutator.Encode(_query.Pairs()), cancellationToken);
                break;
            case FuzzTarget.RegistrySearch:
            {
                var q = _random.Next(3) switch
                {
                    0 => _free.Mutate(_world.Patients[_random.Next(_world.Patients.Count)].Personnummer, _random.Next(1, 4)),
                    1 => _free.Mutate("Fuzz Test", _random.Next(1, 4)),
                    _ => QueryMutator.Values[_random.Next(QueryMutator.Values.Length)],
                };
                await CheckAsync(target, _random.Next(-5, 600) + "\n" + q, cancellationToken);
                break;
            }
            default:
                await CheckAsync(target, HttpInput(), cancellationToken);
                break;
        }
    }

    /// <summary>An HTTP request as text: "METHOD path-and-query", "Content-Type: …", a blank line, the body.</summary>
    private string HttpInput()
    {
        var patient = _world.Patients[_random.Next(_world.Patients.Count)].Id;
        var query = QueryMutator.Encode(_query.Pairs());
        switch (_random.Next(7))
        {
            case 0: return $"GET /fhir/{SearchTypes[_random.Next(SearchTypes.Length)]}?{query}\n\n";
            case 1:
            {
                var body = _json.Mutate(_fhirSeeds[_random.Next(_fhirSeeds.Length)]);
                var type = JsonType(body);
                return $"POST /fhir{(type is null or "Bundle" ? "" : "/" + type)}\nContent-Type: application/fhir+json\n\n{body}";
            }
            case 2: return $"GET {Fill(_world.Routes[_random.Next(_world.Routes.Count)], patient)}?{query}\n\n";
            case 3:
            case 4:
            {
                // A form post with the session's antiforgery token, so the page's handler itself gets the odd fields.
                var fields = _query.Pairs();
                fields.Add(new("__RequestVerificationToken", _world.FormToken));
                if (_random.Next(3) > 0) fields.Add(new("_handler", Handlers[_random.Next(Handlers.Length)]));
                for (var n = _random.Next(0, 4); n > 0; n--) fields.Add(new(FormFields[_random.Next(FormFields.Length)], QueryMutator.Values[_random.Next(QueryMutator.Values.Length)]));
                return $"POST {Fill(_world.Routes[_random.Next(_world.Routes.Count)], patient)}?{(_random.Next(3) == 0 ? query : "")}\nContent-Type: application/x-www-form-urlencoded\n\n{QueryMutator.Encode(fields)}";
            }
            case 5:
            {
                var body = _free.Mutate($$"""{"version":1,"keywords":[{"keyword":"Aktuellt","text":"Mår bättre."},{"keyword":"Status","text":""}]}""", _random.Next(1, 4));
                return $"PUT /api/notes/{_world.Notes[_random.Next(_world.Notes.Count)]}/draft\nContent-Type: application/json\n\n{body}";
            }
            default:
            {
                var body = _free.Mutate($$"""{"identifier":"{{TestNumbers.Personnummer(1960, 1 + _random.Next(12), 1 + _random.Next(28), 980 + _random.Next(20))}}","familyName":"Fuzz","givenNames":"Http","birthDate":"1960-01-01","sex":"Female"}""", _random.Next(1, 4));
                return $"POST /api/patients\nContent-Type: application/json\n\n{body}";
            }
        }
    }

    private static readonly string[] Handlers = ["new-note", "note-editor", "register-patient", "care-relation", "place-order", "problem", "warning", "prescribe", "discharge", "consent", "block", "x", ""];

    private static readonly string[] FormFields =
    [
        "NewNote.NoteType", "Input.Version", "Input.Action", "Input.Keywords[0]", "Input.Texts[0]", "Input.Codes", "Input.Identifier", "Input.FamilyName",
        "Input.GivenNames", "Input.BirthDate", "Input.Reason", "Input.Text", "Input.Code", "reportIds", "assignmentId", "identifier", "reason", "on", "seen",
    ];

    private static string? JsonType(string body)
    {
        var at = body.IndexOf("\"resourceType\":\"", StringComparison.Ordinal);
        if (at < 0) return null;
        var end = body.IndexOf('"', at + 16);
        return end < 0 ? null : Uri.EscapeDataString(body[(at + 16)..end]);
    }

    /// <summary>A concrete path for a route pattern: parameters get a real patient id, a random id or an odd value.</summary>
    private string Fill(string pattern, Guid patient)
    {
        var path = new StringBuilder();
        foreach (var segment in pattern.TrimStart('/').Split('/'))
        {
            path.Append('/');
            if (!segment.StartsWith('{')) { path.Append(segment); continue; }
            path.Append(segment.Contains(":guid", StringComparison.Ordinal) ? (_random.Next(2) == 0 ? patient : Guid.NewGuid()).ToString()
                : segment.Contains(":int", StringComparison.Ordinal) ? _random.Next(-5, 1000).ToString(System.Globalization.CultureInfo.InvariantCulture)
                : Uri.EscapeDataString(QueryMutator.Values[_random.Next(QueryMutator.Values.Length)] is { Length: > 0 and < 200 } v && !v.Any(char.IsSurrogate) ? v : "x"));
        }
        return path.ToString();
    }

    /// <summary>One input through its target; a failure is recorded, never thrown.</summary>
    public async Task<FuzzFailure?> CheckAsync(FuzzTarget target, string input, CancellationToken cancellationToken)
    {
        _current = new Running(target, input, Stopwatch.GetTimestamp());
        FuzzFailure? failure;
        try
        {
            var work = Oracle(target, input, cancellationToken);
            failure = await work.WaitAsync(_options.Deadline, cancellationToken);
        }
        catch (TimeoutException)
        {
            failure = new FuzzFailure(target, $"{target}: hang", input, $"no answer within {_options.Deadline.TotalSeconds:0} s");
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            failure = new FuzzFailure(target, Signature(target, e), input, e.ToString());
        }
        _current = null;
        if (failure is not null) Record(failure);
        return failure;
    }

    /// <summary>Null when the target answered as it may; otherwise what was wrong. Exceptions it may not throw escape to <see cref="CheckAsync"/>.</summary>
    private async Task<FuzzFailure?> Oracle(FuzzTarget target, string input, CancellationToken cancellationToken)
    {
        switch (target)
        {
            case FuzzTarget.Hl7Parse:
                try { Hl7Parser.ParseBatch(input); } catch (Hl7ParseException) { }
                try { Hl7Parser.Parse(input); } catch (Hl7ParseException) { }
                return null;
            case FuzzTarget.Hl7Ingest:
            {
                var outcome = await _world.Ingest.IngestAsync(input, cancellationToken: cancellationToken);
                return outcome.AckCode is "AA" or "AE" or "AR" ? null : new FuzzFailure(target, $"{target}: ACK {outcome.AckCode}", input, outcome.AckText);
            }
            case FuzzTarget.Mllp:
            {
                await using var client = await MllpClient.ConnectAsync("127.0.0.1", _world.MllpPort, cancellationToken);
                var ack = await client.SendAsync(input, cancellationToken);
                var msa = ack.Split('\r', '\n').FirstOrDefault(s => s.Length > 4 && s.StartsWith("MSA", StringComparison.Ordinal));
                return msa is not null ? null : new FuzzFailure(target, $"{target}: answer without MSA", input, ack);
            }
            case FuzzTarget.FhirParse:
            {
                JsonObject resource;
                try { resource = FhirJson.ParseResource(input); } catch (FhirException e) when (ProblemMapping.FhirStatusOf(e.Kind) < 500) { return null; }
                FhirValidator.Validate(resource);
                return null;
            }
            case FuzzTarget.FhirWrite:
                try
                {
                    var resource = FhirJson.ParseResource(input);
                    if (FhirJson.String(resource["resourceType"]) == "Bundle")
                    {
                        var answer = await _world.Fhir.ProcessBundleAsync(_world.FhirCaller, resource, _world.BaseUrl, ProblemMapping.FhirStatusLine, cancellationToken);
                        // A batch answers each entry on its own: none of them may be a 5xx either.
                        var statuses = (answer["entry"] as JsonArray ?? []).Select(e => FhirJson.String(e?["response"]?["status"]) ?? "").ToList();
                        return statuses.FirstOrDefault(s => s.StartsWith('5')) is { } bad ? new FuzzFailure(target, $"{target}: batch entry {bad}", input, answer.ToJsonString()) : null;
                    }
                    await _world.Fhir.CreateAsync(_world.FhirCaller, resource, cancellationToken);
                    return null;
                }
                catch (Exception e) when (IsRefusal(e)) { return null; }
            case FuzzTarget.FhirSearch:
                try
                {
                    var lines = input.Split('\n', 3);
                    await _world.Fhir.SearchAsync(_world.FhirCaller, lines[0], FhirService.ParseQuery(lines[2]), lines[1] == "strict", _world.BaseUrl, cancellationToken);
                    return null;
                }
                catch (Exception e) when (IsRefusal(e)) { return null; }
            case FuzzTarget.RegistrySearch:
                try
                {
                    var lines = input.Split('\n', 2);
                    await _world.Registry.SearchAsync(_world.Physician, lines[1], int.Parse(lines[0], System.Globalization.CultureInfo.InvariantCulture), cancellationToken);
                    return null;
                }
                catch (Exception e) when (IsRefusal(e)) { return null; }
            default:
                return await HttpAsync(input, cancellationToken);
        }
    }

    /// <summary>A refusal the API answers below 500 (a FHIR failure or a use case's "no").</summary>
    private static bool IsRefusal(Exception e) => e switch
    {
        FhirException fhir => ProblemMapping.FhirStatusOf(fhir.Kind) < 500,
        Stadig.Common.StadigException stadig => ProblemMapping.FhirStatusOf(stadig) < 500,
        _ => false,
    };

    private async Task<FuzzFailure?> HttpAsync(string input, CancellationToken cancellationToken)
    {
        var (method, url, contentType, body) = ParseHttp(input);
        var client = contentType == "application/x-www-form-urlencoded" || !url.StartsWith("/fhir", StringComparison.Ordinal) && !url.StartsWith("/api", StringComparison.Ordinal)
            ? _world.Browser : _world.Bearer;
        using var request = new HttpRequestMessage(new HttpMethod(method), url);
        if (contentType is not null) request.Content = new StringContent(body, new UTF8Encoding(false), contentType);
        // A body with a lone surrogate goes as its replacement character (UTF-8 cannot carry it), as any client sends it.
        using var response = await client.SendAsync(request, cancellationToken);
        if ((int)response.StatusCode < 500) return null;
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        var path = url.Split('?')[0];
        // The server's own account of the failure (its exception, logged as an error): the answer says only "unexpected".
        var logged = _world.Server.Log.Lines.LastOrDefault(l => l.StartsWith("Error", StringComparison.Ordinal) && l.Contains("Exception", StringComparison.Ordinal)) ?? "";
        return new FuzzFailure(FuzzTarget.Http, $"Http: {method} {Template(path)} answered {(int)response.StatusCode}", input,
            text[..Math.Min(2000, text.Length)] + (logged.Length > 0 ? "\nserver log: " + logged[..Math.Min(4000, logged.Length)] : ""));
    }

    public static (string Method, string Url, string? ContentType, string Body) ParseHttp(string input)
    {
        var blank = input.IndexOf("\n\n", StringComparison.Ordinal);
        var head = (blank < 0 ? input : input[..blank]).Split('\n');
        var body = blank < 0 ? "" : input[(blank + 2)..];
        var first = head[0].Split(' ', 2);
        var contentType = head.Skip(1).FirstOrDefault(h => h.StartsWith("Content-Type: ", StringComparison.Ordinal))?["Content-Type: ".Length..];
        return (first[0], first.Length > 1 ? first[1] : "/", contentType, body);
    }

    /// <summary>The path with ids blanked, so one defect on many patients is one signature.</summary>
    private static string Template(string path) =>
        string.Join('/', path.Split('/').Select(s => Guid.TryParse(s, out _) ? "{id}" : s.Length > 40 ? "{long}" : s));

    private static string Signature(FuzzTarget target, Exception e)
    {
        var frame = new StackTrace(e).GetFrames().Select(f => f.GetMethod()).FirstOrDefault(m => m?.DeclaringType?.FullName?.StartsWith("Stadig.", StringComparison.Ordinal) == true
            && m.DeclaringType.FullName?.StartsWith("Stadig.Tests", StringComparison.Ordinal) != true);
        return $"{target}: {e.GetType().Name} in {frame?.DeclaringType?.FullName}.{frame?.Name}";
    }

    private void Record(FuzzFailure failure)
    {
        lock (_failures)
        {
            var seen = _signatures.GetValueOrDefault(failure.Signature);
            _signatures[failure.Signature] = seen + 1;
            // A few inputs per distinct failure: enough to see the pattern, not thousands of copies.
            if (seen < 3) _failures.Add(failure);
        }
    }

    /// <summary>
    /// Writes each kept failing input to <paramref name="folder"/>/&lt;target&gt;/&lt;hash&gt;.u16 as its exact
    /// UTF-16 code units (a lone surrogate included, which no UTF encoding keeps), with a readable .txt beside it.
    /// </summary>
    public static void SaveCorpus(IEnumerable<FuzzFailure> failures, string folder)
    {
        foreach (var failure in failures)
        {
            var directory = Path.Combine(folder, failure.Target.ToString());
            Directory.CreateDirectory(directory);
            var exact = System.Runtime.InteropServices.MemoryMarshal.AsBytes(failure.Input.AsSpan()).ToArray();
            var hash = Convert.ToHexStringLower(SHA256.HashData(exact))[..16];
            File.WriteAllBytes(Path.Combine(directory, hash + ".u16"), exact);
            File.WriteAllText(Path.Combine(directory, hash + ".txt"), failure.Input, new UTF8Encoding(false));
        }
    }

    /// <summary>The corpus's inputs: (target, file, input) for every .u16 file under <paramref name="folder"/>.</summary>
    public static IEnumerable<(FuzzTarget Target, string File, string Input)> ReadCorpus(string folder)
    {
        if (!Directory.Exists(folder)) yield break;
        foreach (var file in Directory.EnumerateFiles(folder, "*.u16", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var target = Enum.Parse<FuzzTarget>(Path.GetFileName(Path.GetDirectoryName(file))!);
            yield return (target, file, FromU16(File.ReadAllBytes(file)));
        }
    }

    private static string FromU16(byte[] bytes) => new(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, char>(bytes.AsSpan()));
}
