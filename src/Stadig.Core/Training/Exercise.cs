using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using Stadig.Organisation;

namespace Stadig.Training;

/// <summary>A text in Swedish and English; Swedish is the region's language and the fallback.</summary>
public sealed record TrainingText(string Sv, string En)
{
    public string In(string language) => language.StartsWith("en", StringComparison.OrdinalIgnoreCase) && En.Length > 0 ? En : Sv;
}

/// <summary>How an exercise patient is set up for each trainee (each gets their own copy).</summary>
public enum PatientSetup
{
    /// <summary>Registered with a care relation at the trainee's unit.</summary>
    AtTraineeUnit,
    /// <summary>Registered at another unit, with a note there: the trainee's unit has no care relation.</summary>
    AtOtherUnit,
    /// <summary>At the trainee's unit, with a critical potassium (HH) from the lab, not yet attested.</summary>
    WithCriticalResult,
    /// <summary>At the trainee's unit; a potassium for them arrives with the name misspelt and waits in quarantine.</summary>
    WithQuarantinedResult,
    /// <summary>At another unit; a colleague at a third unit records a care relation themselves and reads the chart: for the log auditor.</summary>
    ExplicitCareRelationByColleague,
    /// <summary>At another unit; a colleague at a third unit opens the record in emergency: for the log auditor.</summary>
    OpenedInEmergencyByColleague,
}

/// <param name="LabFamilyName">For a quarantined result: the family name as the lab (wrongly) sent it.</param>
/// <param name="Hypersensitivity">An agent the patient is recorded (by the exercise, before the start) as hypersensitive to, so the prescribing checks have something to warn about.</param>
public sealed record ExercisePatient(string Key, PatientSetup Setup, string FamilyName, string GivenNames, string Sex = "female", string? LabFamilyName = null,
    string? Hypersensitivity = null);

/// <summary>What the recorded events must show. Which fields matter depends on <see cref="Kind"/> (docs/training.md lists them).</summary>
public sealed record ExerciseCheck
{
    public CheckKind Kind { get; init; }
    /// <summary>The exercise patient the check is about (its key).</summary>
    public string? Patient { get; init; }
    /// <summary>An audit activity, or several separated by '|' (a log extract is read or printed).</summary>
    public string? Activity { get; init; }
    public string? Resource { get; init; }
    /// <summary>The event must carry a reason (emergency access, filing from quarantine).</summary>
    public bool RequireDetail { get; init; }
    /// <summary>The index of an earlier check whose event must come first (open before attest).</summary>
    public int? After { get; init; }
    public string? NoteType { get; init; }
    public string? Keyword { get; init; }
    /// <summary>A warning's category (WarningRecorded), or the audit flag of the reviewed event (EventReviewed).</summary>
    public string? Category { get; init; }
    /// <summary>The ATC code (or its start) of the product to prescribe (Prescribed).</summary>
    public string? Atc { get; init; }
    public TrainingText? Description { get; init; }
}

public enum CheckKind
{
    /// <summary>An allowed audit event of the trainee: activity and resource, on the patient when named.</summary>
    Audit,
    /// <summary>A note of the type, signed by the trainee for the patient, with the keyword written.</summary>
    NoteSigned,
    /// <summary>A warning of the category recorded by the trainee for the patient.</summary>
    WarningRecorded,
    /// <summary>A patient with a reservnummer merged by the trainee into the patient.</summary>
    ReservnummerMerged,
    /// <summary>The trainee's quarantined result filed by them to the patient.</summary>
    QuarantineFiled,
    /// <summary>The trainee marked reviewed an audit event of the patient that lacked a care relation.</summary>
    EventReviewed,
    /// <summary>An ordination of a product with the ATC code prescribed by the trainee for the patient, signed with no prescribing check gone past.</summary>
    Prescribed,
}

/// <summary>One exercise, read from a JSON file under Training/Exercises (versioned with the code).</summary>
public sealed record Exercise
{
    public string Id { get; init; } = "";
    /// <summary>The release that introduced or last changed the exercise ("practice what changed").</summary>
    public string Version { get; init; } = "";
    public Role Role { get; init; }
    /// <summary>False while the capability it trains is not in Stadig yet: shown, never required.</summary>
    public bool Available { get; init; } = true;
    public TrainingText Title { get; init; } = new("", "");
    public TrainingText Goal { get; init; } = new("", "");
    /// <summary>Where in Stadig to start (a path), shown as a link.</summary>
    public string? StartAt { get; init; }
    public IReadOnlyList<ExercisePatient> Patients { get; init; } = [];
    public IReadOnlyList<ExerciseCheck> Checks { get; init; } = [];
}

