using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;

namespace Stadig.Fhir;

/// <summary>How far a running import is, for its status poll (held by the node that runs it).</summary>
public sealed class FhirImportProgress
{
    private int _checked;
    private int _stored;

    public int Checked => Volatile.Read(ref _checked);
    public int Stored => Volatile.Read(ref _stored);

    internal void Check() => Interlocked.Increment(ref _checked);
    internal void Store() => Interlocked.Increment(ref _stored);
}

public sealed partial class FhirService
{
    /// <summary>Failed lines reported by one import: past these, the import stops looking.</summary>
    public const int MaxImportIssues = 100;

    /// <summary>Why a job that was running when its server stopped has failed: nothing of it was stored.</summary>
    public const string InterruptedImport = "Stadig stopped while the import was running; nothing of it was stored. Start the import again.";

    private readonly ConcurrentDictionary<Guid, FhirImportProgress> _imports = new();

    /// <summary>$import writes whole records of any patient: an administrator's act (a move from another system), like export.</summary>
    public static void DemandImport(FhirCaller caller)
    {
        if (!RolePermissions.Allows(caller.Caller.Role, RecordPart.BulkTransfer, RecordActions.Write))
            throw new FhirException(FhirFailureKind.Forbidden, "forbidden", null, "$import takes an administrator's assignment.");
    }

    /// <summary>
    /// Registers an import whose NDJSON (<paramref name="lines"/> lines) is in a file on this node
    /// (<paramref name="runner"/>); <see cref="RunImportAsync"/> then does it as background work.
    /// </summary>
    public async Task<Guid> StartImportAsync(FhirCaller caller, int lines, string runner, CancellationToken cancellationToken = default)
    {
        DemandImport(caller);
        var job = Guid.NewGuid();
        await using var connection = await checkpoint.Scope(caller.Caller).OpenAsync(cancellationToken);
        await connection.ExecuteAsync(
            "INSERT INTO fhir_import_job (id, requested_by, status, lines, created_at, runner) VALUES (@job, @staff, 'running', @lines, @now, @runner)",
            new { job, staff = caller.Caller.StaffId, lines, now = clock.GetUtcNow(), runner });
        await audit.AppendAsync(new AuditEntry(caller.Caller, null, AuditActivity.Write, "FHIR $import", Detail: $"{lines} lines"), cancellationToken);
        _imports[job] = new FhirImportProgress();
        return job;
    }

