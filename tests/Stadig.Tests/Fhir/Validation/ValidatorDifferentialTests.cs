using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Stadig.Fhir;
using Stadig.Fhir.Profiles;
using Stadig.Fhir.Validation;

namespace Stadig.Tests.Fhir.Validation;

/// <summary>
/// Stadig's own validator against the reference library's (Firely), as a second opinion, over every
/// official R4 example (the whole npm package hl7.fhir.r4.examples, <see cref="OfficialExamplesPackage"/>)
/// and the HL7 Sweden examples (Fhir/Hl7SwedenExamples, validated against the profiles they claim):
/// both must call each resource valid or both invalid. Every difference has a cause listed in
/// ValidatorDifferences.md with the number of examples it explains; a difference no cause explains,
/// a listed file that no longer differs, or a cause whose count changed fails the test.
/// </summary>
public partial class ValidatorDifferentialTests
{
    public static string SwedenFolder { get; } = Path.Combine(AppContext.BaseDirectory, "Fhir", "Hl7SwedenExamples");

    private static readonly string DifferencesFile = Path.Combine(AppContext.BaseDirectory, "Fhir", "Validation", "ValidatorDifferences.md");

    [GeneratedRegex(@"^- `(?<file>[^`]+)`: .*reason (?<cause>[A-Z])$", RegexOptions.Multiline)]
    private static partial Regex ListedFile();

    [GeneratedRegex(@"^\| (?<cause>[A-Z]) \| (?<count>\d+) \|", RegexOptions.Multiline)]
    private static partial Regex CauseCount();

    private static bool IsError(FhirIssue issue) => issue.Severity is "error" or "fatal";

    private static string Describe(IEnumerable<FhirIssue> issues) =>
        string.Join("; ", issues.Where(IsError).Take(3).Select(i => $"{i.Expression}: {i.Diagnostics}"));

    /// <summary>
    /// The cause of a difference that a rule recognises (the causes of single examples are listed by
    /// file instead); null when no rule does.
    /// </summary>
    private static string? CauseOf(bool stadigValid, IReadOnlyList<FhirIssue> reference)
    {
        var errors = reference.Where(IsError).ToList();
        if (!stadigValid || errors.Count == 0) return null;
        if (errors.All(e => e.Diagnostics.Contains("ref-1", StringComparison.Ordinal))) return "A";
        if (errors.All(e => e.Diagnostics.Contains("bdl-15", StringComparison.Ordinal))) return "B";
        return null;
    }

    /// <summary>Stadig refuses the resource for its type (or a contained or entry type) alone, before any of its content is judged.</summary>
    private static bool RefusedByTypeOnly(IReadOnlyList<FhirIssue> stadig) =>
        stadig.Any(IsError) && stadig.Where(IsError).All(i => i.Code == "not-supported" && i.Diagnostics.StartsWith("Resource type '", StringComparison.Ordinal));

    [Fact]
    public void Stadig_and_the_reference_validator_agree_on_every_official_R4_and_HL7_Sweden_example_or_the_cause_is_listed()
    {
        var text = File.ReadAllText(DifferencesFile);
        var listedFiles = ListedFile().Matches(text).ToDictionary(m => m.Groups["file"].Value, m => m.Groups["cause"].Value);
        var listedCounts = CauseCount().Matches(text).ToDictionary(m => m.Groups["cause"].Value, m => int.Parse(m.Groups["count"].Value));
        var examples = OfficialExamplesPackage.Files
            .Concat(Directory.EnumerateFiles(SwedenFolder, "*.json").Select(f => (Name: Path.GetFileName(f), Json: File.ReadAllText(f))))
            .ToList();
        Assert.True(examples.Count > 5300, "the official package has 5,306 examples and Fhir/Hl7SwedenExamples 12; see OfficialExamplesPackage.");

        var unexplained = new ConcurrentBag<string>();
        var causes = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        // The reference validator compiles each type's schemas once for the process; the examples share it.
        Parallel.ForEach(examples, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, example =>
        {
            var resource = JsonNode.Parse(example.Json)!.AsObject();
            var stadig = FhirValidator.Validate(resource);
            // Cause U: a type Stadig does not keep (ValueSet, SearchParameter, StructureDefinition …, or a Bundle of them) is
            // refused for its type, whatever it holds; the reference's opinion of its content cannot change that.
            if (RefusedByTypeOnly(stadig))
            {
                causes[example.Name] = "U";
                return;
            }
            var reference = FhirProfileValidator.Validate(resource);
            var stadigValid = !stadig.Any(IsError);
            var referenceValid = !reference.Any(IsError);
            if (stadigValid == referenceValid) return;
            var cause = listedFiles.GetValueOrDefault(example.Name) ?? CauseOf(stadigValid, reference);
            if (cause is not null) { causes[example.Name] = cause; return; }
            unexplained.Add($"{example.Name}: Stadig says {(stadigValid ? "valid" : "invalid (" + Describe(stadig) + ")")}, "
                + $"the reference validator {(referenceValid ? "valid" : "invalid (" + Describe(reference) + ")")}");
        });

        var problems = unexplained.Order(StringComparer.Ordinal).ToList();
        problems.AddRange(listedFiles.Keys.Where(f => !causes.ContainsKey(f)).Order(StringComparer.Ordinal)
            .Select(f => $"{f} is listed in ValidatorDifferences.md but the validators now agree on it"));
        var counted = causes.Values.GroupBy(c => c).ToDictionary(g => g.Key, g => g.Count());
        foreach (var cause in counted.Keys.Union(listedCounts.Keys).Order(StringComparer.Ordinal))
        {
            if (counted.GetValueOrDefault(cause) != listedCounts.GetValueOrDefault(cause))
                problems.Add($"cause {cause} explains {counted.GetValueOrDefault(cause)} examples, ValidatorDifferences.md says {listedCounts.GetValueOrDefault(cause)}");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }
}
