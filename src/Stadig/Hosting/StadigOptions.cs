using Stadig.Installation;
using Stadig.Patients.Identifiers;
using Stadig.Storage;

namespace Stadig.Hosting;

/// <summary>
/// Everything an operator can set, under the "Stadig" section (appsettings.json, environment
/// variables as Stadig__Key, or command-line options). An unknown key is an error at start, so a
/// typo never silently falls back to a default.
/// </summary>
public sealed class StadigOptions
{
    public const string Section = "Stadig";

    /// <summary>A PostgreSQL connection string (Host=...) or a SQLite one (Data Source=...).</summary>
    public string Database { get; set; } = DefaultSqlite;

    public bool MigrateAtStart { get; set; } = true;

    /// <summary>Seed a demo region (with demo users) into an empty database at start. On by default only for the embedded SQLite database.</summary>
    public bool? SeedDemoAtStart { get; set; }

    public int DemoPatients { get; set; } = 300;

    public string ReservnummerPattern { get; set; } = ReservnummerFormat.Default.Pattern;

    public int IdleTimeoutMinutes { get; set; } = 20;

    public int MaxFailedLogins { get; set; } = 5;

    public int LockoutMinutes { get; set; } = 15;

    /// <summary>Login attempts per client address per minute before 429.</summary>
    public int LoginAttemptsPerMinute { get; set; } = 10;

    public JwtOptions Jwt { get; set; } = new();

    /// <summary>Care relation and emergency access durations.</summary>
    public Stadig.Access.AccessOptions Access { get; set; } = new();

    public const string DefaultSqlite = "Data Source=data/stadig.db";

    public DatabaseEngine Engine => Storage.Database.EngineOf(Database);

    public bool ShouldSeedDemo => SeedDemoAtStart ?? Engine == DatabaseEngine.Sqlite;
}

/// <summary>Bearer tokens from an identity provider (Authority) or signed with a shared key (SigningKey, for integrations and tests).</summary>
public sealed class JwtOptions
{
    public string? Authority { get; set; }
    public string? Audience { get; set; }
    public string? Issuer { get; set; }
    public string? SigningKey { get; set; }
}
