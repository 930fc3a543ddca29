using Stadig.Organisation;

namespace Stadig.Training;

/// <summary>Settings under Stadig:Training: what each role must have done before go-live, and which release is "new".</summary>
public sealed class TrainingOptions
{
    /// <summary>Required exercises per role (exercise ids). A role left unset requires every available exercise of the role.</summary>
    public RequiredExercises Required { get; set; } = new();

    /// <summary>The release whose new or changed exercises everyone must do ("practice what changed"); unset: the newest release any exercise carries.</summary>
    public string? Release { get; set; }

    public IReadOnlyList<Exercise> RequiredFor(Role role)
    {
        var ids = Required.For(role);
        if (ids is null) return ExerciseCatalogue.Of(role).Where(e => e.Available).ToList();
        // An exercise not yet available is never required, whatever the setting says: nobody could do it.
        return ids.Select(id => ExerciseCatalogue.Find(id) ?? throw new InvalidOperationException($"Stadig:Training:Required:{role} names the exercise '{id}', which does not exist."))
            .Where(e => e.Available).ToList();
    }

    public string CurrentRelease => string.IsNullOrWhiteSpace(Release) ? ExerciseCatalogue.LatestVersion : Release;

    /// <summary>Exercises of the role that the current release introduced or changed.</summary>
    public IReadOnlyList<Exercise> NewFor(Role role) =>
        ExerciseCatalogue.Of(role).Where(e => e.Available && e.Version == CurrentRelease).ToList();

    /// <summary>Every id named in the settings exists: checked at start, so a typo is not found on go-live day.</summary>
    public IEnumerable<string> UnknownExercises() =>
        Enum.GetValues<Role>().SelectMany(r => Required.For(r) ?? []).Where(id => ExerciseCatalogue.Find(id) is null);
}

/// <summary>One list per role that trains (configuration binds properties, not dictionary keys, so a misspelt role is caught).</summary>
public sealed class RequiredExercises
{
    public string[]? Physician { get; set; }
    public string[]? Nurse { get; set; }
    public string[]? MedicalSecretary { get; set; }
    public string[]? LabStaff { get; set; }
    public string[]? LogAuditor { get; set; }
    public string[]? Administrator { get; set; }

    public string[]? For(Role role) => role switch
    {
        Role.Physician => Physician,
        Role.Nurse => Nurse,
        Role.MedicalSecretary => MedicalSecretary,
        Role.LabStaff => LabStaff,
        Role.LogAuditor => LogAuditor,
        Role.Administrator => Administrator,
        _ => [],
    };
}
