using System.Text.Json;
using System.Text.Json.Serialization;
using Stadig.Common;

namespace Stadig.Regulatory;

public sealed record HazardControl(string Control, string Status, IReadOnlyList<string> Tests)
{
    public bool IsOpen => Status == "open";
}

public sealed record Hazard(
    string Id, string Title, string Failure, string Harm, string Cause, string Severity, IReadOnlyList<HazardControl> Controls);

/// <summary>docs/regulatory/hazards.json: hazard → cause → controls → verifying tests (by full test name).</summary>
public sealed record HazardLog(IReadOnlyList<Hazard> Hazards)
{
    public const string FileName = "hazards.json";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    };

    public static HazardLog Read(string path)
    {
        if (!File.Exists(path)) throw new EvidenceException($"The hazard log {path} does not exist.");
        HazardLog? log;
        try { log = JsonSerializer.Deserialize<HazardLog>(File.ReadAllText(path), Json); }
        catch (JsonException e) { throw new EvidenceException($"The hazard log {path} is not valid JSON: {e.Message}"); }
        if (log?.Hazards is not { Count: > 0 }) throw new EvidenceException($"The hazard log {path} lists no hazards.");
        foreach (var h in log.Hazards)
        {
            if (string.IsNullOrWhiteSpace(h.Id) || string.IsNullOrWhiteSpace(h.Title) || h.Controls is not { Count: > 0 })
                throw new EvidenceException($"The hazard log {path}: hazard '{h.Id}' needs an id, a title and at least one control.");
            foreach (var c in h.Controls)
                if (c.Status is not ("built" or "open"))
                    throw new EvidenceException($"The hazard log {path}: hazard {h.Id} has a control with status '{c.Status}' (built or open).");
        }
        var duplicate = log.Hazards.GroupBy(h => h.Id).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new EvidenceException($"The hazard log {path} lists {duplicate.Key} twice.");
        return log;
    }
}
