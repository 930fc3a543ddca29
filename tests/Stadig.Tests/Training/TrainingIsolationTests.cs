using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Tests.Training;

public class TrainingIsolationTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    [Hazard("H-10")]
    public async Task Two_trainees_get_their_own_patients_and_one_doing_the_exercise_completes_it_only_for_themselves(DatabaseEngine engine)
    {
        var world = await TrainingWorld.CreateAsync(engine);
        var anna = await world.TraineeAsync(Role.Physician);
        var bo = await world.TraineeAsync(Role.Physician);
        var (annaAttempt, annaPatients) = await world.StartAsync(anna, "physician-problem-diagnosis");
        var (boAttempt, boPatients) = await world.StartAsync(bo, "physician-problem-diagnosis");
        Assert.NotEqual(annaPatients["patient"].PatientId, boPatients["patient"].PatientId);
        Assert.NotEqual(annaPatients["patient"].Identifier, boPatients["patient"].Identifier);

        // Bo records the diagnosis on Anna's copy (same name, another number): not his exercise, and an error.
        await world.Region.Services.Problems.AddAsync(bo, annaPatients["patient"].PatientId, "I10");
        var boVerdict = await world.Exercises.EvaluateAsync(boAttempt.Id);
        Assert.False(boVerdict.Passed);
        Assert.Equal(1, boVerdict.WrongPatient);
        Assert.False((await world.Exercises.EvaluateAsync(annaAttempt.Id)).Passed);

        await world.Region.Services.Problems.AddAsync(anna, annaPatients["patient"].PatientId, "I10");
        var annaVerdict = await world.Exercises.EvaluateAsync(annaAttempt.Id);
        Assert.True(annaVerdict.Passed);
        Assert.Equal(0, annaVerdict.Errors);
        Assert.False((await world.Exercises.EvaluateAsync(boAttempt.Id)).Passed);

        // A reset is a new start with new copies: the first attempt's patients are left behind.
        var (again, againPatients) = await world.StartAsync(anna, "physician-problem-diagnosis");
        Assert.NotEqual(annaPatients["patient"].PatientId, againPatients["patient"].PatientId);
        Assert.False((await world.Exercises.EvaluateAsync(again.Id)).Passed);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Exercises_start_only_in_a_training_installation_and_only_for_the_trainees_role(DatabaseEngine engine)
    {
        var world = await TrainingWorld.CreateAsync(engine);
        var nurse = await world.TraineeAsync(Role.Nurse);
        await Assert.ThrowsAsync<Stadig.Common.ForbiddenException>(() => world.Exercises.StartAsync(nurse, "physician-admission-note"));
        await Assert.ThrowsAsync<Stadig.Common.ConflictException>(() => world.Exercises.StartAsync(nurse, "nurse-downtime-snapshot"));
        await new Stadig.Installation.InstallationSettings(world.Region.Database).SetModeAsync(Stadig.Installation.InstallationMode.Production);
        await Assert.ThrowsAsync<Stadig.Common.ForbiddenException>(() => world.Exercises.StartAsync(nurse, "nurse-care-note"));
    }
}
