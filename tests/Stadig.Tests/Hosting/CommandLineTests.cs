using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Stadig.Tests.Hosting;

/// <summary>The executable as an operator runs it: exit codes and what it prints.</summary>
public class CommandLineTests
{
    private static async Task<(int ExitCode, string Out, string Error)> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "stadig.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        start.WorkingDirectory = Directory.CreateTempSubdirectory("stadig-cli-").FullName;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        return (process.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task Help_lists_the_verbs()
    {
        var (exit, output, _) = await RunAsync("--help");
        Assert.Equal(0, exit);
        foreach (var verb in new[] { "serve", "migrate", "seed", "fhir-publish", "--database" }) Assert.Contains(verb, output);
    }

    [Fact]
    public async Task An_unknown_configuration_key_stops_the_start_with_one_line_naming_it()
    {
        var (exit, _, error) = await RunAsync("migrate", "--Stadig:Databse=Data Source=x.db");
        Assert.Equal(1, exit);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("Stadig:Databse", line);
    }

    [Fact]
    public async Task An_unreachable_database_stops_the_start_with_one_line_and_no_password()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // nothing listens there now

        var (exit, _, error) = await RunAsync("migrate", "--database", $"Host=127.0.0.1;Port={port};Username=u;Password=hemligt;Database=d;Timeout=5");

        Assert.Equal(1, exit);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains($"127.0.0.1:{port}/d", line);
        Assert.DoesNotContain("hemligt", line);
    }

    [Fact]
    public async Task An_unknown_verb_or_option_is_refused()
    {
        Assert.Equal(1, (await RunAsync("frobnicate")).ExitCode);
        var (exit, _, error) = await RunAsync("migrate", "--databse", "x");
        Assert.Equal(1, exit);
        Assert.Contains("--databse", error);
    }

    [Fact]
    public async Task Migrate_then_seed_builds_a_region_in_an_empty_sqlite_database_and_refuses_a_second_seed()
    {
        var file = Path.Combine(Directory.CreateTempSubdirectory("stadig-cli-db-").FullName, "s.db");
        Assert.Equal(0, (await RunAsync("migrate", "--database", $"Data Source={file}")).ExitCode);
        var (exit, output, _) = await RunAsync("seed", "--patients", "25", "--seed", "7", "--database", $"Data Source={file}");
        Assert.Equal(0, exit);
        Assert.Contains("25", output);
        var again = await RunAsync("seed", "--patients", "25", "--database", $"Data Source={file}");
        Assert.Equal(1, again.ExitCode);
        Assert.Single(again.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Fhir_publish_publishes_a_seeded_region_once_and_a_second_run_publishes_nothing()
    {
        var file = Path.Combine(Directory.CreateTempSubdirectory("stadig-cli-db-").FullName, "f.db");
        Assert.Equal(0, (await RunAsync("seed", "--patients", "10", "--seed", "3", "--database", $"Data Source={file}")).ExitCode);
        var (exit, output, error) = await RunAsync("fhir-publish", "--database", $"Data Source={file}");
        Assert.True(exit == 0, error);
        Assert.Contains("Encounter: ", output);
        Assert.Matches(@"Published [1-9]\d* of \d+ chart records", output);
        var again = await RunAsync("fhir-publish", "--database", $"Data Source={file}");
        Assert.Equal(0, again.ExitCode);
        Assert.Contains("Published 0 of", again.Out);
    }

    [Fact]
    public async Task Verify_reports_an_intact_audit_log_with_exit_code_zero()
    {
        var file = Path.Combine(Directory.CreateTempSubdirectory("stadig-cli-db-").FullName, "v.db");
        Assert.Equal(0, (await RunAsync("migrate", "--database", $"Data Source={file}")).ExitCode);
        var (exit, output, _) = await RunAsync("verify", "--database", $"Data Source={file}");
        Assert.Equal(0, exit);
        Assert.Contains("intact", output);
    }
}
