using Dapper;
using Stadig.Access;
using Stadig.Common;
using Stadig.Installation;
using Stadig.Storage;

namespace Stadig.Training;

/// <summary>One start (or reset) of an exercise by one trainee, as stored.</summary>
public sealed record TrainingAttempt
{
    public Guid Id { get; init; }
    public Guid StaffId { get; init; }
    public Guid UnitId { get; init; }
    public string ExerciseId { get; init; } = "";
    public string ExerciseVersion { get; init; } = "";
    public DateTimeOffset StartedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }
    public int Errors { get; init; }
    public string? ErrorDetail { get; init; }

    public TimeSpan? TimeTaken => CompletedAt - StartedAt;
}

/// <summary>Where a trainee stands with one exercise: the attempt under way (with its patients and checks) and the one that passed.</summary>
public sealed record ExerciseProgress(Exercise Exercise, TrainingAttempt? Current, IReadOnlyList<TrainingPatient> Patients, AttemptVerdict? Verdict, TrainingAttempt? Completed)
{
    public bool Done => Completed is not null;
}

/// <summary>
/// Starting exercises and deciding them. A start (or a reset, which is a new start) gives the trainee
/// fresh copies of the exercise's patients; an attempt is complete only when its checks pass from the
/// recorded events, with the time the deciding action was recorded: no "done" button can make it so.
/// </summary>
public sealed class TrainingExercises(Database database, ExerciseSetup setup, InstallationSettings installation, TimeProvider clock)
{
    private const string AttemptColumns =
        """
        id AS Id, staff_id AS StaffId, unit_id AS UnitId, exercise_id AS ExerciseId, exercise_version AS ExerciseVersion,
        started_at AS StartedAt, completed_at AS CompletedAt, errors AS Errors, error_detail AS ErrorDetail
        """;

    public async Task<TrainingAttempt> StartAsync(Caller trainee, string exerciseId, CancellationToken cancellationToken = default)
    {
        if (await installation.ModeAsync(cancellationToken) != InstallationMode.Training)
            throw new ForbiddenException("Övningar finns bara i övningsmiljön.");
        var exercise = ExerciseCatalogue.Find(exerciseId) ?? throw new NotFoundException("Övningen finns inte.");
        if (!exercise.Available) throw new ConflictException("Övningen går inte att göra än: funktionen den övar finns inte i den här versionen.");
        if (exercise.Role != trainee.Role) throw new ForbiddenException("Övningen hör till en annan roll än den du arbetar som.");
        var attempt = new TrainingAttempt
        {
            Id = Guid.CreateVersion7(), StaffId = trainee.StaffId, UnitId = trainee.UnitId, ExerciseId = exercise.Id,
            ExerciseVersion = exercise.Version, StartedAt = clock.GetUtcNow(),
        };
        // The set-up is done (and audited) by the exercise's own actors before the attempt starts, so none of it counts for or against the trainee.
        var patients = await setup.SetUpAsync(exercise, trainee, cancellationToken);
        await database.InUnscopedTransactionAsync(async (c, t) =>
        {
            await c.ExecuteAsync(
                """
                INSERT INTO training_attempt (id, staff_id, unit_id, exercise_id, exercise_version, started_at, errors)
                VALUES (@Id, @StaffId, @UnitId, @ExerciseId, @ExerciseVersion, @StartedAt, 0)
                """, attempt, t);
            foreach (var p in patients)
                await c.ExecuteAsync(
                    "INSERT INTO training_patient (attempt_id, patient_key, patient_id, identifier, quarantine_control_id) VALUES (@id, @Key, @PatientId, @Identifier, @QuarantineControlId)",
                    new { id = attempt.Id, p.Key, p.PatientId, p.Identifier, p.QuarantineControlId }, t);
            return 0;
        }, cancellationToken);
        return attempt;
    }

    /// <summary>Decides the attempt from the recorded events and stores the verdict (completion, time, errors).</summary>
    public async Task<AttemptVerdict> EvaluateAsync(Guid attemptId, CancellationToken cancellationToken = default)
    {
        await using var c = await database.OpenUnscopedAsync(cancellationToken);
        var attempt = await c.QuerySingleOrDefaultAsync<TrainingAttempt>($"SELECT {AttemptColumns} FROM training_attempt WHERE id = @attemptId", new { attemptId })
            ?? throw new NotFoundException("Övningsförsöket finns inte.");
        return await EvaluateAsync(c, attempt);
    }

