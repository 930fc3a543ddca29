using System.Net;
using System.Text;
using Microsoft.AspNetCore.Routing;
using Stadig.Storage;

namespace Stadig.Tests.Web;

/// <summary>
/// Random query strings and form posts over every route the application maps (read from the
/// endpoint data source, so a new route is covered without being listed): none may answer 5xx.
/// The suite runs a deterministic sample; STADIG_FUZZ_REQUESTS=100000 runs the full count.
/// </summary>
public class RouteFuzzTests
{
    private static readonly string[] Values =
    [
        "", "abc", "-1", "0", "2147483648", "99999999999999999999", "1e309", "NaN", "true", "null", "19121212-1212", "191212121212",
        "00000000-0000-0000-0000-000000000000", Guid.Empty.ToString("N"), "2024-13-45", "2024-02-30T25:61", "%", "%zz", "\u0000", "\r\n", "\t",
        "../../etc/passwd", "<script>", "' OR 1=1 --", "Åsa Öberg", new string('x', 5000), "[]", "{}", "*", "a,b,c", "Patient/abc", "gt2020",
    ];

    private static readonly string[] Names =
    [
        "q", "offset", "limit", "page", "attested", "saved", "placed", "error", "returnUrl", "name", "patient", "staff", "unit", "from", "to",
        "activity", "outcome", "flagged", "_count", "_offset", "_since", "_type", "_id", "_include", "_revinclude", "identifier", "birthdate",
        "family", "given", "date", "subject", "code", "status", "encounter", "registered", "existing", "tab", "version", "Input.Codes",
    ];

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Random_query_strings_and_form_posts_on_every_route_never_answer_5xx(DatabaseEngine engine)
    {
        var (server, client, eva) = await StadigServer.WithLoggedInPhysicianAsync(engine, "--Stadig:Admission:QueueWaitMilliseconds=5000", "--Stadig:Admission:IntegrationQueueWaitMilliseconds=5000", "--Stadig:Admission:RequestTimeoutSeconds=120");
        await using var _s = server;
        var patient = (await server.Patients.RegisterAsync(eva, "19121212-1212", new("Ek", "Per"))).PatientId;
        var routes = server.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Select(e => e.RoutePattern.RawText ?? "").Where(r => r.Length > 0).Distinct().OrderBy(r => r, StringComparer.Ordinal).ToList();
        Assert.Contains(routes, r => r.Contains("patients", StringComparison.Ordinal));

        var total = int.TryParse(Environment.GetEnvironmentVariable("STADIG_FUZZ_REQUESTS"), out var n) ? n : 400;
        var random = new Random(engine == DatabaseEngine.Sqlite ? 1 : 2);
        var failures = new List<string>();
        for (var i = 0; i < total && failures.Count < 10; i++)
        {
            var path = Fill(routes[random.Next(routes.Count)], patient, random);
            var query = string.Join('&', Enumerable.Range(0, random.Next(0, 4)).Select(_ => $"{Uri.EscapeDataString(Pick(Names, random))}={Uri.EscapeDataString(Pick(Values, random))}"));
            var url = query.Length > 0 ? $"{path}?{query}" : path;
            using var request = new HttpRequestMessage(random.Next(3) == 0 ? HttpMethod.Post : HttpMethod.Get, url);
            if (request.Method == HttpMethod.Post)
            {
                var fields = Enumerable.Range(0, random.Next(0, 5)).Select(_ => new KeyValuePair<string, string>(Pick(Names, random), Pick(Values, random))).ToList();
                if (random.Next(2) == 0) fields.Add(new("_handler", Pick(["place-order", "care-relation", "new-note", "register-patient", "x"], random)));
                request.Content = random.Next(4) == 0
                    ? new StringContent(Pick(Values, random), Encoding.UTF8, Pick(["application/json", "application/fhir+json", "text/plain"], random))
                    : new FormUrlEncodedContent(fields);
            }
            using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
            if ((int)response.StatusCode >= 500) failures.Add($"{request.Method} {url} → {(int)response.StatusCode}");
        }
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    private static string Pick(string[] values, Random random) => values[random.Next(values.Length)];

    /// <summary>A concrete path for a route pattern: parameters get a real patient id, a random id or a random value.</summary>
    private static string Fill(string pattern, Guid patient, Random random)
    {
        var path = new StringBuilder();
        foreach (var segment in pattern.TrimStart('/').Split('/'))
        {
            path.Append('/');
            if (!segment.StartsWith('{')) { path.Append(segment); continue; }
            var isGuid = segment.Contains(":guid", StringComparison.Ordinal);
            var isInt = segment.Contains(":int", StringComparison.Ordinal);
            path.Append(isGuid ? (random.Next(2) == 0 ? patient : Guid.NewGuid()).ToString()
                : isInt ? random.Next(-5, 1000).ToString(System.Globalization.CultureInfo.InvariantCulture)
                : Uri.EscapeDataString(Pick(["Patient", "Observation", "Condition", patient.ToString(), "abc", "1", "$export", "AuditEvent"], random)));
        }
        return path.ToString();
    }
}
