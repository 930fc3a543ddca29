using System.Text.Json.Nodes;
using CsCheck;
using Stadig.Fhir.Validation;

namespace Stadig.Tests.Fhir.Validation;

/// <summary>Whatever JSON object comes in, the validator answers with issues and never throws.</summary>
public class FhirValidatorRobustnessTests
{
    private static readonly string[] ExampleTexts = Directory.EnumerateFiles(OfficialExamplesTests.ExamplesFolder, "*.json")
        .Order(StringComparer.Ordinal).Select(File.ReadAllText).ToArray();

    private static readonly JsonNode?[] Replacements =
    [
        null, "", " x ", "2024-13-45", "Patient/1", 0, -1, 1.5, 3_000_000_000L, true,
        new JsonArray(), new JsonArray(1, "a", null), new JsonObject(), new JsonObject { ["resourceType"] = "Patient", ["x"] = 1 },
    ];

    [Fact]
    public void Resources_built_in_code_are_read_by_their_JSON_values()
    {
        var patient = new JsonObject
        {
            ["resourceType"] = "Patient",
            ["active"] = true,
            ["multipleBirthInteger"] = 2,
            ["birthDate"] = "1970-03-01",
            ["name"] = new JsonArray(new JsonObject { ["given"] = new JsonArray("Anna") }),
            ["deceasedDateTime"] = new DateTimeOffset(2024, 5, 1, 13, 30, 0, TimeSpan.FromHours(2)),
        };
        Assert.Empty(FhirValidator.Validate(patient));
    }

    [Fact]
    public void Mutated_official_examples_never_throw()
    {
        Gen.Select(Gen.Int[0, ExampleTexts.Length - 1], Gen.Int[0, int.MaxValue].Array[1, 4], Gen.Int[0, Replacements.Length + 1].Array[4])
            .Sample((example, positions, mutations) =>
            {
                var resource = JsonNode.Parse(ExampleTexts[example])!.AsObject();
                for (var i = 0; i < positions.Length; i++) Mutate(resource, positions[i], mutations[i]);
                _ = FhirValidator.Validate(resource);
            }, iter: 1_000);
    }

    private static void Mutate(JsonObject root, int position, int mutation)
    {
        var slots = new List<(JsonNode Parent, string? Key, int Index)>();
        Collect(root, slots);
        if (slots.Count == 0) return;
        var (parent, key, index) = slots[position % slots.Count];
        var replacement = mutation < Replacements.Length ? Replacements[mutation]?.DeepClone() : null;
        if (parent is JsonObject obj)
        {
            if (mutation == Replacements.Length) obj.Remove(key!);
            else if (mutation == Replacements.Length + 1) { var value = obj[key!]; obj.Remove(key!); obj["_" + key] = value; }
            else obj[key!] = replacement;
        }
        else if (parent is JsonArray array)
        {
            if (mutation >= Replacements.Length) array.RemoveAt(index);
            else array[index] = replacement;
        }
    }

    private static void Collect(JsonNode? node, List<(JsonNode, string?, int)> slots)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj) { slots.Add((obj, key, -1)); Collect(value, slots); }
                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++) { slots.Add((array, null, i)); Collect(array[i], slots); }
                break;
        }
    }
}
