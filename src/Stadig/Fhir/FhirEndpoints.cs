using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.Features;
using Stadig.Auth;
using Stadig.Common;

namespace Stadig.Fhir;

/// <summary>
/// The FHIR R4 API under /fhir (JSON only). Every answer that is not a resource is an
/// OperationOutcome naming the problem; the interactions themselves live in Core's FhirService.
/// </summary>
public static class FhirEndpoints
{
    /// <summary>The largest request body accepted (a big patient's transaction bundle is a few MB).</summary>
    public const int MaxBodyBytes = 32 * 1024 * 1024;

    public static void MapFhirEndpoints(this WebApplication app)
    {
        var fhir = app.MapGroup("/fhir").DisableAntiforgery().AddEndpointFilter(AnswerFailuresAsOperationOutcome).AddEndpointFilter(OnlyJson);
        fhir.MapGet("/metadata", (HttpContext http) => Resource(FhirCapability.Statement(BaseUrl(http)))).AllowAnonymous();
        // A transaction is one all-or-nothing write that may hold thousands of entries: not a screen's deadline.
        fhir.MapPost("/", BundleAsync).WithRequestTimeout(Hosting.StadigServices.BulkWriteTimeout);
        fhir.MapGet("/{type}", SearchAsync);
        fhir.MapPost("/{type}/_search", SearchByPostAsync);
        fhir.MapPost("/{type}", CreateAsync);
        fhir.MapPost("/{type}/$validate", ValidateAsync);
        fhir.MapPost("/{type}/{id}/$validate", ValidateAsync);
        fhir.MapGet("/{type}/_history", TypeHistoryAsync);
        fhir.MapGet("/{type}/{id}", ReadAsync);
        fhir.MapPut("/{type}/{id}", UpdateAsync);
        fhir.MapDelete("/{type}/{id}", DeleteAsync);
        fhir.MapPatch("/{type}/{id}", PatchAsync);
        fhir.MapGet("/{type}/{id}/_history", HistoryAsync);
        fhir.MapGet("/{type}/{id}/_history/{version}", VReadAsync);
        FhirBulkEndpoints.Map(fhir);
    }

