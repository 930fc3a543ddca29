using System.Diagnostics;
using Npgsql;
using Stadig.Storage;

namespace Stadig.Tests.Downtime;

/// <summary>
/// Makes a test's database really refuse writes, as in an outage, and take them again: PostgreSQL by
/// the database's read-only default (new sessions are read-only transactions, as on a hot standby);
/// SQLite by a read-only file (mode 0444, and immutable when the tests run as root, whom file modes
/// do not stop).
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public static class RefusedWrites
{
    public static async Task RefuseAsync(DatabaseEngine engine, string connectionString) => await SetAsync(engine, connectionString, refuse: true);

    /// <summary>As when the primary is lost: no session of before survives, every new one is refused writes.</summary>
    public static async Task RefuseFromNowAsync(StadigServer server, DatabaseEngine engine)
    {
        await RefuseAsync(engine, server.ConnectionString);
        server.Database.ClearPool();
    }

    public static async Task AcceptAsync(DatabaseEngine engine, string connectionString) => await SetAsync(engine, connectionString, refuse: false);

    private static async Task SetAsync(DatabaseEngine engine, string connectionString, bool refuse)
    {
        if (engine == DatabaseEngine.Postgres)
        {
            var name = new NpgsqlConnectionStringBuilder(connectionString).Database!;
            await using var admin = new NpgsqlConnection(PostgresServer.Instance.AdminConnectionString);
            await admin.OpenAsync();
            await using var command = new NpgsqlCommand(
                refuse ? $"ALTER DATABASE {name} SET default_transaction_read_only = on" : $"ALTER DATABASE {name} RESET default_transaction_read_only", admin);
            await command.ExecuteNonQueryAsync();
            return;
        }
        var file = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(connectionString).DataSource;
        if (refuse)
        {
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            if (Environment.UserName == "root") await RunAsync("chattr", "+i", file);
        }
        else
        {
            if (Environment.UserName == "root") await RunAsync("chattr", "-i", file);
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        }
    }

    private static async Task RunAsync(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardError = true })!;
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed: {error}");
    }
}
