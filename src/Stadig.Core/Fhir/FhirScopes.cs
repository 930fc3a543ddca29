
namespace Stadig.Fhir;

/// <summary>
/// SMART on FHIR scopes (v1 syntax, `patient/Observation.read`, `user/*.write`, `system/*.*`) as
/// a limit on top of the access checkpoint: a scope never gives more than the person's assignment
/// allows, it only narrows it. `patient/` scopes also need the token's patient (launch context) and
/// reach only that patient's compartment.
/// </summary>
public sealed class FhirScopes
{
    private readonly List<(string Context, string Type, bool Read, bool Write)> _grants = [];

    private FhirScopes(string? patientContext) => PatientContext = patientContext;

    /// <summary>A signed-in person in the web UI: everything their assignment allows.</summary>
    public static FhirScopes Unlimited { get; } = Parse("user/*.*", null);

    /// <summary>The FHIR id of the launch-context patient for `patient/` scopes.</summary>
    public string? PatientContext { get; }

    public static FhirScopes Parse(string? scope, string? patientContext)
    {
        var scopes = new FhirScopes(patientContext);
        foreach (var token in (scope ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var slash = token.IndexOf('/', StringComparison.Ordinal);
            var dot = token.LastIndexOf('.');
            if (slash <= 0 || dot <= slash) continue; // openid, fhirUser, launch… carry no data access
            var context = token[..slash];
            if (context is not ("patient" or "user" or "system")) continue;
            var type = token[(slash + 1)..dot];
            var action = token[(dot + 1)..];
            var (read, write) = action switch
            {
                "read" => (true, false),
                "write" => (false, true),
                "*" => (true, true),
                // SMART v2: c(reate) r(ead) u(pdate) d(elete) s(earch)
                _ when action.All(c => c is 'c' or 'r' or 'u' or 'd' or 's') => (action.Contains('r') || action.Contains('s'), action.Contains('c') || action.Contains('u')),
                _ => (false, false),
            };
            if (context == "patient" && patientContext is null) continue;
            scopes._grants.Add((context, type, read, write));
        }
        return scopes;
    }

    /// <summary>Throws Forbidden unless some scope allows reading (or writing) <paramref name="type"/>.</summary>
    public void Demand(string type, bool write)
    {
        if (!Allows(type, write))
            throw new FhirException(FhirFailureKind.Forbidden, "forbidden", null,
                $"The token's scopes do not allow {(write ? "writing" : "reading")} {type} (needs e.g. user/{type}.{(write ? "write" : "read")}).");
    }

    /// <summary>
    /// A system integration's token (system/ scopes only, no user and no patient): its searches tolerate
    /// a replica's lag, and go there when one is configured.
    /// </summary>
    public bool OnlySystem => _grants.Count > 0 && _grants.All(g => g.Context == "system");

    public bool Allows(string type, bool write) =>
        _grants.Any(g => (g.Type == "*" || g.Type == type) && (write ? g.Write : g.Read));

    /// <summary>True when only patient-context scopes allow this: the request must stay in <see cref="PatientContext"/>'s compartment.</summary>
    public bool OnlyPatientContext(string type, bool write) =>
        !_grants.Any(g => g.Context != "patient" && (g.Type == "*" || g.Type == type) && (write ? g.Write : g.Read));
}
