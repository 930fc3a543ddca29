using System.Text.Json.Nodes;
using Stadig.Fhir.Validation;

namespace Stadig.Tests.Fhir.Validation;

/// <summary>The official R4 examples of the supported types (Fhir/Examples, see its README) pass the validator.</summary>
public class OfficialExamplesTests
{
    public static string ExamplesFolder { get; } = Path.Combine(AppContext.BaseDirectory, "Fhir", "Examples");

    /// <summary>
    /// Examples the R4 definitions themselves reject, with the element at fault: the validator is right
    /// to report them.
    /// </summary>
    private static readonly Dictionary<string, string> KnownInvalid = new(StringComparer.Ordinal)
    {
        // Observation.performer may refer to Practitioner, PractitionerRole, Organization, CareTeam, Patient or RelatedPerson, not Encounter.
        ["Observation-clinical-gender.json"] = "Observation.performer[0].reference",
        // MedicationRequest.dispenseRequest.performer may only refer to an Organization.
        ["MedicationRequest-medrx0301.json"] = "MedicationRequest.dispenseRequest.performer.reference",
    };

    public static TheoryData<string> Examples()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.EnumerateFiles(ExamplesFolder, "*.json").Order(StringComparer.Ordinal))
            data.Add(Path.GetFileName(file));
        return data;
    }

    [Fact]
    public void The_examples_are_there()
    {
        Assert.True(Examples().Count > 300, "Fhir/Examples should hold the official examples; see its README.");
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public void Official_example_is_valid(string fileName)
    {
        var resource = JsonNode.Parse(File.ReadAllText(Path.Combine(ExamplesFolder, fileName)))!.AsObject();
        var issues = FhirValidator.Validate(resource);
        if (KnownInvalid.TryGetValue(fileName, out var expression))
        {
            var issue = Assert.Single(issues);
            Assert.Equal(expression, issue.Expression);
            return;
        }
        Assert.True(issues.Count == 0, string.Join("\n", issues.Select(i => $"{i.Code} at {i.Expression}: {i.Diagnostics}")));
    }
}
