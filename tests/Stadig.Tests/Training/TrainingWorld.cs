using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Installation;
using Stadig.Organisation;
using Stadig.Patients.Identifiers;
using Stadig.Storage;
using Stadig.Training;

namespace Stadig.Tests.Training;

/// <summary>A test region marked as a training installation, with the training services wired as the web host wires them.</summary>
internal sealed class TrainingWorld
{
    public required TestRegion Region { get; init; }
    public required TrainingExercises Exercises { get; init; }
    public required TrainingRoster Roster { get; init; }
    public required TrainingOptions Options { get; init; }
    public required CareUnit Lab { get; init; }

    public TrainingReport Report => new(Region.Database, Exercises, Options, Region.Audit, TimeProvider.System);

    public AuditQueries AuditQueries => new(Region.Database, Region.Audit, TimeProvider.System);

    public static async Task<TrainingWorld> CreateAsync(DatabaseEngine engine, TrainingOptions? options = null)
    {
        var region = await TestRegion.CreateAsync(engine);
        await new InstallationSettings(region.Database).SetModeAsync(InstallationMode.Training);
        var lab = await region.Staff.AddUnitAsync(region.Ward.ProviderId, "SE2321000016-0099", "Klinisk kemi", UnitKind.Lab);
        var s = region.Services;
        var setup = new ExerciseSetup(region.Database, s.Audit, s.Staff, s.Patients, s.Notes, s.Access, s.Chart, s.Warnings, new PatientIdentifierRules(TimeProvider.System), TimeProvider.System);
        return new TrainingWorld
        {
            Region = region, Lab = lab, Options = options ?? new TrainingOptions(),
            Exercises = new TrainingExercises(region.Database, setup, new InstallationSettings(region.Database), TimeProvider.System),
            Roster = new TrainingRoster(region.Database, s.Staff, TimeProvider.System),
        };
    }

    private int _people;

    /// <summary>A new trainee of the role at the unit (default: the ward; lab staff at the lab).</summary>
    public Task<Caller> TraineeAsync(Role role, CareUnit? unit = null) =>
        Region.AddCallerAsync($"t{role.ToString().ToLowerInvariant()}{Interlocked.Increment(ref _people)}", role, unit ?? (role == Role.LabStaff ? Lab : Region.Ward),
            RolePermissions.WorksWithRecords(role) ? Purpose.CareAndTreatment : Purpose.Administration);

    /// <summary>Starts the exercise and returns the attempt with the trainee's patients by key.</summary>
    public async Task<(TrainingAttempt Attempt, IReadOnlyDictionary<string, TrainingPatient> Patients)> StartAsync(Caller trainee, string exerciseId)
    {
        var attempt = await Exercises.StartAsync(trainee, exerciseId);
        return (attempt, (await Exercises.PatientsAsync(attempt.Id)).ToDictionary(p => p.Key));
    }

    public async Task<T> QueryOneAsync<T>(string sql, object parameters)
    {
        await using var c = await Region.Database.OpenUnscopedAsync();
        return await c.QuerySingleAsync<T>(sql, parameters);
    }
}
