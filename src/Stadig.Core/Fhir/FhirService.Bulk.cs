using System.Globalization;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Fhir.Store;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Fhir;

/// <summary>Where a bulk export starts: everything, every patient, or the patients of one care unit (a Group).</summary>
public sealed record FhirExportScope(string Level, Guid? GroupUnitId, IReadOnlySet<string>? Types, DateTimeOffset? Since);

public sealed partial class FhirService
{
    /// <summary>
    /// Lines per NDJSON file of an export (HAPI FHIR's default too). An export holds each type's file
    /// in memory until it is full, and those lines outlived the collections that ran meanwhile: with
    /// 10,000 lines in new strings, every garbage collection of the overload run kept ~50 MB of them
    /// alive and paused the requests in flight for 60–100 ms (docs/benchmarks.md, fifteenth run).
    /// </summary>
    public const int DefaultExportFileLines = 1_000;

    /// <summary>Lines per NDJSON file of this service's exports (<see cref="DefaultExportFileLines"/>; a test sets fewer to see a type span files).</summary>
    internal int ExportFileLines { get; set; } = DefaultExportFileLines;

    /// <summary>
    /// Starts a Bulk Data export (the async pattern: the caller polls the job). Bulk export is a
    /// care provider's act — a move to a successor system, a registry delivery — so it takes an
    /// administrator with a system/ scope, and every exported patient is audited as read.
    /// </summary>
    /// <param name="runner">The node that runs the job (see <see cref="FailInterruptedExportsAsync"/>).</param>
    public async Task<Guid> StartExportAsync(FhirCaller caller, FhirExportScope scope, string requestUrl, string runner, CancellationToken cancellationToken = default)
    {
        if (!RolePermissions.Allows(caller.Caller.Role, RecordPart.BulkTransfer, RecordActions.Read) || caller.Scopes.OnlyPatientContext("Patient", write: false) || !caller.Scopes.Allows("Patient", write: false))
            throw new FhirException(FhirFailureKind.Forbidden, "forbidden", null, "Bulk export takes an administrator's assignment and a system/*.read (or user/*.read) scope.");
        var job = Guid.NewGuid();
        await using var connection = await checkpoint.Scope(caller.Caller).OpenAsync(cancellationToken);
        await connection.ExecuteAsync(
            "INSERT INTO fhir_export_job (id, requested_by, request_url, status, created_at, runner) VALUES (@job, @staff, @requestUrl, 'running', @now, @runner)",
            new { job, staff = caller.Caller.StaffId, requestUrl, now = clock.GetUtcNow(), runner });
        await audit.AppendAsync(new AuditEntry(caller.Caller, null, AuditActivity.Read, "FHIR $export", Detail: requestUrl), cancellationToken);
        return job;
    }

    /// <summary>
    /// Runs an export job to the end, writing its NDJSON files; a failure is kept on the job for the
    /// poller to see. <paramref name="background"/> makes it step aside for clinicians between patients.
    /// </summary>
    public async Task RunExportAsync(FhirCaller caller, Guid job, FhirExportScope scope, BackgroundWork? background = null, CancellationToken cancellationToken = default)
    {
        var files = new Dictionary<string, ExportFileText>(StringComparer.Ordinal);
        try
        {
            await using var connection = await checkpoint.Scope(caller.Caller).OpenAsync(cancellationToken);
            // The records are read from the replica when one is configured (an export tolerates its lag
            // and is the heaviest read there is); the job's files and state are written to the primary.
            System.Data.Common.DbConnection reads;
            using (database.PreferReplica()) reads = await checkpoint.Scope(caller.Caller).OpenAsync(cancellationToken);
            await using var readsLease = reads;
            async Task WriteAsync(JsonObject resource)
            {
                var type = FhirJson.String(resource["resourceType"])!;
                if (scope.Types is not null && !scope.Types.Contains(type)) return;
                if (!files.TryGetValue(type, out var file)) files[type] = file = new ExportFileText();
                file.AppendLine(FhirJson.Serialize(resource));
                if (file.Lines >= ExportFileLines) await SaveFileAsync(connection, job, type, file);
            }

            if (scope.Level == "system")
            {
                foreach (var row in await reads.QueryAsync<FhirResourceRow>(
                    "SELECT resource_type AS ResourceType, id AS Id, content AS Content, last_updated AS LastUpdated FROM fhir_resource WHERE patient_id IS NULL AND NOT deleted ORDER BY resource_type, id"))
                {
                    if (scope.Since is null || row.LastUpdated > scope.Since) await WriteAsync(FhirJson.Parse(row.Content));
                }
            }
            await foreach (var patientId in PatientsToExportAsync(reads, scope.GroupUnitId, cancellationToken))
            {
                if (background is not null) await background.YieldAsync(cancellationToken);
                var grant = await checkpoint.ExportAsync(caller.Caller, patientId, "FHIR $export", cancellationToken);
                var (patient, stored, compartment) = await ExportedAsync(reads, grant.PatientId);
                if (patient is null) continue;
                if (scope.Since is null || patient.UpdatedAt > scope.Since) await WriteAsync(PatientResource(patient, stored));
                foreach (var row in compartment)
                {
                    if (scope.Since is null || row.LastUpdated > scope.Since) await WriteAsync(FhirJson.Parse(row.Content));
                }
            }
            foreach (var (type, file) in files)
            {
                if (file.Lines > 0) await SaveFileAsync(connection, job, type, file);
            }
            await connection.ExecuteAsync("UPDATE fhir_export_job SET status = 'completed', completed_at = @now WHERE id = @job", new { job, now = clock.GetUtcNow() });
        }
        catch (Exception failure)
        {
            // Stopping the server cancels the job: it will not finish, so the poller is told so rather than waiting forever.
            await using var connection = await checkpoint.Scope(caller.Caller).OpenAsync(CancellationToken.None);
            await connection.ExecuteAsync("UPDATE fhir_export_job SET status = 'failed', completed_at = @now, error = @error WHERE id = @job",
                new
                {
                    job, now = clock.GetUtcNow(),
                    error = failure switch
                    {
                        FhirException fhir => fhir.Message,
                        OperationCanceledException => InterruptedExport,
                        _ => failure.GetType().Name,
                    },
                });
        }
        finally
        {
            foreach (var file in files.Values) file.Dispose();
        }
    }

