using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Training;

/// <summary>One person in the report: what they must do, what they have done, and what is new.</summary>
public sealed record TraineeStatus(
    string HsaId, string Name, Role Role, string UnitHsaId, string UnitName,
    IReadOnlyList<string> Required, IReadOnlyList<string> Completed, IReadOnlyList<string> Missing,
    IReadOnlyList<string> NewNotDone, IReadOnlyList<double> Seconds, int Errors)
{
    /// <summary>The median time (seconds) this person took over their completed required exercises.</summary>
    public double? MedianSeconds => TrainingReportResult.Median(Seconds);

    public bool Ready => Missing.Count == 0;
}

/// <summary>One role at one unit.</summary>
public sealed record RoleFigures(Role Role, int People, int Ready, int RequiredExercises, int RequiredCompleted, double CompletionRate, double? MedianSeconds, int NewNotDone);

public sealed record UnitFigures(string HsaId, string Name, IReadOnlyList<RoleFigures> Roles, IReadOnlyList<TraineeStatus> People)
{
    public int PeopleCount => People.Count;
    public int ReadyCount => People.Count(p => p.Ready);
}

/// <summary>The report: per unit and role, with the region's totals. <see cref="ToJson"/> is the readiness gate's stable format.</summary>
public sealed record TrainingReportResult(DateTimeOffset GeneratedAt, string Release, string? UnitHsaId, IReadOnlyList<UnitFigures> Units)
{
    public IEnumerable<TraineeStatus> People => Units.SelectMany(u => u.People);
    public int PeopleCount => People.Count();
    public int ReadyCount => People.Count(p => p.Ready);
    public double CompletionRate => Rate(People.Sum(p => p.Completed.Count), People.Sum(p => p.Required.Count));

    internal static double Rate(int done, int required) => required == 0 ? 1.0 : Math.Round((double)done / required, 4);

    public const string Format = "stadig-training-report/1";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The JSON documented in docs/training.md. Fields are only ever added, never renamed or removed, within one format version.</summary>
    public string ToJson()
    {
        static object Person(TraineeStatus p) => new Dictionary<string, object?>
        {
            ["hsaId"] = p.HsaId, ["name"] = p.Name, ["role"] = p.Role.ToString(), ["unitHsaId"] = p.UnitHsaId, ["ready"] = p.Ready,
            ["required"] = p.Required, ["completed"] = p.Completed, ["missing"] = p.Missing, ["newNotDone"] = p.NewNotDone,
            ["medianSeconds"] = p.MedianSeconds, ["errors"] = p.Errors,
        };
        var document = new Dictionary<string, object?>
        {
            ["format"] = Format,
            ["generatedAt"] = GeneratedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            ["release"] = Release,
            ["scope"] = UnitHsaId is null ? "region" : "unit",
            ["totals"] = new Dictionary<string, object?>
            {
                ["people"] = PeopleCount, ["ready"] = ReadyCount, ["notReady"] = PeopleCount - ReadyCount, ["completionRate"] = CompletionRate,
                ["medianSeconds"] = Median(People.SelectMany(p => p.Seconds)),
            },
            ["units"] = Units.Select(u => new Dictionary<string, object?>
            {
                ["hsaId"] = u.HsaId, ["name"] = u.Name, ["people"] = u.PeopleCount, ["ready"] = u.ReadyCount,
                ["roles"] = u.Roles.Select(r => new Dictionary<string, object?>
                {
                    ["role"] = r.Role.ToString(), ["people"] = r.People, ["ready"] = r.Ready, ["requiredExercises"] = r.RequiredExercises,
                    ["requiredCompleted"] = r.RequiredCompleted, ["completionRate"] = r.CompletionRate, ["medianSeconds"] = r.MedianSeconds,
                    ["newNotDone"] = r.NewNotDone,
                }),
                ["notReady"] = u.People.Where(p => !p.Ready).Select(Person),
            }),
            ["people"] = People.Select(Person),
        };
        return JsonSerializer.Serialize(document, Json);
    }

    /// <summary>One line a person (semicolon-separated, UTF-8, as Swedish spreadsheets read it).</summary>
    public string ToCsv()
    {
        var text = new StringBuilder("unit_hsa_id;unit_name;hsa_id;name;role;ready;required;completed;missing;new_not_done;median_seconds;errors\n");
        foreach (var p in People)
            text.AppendJoin(';', Clean(p.UnitHsaId), Clean(p.UnitName), Clean(p.HsaId), Clean(p.Name), p.Role, p.Ready ? "ja" : "nej",
                p.Required.Count, p.Completed.Count, string.Join(',', p.Missing), string.Join(',', p.NewNotDone),
                p.MedianSeconds?.ToString("0", CultureInfo.InvariantCulture) ?? "", p.Errors).Append('\n');
        return text.ToString();
    }

    private static string Clean(string value) => value.Replace(';', ',').Replace('\n', ' ');

    internal static double? Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        if (sorted.Count == 0) return null;
        var mid = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}

/// <summary>
/// Who is ready: the roster against completed attempts and the required exercises per role. A unit
/// manager sees their unit, the training lead every unit (the permission matrix's TrainingReport);
/// a report read is audited. Open attempts are decided first, so the report never lags what was done.
/// </summary>
public sealed class TrainingReport(Database database, TrainingExercises exercises, TrainingOptions options, AuditLog audit, TimeProvider clock)
{
    private sealed class Row
    {
        public Guid StaffId { get; init; }
        public string HsaId { get; init; } = "";
        public string Name { get; init; } = "";
        public string Role { get; init; } = "";
        public Guid UnitId { get; init; }
        public string UnitHsaId { get; init; } = "";
        public string UnitName { get; init; } = "";
    }

