using Stadig.Regulatory;

namespace Stadig.Tests.Readiness;

/// <summary>The repository's regulatory sources and small builders of test results for the readiness tests.</summary>
internal static class Evidence
{
    public static readonly ReleaseInfo Release = new("1.4.0", "0123456789abcdef0123456789abcdef01234567");

    public static string RepositoryRoot
    {
        get
        {
            var root = AppContext.BaseDirectory;
            while (!File.Exists(Path.Combine(root, "Stadig.slnx"))) root = Path.GetDirectoryName(root)!;
            return root;
        }
    }

    public static HazardLog Hazards => HazardLog.Read(Path.Combine(RepositoryRoot, "docs", "regulatory", HazardLog.FileName));

    /// <summary>Every test the hazard log names, each with the given outcome unless <paramref name="except"/> says otherwise.</summary>
    public static TestRun AllHazardTests(string outcome = "Passed", IReadOnlyDictionary<string, string>? except = null) =>
        new(Hazards.Hazards.SelectMany(h => h.Controls).SelectMany(c => c.Tests).Distinct()
                .Select(t => (except?.GetValueOrDefault(t) ?? outcome) == "Passed" ? new TestOutcome(t, 1, 0, 0) : new TestOutcome(t, 0, 1, 0)),
            ["test.json"]);

    public static SoupList Soup(params (string Name, string? Purpose)[] packages) =>
        new(packages.Select(p => new SoupItem(p.Name, "1.0.0", true, "MIT", p.Purpose, "not checked (offline)")).ToList(), SoupList.OfflineNote);

    public static string Temp() => Directory.CreateTempSubdirectory("stadig-readiness-").FullName;
}