    /// <summary>Why a job that was running when its server stopped has failed; the client starts the export again.</summary>
    public const string InterruptedExport = "Stadig stopped while the export was running; start the export again.";

    /// <summary>
    /// At start: the jobs this node (<paramref name="runner"/>) was running when it stopped will never
    /// finish (a job runs inside the server process), so they are failed, and their status URL answers
    /// with the error instead of "still running" for ever. Other nodes' jobs are left alone; jobs from
    /// before jobs named their node are taken as this node's.
    /// </summary>
    public async Task<int> FailInterruptedExportsAsync(string runner, CancellationToken cancellationToken = default)
    {
        // The job table only, at start-up, with no caller: the patient data of a job is in its files, read only by the one who asked.
        await using var connection = await checkpoint.Scope(Caller.System).OpenAsync(cancellationToken);
        return await connection.ExecuteAsync(
            "UPDATE fhir_export_job SET status = 'failed', completed_at = @now, error = @error WHERE status = 'running' AND (runner = @runner OR runner IS NULL)",
            new { now = clock.GetUtcNow(), error = InterruptedExport, runner });
    }

    /// <summary>
    /// The patients of an export: a unit's (a group export), or the whole region's in keyset batches
    /// (from <see cref="Guid.Empty"/>, as the FHIR backfill goes), so that a region of a million is
    /// never one result in memory: that read alone took the database a third of a second and its
    /// garbage paused every request (found by the go-live rehearsal's overload run).
    /// </summary>
    internal static async IAsyncEnumerable<Guid> PatientsToExportAsync(System.Data.Common.DbConnection connection, Guid? groupUnitId,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken, int batchSize = 1000)
    {
        if (groupUnitId is { } unit)
        {
            foreach (var id in await connection.QueryAsync<Guid>(PatientOwnedTables.UnitPatientsSql, new { unit }))
                yield return id;
            yield break;
        }
        var after = Guid.Empty;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var batch = (await connection.QueryAsync<Guid>(
                "SELECT id FROM patient WHERE merged_into_id IS NULL AND id > @after ORDER BY id LIMIT @batchSize", new { after, batchSize })).AsList();
            foreach (var id in batch) yield return id;
            if (batch.Count < batchSize) yield break;
            after = batch[^1];
        }
    }

    /// <summary>
    /// What an export writes of one patient — the registry row, the stored Patient resource
    /// (<see cref="FhirResourceStore.PatientOfAsync"/>) and the compartment
    /// (<see cref="FhirResourceStore.CompartmentAsync"/>) — in one round trip, on generic plans
    /// (<see cref="Database.OnGenericPlan"/>): each finds its rows by the patient's key. As three
    /// statements planned for each patient they took 4.4 s of PostgreSQL's planning in an export of
    /// the unit's 21,000 patients, beside the clinicians of the overload run (docs/benchmarks.md, thirteenth run).
    /// </summary>
    private async Task<(Patient? Patient, FhirResourceRow? Stored, IReadOnlyList<FhirResourceRow> Compartment)> ExportedAsync(
        System.Data.Common.DbConnection connection, Guid patientId)
    {
        using var grid = await connection.QueryMultipleAsync(ExportedBatch, new { patientId });
        return (await grid.ReadSingleOrDefaultAsync<Patient>(), await grid.ReadSingleOrDefaultAsync<FhirResourceRow>(), (await grid.ReadAsync<FhirResourceRow>()).AsList());
    }

    private string? _exportedBatch, _exportedBatchInScratch;

    private string ExportedBatch => Database.InScratch
        ? _exportedBatchInScratch ??= database.OnGenericPlan(ExportedSql, inTransaction: true)
        : _exportedBatch ??= database.OnGenericPlan(ExportedSql);

    private const string ExportedSql =
        $"""
        {PatientRegistry.FindSql};
        {FhirResourceStore.PatientOfSql};
        {FhirResourceStore.CompartmentSql}
        """;

    /// <summary>Stores the file's lines as the next file of its type and empties it for the lines after.</summary>
    private async Task SaveFileAsync(System.Data.Common.DbConnection connection, Guid job, string type, ExportFileText file)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO fhir_export_file (job_id, resource_type, position, lines, content) VALUES (@job, @type, @position, @lines, @content)";
        void Add(string name, object value)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value;
            command.Parameters.Add(parameter);
        }
        Add("job", database.Engine == DatabaseEngine.Sqlite ? job.ToString() : job);
        Add("type", type);
        Add("position", file.Position);
        Add("lines", file.Lines);
        // PostgreSQL takes the text straight from the pooled buffer; SQLite's driver only takes a string.
        Add("content", database.Engine == DatabaseEngine.Postgres ? file.Text : new string(file.Text.AsSpan()));
        await command.ExecuteNonQueryAsync();
        file.StartNext();
    }

    public sealed class ExportJob
    {
        public Guid Id { get; init; }
        public Guid RequestedBy { get; init; }
        public string RequestUrl { get; init; } = "";
        public string Status { get; init; } = "";
        public DateTimeOffset CreatedAt { get; init; }
        public string? Error { get; init; }
    }

    public sealed class ExportFile
    {
        public string ResourceType { get; init; } = "";
        public int Position { get; init; }
        public int Lines { get; init; }
    }

    /// <summary>The job and its files, for the one who started it.</summary>
    public async Task<(ExportJob Job, IReadOnlyList<ExportFile> Files)> ExportStatusAsync(FhirCaller caller, Guid job, CancellationToken cancellationToken = default)
    {
        await using var connection = await checkpoint.Scope(caller.Caller).OpenAsync(cancellationToken);
        var found = await OwnJobAsync(connection, caller, job);
        var files = found.Status == "completed"
            ? (await connection.QueryAsync<ExportFile>(
                "SELECT resource_type AS ResourceType, position AS Position, lines AS Lines FROM fhir_export_file WHERE job_id = @job ORDER BY resource_type, position",
                new { job })).ToList()
            : [];
        return (found, files);
    }

    /// <summary>The job, if it is the caller's: an export's files are for the one who asked for them.</summary>
    private static async Task<ExportJob> OwnJobAsync(System.Data.Common.DbConnection connection, FhirCaller caller, Guid job)
    {
        var found = await connection.QuerySingleOrDefaultAsync<ExportJob>(
            "SELECT id AS Id, requested_by AS RequestedBy, request_url AS RequestUrl, status AS Status, created_at AS CreatedAt, error AS Error FROM fhir_export_job WHERE id = @job",
            new { job });
        return found is not null && found.RequestedBy == caller.Caller.StaffId
            ? found
            : throw new FhirException(FhirFailureKind.NotFound, "not-found", null, $"No export job {job} of yours.");
    }

    public async Task<string> ExportFileAsync(FhirCaller caller, Guid job, string type, int position, CancellationToken cancellationToken = default)
    {
        await using var connection = await checkpoint.Scope(caller.Caller).OpenAsync(cancellationToken);
        await OwnJobAsync(connection, caller, job);
        return await connection.QuerySingleOrDefaultAsync<string>(
            "SELECT content FROM fhir_export_file WHERE job_id = @job AND resource_type = @type AND position = @position", new { job, type, position })
            ?? throw new FhirException(FhirFailureKind.NotFound, "not-found", null, $"Export {job} has no file {type} {position}.");
    }
}

