using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace Stadig.Rehearsal;

/// <summary>
/// Tells admission control's deliberate "not now" apart from a failure: a 503 WITH Retry-After is a
/// shed request (counted apart); a 503 without it is the request deadline firing after the work had
/// started — a slow answer, so an error.
/// </summary>
public static class Shedding
{
    /// <summary>How long a shed user waits before going on (the server's Retry-After, 2 s).</summary>
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(2);

    public static bool IsShed(HttpResponseMessage response) =>
        response.StatusCode == HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter is not null;

    public static string Status(HttpResponseMessage response)
    {
        var code = ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
        return response.StatusCode == HttpStatusCode.ServiceUnavailable ? code + " (request deadline, no Retry-After)" : code;
    }

    /// <summary>
    /// The client's handler, wrapped so that every answer's server time (Server-Timing) counts to the
    /// action that sent it, and every 503 answer is timed on its own (<see cref="Recorder.Unavailable"/>).
    /// </summary>
    public static HttpMessageHandler Timed(Recorder recorder, HttpMessageHandler inner) => new ResponseTimer(recorder) { InnerHandler = inner };

    /// <summary>The server's own time from Stadig's <c>Server-Timing: queue;dur=…, total;dur=…</c> header.</summary>
    public static double? ServerMilliseconds(HttpResponseMessage response) => ServerTiming(response, "total");

    /// <summary>One metric's duration from the Server-Timing header, e.g. "queue" (the wait for an admission slot).</summary>
    public static double? ServerTiming(HttpResponseMessage response, string metricName) => ServerTimingParameter(response, metricName, "dur");

    /// <summary>One metric's parameter from the Server-Timing header, e.g. "jit" and "desc" (the methods compiled while the request ran).</summary>
    public static double? ServerTimingParameter(HttpResponseMessage response, string metricName, string parameterName)
    {
        if (!response.Headers.TryGetValues("Server-Timing", out var values)) return null;
        foreach (var metric in values.SelectMany(v => v.Split(',')))
        {
            var parts = metric.Trim().Split(';');
            if (parts[0] != metricName) continue;
            foreach (var parameter in parts.Skip(1))
                if (parameter.Trim().StartsWith(parameterName + "=", StringComparison.Ordinal)
                    && double.TryParse(parameter.Trim()[(parameterName.Length + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                    return value;
        }
        return null;
    }

    private sealed class ResponseTimer(Recorder recorder) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var at = recorder.Elapsed;
            var watch = Stopwatch.StartNew();
            var response = await base.SendAsync(request, cancellationToken);
            var server = ServerMilliseconds(response);
            if (server is { } ms) Recorder.AddServerTime(ms, ServerTiming(response, "queue"), ServerTiming(response, "db"), ServerTiming(response, "gc"),
                (int?)ServerTimingParameter(response, "jit", "desc"));
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
                recorder.AddUnavailable(new UnavailableResponse(at, watch.Elapsed.TotalMilliseconds, response.Headers.RetryAfter is not null, server));
            return response;
        }
    }
}
