using System.Data.Common;
using Dapper;
using Stadig.Audit;

namespace Stadig.Training;

/// <summary>One check's verdict: passed, and when the deciding action was recorded.</summary>
public sealed record CheckResult(ExerciseCheck Check, bool Passed, DateTimeOffset? At);

/// <summary>An attempt's verdict, with the mistakes counted from the recorded events.</summary>
/// <param name="WarningsIgnored">Prescriptions signed past a prescribing check's warning (a reason given to go on).</param>
public sealed record AttemptVerdict(IReadOnlyList<CheckResult> Checks, int WrongPatient, int Refused, int WarningsIgnored = 0)
{
    public bool Passed => Checks.All(c => c.Passed);
    public int Errors => WrongPatient + Refused + WarningsIgnored;
    public DateTimeOffset? CompletedAt => Passed ? Checks.Max(c => c.At) : null;
}

/// <summary>
/// Decides an attempt from what was recorded: the trainee's audit events and the domain tables
/// (signed notes, warnings, merges, the quarantine). Nothing the trainee says counts, only what they did.
/// </summary>
public static class ExerciseChecks
{
    private sealed class Event
    {
        public Guid Id { get; init; }
        public DateTimeOffset OccurredAt { get; init; }
        public Guid? PatientId { get; init; }
        public string Activity { get; init; } = "";
        public string Resource { get; init; } = "";
        public string Outcome { get; init; } = "";
        public string Flags { get; init; } = "";
        public string? Detail { get; init; }
    }

    /// <summary>Actions that change a patient's record: done to a patient outside the exercise, they are the wrong patient.</summary>
    private static readonly HashSet<string> Changes = ["Write", "Sign", "Attest", "EmergencyOpen"];

    /// <summary>Exercise patients whose key starts so are look-alikes set up to be confused with the right one: any change to them is the wrong patient.</summary>
    public const string DistractorPrefix = "distractor";