/// <summary>
/// One NDJSON file of an export being filled, in a buffer rented from the shared pool: the buffer is
/// reused file after file (and job after job), so the lines an export holds no longer become new
/// long-lived objects that every garbage collection meanwhile must move.
/// </summary>
internal sealed class ExportFileText : IDisposable
{
    private char[] _buffer = System.Buffers.ArrayPool<char>.Shared.Rent(64 * 1024);
    private int _length;

    public int Lines { get; private set; }

    /// <summary>Which file of its type this is (0, 1, …).</summary>
    public int Position { get; private set; }

    public ArraySegment<char> Text => new(_buffer, 0, _length);

    public void AppendLine(string line)
    {
        if (_length + line.Length + 1 > _buffer.Length)
        {
            var bigger = System.Buffers.ArrayPool<char>.Shared.Rent(Math.Max(_length + line.Length + 1, _buffer.Length * 2));
            _buffer.AsSpan(0, _length).CopyTo(bigger);
            System.Buffers.ArrayPool<char>.Shared.Return(_buffer);
            _buffer = bigger;
        }
        line.CopyTo(_buffer.AsSpan(_length));
        _length += line.Length;
        _buffer[_length++] = '\n';
        Lines++;
    }

    /// <summary>After the file was stored: the next file of the type starts empty in the same buffer.</summary>
    public void StartNext()
    {
        _length = 0;
        Lines = 0;
        Position++;
    }

    public void Dispose()
    {
        if (_buffer.Length > 0) System.Buffers.ArrayPool<char>.Shared.Return(_buffer);
        _buffer = [];
    }
}
