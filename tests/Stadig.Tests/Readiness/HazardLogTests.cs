using System.Reflection;
using Stadig.Regulatory;

namespace Stadig.Tests.Readiness;

public class HazardLogTests
{
    /// <summary>Test methods by full name (Namespace.Class.Method) with the hazards their [Hazard] attributes name.</summary>
    private static Dictionary<string, HashSet<string>> TaggedTests() =>
        typeof(HazardLogTests).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Select(m => (Name: $"{m.DeclaringType!.FullName}.{m.Name}", Hazards: m.GetCustomAttributes<HazardAttribute>().Select(a => a.Id).ToHashSet()))
            .Where(m => m.Hazards.Count > 0)
            .ToDictionary(m => m.Name, m => m.Hazards);

    [Fact]
    public void Every_test_the_hazard_log_names_exists_and_carries_the_hazard_attribute_and_every_attribute_is_in_the_log()
    {
        var log = Evidence.Hazards;
        var tagged = TaggedTests();
        var named = log.Hazards.SelectMany(h => h.Controls.SelectMany(c => c.Tests).Select(t => (Hazard: h.Id, Test: t))).ToList();
        var missing = named.Where(n => !tagged.TryGetValue(n.Test, out var ids) || !ids.Contains(n.Hazard)).ToList();
        Assert.True(missing.Count == 0, "Named in the hazard log without [Hazard] on an existing test:\n" + string.Join("\n", missing));
        var unlisted = tagged.SelectMany(t => t.Value.Select(h => (Hazard: h, Test: t.Key))).Where(t => !named.Contains(t)).ToList();
        Assert.True(unlisted.Count == 0, "[Hazard] on a test the hazard log does not name:\n" + string.Join("\n", unlisted));
    }

    [Fact]
    public void Every_failure_of_the_November_2024_go_live_is_a_hazard_with_a_built_control_and_tests()
    {
        var log = Evidence.Hazards;
        var text = string.Join("\n", log.Hazards.Select(h => h.Failure + " " + h.Title)).ToLowerInvariant();
        foreach (var failure in new[] { "lagged", "locked up", "vanished", "identity", "two patients", "unknown queue", "ce marking", "licence expired", "certificate", "not trained", "contingency", "assurances" })
            Assert.Contains(failure, text);
        Assert.All(log.Hazards, h => Assert.Contains(h.Controls, c => !c.IsOpen && c.Tests.Count > 0));
    }
}