    public static async Task<AttemptVerdict> EvaluateAsync(Storage.Database database, DbConnection c, Exercise exercise, Guid staffId, DateTimeOffset startedAt,
        IReadOnlyDictionary<string, TrainingPatient> patients, DateTimeOffset until)
    {
        var events = (await c.QueryAsync<Event>(
            """
            SELECT id AS Id, occurred_at AS OccurredAt, patient_id AS PatientId, activity AS Activity, resource AS Resource,
                   outcome AS Outcome, flags AS Flags, detail AS Detail
            FROM audit_event WHERE staff_id = @staffId AND occurred_at >= @startedAt AND occurred_at <= @until ORDER BY occurred_at, chain_seq
            """, new { staffId, startedAt, until })).ToList();

        var results = new List<CheckResult>();
        var matchedIndex = new List<int>();
        foreach (var check in exercise.Checks)
        {
            Guid? patient = check.Patient is null ? null : patients[check.Patient].PatientId;
            var (at, index) = check.Kind switch
            {
                CheckKind.Audit => AuditMatch(events, check, patient, check.After is { } a ? matchedIndex[a] : -1),
                CheckKind.NoteSigned => (await c.QueryFirstOrDefaultAsync<DateTimeOffset?>(
                    """
                    SELECT n.signed_at FROM note n JOIN note_keyword k ON k.note_id = n.id
                    WHERE n.patient_id = @patient AND n.signer_id = @staffId AND n.status = 'Signed' AND n.note_type = @NoteType
                      AND k.keyword = @Keyword AND k.text <> '' AND n.signed_at >= @startedAt
                    ORDER BY n.signed_at
                    """, new { patient, staffId, check.NoteType, check.Keyword, startedAt }), -1),
                CheckKind.WarningRecorded => (await c.QueryFirstOrDefaultAsync<DateTimeOffset?>(
                    "SELECT created_at FROM warning WHERE patient_id = @patient AND created_by = @staffId AND category = @Category AND created_at >= @startedAt ORDER BY created_at",
                    new { patient, staffId, check.Category, startedAt }), -1),
                CheckKind.ReservnummerMerged => (await c.QueryFirstOrDefaultAsync<DateTimeOffset?>(
                    """
                    SELECT m.merged_at FROM patient_merge m JOIN patient s ON s.id = m.source_patient_id
                    WHERE m.target_patient_id = @patient AND m.merged_by = @staffId AND s.identifier_kind = 'Reservnummer' AND m.merged_at >= @startedAt
                    ORDER BY m.merged_at
                    """, new { patient, staffId, startedAt }), -1),
                CheckKind.QuarantineFiled => (await c.QueryFirstOrDefaultAsync<DateTimeOffset?>(
                    """
                    SELECT q.resolved_at FROM result_quarantine q JOIN hl7_message m ON m.id = q.message_id
                    WHERE m.control_id = @control AND q.state = 'Filed' AND q.resolved_by = @staffId AND q.resolved_patient_id = @patient
                    """, new { control = patients[check.Patient!].QuarantineControlId, staffId, patient }), -1),
                CheckKind.EventReviewed => await ReviewMatchAsync(c, events, check, patient!.Value, staffId),
                CheckKind.Prescribed => (await c.QueryFirstOrDefaultAsync<DateTimeOffset?>(
                    """
                    SELECT recorded_at FROM medication_order_version
                    WHERE patient_id = @patient AND recorded_by = @staffId AND action = 'Prescribe' AND atc_code LIKE @atc
                      AND check_findings IS NULL AND recorded_at >= @startedAt
                    ORDER BY recorded_at
                    """, new { patient, staffId, atc = check.Atc + "%", startedAt }), -1),
                _ => throw new InvalidOperationException($"No check of kind {check.Kind}."),
            };
            results.Add(new CheckResult(check, at is not null, at));
            matchedIndex.Add(index);
        }

        // Mistakes up to the moment the exercise was done (or now): changes to a patient other than the
        // exercise's own (its look-alike distractors included), except patients the trainee registered
        // in it (the reservnummer patient), refusals, and warnings gone past.
        var end = results.All(r => r.Passed) ? results.Max(r => r.At)!.Value : until;
        var window = events.Where(e => e.OccurredAt <= end).ToList();
        var mine = patients.Values.Where(p => !p.Key.StartsWith(DistractorPrefix, StringComparison.Ordinal)).Select(p => p.PatientId).ToHashSet();
        var outside = window.Where(e => e.Outcome == "Allowed" && e.PatientId is { } p && !mine.Contains(p) && Changes.Contains(e.Activity))
            .Select(e => e.PatientId!.Value).Distinct().ToList();
        if (outside.Count > 0)
        {
            var parameters = new DynamicParameters(new { startedAt });
            database.AddIds(parameters, "outside", outside);
            var registeredHere = (await c.QueryAsync<Guid>(
                $"SELECT id FROM patient WHERE {database.AnyOf("id", "outside")} AND created_at >= @startedAt AND id NOT IN (SELECT patient_id FROM training_patient)",
                parameters)).ToHashSet();
            outside.RemoveAll(registeredHere.Contains);
        }
        var refused = window.Count(e => e.Outcome == "Denied");
        // A prescription is stored with its findings only when the prescriber gave a reason to go on past
        // them: a warning heeded (the prescription changed or dropped) leaves nothing, which is right.
        var ignored = await c.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM medication_order_version WHERE recorded_by = @staffId AND recorded_at >= @startedAt AND recorded_at <= @end AND check_findings IS NOT NULL",
            new { staffId, startedAt, end });
        return new AttemptVerdict(results, outside.Count, refused, (int)ignored);
    }

    private static (DateTimeOffset?, int) AuditMatch(List<Event> events, ExerciseCheck check, Guid? patient, int after)
    {
        var activities = check.Activity!.Split('|');
        var resources = check.Resource!.Split('|');
        for (var i = after + 1; i < events.Count; i++)
        {
            var e = events[i];
            if (e.Outcome != "Allowed" || !activities.Contains(e.Activity) || !resources.Contains(e.Resource)) continue;
            if (patient is { } p && e.PatientId != p) continue;
            if (check.RequireDetail && string.IsNullOrWhiteSpace(e.Detail)) continue;
            return (e.OccurredAt, i);
        }
        return (null, -1);
    }

    /// <summary>A review (AuditReview, naming the event) of someone else's event on the patient that carries the flag.</summary>
    private static async Task<(DateTimeOffset?, int)> ReviewMatchAsync(DbConnection c, List<Event> events, ExerciseCheck check, Guid patient, Guid staffId)
    {
        var flag = Enum.Parse<AuditFlags>(check.Category!);
        var candidates = (await c.QueryAsync<(Guid Id, string Flags)>(
            "SELECT id, flags FROM audit_event WHERE patient_id = @patient AND staff_id <> @staffId", new { patient, staffId }))
            .Where(e => Enum.TryParse<AuditFlags>(e.Flags, out var f) && f.HasFlag(flag))
            .Select(e => e.Id.ToString()).ToHashSet(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            if (e.Outcome == "Allowed" && e.Activity == "Write" && e.Resource == "AuditReview" && e.Detail is { } d && candidates.Contains(d))
                return (e.OccurredAt, i);
        }
        return (null, -1);
    }
}
