using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Stadig.Rehearsal;

/// <summary>How the integration's bearer tokens are signed: the server's Stadig:Jwt:SigningKey (and Issuer/Audience when it checks them).</summary>
public sealed record JwtSettings(string SigningKey, string? Issuer, string? Audience);

/// <summary>
/// Other systems reading over FHIR at a steady, open-loop rate (a slow answer does not slow the
/// callers down, as it would not for many independent systems): Patient read, Patient search by
/// personnummer, Observation search by patient. Tokens name the demo physician in each unit.
/// <paramref name="rate"/> replaces the config's rate (the overload's added share); <paramref name="seed"/> the patients drawn.
/// </summary>
public sealed class FhirIntegration(Uri baseAddress, RehearsalConfig config, PatientPool pool, JwtSettings jwt, Recorder recorder, double? rate = null, int seed = 7)
{
    public const string Read = "fhir-read";
    public const string PatientSearch = "fhir-search-patient";
    public const string ObservationSearch = "fhir-search-observation";
    public static readonly string[] Actions = [Read, PatientSearch, ObservationSearch];

    /// <summary>Calls until <paramref name="stopping"/> (which also cuts off calls in flight) or <paramref name="offShift"/> (calls in flight finish).</summary>
    public async Task RunAsync(CancellationToken stopping, CancellationToken offShift = default)
    {
        var perSecond = rate ?? config.FhirRequestsPerSecond;
        if (perSecond <= 0) return;
        using var pauses = CancellationTokenSource.CreateLinkedTokenSource(stopping, offShift);
        using var http = NewClient();
        var tokens = Tokens();
        var random = new Random(seed);
        var inFlight = new List<Task>();
        var outstanding = 0;
        var next = recorder.Elapsed;
        var weights = new[] { config.Fhir.ReadWeight, config.Fhir.PatientSearchWeight, config.Fhir.ObservationSearchWeight };
        try
        {
            while (!pauses.IsCancellationRequested)
            {
                var wait = next - recorder.Elapsed;
                if (wait > 0) await Task.Delay(TimeSpan.FromSeconds(wait), pauses.Token);
                next += 1 / perSecond;
                var unit = pool.Units[random.Next(pool.Units.Count)];
                var patient = unit.Patients[random.Next(unit.Patients.Count)];
                var (action, path) = Pick(weights, random.NextDouble()) switch
                {
                    0 => (Read, $"/fhir/Patient/{patient.Id}"),
                    1 when patient.IdentifierKind == "Personnummer" => (PatientSearch, "/fhir/Patient?identifier=" + Uri.EscapeDataString("http://electronichealth.se/identifier/personnummer|" + patient.Identifier)),
                    1 => (Read, $"/fhir/Patient/{patient.Id}"),
                    _ => (ObservationSearch, $"/fhir/Observation?patient=Patient/{patient.Id}"),
                };
                if (Volatile.Read(ref outstanding) >= config.Fhir.MaxInFlight)
                {
                    recorder.Add(action, recorder.Elapsed, 0, Outcome.Error, "client saturated (too many in flight)");
                    continue;
                }
                Interlocked.Increment(ref outstanding);
                inFlight.Add(Task.Run(async () =>
                {
                    try { await CallAsync(http, action, path, tokens[unit.UnitId], stopping); }
                    finally { Interlocked.Decrement(ref outstanding); }
                }, CancellationToken.None));
                inFlight.RemoveAll(t => t.IsCompleted);
            }
        }
        catch (OperationCanceledException) when (pauses.IsCancellationRequested)
        {
        }
        await Task.WhenAll(inFlight);
    }

