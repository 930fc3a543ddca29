using System.Text.Json;
using System.Xml.Linq;
using Stadig.Common;

namespace Stadig.Regulatory;

/// <summary>One test method's outcome over all its cases (a theory passes only when every case passed).</summary>
public sealed record TestOutcome(string Name, int Passed, int Failed, int NotRun)
{
    public bool IsPassing => Passed > 0 && Failed == 0;
    public string Status => Failed > 0 ? "failed" : Passed > 0 ? "passed" : "not run";
}

/// <summary>
/// The results of a test run, by full method name (Namespace.Class.Method): read from the TRX files that
/// `dotnet test --logger trx` writes (test.sh keeps them), or from a JSON file {"tests":[{"name","outcome"}]}.
/// </summary>
public sealed class TestRun
{
    private readonly Dictionary<string, TestOutcome> _tests;

    public TestRun(IEnumerable<TestOutcome> tests, IReadOnlyList<string> sources)
    {
        _tests = tests.GroupBy(t => t.Name)
            .ToDictionary(g => g.Key, g => new TestOutcome(g.Key, g.Sum(t => t.Passed), g.Sum(t => t.Failed), g.Sum(t => t.NotRun)));
        Sources = sources;
    }

    public IReadOnlyList<string> Sources { get; }
    public int Cases => _tests.Values.Sum(t => t.Passed + t.Failed + t.NotRun);
    public int PassedCases => _tests.Values.Sum(t => t.Passed);
    public int FailedCases => _tests.Values.Sum(t => t.Failed);
    public int NotRunCases => _tests.Values.Sum(t => t.NotRun);
    public int Methods => _tests.Count;

    public TestOutcome Outcome(string name) => _tests.TryGetValue(name, out var o) ? o : new TestOutcome(name, 0, 0, 0);

    /// <summary>A TRX or JSON file, or a folder of them.</summary>
    public static TestRun Read(string path)
    {
        var files = Directory.Exists(path)
            ? Directory.GetFiles(path, "*.trx").Concat(Directory.GetFiles(path, "*.json")).Order(StringComparer.Ordinal).ToList()
            : File.Exists(path) ? [path] : throw new EvidenceException($"No test results at {path}.");
        if (files.Count == 0) throw new EvidenceException($"No .trx or .json test results in {path}.");
        var outcomes = new List<TestOutcome>();
        foreach (var file in files)
            outcomes.AddRange(file.EndsWith(".trx", StringComparison.OrdinalIgnoreCase) ? ReadTrx(file) : ReadJson(file));
        return new TestRun(outcomes, files.Select(Path.GetFileName).ToList()!);
    }

    private static IEnumerable<TestOutcome> ReadTrx(string file)
    {
        XDocument doc;
        try { doc = XDocument.Load(file); }
        catch (System.Xml.XmlException e) { throw new EvidenceException($"{file} is not a TRX file: {e.Message}"); }
        XNamespace ns = doc.Root!.Name.Namespace;
        var methods = doc.Descendants(ns + "UnitTest").ToDictionary(
            u => (string)u.Attribute("id")!,
            u => u.Element(ns + "TestMethod") is { } m ? $"{(string?)m.Attribute("className")}.{(string?)m.Attribute("name")}" : (string?)u.Attribute("name") ?? "");
        foreach (var r in doc.Descendants(ns + "UnitTestResult"))
        {
            var name = methods.GetValueOrDefault((string?)r.Attribute("testId") ?? "") ?? (string?)r.Attribute("testName") ?? "";
            yield return Case(name, (string?)r.Attribute("outcome"));
        }
    }

    private static IEnumerable<TestOutcome> ReadJson(string file)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(file));
            if (!doc.RootElement.TryGetProperty("tests", out var tests) || tests.ValueKind != JsonValueKind.Array)
                throw new EvidenceException($"{file}: test results in JSON need a \"tests\" array of {{\"name\", \"outcome\"}}.");
            return tests.EnumerateArray().Select(t => Case(t.GetProperty("name").GetString() ?? "", t.GetProperty("outcome").GetString())).ToList();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new EvidenceException($"{file}: not valid test results JSON ({e.Message}).");
        }
    }

    private static TestOutcome Case(string name, string? outcome) => outcome?.ToLowerInvariant() switch
    {
        "passed" => new(name, 1, 0, 0),
        "failed" or "error" or "timeout" or "aborted" => new(name, 0, 1, 0),
        _ => new(name, 0, 0, 1),
    };
}
