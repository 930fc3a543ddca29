using System.Text.Json;
using Stadig.Regulatory;

namespace Stadig.Tests.Readiness;

public class RegulatoryFileTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 5, 8, 0, 0, TimeSpan.Zero);

    private static RegulatoryFile Build(TestRun run, SoupList? soup = null) =>
        RegulatoryFile.Build("intended use", Evidence.Hazards, soup ?? Evidence.Soup(("Dapper", "SQL")), run, Evidence.Release, Now);

    [Fact]
    [Hazard("H-08")]
    public void The_file_fails_when_a_hazards_test_failed_or_did_not_run_and_names_the_hazard()
    {
        Assert.True(Build(Evidence.AllHazardTests()).Complete);

        var identity = Evidence.Hazards.Hazards.Single(h => h.Id == "H-01").Controls[0].Tests[0];
        var failed = Build(Evidence.AllHazardTests(except: new Dictionary<string, string> { [identity] = "Failed" }));
        Assert.False(failed.Complete);
        Assert.Contains(failed.Problems, p => p.StartsWith("H-01") && p.Contains(identity) && p.EndsWith("failed."));
        Assert.Equal("not verified", failed.Hazards.Single(h => h.Id == "H-01").Verdict);

        var notRun = Build(new TestRun([], ["empty.json"]));
        Assert.Equal(Evidence.Hazards.Hazards.Count, notRun.Problems.Select(p => p[..4]).Distinct().Count());
        Assert.Contains(notRun.Problems, p => p.Contains("not run"));
    }

    [Fact]
    [Hazard("H-08")]
    public void A_failed_test_that_names_no_hazard_still_leaves_the_file_incomplete()
    {
        var hazardTests = Evidence.AllHazardTests();
        var run = new TestRun(Evidence.Hazards.Hazards.SelectMany(h => h.Controls).SelectMany(c => c.Tests).Distinct()
            .Select(t => new TestOutcome(t, 1, 0, 0)).Append(new TestOutcome("Stadig.Tests.Other.Something_unrelated", 0, 1, 0)), ["test.json"]);
        Assert.True(Build(hazardTests).Complete);

        var file = Build(run);
        Assert.False(file.Complete);
        Assert.Contains("1 test case(s) of this release's run failed.", file.Problems);
        Assert.All(file.Hazards, h => Assert.StartsWith("verified", h.Verdict));
    }

    [Fact]
    [Hazard("H-08")]
    public void The_file_is_written_as_markdown_html_and_json_with_every_hazard_and_its_test_status()
    {
        var trx = Path.Combine(Evidence.Temp(), "run.trx");
        var test = Evidence.Hazards.Hazards[0].Controls[0].Tests[0];
        var dot = test.LastIndexOf('.');
        File.WriteAllText(trx, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <TestRun xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">
              <Results>
                <UnitTestResult testId="a" testName="{test}(engine: Sqlite)" outcome="Passed" />
                <UnitTestResult testId="a" testName="{test}(engine: Postgres)" outcome="Failed" />
              </Results>
              <TestDefinitions>
                <UnitTest name="{test}" id="a"><TestMethod className="{test[..dot]}" name="{test[(dot + 1)..]}" /></UnitTest>
              </TestDefinitions>
            </TestRun>
            """);
        var run = TestRun.Read(trx);
        Assert.Equal(new TestOutcome(test, 1, 1, 0), run.Outcome(test));

        var file = Build(run, Evidence.Soup(("Dapper", "SQL"), ("Npgsql", null)));
        var folder = file.Write(Evidence.Temp());
        Assert.EndsWith("1.4.0-0123456789ab", folder);
        var markdown = File.ReadAllText(Path.Combine(folder, "regulatory-file.md"));
        var html = File.ReadAllText(Path.Combine(folder, "regulatory-file.html"));
        foreach (var h in Evidence.Hazards.Hazards)
        {
            Assert.Contains(h.Id, markdown);
            Assert.Contains(h.Id, html);
        }
        Assert.Contains("INCOMPLETE", markdown);
        Assert.Contains("| Npgsql | 1.0.0 | yes | MIT | MISSING |", markdown);
        Assert.Equal("intended use", File.ReadAllText(Path.Combine(folder, RegulatoryFile.IntendedUseFileName)));

        var json = RegulatoryFile.ReadJson(folder);
        Assert.Equal(file.Problems, json.Problems);
        Assert.Equal("failed", json.Hazards[0].Controls[0].Tests[0].Status);
        Assert.Equal(file.OpenControls, json.OpenControls);
        Assert.Equal("0123456789abcdef0123456789abcdef01234567", json.Commit);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, RegulatoryFile.JsonFileName)));
        Assert.False(doc.RootElement.GetProperty("complete").GetBoolean());
    }
}
