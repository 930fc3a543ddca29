using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.Features;
using Stadig.Auth;
using Stadig.Common;

namespace Stadig.Fhir;

/// <summary>
/// $everything, Bulk Data $export (kick-off 202 + Content-Location; poll: 202 while running, the
/// manifest when done; NDJSON files) and $import (NDJSON in, the same async pattern, all or nothing).
/// </summary>
public static class FhirBulkEndpoints
{
    public const string NdjsonMediaType = "application/fhir+ndjson";

    public static void Map(RouteGroupBuilder fhir)
    {
        fhir.MapGet("/Patient/{id}/$everything", EverythingAsync);
        fhir.MapGet("/$export", (HttpContext http, FhirService service, CallerAccessor callers, IHostApplicationLifetime lifetime, CancellationToken ct) =>
            KickOffAsync(http, service, callers, lifetime, "system", null, ct));
        fhir.MapGet("/Patient/$export", (HttpContext http, FhirService service, CallerAccessor callers, IHostApplicationLifetime lifetime, CancellationToken ct) =>
            KickOffAsync(http, service, callers, lifetime, "patient", null, ct));
        fhir.MapGet("/Group/{id}/$export", (string id, HttpContext http, FhirService service, CallerAccessor callers, IHostApplicationLifetime lifetime, CancellationToken ct) =>
            KickOffAsync(http, service, callers, lifetime, "group", Guid.TryParse(id, out var unit) ? unit
                : throw new FhirException(FhirFailureKind.NotFound, "not-found", null, $"Group/{id}: a Group is a care unit's id."), ct));
        fhir.MapGet("/$export-status/{job:guid}", StatusAsync);
        fhir.MapGet("/$export-file/{job:guid}/{type}/{position:int}", FileAsync);
        fhir.MapPost("/$import", ImportAsync).WithRequestTimeout(Hosting.StadigServices.BulkWriteTimeout);
        fhir.MapGet("/$import-status/{job:guid}", ImportStatusAsync);
    }

    private static async Task<IResult> EverythingAsync(string id, HttpContext http, FhirService service, CallerAccessor callers, CancellationToken ct) =>
        FhirEndpoints.Resource(await service.EverythingAsync(await FhirEndpoints.CallerAsync(http, callers, ct), id, FhirEndpoints.BaseUrl(http),
            http.Request.Query.SelectMany(q => q.Value.Select(v => KeyValuePair.Create(q.Key, v ?? ""))).ToList(), ct));

