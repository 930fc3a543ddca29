using System.Globalization;
using System.Text;
using System.Text.Json;
using Stadig.Regulatory;

namespace Stadig.Tests.Reliability.Fuzz;

/// <summary>One engine's fuzz run: inputs by target, and each distinct failure with up to three of its inputs.</summary>
public sealed record FuzzReport(string Engine, int Seed, long Inputs, SortedDictionary<string, long> ByTarget, IReadOnlyList<FuzzFailure> Failures,
    int FailingInputs, double Seconds, SortedDictionary<string, double> SecondsByTarget)
{
    public bool Passed => FailingInputs == 0;

    public IEnumerable<IGrouping<string, FuzzFailure>> Distinct => Failures.GroupBy(f => f.Signature);

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public string ToJson() => JsonSerializer.Serialize(new
    {
        kind = "fuzz", Engine, Seed, Inputs, ByTarget, SecondsByTarget, FailingInputs, Passed,
        Responses500 = Failures.Count(f => f.Signature.Contains(" answered 5", StringComparison.Ordinal)),
        Hangs = Failures.Count(f => f.Signature.EndsWith(": hang", StringComparison.Ordinal)),
        Failures = Distinct.Select(g => new { signature = g.Key, first = g.First().Input[..Math.Min(2000, g.First().Input.Length)], detail = g.First().Detail[..Math.Min(3000, g.First().Detail.Length)] }),
        Seconds = Math.Round(Seconds, 1), ranAt = DateTimeOffset.UtcNow, ReleaseInfo.Current.Version, ReleaseInfo.Current.Commit,
    }, Json);

    public string ToText()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"Fuzzing on {Engine} (seed {Seed}): {Inputs} inputs in {Seconds:0} s ({string.Join(", ", ByTarget.Select(t => $"{t.Key} {t.Value} in {SecondsByTarget.GetValueOrDefault(t.Key):0.0} s"))})\n");
        text.Append(CultureInfo.InvariantCulture, $"Failing inputs: {FailingInputs} ({Distinct.Count()} distinct failures)\n");
        foreach (var group in Distinct.Take(30))
        {
            var first = group.First();
            text.Append("  ").Append(group.Key).Append('\n');
            text.Append("    input: ").Append(Printable(first.Input, 300)).Append('\n');
            text.Append("    ").Append(Printable(first.Detail, 600)).Append('\n');
        }
        text.Append(Passed ? "PASSED\n" : "FAILED\n");
        return text.ToString();
    }

    private static string Printable(string text, int max)
    {
        var cut = text.Length > max ? text[..max] + "…" : text;
        return new string(cut.Select(c => char.IsControl(c) || char.IsSurrogate(c) ? '·' : c).ToArray());
    }

    public async Task WriteAsync(string folder)
    {
        Directory.CreateDirectory(folder);
        var name = $"fuzz-{Engine.ToLowerInvariant()}";
        await File.WriteAllTextAsync(Path.Combine(folder, name + ".json"), ToJson());
        await File.WriteAllTextAsync(Path.Combine(folder, name + ".txt"), ToText());
        FuzzRunner.SaveCorpus(Failures, Path.Combine(folder, "corpus"));
    }
}
