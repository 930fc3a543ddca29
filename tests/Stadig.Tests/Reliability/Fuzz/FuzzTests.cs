using Stadig.Storage;

namespace Stadig.Tests.Reliability.Fuzz;

/// <summary>
/// The fuzz runner's short form (issue 20, item 4): 10,000 generated inputs per engine (20,000 in
/// all) over HL7 v2, FHIR JSON and bundles, searches, form posts and query strings: no exception but
/// a target's own refusal, no answer ≥ 500, no hang. bench/fuzz.sh runs the full count
/// (STADIG_FUZZ_INPUTS, STADIG_FUZZ_SEED, STADIG_FUZZ_REPORT for the report folder and its corpus).
/// Every failing input found is kept in Corpus/ and replayed by the test below.
/// </summary>
public class FuzzTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    public static string CorpusFolder { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "Stadig.Tests", "Reliability", "Fuzz");
            if (Directory.Exists(candidate)) return Path.Combine(candidate, "Corpus");
        }
        throw new DirectoryNotFoundException("tests/Stadig.Tests/Reliability/Fuzz not found above " + AppContext.BaseDirectory);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Generated_inputs_get_no_exception_no_answer_over_499_and_no_hang(DatabaseEngine engine)
    {
        var inputs = int.TryParse(Environment.GetEnvironmentVariable("STADIG_FUZZ_INPUTS"), out var n) ? n : 25_000;
        var seed = int.TryParse(Environment.GetEnvironmentVariable("STADIG_FUZZ_SEED"), out var s) ? s : engine == DatabaseEngine.Sqlite ? 1205 : 1206;
        await using var world = await FuzzWorld.StartAsync(engine);
        var report = await new FuzzRunner(new FuzzOptions(engine, inputs, seed, Deadline), world).RunAsync(TestContext.Current.CancellationToken);
        var asked = Environment.GetEnvironmentVariable("STADIG_FUZZ_REPORT");
        var folder = asked is { Length: > 0 } ? asked : Path.Combine(Path.GetTempPath(), $"stadig-fuzz-{Guid.NewGuid():N}");
        if (!report.Passed || folder == asked) await report.WriteAsync(folder);
        TestContext.Current.TestOutputHelper?.WriteLine(report.ToText());

        Assert.True(report.Passed, $"{report.ToText()}\nThe failing inputs are in {Path.Combine(folder, "corpus")}: copy them into {CorpusFolder} with the fix.");
        Assert.Equal((long)inputs, report.Inputs);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Every_input_in_the_corpus_is_answered_as_its_target_allows(DatabaseEngine engine)
    {
        var corpus = FuzzRunner.ReadCorpus(CorpusFolder).ToList();
        Assert.NotEmpty(corpus);
        await using var world = await FuzzWorld.StartAsync(engine);
        var runner = new FuzzRunner(new FuzzOptions(engine, 0, 1, Deadline), world);
        var failures = new List<string>();
        foreach (var (target, file, input) in corpus)
        {
            if (await runner.CheckAsync(target, input, TestContext.Current.CancellationToken) is { } failure)
                failures.Add($"{Path.GetRelativePath(CorpusFolder, file)}: {failure.Signature}\n{failure.Detail}");
        }
        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
    }
}