    private async Task<AttemptVerdict> EvaluateAsync(System.Data.Common.DbConnection c, TrainingAttempt attempt)
    {
        var exercise = ExerciseCatalogue.Find(attempt.ExerciseId) ?? throw new NotFoundException("Övningen finns inte längre.");
        var patients = (await PatientsAsync(c, attempt.Id)).ToDictionary(p => p.Key);
        var verdict = await ExerciseChecks.EvaluateAsync(database, c, exercise, attempt.StaffId, attempt.StartedAt, patients, attempt.CompletedAt ?? clock.GetUtcNow());
        if (attempt.CompletedAt is null)
        {
            await c.ExecuteAsync(
                "UPDATE training_attempt SET completed_at = @completed, errors = @Errors, error_detail = @detail WHERE id = @id AND completed_at IS NULL",
                new { id = attempt.Id, completed = verdict.CompletedAt, verdict.Errors, detail = $"wrong-patient:{verdict.WrongPatient};refused:{verdict.Refused};warning-ignored:{verdict.WarningsIgnored}" });
        }
        return verdict;
    }

    public async Task<IReadOnlyList<TrainingPatient>> PatientsAsync(Guid attemptId, CancellationToken cancellationToken = default)
    {
        await using var c = await database.OpenUnscopedAsync(cancellationToken);
        return await PatientsAsync(c, attemptId);
    }

    private static async Task<IReadOnlyList<TrainingPatient>> PatientsAsync(System.Data.Common.DbConnection c, Guid attemptId) =>
        (await c.QueryAsync<(string Key, Guid PatientId, string Identifier, string Family, string Given, string? Control)>(
            """
            SELECT tp.patient_key, tp.patient_id, tp.identifier, p.family_name, p.given_names, tp.quarantine_control_id
            FROM training_patient tp JOIN patient p ON p.id = tp.patient_id WHERE tp.attempt_id = @attemptId ORDER BY tp.patient_key
            """, new { attemptId }))
        .Select(r => new TrainingPatient(r.Key, r.PatientId, r.Identifier, r.Family, r.Given, r.Control)).ToList();

    /// <summary>
    /// The trainee's own progress over their role's exercises. Attempts under way are decided anew
    /// first, so what the trainee did a moment ago shows without any button.
    /// </summary>
    public async Task<IReadOnlyList<ExerciseProgress>> ProgressAsync(Caller trainee, CancellationToken cancellationToken = default)
    {
        await using var c = await database.OpenUnscopedAsync(cancellationToken);
        var attempts = (await c.QueryAsync<TrainingAttempt>(
            $"SELECT {AttemptColumns} FROM training_attempt WHERE staff_id = @StaffId ORDER BY started_at", new { trainee.StaffId })).ToList();
        var list = new List<ExerciseProgress>();
        foreach (var exercise in ExerciseCatalogue.Of(trainee.Role))
        {
            var mine = attempts.Where(a => a.ExerciseId == exercise.Id).ToList();
            var current = mine.LastOrDefault();
            AttemptVerdict? verdict = null;
            IReadOnlyList<TrainingPatient> patients = [];
            if (current is not null)
            {
                patients = await PatientsAsync(c, current.Id);
                verdict = await EvaluateAsync(c, current);
                if (current.CompletedAt is null && verdict.CompletedAt is { } at)
                    current = current with { CompletedAt = at, Errors = verdict.Errors };
            }
            var completed = mine.Where(a => a.CompletedAt is not null).Append(current).LastOrDefault(a => a?.CompletedAt is not null);
            list.Add(new ExerciseProgress(exercise, current, patients, verdict, completed));
        }
        return list;
    }

    /// <summary>Decides every attempt still open among the people given (before a report counts them).</summary>
    public async Task EvaluateOpenAsync(IReadOnlyCollection<Guid> staffIds, CancellationToken cancellationToken = default)
    {
        if (staffIds.Count == 0) return;
        await using var c = await database.OpenUnscopedAsync(cancellationToken);
        var parameters = new DynamicParameters();
        database.AddIds(parameters, "staff", staffIds);
        var open = await c.QueryAsync<TrainingAttempt>(
            $"SELECT {AttemptColumns} FROM training_attempt WHERE completed_at IS NULL AND {database.AnyOf("staff_id", "staff")}", parameters);
        foreach (var attempt in open) await EvaluateAsync(c, attempt);
    }
}
