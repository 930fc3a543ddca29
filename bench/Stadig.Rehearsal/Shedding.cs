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
}
