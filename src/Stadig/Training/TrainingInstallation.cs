using Microsoft.AspNetCore.Identity;
using Stadig.Hosting;
using Stadig.Installation;
using Stadig.Organisation;
using Stadig.Seeding;

namespace Stadig.Training;

/// <summary>
/// The training installation's start: it runs only on a database marked training (marking a new, empty
/// one and seeding its synthetic region), and a production installation refuses a database so marked.
/// The mark is a row in the database itself, so the rule holds whichever node or command opens it.
/// </summary>
public static class TrainingInstallation
{
    /// <summary>Practice logins besides the seeder's one per role: who follows the training, for a new installation's report.</summary>
    public static readonly IReadOnlyList<(string Username, Role Role, string DisplayName)> FollowUpLogins =
    [
        ("enhetschef", Role.UnitManager, "Eva Enhetschef"),
        ("utbildning", Role.TrainingLead, "Ulf Utbildningsansvarig"),
    ];

    public static async Task CheckModeAsync(IServiceProvider services, StadigOptions options)
    {
        var installation = services.GetRequiredService<InstallationSettings>();
        var mode = await installation.ModeAsync();
        var hasRegion = await installation.HasRegionAsync();
        if (!options.IsTraining)
        {
            if (mode == InstallationMode.Training)
                throw new StartupException("This database is a training database (ÖVNINGSMILJÖ): start it with 'stadig training', never as a production installation.");
            return;
        }
        if (hasRegion && mode != InstallationMode.Training)
            throw new StartupException($"This database is a {mode.ToString().ToLowerInvariant()} database: a training installation runs only on a database of its own (give 'stadig training' a new, empty database).");
        if (hasRegion) return;

        // Marked before it is filled: a database with a half-seeded training region is still never taken for production.
        await installation.SetModeAsync(InstallationMode.Training);
        var hasher = services.GetRequiredService<IPasswordHasher<object>>();
        var hash = (string p) => hasher.HashPassword(new object(), p);
        var report = await services.GetRequiredService<RegionSeeder>().SeedAsync(new SeedOptions
        {
            Patients = options.DemoPatients, Seed = 1, DemoUsers = true, HashPassword = hash,
        }, CancellationToken.None);
        var staff = services.GetRequiredService<StaffDirectory>();
        var roster = services.GetRequiredService<TrainingRoster>();
        // The seeder's practice logins are the first people on the roster, so a new installation's report has people in it.
        Guid? firstUnit = null;
        foreach (var login in report.DemoLogins.Where(l => ExerciseCatalogue.Of(l.Role).Any()))
        {
            var member = (await staff.FindByUsernameAsync(login.Username))!;
            var assignment = (await staff.AssignmentsOfAsync(member.Id)).First(a => a.Role == login.Role);
            await roster.AddAsync(member.Id, assignment.UnitId, login.Role);
            firstUnit ??= assignment.UnitId;
        }
        // The unit manager manages the unit of the first practice login (the physician's ward).
        var ward = (await staff.UnitsAsync()).First(u => u.Id == firstUnit);
        foreach (var (username, role, name) in FollowUpLogins)
        {
            var member = await staff.AddStaffAsync($"SE2321000016-{username.ToUpperInvariant()}", username, name, role.Swedish(), hash(RegionSeeder.DemoPassword), isDemo: true);
            await staff.AddAssignmentAsync(member.Id, ward.Id, role, Purpose.Administration);
        }
    }
}