    private sealed class Done
    {
        public Guid StaffId { get; init; }
        public string ExerciseId { get; init; } = "";
        public string ExerciseVersion { get; init; } = "";
        public DateTimeOffset StartedAt { get; init; }
        public DateTimeOffset CompletedAt { get; init; }
        public int Errors { get; init; }
    }

    /// <summary>The report the caller may see: their unit for a unit manager, the region (or one unit) for the training lead.</summary>
    public async Task<TrainingReportResult> ForAsync(Caller caller, string? unitHsaId = null, CancellationToken cancellationToken = default)
    {
        if (!RolePermissions.FollowsTraining(caller.Role))
        {
            await audit.AppendAsync(new AuditEntry(caller, null, AuditActivity.Read, "TrainingReport", AuditOutcome.Denied), cancellationToken);
            throw new ForbiddenException("Din roll ser inte utbildningsrapporten.");
        }
        var scope = caller.Role == Role.TrainingLead ? unitHsaId : caller.UnitHsaId;
        await audit.AppendAsync(new AuditEntry(caller, null, AuditActivity.Read, "TrainingReport", Detail: scope ?? "region"), cancellationToken);
        return await BuildAsync(scope, cancellationToken);
    }

    /// <summary>The report without a caller: the command line and the readiness gate.</summary>
    public async Task<TrainingReportResult> BuildAsync(string? unitHsaId, CancellationToken cancellationToken = default)
    {
        List<Row> roster;
        await using (var c = await database.OpenUnscopedAsync(cancellationToken))
        {
            roster = (await c.QueryAsync<Row>(
                $$"""
                SELECT r.staff_id AS StaffId, s.hsa_id AS HsaId, s.display_name AS Name, r.role AS Role, r.unit_id AS UnitId, u.hsa_id AS UnitHsaId, u.name AS UnitName
                FROM training_roster r JOIN staff s ON s.id = r.staff_id JOIN care_unit u ON u.id = r.unit_id
                {{(unitHsaId is null ? "" : "WHERE u.hsa_id = @unitHsaId")}}
                ORDER BY u.name, s.display_name, s.hsa_id
                """, new { unitHsaId })).ToList();
        }
        await exercises.EvaluateOpenAsync(roster.Select(r => r.StaffId).ToList(), cancellationToken);
        List<Done> done;
        await using (var c = await database.OpenUnscopedAsync(cancellationToken))
        {
            done = (await c.QueryAsync<Done>(
                $$"""
                SELECT a.staff_id AS StaffId, a.exercise_id AS ExerciseId, a.exercise_version AS ExerciseVersion, a.started_at AS StartedAt,
                       a.completed_at AS CompletedAt, a.errors AS Errors
                FROM training_attempt a JOIN training_roster r ON r.staff_id = a.staff_id JOIN care_unit u ON u.id = r.unit_id
                WHERE a.completed_at IS NOT NULL {{(unitHsaId is null ? "" : "AND u.hsa_id = @unitHsaId")}}
                ORDER BY a.completed_at
                """, new { unitHsaId })).ToList();
        }
        var byStaff = done.ToLookup(d => d.StaffId);
        var people = roster.Select(r => Status(r, byStaff[r.StaffId].ToList())).ToList();
        var units = people.GroupBy(p => (p.UnitHsaId, p.UnitName))
            .Select(g => new UnitFigures(g.Key.UnitHsaId, g.Key.UnitName, g.GroupBy(p => p.Role).OrderBy(r => r.Key).Select(Figures).ToList(), g.ToList()))
            .ToList();
        return new TrainingReportResult(clock.GetUtcNow(), options.CurrentRelease, unitHsaId, units);
    }

    private TraineeStatus Status(Row row, List<Done> done)
    {
        var role = Enum.Parse<Role>(row.Role);
        var required = options.RequiredFor(role).Select(e => e.Id).ToList();
        // The first passing attempt of each exercise is the one that counts: its time is the time it took to learn it.
        var first = done.GroupBy(d => d.ExerciseId).ToDictionary(g => g.Key, g => g.First());
        var completed = required.Where(first.ContainsKey).ToList();
        var newNotDone = options.NewFor(role).Where(e => !done.Any(d => d.ExerciseId == e.Id && d.ExerciseVersion == e.Version)).Select(e => e.Id).ToList();
        var seconds = completed.Select(id => Math.Round((first[id].CompletedAt - first[id].StartedAt).TotalSeconds, 1)).ToList();
        return new TraineeStatus(row.HsaId, row.Name, role, row.UnitHsaId, row.UnitName, required, completed,
            required.Except(completed).ToList(), newNotDone, seconds, completed.Sum(id => first[id].Errors));
    }

    private static RoleFigures Figures(IGrouping<Role, TraineeStatus> people)
    {
        var list = people.ToList();
        var required = list.Sum(p => p.Required.Count);
        var completed = list.Sum(p => p.Completed.Count);
        return new RoleFigures(people.Key, list.Count, list.Count(p => p.Ready), list.FirstOrDefault()?.Required.Count ?? 0, completed,
            TrainingReportResult.Rate(completed, required), TrainingReportResult.Median(list.SelectMany(p => p.Seconds)),
            list.Count(p => p.NewNotDone.Count > 0));
    }
}
