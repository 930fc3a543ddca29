using Stadig.Regulatory;

namespace Stadig.Hosting;

/// <summary>The verbs that build go-live evidence: the regulatory file and the readiness gate.</summary>
public static class ReadinessVerbs
{
    /// <summary>Exit code when the file is incomplete or the gate answers NO-GO: distinct from 1 (could not run).</summary>
    public const int NoGo = 3;

    public static Task<int> RegulatoryFileAsync(string[] args)
    {
        var output = Option(args, "--out") ?? throw new StartupException("regulatory-file needs --out <folder>.");
        var results = Option(args, "--test-results") ?? throw new StartupException("regulatory-file needs --test-results <trx file, json file or folder>.");
        var repository = Option(args, "--repo") ?? Directory.GetCurrentDirectory();
        var vulnerable = Option(args, "--vulnerable");
        var soup = SoupList.Read(repository, vulnerable);
        var file = RegulatoryFile.Build(repository, TestRun.Read(results), ReleaseInfo.Current, DateTimeOffset.UtcNow, soup);
        var folder = file.Write(output);
        foreach (var p in file.Problems) Console.WriteLine("PROBLEM: " + p);
        Console.WriteLine($"Regulatory file for {file.Version} ({file.Commit}) written to {folder}: " +
                          $"{file.Hazards.Count} hazards, {file.OpenControls} open control(s), {file.Soup.Items.Count} SOUP packages, " +
                          $"{file.Tests.Passed} of {file.Tests.Cases} test cases passed — {(file.Complete ? "complete" : "INCOMPLETE")}.");
        return Task.FromResult(file.Complete ? 0 : NoGo);
    }

    internal static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        if (i < 0) return null;
        return i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)
            ? args[i + 1]
            : throw new StartupException($"{name} needs a value.");
    }
}
