using System.Text.Json.Nodes;
using Stadig.Fhir.Profiles;
using Stadig.Fhir.Validation;

namespace Stadig.Fhir;

public sealed partial class FhirService
{
    /// <summary>
    /// What $validate answers: Stadig's own checks of the base resource and, where the resource claims
    /// a profile Stadig has or the caller names one, the profile validator's. Nothing is stored.
    /// </summary>
    public IReadOnlyList<FhirIssue> Validate(JsonObject resource, string? profile)
    {
        var issues = FhirValidator.Validate(resource).ToList();
        if (profile is not null)
        {
            if (!FhirProfileValidator.Knows(profile))
                throw new FhirException(FhirFailureKind.Invalid, "not-supported", "profile", $"Stadig does not have the profile {profile}.");
            issues.AddRange(FhirProfileValidator.Validate(resource, profile));
        }
        else
        {
            issues.AddRange(ProfileIssues(resource, onlyErrors: false));
        }
        return issues;
    }

    /// <summary>The profiles in meta.profile that Stadig has; others are the sender's business and not checked.</summary>
    private static IReadOnlyList<string> KnownProfiles(JsonObject resource) =>
        resource["meta"]?["profile"] is JsonArray profiles
            ? profiles.Select(FhirJson.String).OfType<string>().Where(FhirProfileValidator.Knows).ToList()
            : [];

    /// <summary>
    /// The profile validator's findings for a resource that claims a profile Stadig has (none when it
    /// claims none: the base resource is Stadig's own validator's, which is much faster).
    /// </summary>
    private static IEnumerable<FhirIssue> ProfileIssues(JsonObject resource, bool onlyErrors)
    {
        if (KnownProfiles(resource).Count == 0) return [];
        return FhirProfileValidator.Validate(resource)
            // A claimed profile Stadig does not have is not checked, and not held against the resource.
            .Where(i => !(i.Code == "incomplete" && i.Diagnostics.Contains("Unable to resolve reference to profile", StringComparison.Ordinal)))
            .Where(i => !onlyErrors || i.Severity is "error" or "fatal");
    }
}