    /// <summary>One call of each kind, one after the other (the warm-up before the measured run).</summary>
    /// <summary>
    /// Each kind of call <see cref="WarmUpRounds"/> times, untimed. The integrations' rate is a few
    /// calls a minute, so in a run of minutes their code would otherwise still be in the runtime's
    /// first, unoptimised tier (which a node that has run all day is not); the clinicians' paths run
    /// hundreds of times in the ramp-up.
    /// </summary>
    public async Task WarmUpAsync(CancellationToken cancellationToken)
    {
        using var http = NewClient();
        var unit = pool.Units[0];
        var token = Tokens()[unit.UnitId];
        var patients = unit.Patients.Where(p => p.IdentifierKind == "Personnummer").DefaultIfEmpty(unit.Patients[0]).ToList();
        for (var round = 0; round < WarmUpRounds; round++)
        {
            var patient = patients[round % patients.Count];
            await CallAsync(http, Read, $"/fhir/Patient/{patient.Id}", token, cancellationToken);
            await CallAsync(http, PatientSearch, "/fhir/Patient?identifier=" + Uri.EscapeDataString("http://electronichealth.se/identifier/personnummer|" + patient.Identifier), token, cancellationToken);
            await CallAsync(http, ObservationSearch, $"/fhir/Observation?patient=Patient/{patient.Id}", token, cancellationToken);
        }
    }

    /// <summary>More than the runtime's 30 calls before it optimises a method.</summary>
    public const int WarmUpRounds = 40;

    private HttpClient NewClient() =>
        new(Shedding.Timed(recorder, new SocketsHttpHandler { AllowAutoRedirect = false, MaxConnectionsPerServer = 64 }))
        {
            BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(config.RequestTimeoutSeconds),
        };

    private Dictionary<Guid, string> Tokens() =>
        pool.Units.ToDictionary(u => u.UnitId, u => Token(jwt, pool.PhysicianHsaId, u.UnitHsaId, "Physician", "user/*.read", TimeSpan.FromSeconds(config.TotalSeconds) + TimeSpan.FromHours(1)));

    private async Task CallAsync(HttpClient http, string action, string path, string token, CancellationToken stopping) =>
        await recorder.MeasureAsync(action, async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/fhir+json"));
            using var response = await http.SendAsync(request, stopping);
            if (Shedding.IsShed(response)) return ActionResult<bool>.Shed;
            // Read the body: the time includes receiving the whole resource or Bundle.
            await response.Content.ReadAsByteArrayAsync(stopping);
            return response.StatusCode == HttpStatusCode.OK
                ? ActionResult<bool>.Ok(true)
                : ActionResult<bool>.Error(Shedding.Status(response));
        }, stopping);

    private static int Pick(double[] weights, double draw)
    {
        var total = weights.Sum();
        var acc = 0.0;
        for (var i = 0; i < weights.Length; i++)
        {
            acc += weights[i] / total;
            if (draw < acc) return i;
        }
        return weights.Length - 1;
    }

    /// <summary>An HS256 JWT as the region's identity provider would issue it to an integration (read scopes only).</summary>
    public static string Token(JwtSettings jwt, string hsaId, string unitHsaId, string role, string scope, TimeSpan lifetime)
    {
        static string B64(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var claims = new Dictionary<string, object>
        {
            ["hsa_id"] = hsaId, ["unit_hsa_id"] = unitHsaId, ["role"] = role, ["scope"] = scope,
            ["iat"] = now, ["nbf"] = now, ["exp"] = now + (long)lifetime.TotalSeconds,
        };
        if (jwt.Issuer is not null) claims["iss"] = jwt.Issuer;
        if (jwt.Audience is not null) claims["aud"] = jwt.Audience;
        var unsigned = B64(Encoding.UTF8.GetBytes("{\"alg\":\"HS256\",\"typ\":\"JWT\"}")) + "." + B64(JsonSerializer.SerializeToUtf8Bytes(claims));
        var signature = HMACSHA256.HashData(Encoding.UTF8.GetBytes(jwt.SigningKey), Encoding.ASCII.GetBytes(unsigned));
        return unsigned + "." + B64(signature);
    }
}