/// <summary>The exercises shipped in the assembly, checked when first read: a broken definition fails at start, not in front of a trainee.</summary>
public static class ExerciseCatalogue
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
        ReadCommentHandling = JsonCommentHandling.Skip,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    private static readonly Lazy<IReadOnlyList<Exercise>> Loaded = new(Load);

    public static IReadOnlyList<Exercise> All => Loaded.Value;

    public static Exercise? Find(string id) => All.FirstOrDefault(e => e.Id == id);

    public static IEnumerable<Exercise> Of(Role role) => All.Where(e => e.Role == role);

    /// <summary>The newest release any exercise carries: what "new" means when no release is set.</summary>
    public static string LatestVersion => All.Select(e => e.Version).OrderBy(v => v, VersionOrder.Instance).Last();

    public static Exercise Parse(string name, string json)
    {
        Exercise exercise;
        try
        {
            exercise = JsonSerializer.Deserialize<Exercise>(json, Json) ?? throw new InvalidOperationException($"{name}: empty.");
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException($"Exercise {name}: {e.Message}", e);
        }
        Validate(name, exercise);
        return exercise;
    }

    private static IReadOnlyList<Exercise> Load()
    {
        var assembly = typeof(ExerciseCatalogue).Assembly;
        const string prefix = "Stadig.Training.Exercises.";
        var list = new List<Exercise>();
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var reader = new StreamReader(assembly.GetManifestResourceStream(name)!);
            list.Add(Parse(name, reader.ReadToEnd()));
        }
        var duplicate = list.GroupBy(e => e.Id).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new InvalidOperationException($"Exercise id {duplicate.Key} is used twice.");
        return list;
    }

    private static void Validate(string name, Exercise e)
    {
        void Require(bool ok, string what)
        {
            if (!ok) throw new InvalidOperationException($"Exercise {name}: {what}");
        }
        Require(e.Id.Length > 0 && e.Id.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'), "id must be lower-case letters, digits and '-'.");
        Require(e.Version.Length > 0, "version is required.");
        Require(e.Title.Sv.Length > 0 && e.Title.En.Length > 0 && e.Goal.Sv.Length > 0 && e.Goal.En.Length > 0, "title and goal need Swedish and English.");
        Require(e.Checks.Count > 0, "an exercise needs at least one check.");
        var keys = e.Patients.Select(p => p.Key).ToHashSet();
        Require(keys.Count == e.Patients.Count, "patient keys must be unique.");
        for (var i = 0; i < e.Checks.Count; i++)
        {
            var c = e.Checks[i];
            Require(c.Patient is null || keys.Contains(c.Patient), $"check {i} names patient '{c.Patient}', which the exercise does not set up.");
            Require(c.After is null || (c.After >= 0 && c.After < i), $"check {i}: after must name an earlier check.");
            Require(c.Kind != CheckKind.Audit || (c.Activity is not null && c.Resource is not null), $"check {i}: an audit check needs activity and resource.");
            Require(c.Activity is null || c.Activity.Split('|').All(a => Enum.TryParse<Audit.AuditActivity>(a, out _)), $"check {i}: unknown activity '{c.Activity}'.");
            Require(c.Kind != CheckKind.EventReviewed || Enum.TryParse<Audit.AuditFlags>(c.Category, out _), $"check {i}: a review check needs the event's flag as category.");
            Require(c.Kind != CheckKind.WarningRecorded || Enum.TryParse<Warnings.WarningCategory>(c.Category, out _), $"check {i}: a warning check needs a warning category.");
            Require(c.Kind != CheckKind.Prescribed || c.Atc is { Length: > 0 }, $"check {i}: a prescribing check needs an atc code.");
            Require(c.Kind != CheckKind.NoteSigned || (c.NoteType is not null && c.Keyword is not null && c.Patient is not null), $"check {i}: a note check needs patient, noteType and keyword.");
            Require(c.Kind is CheckKind.Audit || c.Patient is not null, $"check {i}: needs a patient.");
        }
    }
}

/// <summary>Orders release numbers by their parts (1.10 after 1.9); text parts compare as text.</summary>
public sealed class VersionOrder : IComparer<string>
{
    public static VersionOrder Instance { get; } = new();

    public int Compare(string? x, string? y)
    {
        var a = (x ?? "").Split('.');
        var b = (y ?? "").Split('.');
        for (var i = 0; i < Math.Max(a.Length, b.Length); i++)
        {
            var p = i < a.Length ? a[i] : "0";
            var q = i < b.Length ? b[i] : "0";
            var c = int.TryParse(p, out var m) && int.TryParse(q, out var n) ? m.CompareTo(n) : string.CompareOrdinal(p, q);
            if (c != 0) return c;
        }
        return 0;
    }
}
