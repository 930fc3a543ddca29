// TEMPORARY compile stub; replaced by the seeder branch.
using Stadig.Storage;
namespace Stadig.Seeding;
public sealed class SeedOptions { public int Patients { get; init; } public int Seed { get; init; } = 1; public bool DemoUsers { get; init; } public Func<string, string>? HashPassword { get; init; } }
public sealed class SeedReport { public int Patients { get; init; } public TimeSpan Elapsed { get; init; } }
public sealed class RegionSeeder(Database database, TimeProvider clock)
{
    public Task<SeedReport> SeedAsync(SeedOptions options, IProgress<string>? progress = null, CancellationToken cancellationToken = default) { _ = database; _ = clock; return Task.FromResult(new SeedReport()); }
}
