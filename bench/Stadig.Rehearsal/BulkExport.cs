using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Stadig.Rehearsal;

/// <summary>
/// Background work during the overload: a system-level Bulk Data export (GET /fhir/$export with
/// Prefer: respond-async) started with the demo administrator's token (scope system/*.read), then
/// polled at its status URL as its Retry-After says until it is done. The server runs it as
/// background work that steps aside while clinicians keep the node busy, so it may well finish only
/// after the load has dropped. A shed kick-off or poll (503 + Retry-After) is tried again.
/// </summary>
public sealed class BulkExport(Uri baseAddress, RehearsalConfig config, JwtSettings jwt, (string HsaId, string UnitHsaId) administrator, Recorder recorder)
{
    public const string KickOff = "export-kickoff";
    public const string Poll = "export-status";

    /// <summary>not started, running, completed, failed, refused (the kick-off's status), unfinished (polling stopped).</summary>
    public string Status { get; private set; } = "not started";
    public double? AcceptedAtSeconds { get; private set; }
    public double? FinishedAtSeconds { get; private set; }
    public int Polls { get; private set; }
    /// <summary>Resources in the finished export's files (the manifest's counts).</summary>
    public long? Resources { get; private set; }

    public async Task RunAsync(CancellationToken stopping)
    {
        using var http = new HttpClient(Shedding.Timed(recorder, new SocketsHttpHandler { AllowAutoRedirect = false }))
        {
            BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(config.RequestTimeoutSeconds),
        };
        var token = FhirIntegration.Token(jwt, administrator.HsaId, administrator.UnitHsaId, "Administrator", "system/*.read",
            TimeSpan.FromSeconds(config.TotalSeconds + config.Overload.ExportGraceSeconds) + TimeSpan.FromHours(1));
        try
        {
            Uri? statusUrl = null;
            while (statusUrl is null)
            {
                var started = await recorder.MeasureAsync(KickOff, async () =>
                {
                    using var request = Request("/fhir/$export", token, respondAsync: true);
                    using var response = await http.SendAsync(request, stopping);
                    if (Shedding.IsShed(response)) return ActionResult<Uri>.Shed;
                    var location = response.Content.Headers.ContentLocation ?? (response.Headers.TryGetValues("Content-Location", out var v) ? new Uri(v.First()) : null);
                    return response.StatusCode == HttpStatusCode.Accepted && location is not null
                        ? ActionResult<Uri>.Ok(location)
                        : ActionResult<Uri>.Error(Shedding.Status(response));
                }, stopping);
                if (started.WasCancelled) return;
                if (started.Outcome == Outcome.Error) { Status = "refused (" + started.Status + ")"; return; }
                if (started.IsOk) statusUrl = started.Value;
                else await Task.Delay(Shedding.RetryAfter, stopping);
            }
            AcceptedAtSeconds = recorder.Elapsed;
            Status = "running";
            while (Status == "running")
            {
                await Task.Delay(Shedding.RetryAfter, stopping);
                Polls++;
                var polled = await recorder.MeasureAsync(Poll, async () =>
                {
                    using var request = Request(statusUrl.ToString(), token, respondAsync: false);
                    using var response = await http.SendAsync(request, stopping);
                    if (Shedding.IsShed(response)) return ActionResult<string>.Shed;
                    if (response.StatusCode == HttpStatusCode.Accepted) return ActionResult<string>.Ok("running");
                    var body = await response.Content.ReadAsStringAsync(stopping);
                    if (response.StatusCode != HttpStatusCode.OK) return ActionResult<string>.Error(Shedding.Status(response) + " (export failed)");
                    using var manifest = JsonDocument.Parse(body);
                    Resources = manifest.RootElement.GetProperty("output").EnumerateArray().Sum(f => f.GetProperty("count").GetInt64());
                    return ActionResult<string>.Ok("completed");
                }, stopping);
                if (polled.WasCancelled) return;
                if (polled.Outcome == Outcome.Error) Status = "failed";
                else if (polled.IsOk && polled.Value == "completed") Status = "completed";
            }
            FinishedAtSeconds = recorder.Elapsed;
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        finally
        {
            if (Status == "running") Status = "unfinished";
        }
    }

    private static HttpRequestMessage Request(string url, string token, bool respondAsync)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/fhir+json"));
        if (respondAsync) request.Headers.Add("Prefer", "respond-async");
        return request;
    }
}