    private static async ValueTask<object?> AnswerFailuresAsOperationOutcome(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context);
        }
        catch (FhirException failure)
        {
            return Outcome(Hosting.ProblemMapping.FhirStatusOf(failure.Kind), failure.Issues);
        }
        catch (StadigException failure)
        {
            var translated = FhirService.Translate(failure);
            return Outcome(Hosting.ProblemMapping.FhirStatusOf(failure), translated.Issues);
        }
    }

    /// <summary>
    /// Stadig speaks FHIR JSON only: a client that accepts nothing else (Accept: application/fhir+xml,
    /// _format=xml) is told so with 406, before anything is done, rather than handed JSON it cannot read.
    /// </summary>
    private static ValueTask<object?> OnlyJson(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var request = context.HttpContext.Request;
        var format = request.Query["_format"].ToString();
        if (format.Length > 0 && !IsJson(format))
            return ValueTask.FromResult<object?>(NotAcceptable($"_format={format}"));
        var accept = request.Headers.Accept.ToString();
        if (accept.Length > 0 && Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParseList(request.Headers.Accept, out var types)
            && !types.Any(t => t.Quality is not 0 && (t.MediaType.Value is "*/*" or "application/*" || IsJson(t.MediaType.Value ?? ""))))
            return ValueTask.FromResult<object?>(NotAcceptable($"Accept: {accept}"));
        return next(context);
    }

    private static bool IsJson(string format) =>
        format is "json" or "ndjson" || format.Contains("json", StringComparison.OrdinalIgnoreCase);

    private static IResult NotAcceptable(string asked) =>
        Outcome(StatusCodes.Status406NotAcceptable, [FhirIssue.Error("not-supported", null,
            $"Stadig's FHIR API answers in {FhirJson.MediaType} only, and the request ({asked}) does not accept it.")]);

    internal static IResult Outcome(int status, IEnumerable<FhirIssue> issues) =>
        Resource(FhirBundles.OperationOutcome(issues), status);

    internal static IResult Resource(JsonObject resource, int status = StatusCodes.Status200OK) =>
        Results.Text(FhirJson.Serialize(resource), FhirJson.MediaType + "; charset=utf-8", Encoding.UTF8, status);

    internal static string BaseUrl(HttpContext http) => $"{http.Request.Scheme}://{http.Request.Host}{http.Request.PathBase}/fhir";

    /// <summary>
    /// A Patient read by uuid or a Patient search (issue 23) may start from the bearer token's cached caller
    /// (BearerCallers), which the checkpoint confirms in the statement that decides and audits: the staff
    /// directory's round trip saved. When it cannot confirm it, nothing was shown or audited, and the
    /// request is made again with the caller looked up (a removed assignment is then refused as ever).
    /// </summary>
    private static async Task<T> WithCallerAsync<T>(HttpContext http, CallerAccessor callers, FhirService fhir, bool mayBeCached,
        Func<FhirCaller, Task<T>> work, CancellationToken ct)
    {
        if (mayBeCached && fhir.ConfirmsCachedCallers)
        {
            var cached = await CallerAsync(http, callers, ct, mayBeUnconfirmed: true);
            if (cached.Caller.Unconfirmed is null) return await work(cached);
            // A patient-context token's read goes the two-step way, which confirms nothing: its caller is looked up.
            if (!cached.Scopes.OnlyPatientContext("Patient", write: false))
            {
                try { return await work(cached); }
                catch (Stadig.Access.CallerUnconfirmedException) { callers.Forget(); }
            }
        }
        return await work(await CallerAsync(http, callers, ct));
    }

    internal static async Task<FhirCaller> CallerAsync(HttpContext http, CallerAccessor callers, CancellationToken ct, bool mayBeUnconfirmed = false)
    {
        var caller = await callers.CurrentAsync(mayBeUnconfirmed, ct);
        var user = http.User;
        var isBearer = http.Request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase);
        if (!isBearer) return new FhirCaller(caller, FhirScopes.Unlimited);
        // A token without scopes reaches no data: integrations ask for what they need.
        var scope = user.FindFirst("scope")?.Value ?? string.Join(' ', user.FindAll("scp").Select(c => c.Value));
        return new FhirCaller(caller, FhirScopes.Parse(scope, user.FindFirst("patient")?.Value));
    }

    /// <summary>Reads the body as a resource; a body over <see cref="MaxBodyBytes"/> answers 413.</summary>
    internal static async Task<JsonObject> BodyAsync(HttpContext http, CancellationToken ct)
    {
        if (http.Request.ContentLength > MaxBodyBytes) throw TooLarge();
        var feature = http.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (feature is { IsReadOnly: false }) feature.MaxRequestBodySize = MaxBodyBytes + 1L;
        var contentType = http.Request.ContentType ?? "";
        if (contentType.Length > 0 && !contentType.Contains("json", StringComparison.OrdinalIgnoreCase))
            throw new FhirException(FhirFailureKind.UnsupportedFormat, "not-supported", null, $"Stadig's FHIR API takes {FhirJson.MediaType}, not {contentType}.");
        using var reader = new StreamReader(http.Request.Body, FhirJson.StrictUtf8);
        var buffer = new char[81920];
        var text = new StringBuilder();
        int read;
        try
        {
            while ((read = await reader.ReadAsync(buffer, ct)) > 0)
            {
                text.Append(buffer, 0, read);
                if (text.Length > MaxBodyBytes) throw TooLarge();
            }
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge();
        }
        catch (DecoderFallbackException e)
        {
            throw new FhirException(FhirFailureKind.Invalid, "structure", null,
                $"The body is not valid UTF-8 (FHIR JSON is UTF-8): bytes {Convert.ToHexString(e.BytesUnknown ?? [])} near character {text.Length + Math.Max(e.Index, 0)}.");
        }
        return FhirJson.ParseResource(text.ToString());
    }

    private static FhirException TooLarge() =>
        new(FhirFailureKind.TooLarge, "too-costly", null, $"The body is larger than {MaxBodyBytes / 1024 / 1024} MB; split the bundle.");

    private static async Task<IResult> ReadAsync(string type, string id, HttpContext http, FhirService fhir, CallerAccessor callers, CancellationToken ct)
    {
        var (summary, elements) = SubsetOf(http.Request.Query.SelectMany(q => q.Value.Select(v => KeyValuePair.Create(q.Key, v ?? ""))));
        var (resource, stored) = await WithCallerAsync(http, callers, fhir, type == "Patient" && Guid.TryParse(id, out _),
            caller => fhir.ReadStoredAsync(caller, type, id, ct), ct);
        if (resource is not null) return WithVersionHeaders(http, resource, Resource(FhirSubset.Apply(resource, summary, elements)));
        if (FhirSubset.Subsets(summary, elements))
        {
            var parsed = FhirJson.Parse(stored!.Content);
            return WithVersionHeaders(http, parsed, Resource(FhirSubset.Apply(parsed, summary, elements)));
        }
        // The stored bytes are the answer: they were written by the same serialiser, in the same order.
        http.Response.Headers.ETag = FhirBundles.ETag(stored!.VersionId);
        http.Response.Headers.LastModified = stored.LastUpdated.ToString("R");
        return Results.Text(stored.Content, FhirJson.MediaType + "; charset=utf-8", Encoding.UTF8);
    }

    /// <summary>_summary and _elements of a read or search; a _summary R4 does not define is refused.</summary>
    private static (string? Summary, IReadOnlyList<string> Elements) SubsetOf(IEnumerable<KeyValuePair<string, string>> parameters)
    {
        string? summary = null;
        var elements = new List<string>();
        foreach (var (key, value) in parameters)
        {
            if (key == "_summary") summary = FhirSubset.ParseSummary(value);
            else if (key == "_elements") elements.AddRange(value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }
        return (summary, elements);
    }

    /// <summary>The matches of a searchset cut to _summary/_elements (included resources are whole: the client asked for them by name).</summary>
    private static JsonObject Subsetted(JsonObject bundle, IEnumerable<KeyValuePair<string, string>> parameters)
    {
        var (summary, elements) = SubsetOf(parameters);
        if (!FhirSubset.Subsets(summary, elements) || bundle["entry"] is not JsonArray entries) return bundle;
        foreach (var entry in entries.OfType<JsonObject>())
        {
            if (FhirJson.String(entry["search"]?["mode"]) == "match" && entry["resource"] is JsonObject resource)
                entry["resource"] = FhirSubset.Apply(resource, summary, elements);
        }
        return bundle;
    }

    /// <summary>
    /// $validate (R4 OperationDefinition Resource-validate): the body is the resource, or a Parameters
    /// with it in "resource" (and optionally "profile"). The answer is always an OperationOutcome with
    /// what Stadig's validator and, for a claimed or named profile, the profile validator find.
    /// Nothing is stored.
    /// </summary>
    private static async Task<IResult> ValidateAsync(string type, string? id, HttpContext http, FhirService fhir, CallerAccessor callers, CancellationToken ct)
    {
        var body = await BodyAsync(http, ct);
        var profile = http.Request.Query["profile"].ToString() is { Length: > 0 } asked ? asked : null;
        if (FhirJson.String(body["resourceType"]) == "Parameters" && body["parameter"] is JsonArray parameters)
        {
            foreach (var parameter in parameters.OfType<JsonObject>())
            {
                if (FhirJson.String(parameter["name"]) == "profile") profile = FhirJson.String(parameter["valueUri"]) ?? FhirJson.String(parameter["valueCanonical"]);
            }
            body = parameters.OfType<JsonObject>().FirstOrDefault(p => FhirJson.String(p["name"]) == "resource")?["resource"] as JsonObject
                ?? throw new FhirException(FhirFailureKind.Invalid, "required", "Parameters.parameter", "$validate takes the resource in a parameter named 'resource'.");
        }
        if (FhirJson.String(body["resourceType"]) != type)
            throw new FhirException(FhirFailureKind.Invalid, "invalid", "resourceType", $"The body is a {FhirJson.String(body["resourceType"])}, but the URL names {type}.");
        await CallerAsync(http, callers, ct);
        var issues = fhir.Validate(body, profile);
        return Resource(FhirBundles.OperationOutcome(issues.Count > 0 ? issues
            : [new FhirIssue("information", "informational", null, "No problems found.")]));
    }

    private static Task<IResult> PatchAsync(string type, string id) =>
        throw new FhirException(FhirFailureKind.NotAllowed, "not-supported", null,
            $"Stadig does not do PATCH on {type}: read the resource, change it and send it back whole with PUT (If-Match with the version read).");

    private static async Task<IResult> VReadAsync(string type, string id, string version, HttpContext http, FhirService fhir, CallerAccessor callers, CancellationToken ct)
    {
        if (!int.TryParse(version, out var number))
            throw new FhirException(FhirFailureKind.Invalid, "invalid", null, $"'{version}' is not a version number.");
        var resource = await fhir.VReadAsync(await CallerAsync(http, callers, ct), type, id, number, ct);
        return WithVersionHeaders(http, resource, Resource(resource));
    }

    private static async Task<IResult> HistoryAsync(string type, string id, int? _count, HttpContext http, FhirService fhir, CallerAccessor callers, CancellationToken ct)
    {
        var rows = await fhir.HistoryAsync(await CallerAsync(http, callers, ct), type, id, _count ?? FhirService.MaxHistory, ct);
        return Resource(FhirBundles.History(BaseUrl(http), rows));
    }

    private static async Task<IResult> TypeHistoryAsync(string type, string? _since, int? _count, HttpContext http, FhirService fhir, CallerAccessor callers, CancellationToken ct)
    {
        DateTimeOffset? since = null;
        if (_since is not null)
        {
            if (!DateTimeOffset.TryParse(_since, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var parsed))
                throw new FhirException(FhirFailureKind.Invalid, "value", "_since", $"_since '{_since}' is not an instant.");
            since = parsed;
        }
        var rows = await fhir.TypeHistoryAsync(await CallerAsync(http, callers, ct), type, since, _count ?? FhirService.MaxHistory, ct);
        return Resource(FhirBundles.History(BaseUrl(http), rows));
    }

    private static async Task<IResult> CreateAsync(string type, HttpContext http, FhirService fhir, CallerAccessor callers, CancellationToken ct)
    {
        var body = await BodyAsync(http, ct);
        if (FhirJson.String(body["resourceType"]) != type)
            throw new FhirException(FhirFailureKind.Invalid, "invalid", "resourceType", $"The body is a {FhirJson.String(body["resourceType"])}, but the URL names {type}.");
        var caller = await CallerAsync(http, callers, ct);
        var ifNoneExist = http.Request.Headers["If-None-Exist"].ToString();
        var outcome = ifNoneExist.Length > 0
            ? await fhir.ConditionalCreateAsync(caller, body, ifNoneExist, ct)
            : await fhir.CreateAsync(caller, body, ct);
        return Written(http, outcome);
    }

    private static async Task<IResult> UpdateAsync(string type, string id, HttpContext http, FhirService fhir, CallerAccessor callers, CancellationToken ct)
    {
        var ifMatch = FhirBundles.ParseETag(http.Request.Headers.IfMatch.ToString());
        var body = await BodyAsync(http, ct);
        var outcome = await fhir.UpdateAsync(await CallerAsync(http, callers, ct), type, id, body, ifMatch, ct);
        return Written(http, outcome);
    }

    private static async Task<IResult> DeleteAsync(string type, string id, HttpContext http, FhirService fhir, CallerAccessor callers, CancellationToken ct) =>
        Written(http, await fhir.DeleteAsync(await CallerAsync(http, callers, ct), type, id, ct));

    private static async Task<IResult> SearchAsync(string type, HttpContext http, FhirService fhir, CallerAccessor callers, CancellationToken ct)
    {
        var parameters = http.Request.Query.SelectMany(q => q.Value.Select(v => KeyValuePair.Create(q.Key, v ?? ""))).ToList();
        return Resource(Subsetted(await WithCallerAsync(http, callers, fhir, type == "Patient",
            caller => fhir.SearchAsync(caller, type, parameters, Strict(http), BaseUrl(http), ct), ct), parameters));
    }

    private static async Task<IResult> SearchByPostAsync(string type, HttpContext http, FhirService fhir, CallerAccessor callers, CancellationToken ct)
    {
        IFormCollection? form;
        try
        {
            form = http.Request.HasFormContentType ? await http.Request.ReadFormAsync(ct) : null;
        }
        catch (InvalidDataException e)
        {
            // The framework refuses a form it cannot read (a NUL escaped as %00, a key or value over its limits) with an
            // exception of its own: the client's request, so a 400 naming it, never a 500.
            throw new FhirException(FhirFailureKind.Invalid, "invalid", null, $"The search form cannot be read: {e.Message}");
        }
        var parameters = http.Request.Query.SelectMany(q => q.Value.Select(v => KeyValuePair.Create(q.Key, v ?? "")))
            .Concat(form?.SelectMany(f => f.Value.Select(v => KeyValuePair.Create(f.Key, v ?? ""))) ?? []).ToList();
        return Resource(Subsetted(await fhir.SearchAsync(await CallerAsync(http, callers, ct), type, parameters, Strict(http), BaseUrl(http), ct), parameters));
    }

    /// <summary>Prefer: handling=strict makes an unknown search parameter an error; lenient (the default) ignores it and says so.</summary>
    private static bool Strict(HttpContext http) =>
        http.Request.Headers["Prefer"].ToString().Contains("handling=strict", StringComparison.OrdinalIgnoreCase);

    private static async Task<IResult> BundleAsync(HttpContext http, FhirService fhir, CallerAccessor callers, CancellationToken ct)
    {
        var body = await BodyAsync(http, ct);
        return Resource(await fhir.ProcessBundleAsync(await CallerAsync(http, callers, ct), body, BaseUrl(http), Hosting.ProblemMapping.FhirStatusLine, ct));
    }

    private static IResult Written(HttpContext http, FhirWriteOutcome outcome)
    {
        http.Response.Headers.ETag = FhirBundles.ETag(outcome.Version);
        http.Response.Headers.LastModified = outcome.LastUpdated.ToString("R");
        if (outcome.Created) http.Response.Headers.Location = $"{BaseUrl(http)}/{outcome.Type}/{outcome.Id}/_history/{outcome.Version}";
        return Resource(outcome.Resource, outcome.Created ? StatusCodes.Status201Created : StatusCodes.Status200OK);
    }

    private static IResult WithVersionHeaders(HttpContext http, JsonObject resource, IResult result)
    {
        if (FhirJson.String(resource["meta"]?["versionId"]) is { } version) http.Response.Headers.ETag = $"W/\"{version}\"";
        if (FhirJson.String(resource["meta"]?["lastUpdated"]) is { } updated && DateTimeOffset.TryParse(updated, out var moment))
            http.Response.Headers.LastModified = moment.ToString("R");
        return result;
    }
}
