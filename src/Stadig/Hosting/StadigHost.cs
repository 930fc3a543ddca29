using System.Net.Sockets;
using Microsoft.AspNetCore.Identity;
using Npgsql;
using Stadig.Installation;
using Stadig.Seeding;
using Stadig.Storage;

namespace Stadig.Hosting;

/// <summary>Builds the web application: configuration, storage, services, endpoints. Tests build the same thing.</summary>
public static class StadigHost
{
    private static readonly string[] HostOptions = ["--urls", "--environment", "--contentRoot"];

    public static async Task<WebApplication> BuildAsync(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var (options, configuration) = ReadOptions(args);
        // The content (wwwroot, appsettings.json) ships beside the executable, so Stadig runs the same
        // from any working directory; the working directory only decides where the default SQLite file goes.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = Translate(args),
            ContentRootPath = AppContext.BaseDirectory,
            WebRootPath = Path.Combine(AppContext.BaseDirectory, "wwwroot"),
        });
        builder.Configuration.AddConfiguration(configuration);
        if (builder.Configuration["urls"] is null && builder.Configuration["ASPNETCORE_URLS"] is null)
            builder.WebHost.UseUrls("http://127.0.0.1:5000");
        builder.AddStadig(options);
        configure?.Invoke(builder);

        var app = builder.Build();
        var readiness = app.Services.GetRequiredService<DatabaseReadiness>();
        try
        {
            await PrepareDatabaseAsync(app.Services, options);
            readiness.MarkReady();
        }
        catch (Exception e) when (DatabaseReadiness.IsUnreachable(e))
        {
            // Down, not wrong: the node starts without it and DatabaseStartup keeps trying, so a
            // database that comes up later (or a failover at start) needs no restart of Stadig.
            readiness.NotYet(DescribeFailure(options, e));
            app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Stadig.Startup")
                .LogWarning("The database is not reachable at start ({Problem}); serving /health/live and trying again in the background.", readiness.Problem);
        }
        app.UseStadig();
        return app;
    }

    /// <summary>Reads and checks the options: command line over environment over appsettings.json.</summary>
    public static (StadigOptions Options, IConfiguration Configuration) ReadOptions(string[] args, string[]? allowExtra = null)
    {
        var known = HostOptions.Concat(allowExtra ?? []).Append("--database").ToHashSet();
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal)) continue;
            var name = args[i].Split('=')[0];
            if (!known.Contains(name) && !name.StartsWith("--Stadig:", StringComparison.OrdinalIgnoreCase) && !name.StartsWith("--Logging:", StringComparison.OrdinalIgnoreCase)) throw new StartupException($"Unknown option '{name}'. Run 'stadig --help' for the list.");
            if (!args[i].Contains('=')) i++;
        }
        var configuration = new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddJsonFile(Path.Combine(Directory.GetCurrentDirectory(), "appsettings.json"), optional: true)
            .AddEnvironmentVariables()
            .AddCommandLine(Translate(args))
            .Build();
        var unknown = ConfigurationCheck.UnknownKeys(configuration);
        if (unknown.Count > 0)
            throw new StartupException($"Unknown configuration key(s): {string.Join(", ", unknown)}. See docs/operations.md for the valid keys.");
        var options = new StadigOptions();
        try
        {
            configuration.GetSection(StadigOptions.Section).Bind(options);
        }
        catch (InvalidOperationException e)
        {
            throw new StartupException($"Invalid configuration value: {e.Message}");
        }
        try { _ = new Stadig.Common.RegionTime(options.TimeZone); }
        catch (ArgumentException e) { throw new StartupException($"Invalid configuration value: {e.Message}"); }
        foreach (var proxy in options.ForwardedProxies)
            if (!(proxy.Contains('/') ? System.Net.IPNetwork.TryParse(proxy, out _) : System.Net.IPAddress.TryParse(proxy, out _)))
                throw new StartupException($"Invalid configuration value: Stadig:ForwardedProxies has '{proxy}', which is not an IP address or network.");
        if (!string.IsNullOrWhiteSpace(options.ReplicaDatabase)
            && (options.Engine != DatabaseEngine.Postgres || Storage.Database.EngineOf(options.ReplicaDatabase) != DatabaseEngine.Postgres))
            throw new StartupException("Invalid configuration value: Stadig:ReplicaDatabase is a PostgreSQL streaming replica (Host=…) of a PostgreSQL Stadig:Database; SQLite has none.");
        if (options.Mode is not (InstallationMode.Production or InstallationMode.Training))
            throw new StartupException($"Invalid configuration value: Stadig:Mode is {options.Mode}; it is Production or Training.");
        if (options.Training.UnknownExercises().ToList() is { Count: > 0 } unknownExercises)
            throw new StartupException($"Invalid configuration value: Stadig:Training:Required names exercises that do not exist: {string.Join(", ", unknownExercises)}.");
        if (options.IsTraining)
        {
            // A training installation talks to no lab: nothing it does may reach a real system, and no real result may reach it.
            options.Mllp.Port = 0;
            options.LabOrders.Port = 0;
        }
        if (options.Oidc.IsConfigured)
        {
            if (!Uri.TryCreate(options.Oidc.Authority, UriKind.Absolute, out var authority) || authority.Scheme is not ("https" or "http"))
                throw new StartupException($"Invalid configuration value: Stadig:Oidc:Authority '{options.Oidc.Authority}' is not an http(s) URL.");
            if (string.IsNullOrWhiteSpace(options.Oidc.ClientId))
                throw new StartupException("Invalid configuration value: Stadig:Oidc:Authority is set but Stadig:Oidc:ClientId is not.");
            if (string.IsNullOrWhiteSpace(options.Oidc.HsaIdClaim))
                throw new StartupException("Invalid configuration value: Stadig:Oidc:HsaIdClaim is empty; it names the ID token's HSA-id claim.");
        }
        if (!string.IsNullOrWhiteSpace(options.Telemetry.OtlpEndpoint)
            && !(Uri.TryCreate(options.Telemetry.OtlpEndpoint, UriKind.Absolute, out var otlp) && otlp.Scheme is "http" or "https"))
            throw new StartupException($"Invalid configuration value: Stadig:Telemetry:OtlpEndpoint '{options.Telemetry.OtlpEndpoint}' is not an http(s) URL.");
        if (options.Telemetry.OtlpProtocol is not ("grpc" or "http/protobuf"))
            throw new StartupException($"Invalid configuration value: Stadig:Telemetry:OtlpProtocol '{options.Telemetry.OtlpProtocol}' is neither grpc nor http/protobuf.");
        return (options, configuration);
    }

    /// <summary>--database is shorthand for --Stadig:Database.</summary>
    private static string[] Translate(string[] args) =>
        args.Select(a => a == "--database" ? "--Stadig:Database" : a.StartsWith("--database=", StringComparison.Ordinal) ? "--Stadig:Database=" + a["--database=".Length..] : a)
            .Where(a => a is not ("--patients" or "--seed"))
            .ToArray();

    internal static async Task PrepareDatabaseAsync(IServiceProvider services, StadigOptions options)
    {
        var database = services.GetRequiredService<Database>();
        if (options.MigrateAtStart)
        {
            await GuardDatabaseAsync(options, () => new Migrator(database).MigrateAsync());
        }
        else
        {
            var pending = await GuardDatabaseAsync(options, () => new Migrator(database).PendingAsync());
            if (pending.Count > 0)
                throw new StartupException($"The database schema lacks migration {string.Join(", ", pending.Select(m => m.Version))}, which this Stadig needs. Run 'stadig migrate'.");
        }

        // A new installation can prescribe at once: the starter catalogue, until the region imports its own.
        await services.GetRequiredService<Medication.ProductCatalogue>().SeedIfEmptyAsync();

        // Bulk exports and imports run in the process: the ones this node was running when it stopped are over.
        await services.GetRequiredService<Stadig.Fhir.FhirService>().FailInterruptedExportsAsync(options.NodeName);
        await services.GetRequiredService<Stadig.Fhir.FhirService>().FailInterruptedImportsAsync(options.NodeName);

        var installation = services.GetRequiredService<InstallationSettings>();
        await Training.TrainingInstallation.CheckModeAsync(services, options);
        if (options.ShouldSeedDemo && !await installation.HasRegionAsync())
        {
            var hasher = services.GetRequiredService<IPasswordHasher<object>>();
            await services.GetRequiredService<RegionSeeder>().SeedAsync(new SeedOptions
            {
                Patients = options.DemoPatients, Seed = 1, DemoUsers = true,
                HashPassword = p => hasher.HashPassword(new object(), p),
            }, CancellationToken.None);
            // The demo region's records are shown over FHIR too (the bench seeder leaves this to `stadig fhir-publish`).
            await Fhir.Records.FhirRecordBackfill.RunAsync(services.GetRequiredService<Database>(), services.GetRequiredService<TimeProvider>(), CancellationToken.None);
            await installation.SetModeAsync(InstallationMode.Demo);
        }
    }

    /// <summary>Turns an unreachable or unusable database into one line for the operator.</summary>
    public static async Task<T> GuardDatabaseAsync<T>(StadigOptions options, Func<Task<T>> work)
    {
        try
        {
            return await work();
        }
        catch (NpgsqlException e) when (e.InnerException is SocketException or TimeoutException || e is PostgresException)
        {
            throw new StartupException($"Cannot use the PostgreSQL database ({Describe(options.Database)}): {e.InnerException?.Message ?? e.Message}", e);
        }
        catch (NpgsqlException e)
        {
            throw new StartupException($"Cannot reach the PostgreSQL database ({Describe(options.Database)}): {e.Message}", e);
        }
        catch (Microsoft.Data.Sqlite.SqliteException e)
        {
            throw new StartupException($"Cannot open the SQLite database ({Describe(options.Database)}): {e.Message}");
        }
        catch (ArgumentException e)
        {
            throw new StartupException($"The database connection string is not valid: {e.Message}");
        }
    }

    /// <summary>The database and what went wrong, for the log and /health/ready: never the connection string.</summary>
    internal static string DescribeFailure(StadigOptions options, Exception e) => e switch
    {
        StartupException startup => startup.Message,
        NpgsqlException npgsql => $"{Describe(options.Database)}: {npgsql.InnerException?.Message ?? npgsql.Message}",
        _ => $"{Describe(options.Database)}: {e.GetType().Name}",
    };

    /// <summary>Host, port, database and file only: never a password in a message.</summary>
    internal static string Describe(string connectionString)
    {
        try
        {
            if (Storage.Database.EngineOf(connectionString) == DatabaseEngine.Sqlite)
                return new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(connectionString).DataSource;
            var b = new NpgsqlConnectionStringBuilder(connectionString);
            return $"{b.Host}:{b.Port}/{b.Database}";
        }
        catch (ArgumentException)
        {
            return "unreadable connection string";
        }
    }
}