    /// <summary>
    /// Runs an import to the end, all or nothing: every line is read first (each needs a supported
    /// type and an id, once), then one database transaction stores patients first, then the
    /// directory, then the records, each resource checked as any write is; a reference to a
    /// resource of the same import holds in any line order, since all of it commits together. A
    /// line that fails is reported by number (up to <see cref="MaxImportIssues"/>) and nothing is
    /// kept. The outcome waits on the job for the poller; the file is deleted.
    /// </summary>
    public async Task RunImportAsync(FhirCaller caller, Guid job, string path, BackgroundWork? background = null, CancellationToken cancellationToken = default)
    {
        var progress = _imports.GetOrAdd(job, _ => new FhirImportProgress());
        try
        {
            var (ranks, arriving, issues) = await ReadImportAsync(path, progress, background, cancellationToken);
            if (issues.Count > 0) throw new FhirException(FhirFailureKind.Invalid, issues);
            if (arriving.Count == 0) throw new FhirException(FhirFailureKind.Invalid, "required", null, "The import holds no resources.");
            var counts = await TransactAsync(caller, async (connection, transaction) =>
            {
                var decided = new TransactionAccess();
                var stored = new SortedDictionary<string, int>(StringComparer.Ordinal);
                var failures = new List<FhirIssue>();
                var kind = FhirFailureKind.Unprocessable;
                for (var rank = 0; rank <= ranks.Values.DefaultIfEmpty(0).Max() && failures.Count < MaxImportIssues; rank++)
                {
                    var number = 0;
                    await foreach (var line in File.ReadLinesAsync(path, cancellationToken))
                    {
                        number++;
                        if (!ranks.TryGetValue(number, out var lineRank) || lineRank != rank) continue;
                        var resource = FhirJson.ParseResource(line);
                        var type = FhirJson.String(resource["resourceType"])!;
                        try
                        {
                            await StoreAsync(caller, connection, transaction, resource, FhirJson.String(resource["id"]), null, mayCreate: true, $"line {number}",
                                importing: true, arriving: arriving, decided: decided);
                        }
                        catch (Exception failure) when (failure is FhirException or StadigException)
                        {
                            var fhir = failure as FhirException ?? Translate((StadigException)failure);
                            if (failures.Count == 0) kind = fhir.Kind;
                            failures.AddRange(fhir.Issues.Select(i => i with { Diagnostics = $"Line {number}: {i.Diagnostics}" }));
                            if (failures.Count >= MaxImportIssues) break;
                            continue;
                        }
                        stored[type] = stored.GetValueOrDefault(type) + 1;
                        progress.Store();
                    }
                }
                // Thrown, the failures roll back everything the other lines stored.
                if (failures.Count > 0) throw new FhirException(kind, failures);
                return stored;
            }, cancellationToken);
            var outcome = FhirBundles.Information("Imported " + string.Join(", ", counts.Select(c => $"{c.Value} {c.Key}")) + ".");
            await AnalyzeAfterImportAsync(cancellationToken);
            await FinishImportAsync(caller, job, "completed", null, outcome);
        }
        catch (Exception failure)
        {
            var (kind, issues) = failure switch
            {
                FhirException fhir => (fhir.Kind.ToString(), fhir.Issues),
                OperationCanceledException => ("Interrupted", [FhirIssue.Error("transient", null, InterruptedImport)]),
                _ => ("Error", (IReadOnlyList<FhirIssue>)[FhirIssue.Error("exception", null, $"The import failed ({failure.GetType().Name}); nothing of it was stored.")]),
            };
            await FinishImportAsync(caller, job, "failed", kind, FhirBundles.OperationOutcome(issues));
        }
        finally
        {
            _imports.TryRemove(job, out _);
            File.Delete(path);
        }
    }

    /// <summary>
    /// The first pass: which lines hold a resource (by number, with the rank of its type in the
    /// order of storing) and the Type/id each brings; lines that cannot be stored at all are issues.
    /// Only numbers and ids are kept, so a large import is never all in memory.
    /// </summary>
    private static async Task<(Dictionary<int, int> Ranks, HashSet<string> Arriving, List<FhirIssue> Issues)> ReadImportAsync(string path,
        FhirImportProgress progress, BackgroundWork? background, CancellationToken cancellationToken)
    {
        var ranks = new Dictionary<int, int>();
        var arriving = new Dictionary<string, int>(StringComparer.Ordinal);
        var issues = new List<FhirIssue>();
        var number = 0;
        await foreach (var line in File.ReadLinesAsync(path, cancellationToken))
        {
            number++;
            if (number % 1000 == 0 && background is not null) await background.YieldAsync(cancellationToken);
            if (string.IsNullOrWhiteSpace(line)) continue;
            progress.Check();
            void Issue(string code, string? expression, string diagnostics) => issues.Add(FhirIssue.Error(code, expression, $"Line {number}: {diagnostics}"));
            JsonObject resource;
            try
            {
                resource = FhirJson.ParseResource(line);
            }
            catch (FhirException e)
            {
                issues.AddRange(e.Issues.Select(i => i with { Expression = $"line {number}", Diagnostics = $"Line {number}: {i.Diagnostics}" }));
                if (issues.Count >= MaxImportIssues) break;
                continue;
            }
            var type = FhirJson.String(resource["resourceType"])!;
            var id = FhirJson.String(resource["id"]);
            if (!FhirResourceTypes.IsSupported(type) || type == FhirResourceTypes.AuditEvent)
                Issue("not-supported", $"line {number}.resourceType", $"Stadig does not import {type} resources.");
            else if (id is null)
                Issue("required", $"line {number}.{type}.id", $"an imported {type} needs its id.");
            else if (arriving.TryGetValue($"{type}/{id}", out var first))
                Issue("duplicate", $"line {number}.{type}.id", $"{type}/{id} is on line {first} too; an import holds each resource once.");
            else
            {
                arriving[$"{type}/{id}"] = number;
                ranks[number] = WriteRank(type);
            }
            if (issues.Count >= MaxImportIssues) break;
        }
        return (ranks, arriving.Keys.ToHashSet(StringComparer.Ordinal), issues);
    }

