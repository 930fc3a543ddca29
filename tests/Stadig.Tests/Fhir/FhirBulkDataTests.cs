using System.Net;
using System.Text.Json.Nodes;
using Stadig.Fhir.Records;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Tests.Fhir;

/// <summary>Bulk Data: what Stadig exports, an empty Stadig imports, and exports again the same.</summary>
public class FhirBulkDataTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    [Hazard("H-11")]
    public async Task Export_import_into_an_empty_database_and_export_again_gives_the_same_content(DatabaseEngine engine)
    {
        await using var source = await FhirTestServer.StartAsync(engine, Role.Physician, Role.Administrator);
        var clinician = source.Client();
        var bundle = JsonNode.Parse(await File.ReadAllTextAsync(FhirSamples.SyntheaBundles().First(f => f.Contains("Clemente", StringComparison.Ordinal)), TestContext.Current.CancellationToken))!;
        Assert.Equal(HttpStatusCode.OK, (await clinician.PostFhirAsync("/fhir", bundle)).Status);
        var (_, anna, _) = await clinician.PostFhirAsync("/fhir/Patient", FhirCalls.Patient("191212121212", "Öström", "Anna"));
        var (created, observation, _) = await clinician.PostFhirAsync("/fhir/Observation", FhirCalls.Observation($"Patient/{anna["id"]}", "2345-7", 5.4, "2026-03-01"));
        Assert.Equal(HttpStatusCode.Created, created);
        // Changed once each: the versions come along too.
        observation["status"] = "amended";
        Assert.Equal(HttpStatusCode.OK, (await clinician.PutFhirAsync($"/fhir/Observation/{observation["id"]}", observation)).Status);
        anna["name"]![0]!["given"] = new JsonArray("Anna", "Maria");
        var (updated, annaAfter, _) = await clinician.PutFhirAsync($"/fhir/Patient/{anna["id"]}", anna);
        Assert.True(updated == HttpStatusCode.OK, FhirCalls.Issues(annaAfter));
        Assert.Equal("2", annaAfter["meta"]!["versionId"]!.GetValue<string>());

        var first = await ExportAsync(source, source.Server.Staff);
        Assert.Contains(first, line => line.Contains("\"Öström\"", StringComparison.Ordinal));
        Assert.Contains(first, line => line.StartsWith("{\"resourceType\":\"ExplanationOfBenefit\"", StringComparison.Ordinal));

        await using var target = await FhirTestServer.StartAsync(engine, Role.Administrator);
        // The empty Stadig's own directory (the administrator who imports, their unit) is there before.
        var own = (await ExportAsync(target, target.Server.Staff)).Select(KeyOf).ToHashSet(StringComparer.Ordinal);
        var (status, outcome) = await ImportAsync(target, string.Join('\n', first));
        Assert.True(status == HttpStatusCode.OK, FhirCalls.Issues(outcome));

        var second = await ExportAsync(target, target.Server.Staff);
        // Per type, the same resources in the same order, byte for byte but for meta.lastUpdated
        // (the time of the import); the only additions are the target's own directory.
        var exported = first.Select(KeyOf).ToHashSet(StringComparer.Ordinal);
        Assert.All(second.Where(line => !exported.Contains(KeyOf(line))), extra => Assert.Contains(KeyOf(extra), own));
        var again = second.Where(line => exported.Contains(KeyOf(line))).ToList();
        foreach (var type in first.Select(TypeOf).Distinct())
        {
            Assert.Equal(first.Where(l => TypeOf(l) == type).Select(WithoutLastUpdated), again.Where(l => TypeOf(l) == type).Select(WithoutLastUpdated));
        }
        Assert.Equal(first.Count, again.Count);
        Assert.Contains(first, line => FhirRecordPublisher.IsPublished(line));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_type_with_more_lines_than_a_file_holds_is_exported_over_files_in_order_with_every_line_once(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine, Role.Physician, Role.Administrator);
        var bundle = JsonNode.Parse(await File.ReadAllTextAsync(FhirSamples.SyntheaBundles().First(f => f.Contains("Clemente", StringComparison.Ordinal)), TestContext.Current.CancellationToken))!;
        Assert.Equal(HttpStatusCode.OK, (await fhir.Client().PostFhirAsync("/fhir", bundle)).Status);
        var whole = await ExportFilesAsync(fhir);
        var observations = Assert.Single(whole, f => f.Type == "Observation").Lines;
        Assert.Equal(48, observations.Count);

        // Seven lines a file: the 48 Observations in 7 files, the file buffer reused from one to the next.
        fhir.Server.Services.GetRequiredService<Stadig.Fhir.FhirService>().ExportFileLines = 7;
        var split = await ExportFilesAsync(fhir);
        var parts = split.Where(f => f.Type == "Observation").ToList();
        Assert.Equal(7, parts.Count);
        Assert.All(parts.SkipLast(1), part => Assert.Equal(7, part.Lines.Count));
        Assert.Equal(Enumerable.Range(0, 7).Select(i => $"/Observation/{i}"), parts.Select(p => p.Url[p.Url.LastIndexOf("/Observation/", StringComparison.Ordinal)..]));
        Assert.Equal(observations, parts.SelectMany(p => p.Lines));
        Assert.All(parts.SelectMany(p => p.Lines), line => Assert.Equal("Observation", JsonNode.Parse(line)!["resourceType"]!.GetValue<string>()));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Export_is_for_administrators_and_asks_for_the_async_pattern(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var clinician = fhir.Client("system/*.read");
        var (noPrefer, _, _) = await clinician.GetFhirAsync("/fhir/$export");
        Assert.Equal(HttpStatusCode.BadRequest, noPrefer);
        var (forbidden, _, _) = await clinician.SendAsync(HttpMethod.Get, "/fhir/$export", configure: r => r.Headers.Add("Prefer", "respond-async"));
        Assert.Equal(HttpStatusCode.Forbidden, forbidden);
    }

    /// <summary>Each patient's rows are read in one batch on plans made once per connection, not planned for every patient.</summary>
    [Fact]
    public async Task On_PostgreSQL_an_export_reads_every_patient_on_plans_made_once_per_connection()
    {
        var cancel = TestContext.Current.CancellationToken;
        // Three pooled connections: the job's, the reads', the audit's; all of them are asked below.
        var database = new Database(DatabaseEngine.Postgres, await TestDatabases.CreateMigratedConnectionStringAsync(DatabaseEngine.Postgres) + ";Maximum Pool Size=3");
        var region = await TestRegion.OnAsync(database);
        for (var day = 1; day <= 4; day++)
            await region.Patients.RegisterAsync(region.Physician, TestNumbers.Personnummer(1970, 3, day), new Stadig.Patients.PatientDetails("Ek", $"Dag{day}"), cancellationToken: cancel);
        var admin = new Stadig.Fhir.FhirCaller(await region.AddCallerAsync("admin", Role.Administrator, region.Ward), Stadig.Fhir.FhirScopes.Parse("system/*.read", null));
        var fhir = new Stadig.Fhir.FhirService(database, region.Services.Checkpoint, region.Patients, region.Audit, TimeProvider.System);
        var scope = new Stadig.Fhir.FhirExportScope("system", null, null, null);

        var job = await fhir.StartExportAsync(admin, scope, "/fhir/$export", "test", cancel);
        await fhir.RunExportAsync(admin, job, scope, cancellationToken: cancel);

        var (status, files) = await fhir.ExportStatusAsync(admin, job, cancel);
        Assert.Equal("completed", status.Status);
        Assert.Equal(4, files.Where(f => f.ResourceType == "Patient").Sum(f => f.Lines));
        var sessions = new List<System.Data.Common.DbConnection>();
        try
        {
            for (var i = 0; i < 3; i++) sessions.Add(await database.OpenUnscopedAsync(cancel));
            var plans = new List<(long Generic, long Custom)>();
            foreach (var session in sessions)
                plans.AddRange(await Dapper.SqlMapper.QueryAsync<(long, long)>(session,
                    "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE 'SELECT resource_type AS ResourceType%resource_type <> ''Patient''%'"));
            Assert.Equal(4, plans.Sum(p => p.Generic));
            Assert.Equal(0, plans.Sum(p => p.Custom));
        }
        finally
        {
            foreach (var session in sessions) await session.DisposeAsync();
        }
    }

    /// <summary>Runs a system export to the end (polling the status URL, as a client does) and gives its NDJSON lines.</summary>
    private static async Task<List<string>> ExportAsync(FhirTestServer server, StaffDirectory _)
    {
        var admin = server.Client("system/*.read", assignment: (await server.Server.Staff.AssignmentsOfAsync(server.Member.Id, TestContext.Current.CancellationToken))
            .First(a => a.Role == Role.Administrator));
        var (kickOff, _, response) = await admin.SendAsync(HttpMethod.Get, "/fhir/$export", configure: r => r.Headers.Add("Prefer", "respond-async"));
        Assert.Equal(HttpStatusCode.Accepted, kickOff);
        var status = response.Content.Headers.ContentLocation?.ToString() ?? response.Headers.GetValues("Content-Location").Single();
        for (var poll = 0; poll < 100_000; poll++)
        {
            var (state, manifest, _) = await admin.GetFhirAsync(status);
            if (state == HttpStatusCode.Accepted) continue;
            Assert.Equal(HttpStatusCode.OK, state);
            var lines = new List<string>();
            foreach (var output in manifest["output"]!.AsArray())
            {
                var text = await admin.GetStringAsync(output!["url"]!.GetValue<string>(), TestContext.Current.CancellationToken);
                lines.AddRange(text.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            }
            return lines;
        }
        throw new InvalidOperationException("The export never finished.");
    }

    /// <summary>An export run to the end as a client does: each file of the manifest, in its order, with its type and lines.</summary>
    private static async Task<List<(string Type, string Url, List<string> Lines)>> ExportFilesAsync(FhirTestServer server)
    {
        var admin = server.Client("system/*.read", assignment: (await server.Server.Staff.AssignmentsOfAsync(server.Member.Id, TestContext.Current.CancellationToken))
            .First(a => a.Role == Role.Administrator));
        var (kickOff, _, response) = await admin.SendAsync(HttpMethod.Get, "/fhir/$export", configure: r => r.Headers.Add("Prefer", "respond-async"));
        Assert.Equal(HttpStatusCode.Accepted, kickOff);
        var status = response.Content.Headers.ContentLocation!.ToString();
        for (var poll = 0; poll < 100_000; poll++)
        {
            var (state, manifest, _) = await admin.GetFhirAsync(status);
            if (state == HttpStatusCode.Accepted) continue;
            Assert.Equal(HttpStatusCode.OK, state);
            var files = new List<(string Type, string Url, List<string> Lines)>();
            foreach (var output in manifest["output"]!.AsArray())
            {
                var url = output!["url"]!.GetValue<string>();
                var text = await admin.GetStringAsync(url, TestContext.Current.CancellationToken);
                var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
                Assert.Equal(output["count"]!.GetValue<int>(), lines.Count);
                files.Add((output["type"]!.GetValue<string>(), url, lines));
            }
            return files;
        }
        throw new InvalidOperationException("The export never finished.");
    }

    /// <summary>Runs an import to the end as a client does (kick-off, then polling its status URL): the final status and outcome.</summary>
    internal static async Task<(HttpStatusCode Status, JsonObject Outcome)> ImportAsync(FhirTestServer server, string ndjson, Func<HttpClient, string, Task>? whileRunning = null)
    {
        var importer = server.Client("system/*.*", assignment: (await server.Server.Staff.AssignmentsOfAsync(server.Member.Id, TestContext.Current.CancellationToken))
            .First(a => a.Role == Role.Administrator));
        var status = await KickOffImportAsync(importer, ndjson);
        if (whileRunning is not null) await whileRunning(importer, status);
        return await AwaitImportAsync(importer, status);
    }

    internal static async Task<string> KickOffImportAsync(HttpClient importer, string ndjson)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/fhir/$import") { Content = new StringContent(ndjson, System.Text.Encoding.UTF8, "application/fhir+ndjson") };
        request.Headers.Add("Prefer", "respond-async");
        using var kickOff = await importer.SendAsync(request, TestContext.Current.CancellationToken);
        Assert.True(kickOff.StatusCode == HttpStatusCode.Accepted, await kickOff.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        return kickOff.Content.Headers.ContentLocation!.ToString();
    }

    internal static async Task<(HttpStatusCode Status, JsonObject Outcome)> AwaitImportAsync(HttpClient importer, string status)
    {
        for (var poll = 0; poll < 20_000; poll++)
        {
            var (state, outcome, _) = await importer.GetFhirAsync(status);
            if (state != HttpStatusCode.Accepted) return (state, outcome);
            // As a client polls (Retry-After), only faster: the job is in this process.
            await Task.Delay(TimeSpan.FromMilliseconds(50), TestContext.Current.CancellationToken);
        }
        throw new InvalidOperationException("The import never finished.");
    }

    private static string TypeOf(string line) => JsonNode.Parse(line)!["resourceType"]!.GetValue<string>();

    private static string KeyOf(string line) => $"{TypeOf(line)}/{JsonNode.Parse(line)!["id"]!.GetValue<string>()}";

    private static string WithoutLastUpdated(string line)
    {
        var resource = (JsonObject)JsonNode.Parse(line)!;
        (resource["meta"] as JsonObject)?.Remove("lastUpdated");
        return resource.ToJsonString();
    }
}
