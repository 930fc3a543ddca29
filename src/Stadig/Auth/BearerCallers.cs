using System.Collections.Concurrent;
using Stadig.Access;

namespace Stadig.Auth;

/// <summary>
/// The callers recent bearer tokens named, by their claims (issue 23): an integration's FHIR Patient
/// read or search then starts without the staff directory's round trip. A caller from here is never
/// trusted as it is: it goes out marked <see cref="Caller.Unconfirmed"/>, and the checkpoint confirms
/// it in the statement that decides and audits (or the request is made again with a fresh lookup), so
/// a removed assignment is honoured by the next request as before. Only the Patient read and search
/// take callers from here (FhirEndpoints); everything else looks the caller up.
/// </summary>
public sealed class BearerCallers(TimeProvider clock)
{
    /// <summary>Entries kept at most: a region has a few hundred integrations, not this many token identities.</summary>
    internal const int Capacity = 10_000;

    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(10);
    private readonly ConcurrentDictionary<TokenClaims, (Caller Caller, DateTimeOffset Until)> _known = new();

    public Caller? Find(TokenClaims claims) =>
        _known.TryGetValue(claims, out var known) && known.Until > clock.GetUtcNow() ? known.Caller with { Unconfirmed = claims } : null;

    public void Remember(TokenClaims claims, Caller caller)
    {
        if (_known.Count >= Capacity) _known.Clear();
        _known[claims] = (caller with { Unconfirmed = null }, clock.GetUtcNow() + Lifetime);
    }

    public void Forget(TokenClaims claims) => _known.TryRemove(claims, out _);
}