    /// <summary>
    /// Fresh planner statistics before the job reports done: until autovacuum's next analyze the
    /// statistics predate the load, and the journal timeline of an imported patient was planned ten
    /// times slower with them (docs/benchmarks.md, second quiet-machine run). PostgreSQL samples, so
    /// this costs about a second at any size; SQLite plans without statistics unless told to keep them.
    /// </summary>
    private async Task AnalyzeAfterImportAsync(CancellationToken cancellationToken)
    {
        if (database.Engine != Storage.DatabaseEngine.Postgres) return;
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("ANALYZE fhir_resource, fhir_search", commandTimeout: 600, cancellationToken: cancellationToken));
    }

    private async Task FinishImportAsync(FhirCaller caller, Guid job, string status, string? failure, JsonObject outcome)
    {
        await using var connection = await checkpoint.Scope(caller.Caller).OpenAsync(CancellationToken.None);
        await connection.ExecuteAsync("UPDATE fhir_import_job SET status = @status, completed_at = @now, failure = @failure, outcome = @outcome WHERE id = @job",
            new { job, status, now = clock.GetUtcNow(), failure, outcome = FhirJson.Serialize(outcome) });
    }

    public sealed class ImportJob
    {
        public Guid Id { get; init; }
        public Guid RequestedBy { get; init; }
        public string Status { get; init; } = "";
        public int Lines { get; init; }
        public DateTimeOffset CreatedAt { get; init; }
        /// <summary>A <see cref="FhirFailureKind"/>'s name, or Interrupted or Error: what the web layer answers the poll with.</summary>
        public string? Failure { get; init; }
        public string? Outcome { get; init; }
    }

    /// <summary>The caller's import job, and how far it is while it runs on this node.</summary>
    public async Task<(ImportJob Job, FhirImportProgress? Progress)> ImportStatusAsync(FhirCaller caller, Guid job, CancellationToken cancellationToken = default)
    {
        await using var connection = await checkpoint.Scope(caller.Caller).OpenAsync(cancellationToken);
        var found = await connection.QuerySingleOrDefaultAsync<ImportJob>(
            "SELECT id AS Id, requested_by AS RequestedBy, status AS Status, lines AS Lines, created_at AS CreatedAt, failure AS Failure, outcome AS Outcome FROM fhir_import_job WHERE id = @job",
            new { job });
        if (found is null || found.RequestedBy != caller.Caller.StaffId)
            throw new FhirException(FhirFailureKind.NotFound, "not-found", null, $"No import job {job} of yours.");
        return (found, _imports.GetValueOrDefault(job));
    }

    /// <summary>At start, as for exports: the imports this node was running when it stopped rolled back and will never finish.</summary>
    public async Task<int> FailInterruptedImportsAsync(string runner, CancellationToken cancellationToken = default)
    {
        await using var connection = await checkpoint.Scope(Caller.System).OpenAsync(cancellationToken);
        return await connection.ExecuteAsync(
            "UPDATE fhir_import_job SET status = 'failed', completed_at = @now, failure = 'Interrupted', outcome = @outcome WHERE status = 'running' AND runner = @runner",
            new { now = clock.GetUtcNow(), runner, outcome = FhirJson.Serialize(FhirBundles.OperationOutcome([FhirIssue.Error("transient", null, InterruptedImport)])) });
    }
}
