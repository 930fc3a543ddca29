using Xunit.v3;

namespace Stadig.Tests.Infrastructure;

/// <summary>
/// Names the hazard of docs/regulatory/hazards.json whose control this test verifies. The regulatory
/// file reads the hazard log and the run's results; HazardLogTests keeps the log and these attributes in step.
/// Also a trait, so `--filter Hazard=H-01` runs one hazard's tests.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class HazardAttribute(string id) : Attribute, ITraitAttribute
{
    public string Id { get; } = id;

    public IReadOnlyCollection<KeyValuePair<string, string>> GetTraits() => [new("Hazard", Id)];
}
