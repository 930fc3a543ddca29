using System.Text.Json;
using System.Text.Json.Serialization;
using Stadig.Regulatory;

namespace Stadig.Readiness;

/// <summary>A downtime drill, failover run or crash-point run (docs/readiness.md, "Reliability evidence").</summary>
public sealed record DrillReport(
    string Kind, DateTimeOffset RanAt, string? Version, string? Commit, bool Passed, int Lost, string? Summary,
    IReadOnlyList<DrillCheck>? Checks);

public sealed record DrillCheck(string Name, bool Passed, string? Detail);

/// <summary>The training report (docs/readiness.md, "Training evidence").</summary>
public sealed record TrainingReport(DateTimeOffset GeneratedAt, IReadOnlyList<TrainingUnit> Units);

public sealed record TrainingUnit(string Unit, string? UnitName, IReadOnlyList<TrainingRole> Roles);

/// <summary>Of <see cref="Required"/> people in the role at the unit, <see cref="Completed"/> finished every required exercise.</summary>
public sealed record TrainingRole(string Role, int Required, int Completed, double? Rate);

/// <summary>
/// training.json as the gate reads it: the training installation's own report (`stadig training-report
/// --format json`, <see cref="Training.TrainingReportResult.Format"/>), where a role's people are the
/// required and its ready people the completed, or a region's own export in the shape of <see cref="TrainingReport"/>.
/// </summary>
public static class TrainingEvidence
{
    public static TrainingReport? Read(string? path)
    {
        if (path is null || !File.Exists(path)) return null;
        JsonElement root;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            root = doc.RootElement.Clone();
        }
        catch (JsonException e) { throw new EvidenceException($"{path} is not valid evidence: {e.Message}"); }
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("format", out var format)) return EvidenceFiles.Read<TrainingReport>(path);
        if (format.ValueKind != JsonValueKind.String || format.GetString() != Training.TrainingReportResult.Format)
            throw new EvidenceException($"{path} is a training report of format '{format}', which the gate does not read (it reads {Training.TrainingReportResult.Format}).");
        try
        {
            var units = root.GetProperty("units").EnumerateArray().Select(u => new TrainingUnit(
                u.GetProperty("hsaId").GetString()!, u.GetProperty("name").GetString(),
                u.GetProperty("roles").EnumerateArray().Select(r => new TrainingRole(
                    r.GetProperty("role").GetString()!, r.GetProperty("people").GetInt32(), r.GetProperty("ready").GetInt32(), null)).ToList())).ToList();
            return new TrainingReport(root.GetProperty("generatedAt").GetDateTimeOffset(), units);
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new EvidenceException($"{path} is not a complete {Training.TrainingReportResult.Format} report: {e.Message}");
        }
    }
}

/// <summary>The incident register's export (docs/readiness.md, "Incidents").</summary>
public sealed record IncidentReport(DateTimeOffset GeneratedAt, IReadOnlyList<Incident> Incidents);

public sealed record Incident(string Id, string Title, string Severity, string Status, DateTimeOffset? OpenedAt);

/// <summary>The evidence files a region keeps in its evidence folder, by name.</summary>
public static class EvidenceFiles
{
    public const string DowntimeDrill = "downtime-drill.json";
    public const string Failover = "failover.json";
    public const string CrashPoints = "crash-points.json";
    public const string Training = "training.json";
    public const string Incidents = "incidents.json";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>The file parsed, null when it does not exist; a file that is not the expected JSON is an error naming it.</summary>
    public static T? Read<T>(string? path) where T : class
    {
        if (path is null || !File.Exists(path)) return null;
        try { return JsonSerializer.Deserialize<T>(File.ReadAllText(path), Json) ?? throw new EvidenceException($"{path} is empty."); }
        catch (JsonException e) { throw new EvidenceException($"{path} is not valid evidence: {e.Message}"); }
    }
}
