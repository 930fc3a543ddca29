using Dapper;
using Stadig.Storage;

namespace Stadig.Installation;

public enum InstallationMode
{
    Production,
    Demo,
    Training,
}

/// <summary>Facts about the database itself, kept in it so every app node agrees.</summary>
public sealed class InstallationSettings(Database database)
{
    /// <summary>A database that never said otherwise is production: the safe default.</summary>
    public async Task<InstallationMode> ModeAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        var value = await connection.QuerySingleOrDefaultAsync<string>("SELECT value FROM installation WHERE key = 'mode'");
        return Enum.TryParse<InstallationMode>(value, ignoreCase: true, out var mode) ? mode : InstallationMode.Production;
    }

    public async Task SetModeAsync(InstallationMode mode, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        await connection.ExecuteAsync(
            "INSERT INTO installation (key, value) VALUES ('mode', @value) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            new { value = mode.ToString() });
    }

    public async Task<bool> HasRegionAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM care_provider") > 0;
    }
}
