using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Stadig.Fhir;
using Stadig.Fhir.Profiles;
using Stadig.Fhir.Validation;

namespace Stadig.Tests.Fhir.Validation;

/// <summary>
/// Stadig's own validator against the reference library's (Firely), as a second opinion, over every
/// official R4 example of the types Stadig keeps (Fhir/Examples) and the HL7 Sweden examples
/// (Fhir/Hl7SwedenExamples, validated against the profiles they claim): both must call each resource
/// valid or both invalid. Where they differ on purpose, ValidatorDifferences.md lists the file and
/// why; a difference not listed there, or one listed that no longer is, fails the test.
/// </summary>
public partial class ValidatorDifferentialTests
{
    public static string SwedenFolder { get; } = Path.Combine(AppContext.BaseDirectory, "Fhir", "Hl7SwedenExamples");

    private static readonly string DifferencesFile = Path.Combine(AppContext.BaseDirectory, "Fhir", "Validation", "ValidatorDifferences.md");

    [GeneratedRegex(@"^- `(?<file>[^`]+)`: (?<reason>\S.*)$", RegexOptions.Multiline)]
    private static partial Regex ListedDifference();

    private static bool IsError(FhirIssue issue) => issue.Severity is "error" or "fatal";

    private static string Describe(IEnumerable<FhirIssue> issues) =>
        string.Join("; ", issues.Where(IsError).Take(3).Select(i => $"{i.Expression}: {i.Diagnostics}"));

    [Fact]
    public void Stadig_and_the_reference_validator_agree_on_every_example_or_the_difference_is_listed()
    {
        var listed = ListedDifference().Matches(File.ReadAllText(DifferencesFile)).ToDictionary(m => m.Groups["file"].Value, m => m.Groups["reason"].Value);
        var files = Directory.EnumerateFiles(OfficialExamplesTests.ExamplesFolder, "*.json")
            .Concat(Directory.EnumerateFiles(SwedenFolder, "*.json")).Order(StringComparer.Ordinal).ToList();
        Assert.True(files.Count > 340, "Fhir/Examples and Fhir/Hl7SwedenExamples should hold the examples; see their READMEs.");

        var unexplained = new System.Collections.Concurrent.ConcurrentBag<string>();
        var differing = new System.Collections.Concurrent.ConcurrentDictionary<string, bool>(StringComparer.Ordinal);
        // The reference validator compiles each type's schemas once for the whole process; the examples then share it.
        Parallel.ForEach(files, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, file =>
        {
            var name = Path.GetFileName(file);
            var resource = JsonNode.Parse(File.ReadAllText(file))!.AsObject();
            var stadig = FhirValidator.Validate(resource);
            var reference = FhirProfileValidator.Validate(resource);
            var stadigValid = !stadig.Any(IsError);
            var referenceValid = !reference.Any(IsError);
            if (stadigValid == referenceValid) return;
            differing[name] = true;
            if (!listed.ContainsKey(name))
                unexplained.Add($"{name}: Stadig says {(stadigValid ? "valid" : "invalid (" + Describe(stadig) + ")")}, "
                    + $"the reference validator {(referenceValid ? "valid" : "invalid (" + Describe(reference) + ")")}");
        });
        var stale = listed.Keys.Where(f => !differing.ContainsKey(f)).Select(f => $"{f} is listed in ValidatorDifferences.md but the validators now agree on it").ToList();
        Assert.True(unexplained.IsEmpty && stale.Count == 0, string.Join("\n", unexplained.Order(StringComparer.Ordinal).Concat(stale)));
    }
}
