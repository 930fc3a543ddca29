using System.Data.Common;
using Stadig.Storage;

namespace Stadig.Fhir.Records;

/// <summary>What the backfill did for one kind of record.</summary>
public sealed record FhirBackfillKind(string Kind, int Read, int Published);

/// <summary>What the backfill did: per kind, the records read and the resources that got a new version.</summary>
public sealed record FhirBackfillResult(IReadOnlyList<FhirBackfillKind> Kinds)
{
    public int Read => Kinds.Sum(k => k.Read);
    public int Published => Kinds.Sum(k => k.Published);
}

/// <summary>
/// Publishes every chart record that exists as FHIR: for data written before records were published
/// (an older database, a seeded region, a bulk load that wrote the tables directly). Each kind is walked
/// in id order in batches, one transaction per batch, so it runs beside a live server and can be stopped
/// and run again. It is idempotent: a record whose resource is already as the chart says gets no new
/// version, so a second run publishes nothing.
/// </summary>
public static class FhirRecordBackfill
{
    /// <summary>One batch of one kind: publish the records after <c>after</c> (in id order), at most <c>limit</c>, on the transaction.</summary>
    public delegate Task<FhirBatchOutcome> Batch(DbConnection connection, DbTransaction transaction, Guid after, int limit, DateTimeOffset now);

    /// <summary>
    /// The kinds, in the order they are walked: the directory first (not patient data), so the records'
    /// references to it name the resources, then every published table of <see cref="PatientOwnedTables"/>.
    /// A property, not a field: the registry's entries name this class's batches, so neither may wait on the other's initialisation.
    /// </summary>
    public static IReadOnlyList<(string Kind, Batch Batch)> Steps =>
    [
        ("Care provider", Keyset(DirectoryAsFhir.BackfillProvidersBatchAsync, "Organization")),
        ("Care unit", Keyset(DirectoryAsFhir.BackfillUnitsBatchAsync, "Organization")),
        ("Staff", Keyset(DirectoryAsFhir.BackfillStaffBatchAsync, "Practitioner")),
        ("Assignment", Keyset(DirectoryAsFhir.BackfillAssignmentsBatchAsync, "PractitionerRole")),
        .. PatientOwnedTables.Published.Select(t => (t.Publication.Kind!, t.Publication.Batch!)),
    ];

    public const int BatchSize = 500;

    /// <summary>
    /// A batch step that gives rows read and the next cursor (the lab and directory mappers): the
    /// resources it published are the versions of its <paramref name="types"/> stamped with this
    /// batch's moment (counted on the (resource_type, last_updated) index, not by scanning every version).
    /// </summary>
    internal static Batch Keyset(Func<DbConnection, DbTransaction, Guid?, int, DateTimeOffset, Task<(int Rows, Guid? Next)>> step, params string[] types) =>
        async (connection, transaction, after, limit, now) =>
        {
            var (rows, next) = await step(connection, transaction, after == Guid.Empty ? null : after, limit, now);
            long published = 0;
            foreach (var type in types)
                published += await Dapper.SqlMapper.ExecuteScalarAsync<long>(connection,
                    "SELECT COUNT(*) FROM fhir_resource_version WHERE resource_type = @type AND last_updated = @now", new { type, now }, transaction);
            return new FhirBatchOutcome(rows, (int)published, next);
        };

    public static Task<FhirBackfillResult> RunAsync(Database database, TimeProvider clock, CancellationToken cancellationToken) =>
        RunAsync(database, clock, null, BatchSize, cancellationToken);

    /// <param name="progress">Told after each kind, with counts only (no patient data).</param>
    /// <param name="batchSize">Records per transaction.</param>
    public static async Task<FhirBackfillResult> RunAsync(Database database, TimeProvider clock, IProgress<string>? progress, int batchSize,
        CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var steps = Steps;
        var kinds = new List<FhirBackfillKind>(steps.Count);
        foreach (var (kind, batch) in steps)
        {
            var after = Guid.Empty;
            int read = 0, published = 0;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var outcome = await database.InUnscopedTransactionAsync((connection, transaction) => batch(connection, transaction, after, batchSize, clock.GetUtcNow()), cancellationToken);
                read += outcome.Read;
                published += outcome.Published;
                if (outcome.Last is not { } last || outcome.Read < batchSize) break;
                after = last;
            }
            kinds.Add(new FhirBackfillKind(kind, read, published));
            progress?.Report($"{kind}: {read} read, {published} published");
        }
        return new FhirBackfillResult(kinds);
    }
}