    private static async Task<IResult> KickOffAsync(HttpContext http, FhirService service, CallerAccessor callers, IHostApplicationLifetime lifetime,
        string level, Guid? unit, CancellationToken ct)
    {
        if (!http.Request.Headers["Prefer"].ToString().Contains("respond-async", StringComparison.OrdinalIgnoreCase))
            throw new FhirException(FhirFailureKind.Invalid, "required", null, "Bulk export is asynchronous: send Prefer: respond-async.");
        var format = http.Request.Query["_outputFormat"].ToString();
        if (format.Length > 0 && format is not (NdjsonMediaType or "application/ndjson" or "ndjson"))
            throw new FhirException(FhirFailureKind.Invalid, "not-supported", "_outputFormat", $"Stadig exports NDJSON only, not '{format}'.");
        var types = http.Request.Query["_type"].ToString() is { Length: > 0 } list ? list.Split(',').ToHashSet(StringComparer.Ordinal) : null;
        foreach (var type in types ?? [])
        {
            if (!FhirResourceTypes.IsSupported(type))
                throw new FhirException(FhirFailureKind.Invalid, "not-supported", "_type", $"_type names '{type}', which Stadig does not keep.");
        }
        DateTimeOffset? since = null;
        if (http.Request.Query["_since"].ToString() is { Length: > 0 } sinceText)
        {
            if (!DateTimeOffset.TryParse(sinceText, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var parsed))
                throw new FhirException(FhirFailureKind.Invalid, "value", "_since", $"_since '{sinceText}' is not an instant.");
            since = parsed;
        }
        var caller = await FhirEndpoints.CallerAsync(http, callers, ct);
        var scope = new FhirExportScope(level, unit, types, since);
        var runner = http.RequestServices.GetRequiredService<Stadig.Hosting.StadigOptions>().NodeName;
        var job = await service.StartExportAsync(caller, scope, http.Request.Path + http.Request.QueryString, runner, ct);
        // The export outlives the request: it runs as background work (one at a time, stepping
        // aside while clinicians keep the node busy) until done or the server stops.
        var background = http.RequestServices.GetRequiredService<BackgroundWork>();
        _ = Task.Run(() => background.RunAsync(ct => service.RunExportAsync(caller, job, scope, background, ct), lifetime.ApplicationStopping), CancellationToken.None);
        http.Response.Headers["Content-Location"] = $"{FhirEndpoints.BaseUrl(http)}/$export-status/{job}";
        return Results.StatusCode(StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> StatusAsync(Guid job, HttpContext http, FhirService service, CallerAccessor callers, CancellationToken ct)
    {
        var (found, files) = await service.ExportStatusAsync(await FhirEndpoints.CallerAsync(http, callers, ct), job, ct);
        switch (found.Status)
        {
            case "running":
                http.Response.Headers["X-Progress"] = "running";
                http.Response.Headers.RetryAfter = "2";
                return Results.StatusCode(StatusCodes.Status202Accepted);
            case "failed":
                return FhirEndpoints.Outcome(StatusCodes.Status500InternalServerError, [FhirIssue.Error("exception", null, $"The export failed: {found.Error}")]);
        }
        var baseUrl = FhirEndpoints.BaseUrl(http);
        var manifest = new JsonObject
        {
            ["transactionTime"] = FhirJson.Instant(found.CreatedAt),
            ["request"] = $"{http.Request.Scheme}://{http.Request.Host}{found.RequestUrl}",
            ["requiresAccessToken"] = true,
            ["output"] = new JsonArray(files.Select(f => (JsonNode?)new JsonObject
            {
                ["type"] = f.ResourceType, ["url"] = $"{baseUrl}/$export-file/{job}/{f.ResourceType}/{f.Position}", ["count"] = f.Lines,
            }).ToArray()),
            ["error"] = new JsonArray(),
        };
        return Results.Text(manifest.ToJsonString(), "application/json; charset=utf-8", Encoding.UTF8);
    }

    private static async Task<IResult> FileAsync(Guid job, string type, int position, HttpContext http, FhirService service, CallerAccessor callers, CancellationToken ct) =>
        Results.Text(await service.ExportFileAsync(await FhirEndpoints.CallerAsync(http, callers, ct), job, type, position, ct), NdjsonMediaType + "; charset=utf-8", Encoding.UTF8);

    /// <summary>The largest $import accepted in one request: it waits in a file, never whole in memory.</summary>
    public const long MaxImportBytes = 2L * 1024 * 1024 * 1024;

    /// <summary>
    /// $import kick-off: the NDJSON body (Stadig's own form, what $export gives, one resource a line)
    /// goes to a file, and the import runs as background work; 202 + Content-Location to poll.
    /// </summary>
    private static async Task<IResult> ImportAsync(HttpContext http, FhirService service, CallerAccessor callers, IHostApplicationLifetime lifetime, CancellationToken ct)
    {
        var caller = await FhirEndpoints.CallerAsync(http, callers, ct);
        FhirService.DemandImport(caller);
        if (!http.Request.Headers["Prefer"].ToString().Contains("respond-async", StringComparison.OrdinalIgnoreCase))
            throw new FhirException(FhirFailureKind.Invalid, "required", null, "Bulk import is asynchronous: send Prefer: respond-async.");
        var contentType = http.Request.ContentType ?? "";
        if (!contentType.Contains("ndjson", StringComparison.OrdinalIgnoreCase))
            throw new FhirException(FhirFailureKind.UnsupportedFormat, "not-supported", null,
                $"$import takes NDJSON ({NdjsonMediaType}: one resource a line, as $export gives), not '{contentType}'.");
        if (http.Request.ContentLength > MaxImportBytes) throw ImportTooLarge();
        var feature = http.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (feature is { IsReadOnly: false }) feature.MaxRequestBodySize = MaxImportBytes;
        var path = Path.Combine(Path.GetTempPath(), $"stadig-import-{Guid.NewGuid():N}.ndjson");
        int lines;
        try
        {
            lines = await SaveBodyAsync(http.Request.Body, path, ct);
        }
        catch (Exception failure)
        {
            File.Delete(path);
            if (failure is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge }) throw ImportTooLarge();
            throw;
        }
        Guid job;
        try
        {
            job = await service.StartImportAsync(caller, lines, http.RequestServices.GetRequiredService<Stadig.Hosting.StadigOptions>().NodeName, ct);
        }
        catch
        {
            File.Delete(path);
            throw;
        }
        // Like an export, the import outlives the request: background work, one job at a time.
        var background = http.RequestServices.GetRequiredService<BackgroundWork>();
        _ = Task.Run(async () =>
        {
            try
            {
                await background.RunAsync(token => service.RunImportAsync(caller, job, path, background, token), lifetime.ApplicationStopping);
            }
            catch (OperationCanceledException)
            {
                // Stopped before its turn came: the next start fails the job (FailInterruptedImportsAsync).
                File.Delete(path);
            }
        }, CancellationToken.None);
        http.Response.Headers["Content-Location"] = $"{FhirEndpoints.BaseUrl(http)}/$import-status/{job}";
        return Results.StatusCode(StatusCodes.Status202Accepted);
    }

    /// <summary>Copies the body to <paramref name="path"/> and counts its lines.</summary>
    private static async Task<int> SaveBodyAsync(Stream body, string path, CancellationToken ct)
    {
        var lines = 0;
        var last = (byte)'\n';
        await using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, FileOptions.Asynchronous);
        var buffer = new byte[81920];
        int read;
        while ((read = await body.ReadAsync(buffer, ct)) > 0)
        {
            lines += buffer.AsSpan(0, read).Count((byte)'\n');
            last = buffer[read - 1];
            await file.WriteAsync(buffer.AsMemory(0, read), ct);
        }
        return last == (byte)'\n' ? lines : lines + 1;
    }

