using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Stadig.Regulatory;

namespace Stadig.Tests.Reliability;

/// <summary>One engine's crash-point run: kill points, acknowledged writes by kind, and what the checks found.</summary>
public sealed record CrashReport(
    string Engine, int Seed, int ServerKills, int PostgresKills, SortedDictionary<string, long> Acknowledged, long AcknowledgedTotal,
    int Lost, int Partial, int DeepChecks, IReadOnlyList<string> Findings, IReadOnlyList<string> Errors, double Seconds)
{
    public int KillPoints => ServerKills + PostgresKills;

    public bool Passed => Lost == 0 && Partial == 0 && Findings.Count == 0;

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public string ToJson() => JsonSerializer.Serialize(new
    {
        kind = "crash-points", Engine, Seed, KillPoints, ServerKills, PostgresKills, Acknowledged, AcknowledgedTotal, Lost, Partial, DeepChecks, Passed,
        Findings = Findings.Take(200), Errors = Errors.Take(200), ErrorCount = Errors.Count, Seconds = Math.Round(Seconds, 1),
        ranAt = DateTimeOffset.UtcNow, ReleaseInfo.Current.Version, ReleaseInfo.Current.Commit,
    }, Json);

    public string ToText()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"Crash points on {Engine} (seed {Seed}): {KillPoints} kill points ({ServerKills} of the server, {PostgresKills} of PostgreSQL) in {Seconds:0} s\n");
        text.Append(CultureInfo.InvariantCulture, $"Writes acknowledged: {AcknowledgedTotal} ({string.Join(", ", Acknowledged.Select(a => $"{a.Key} {a.Value}"))})\n");
        text.Append(CultureInfo.InvariantCulture, $"Lost: {Lost}. Partial records: {Partial}. Whole-database checks (signed-note hashes, results and messages, audit chains): {DeepChecks}.\n");
        text.Append(CultureInfo.InvariantCulture, $"Errors while the server was up (answers other than success): {Errors.Count}\n");
        foreach (var finding in Findings.Take(50)) text.Append("  finding: ").Append(finding).Append('\n');
        foreach (var error in Errors.Take(20)) text.Append("  error: ").Append(error).Append('\n');
        text.Append(Passed ? "PASSED\n" : "FAILED\n");
        return text.ToString();
    }

    /// <summary>
    /// crash-{engine}.json and .txt in <paramref name="folder"/>, and crash-points.json over every
    /// engine's report there: the readiness gate's reliability evidence (docs/readiness.md).
    /// </summary>
    public async Task WriteAsync(string folder)
    {
        Directory.CreateDirectory(folder);
        var name = $"crash-{Engine.ToLowerInvariant()}";
        await File.WriteAllTextAsync(Path.Combine(folder, name + ".json"), ToJson());
        await File.WriteAllTextAsync(Path.Combine(folder, name + ".txt"), ToText());

        var reports = Directory.EnumerateFiles(folder, "crash-*.json").Where(f => !f.EndsWith("crash-points.json", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).Select(f => JsonNode.Parse(File.ReadAllText(f))!.AsObject()).ToList();
        var checks = new JsonArray();
        foreach (var r in reports)
        {
            var engine = r["engine"]!.GetValue<string>();
            checks.Add(new JsonObject
            {
                ["name"] = $"{engine}: every acknowledged write present and intact",
                ["passed"] = r["lost"]!.GetValue<int>() == 0,
                ["detail"] = $"{r["acknowledgedTotal"]} writes acknowledged over {r["killPoints"]} kill points, {r["lost"]} lost",
            });
            checks.Add(new JsonObject
            {
                ["name"] = $"{engine}: no partial record, audit chains intact",
                ["passed"] = r["partial"]!.GetValue<int>() == 0,
                ["detail"] = $"{r["partial"]} findings, {r["deepChecks"]} whole-database checks",
            });
        }
        var lost = reports.Sum(r => r["lost"]!.GetValue<int>());
        var evidence = new JsonObject
        {
            ["kind"] = "crash-points",
            ["ranAt"] = DateTimeOffset.UtcNow.ToString("o", CultureInfo.InvariantCulture),
            ["version"] = ReleaseInfo.Current.Version,
            ["commit"] = ReleaseInfo.Current.Commit,
            ["passed"] = reports.Count > 0 && reports.All(r => r["passed"]!.GetValue<bool>()),
            ["lost"] = lost,
            ["summary"] = string.Join("; ", reports.Select(r => $"{r["engine"]}: {r["killPoints"]} kill points ({r["serverKills"]} server, {r["postgresKills"]} PostgreSQL), {r["acknowledgedTotal"]} writes acknowledged, {r["lost"]} lost")),
            ["checks"] = checks,
        };
        await File.WriteAllTextAsync(Path.Combine(folder, "crash-points.json"), evidence.ToJsonString(Json));
    }
}
