using Xunit.Sdk;
using Xunit.v3;

[assembly: TestCollectionOrderer(typeof(Stadig.Tests.Infrastructure.LongestFirstCollectionOrderer))]

namespace Stadig.Tests.Infrastructure;

/// <summary>
/// Starts the longest test collections first. CI has two cores, so xunit runs two collections at a
/// time; its default order is random, and when the browser collection (eight minutes of serial
/// Chromium work) happened to start last the whole run took four minutes longer than when it started
/// first. Longest-first keeps the run close to its floor, the larger of the longest collection and
/// half the total. The list is the collections over a minute in a CI run's TRX (2026-12-05); a
/// collection missing from it only runs later, never wrongly, so the list needs no exact upkeep.
/// </summary>
public sealed class LongestFirstCollectionOrderer : ITestCollectionOrderer
{
    internal static readonly string[] Longest =
    [
        "Browser",
        // Issue 20's short forms (kill points, fuzz inputs): minutes each, added before a CI run could measure them.
        "Stadig.Tests.Reliability.CrashPointTests",
        "Stadig.Tests.Reliability.Fuzz.FuzzTests",
        "Stadig.Tests.Results.IdentityInjectionTests",
        "Stadig.Tests.Fhir.Validation.ValidatorDifferentialTests",
        "Stadig.Tests.Results.LargeMessageTests",
        "Stadig.Tests.Fhir.FhirTransactionReferenceTests",
        "Stadig.Tests.Hosting.FirstUseTests",
        "Stadig.Tests.Web.OidcSignInTests",
        "Stadig.Tests.Web.AuditPagesTests",
        "Stadig.Tests.Web.LoginTests",
        "Stadig.Tests.Rehearsal.RehearsalSmokeTests",
        // Issue 19's downtime drill in its short form: about a minute, one test.
        "Stadig.Tests.Downtime.Drill.DowntimeDrillTests",
    ];

    public IReadOnlyCollection<TTestCollection> OrderTestCollections<TTestCollection>(IReadOnlyCollection<TTestCollection> testCollections)
        where TTestCollection : ITestCollection =>
        testCollections.OrderBy(c => Rank(c)).ThenBy(c => c.TestCollectionDisplayName, StringComparer.Ordinal).ToList();

    private static int Rank(ITestCollection collection) => Rank(collection.TestCollectionDisplayName, Longest);

    /// <summary>The place of a collection in <paramref name="longest"/>, by its display name: a named collection's name, or "Test collection for" its class.</summary>
    internal static int Rank(string displayName, IReadOnlyList<string> longest)
    {
        for (var i = 0; i < longest.Count; i++)
            if (displayName == longest[i] || displayName.EndsWith(" " + longest[i], StringComparison.Ordinal) || displayName.Contains(" " + longest[i] + " ", StringComparison.Ordinal))
                return i;
        return longest.Count;
    }
}