    private static FhirException ImportTooLarge() =>
        new(FhirFailureKind.TooLarge, "too-costly", null, $"The import is larger than {MaxImportBytes / 1024 / 1024 / 1024} GB; send it in parts.");

    /// <summary>The poll: 202 with X-Progress while it runs; the outcome when it is over (200, or the failure's status naming the lines).</summary>
    private static async Task<IResult> ImportStatusAsync(Guid job, HttpContext http, FhirService service, CallerAccessor callers, CancellationToken ct)
    {
        var (found, progress) = await service.ImportStatusAsync(await FhirEndpoints.CallerAsync(http, callers, ct), job, ct);
        if (found.Status == "running")
        {
            http.Response.Headers["X-Progress"] = progress is null ? "running"
                : progress.Stored > 0 || progress.Checked >= found.Lines ? $"stored {progress.Stored} of {progress.Checked} resources"
                : $"read {progress.Checked} of {found.Lines} lines";
            http.Response.Headers.RetryAfter = "2";
            return Results.StatusCode(StatusCodes.Status202Accepted);
        }
        var outcome = FhirJson.Parse(found.Outcome ?? "{}");
        var status = found.Status == "completed" ? StatusCodes.Status200OK
            : Enum.TryParse<FhirFailureKind>(found.Failure, out var kind) ? Hosting.ProblemMapping.FhirStatusOf(kind)
            : found.Failure == "Interrupted" ? StatusCodes.Status503ServiceUnavailable
            : StatusCodes.Status500InternalServerError;
        return FhirEndpoints.Resource(outcome, status);
    }
}
