using System.Data.Common;
using Dapper;
using Stadig.Storage;

namespace Stadig.Access;

/// <summary>
/// One caller's way to patient rows across patients: a search, a worklist, the inbox, or an entry
/// found by its own id before its patient is known. Only the checkpoint makes one
/// (<see cref="PatientCheckpoint.Scope"/>), and it is the only source of connections for such
/// reads outside the checkpoint, as <see cref="PatientAccessGrant.OpenAsync"/> is for one patient's.
/// What is read on its connection reaches the caller only through the checkpoint's per-patient
/// decision (<see cref="PatientCheckpoint.ReadAsync"/>, <see cref="VisibleAsync{T}"/>: audited), or filtered by
/// <see cref="VisibleRowsSql"/> — "what this caller may see", written once, here, as SQL.
/// </summary>
public sealed class PatientDataScope
{
    private readonly PatientCheckpoint _checkpoint;
    private readonly Database _database;
    private readonly DateTimeOffset _now;

    internal PatientDataScope(PatientCheckpoint checkpoint, Database database, Caller caller, DateTimeOffset now)
    {
        (_checkpoint, _database, Caller, _now) = (checkpoint, database, caller, now);
    }

    public Caller Caller { get; }

    /// <summary>A connection for this scope's reads; dispose it.</summary>
    public Task<DbConnection> OpenAsync(CancellationToken cancellationToken = default) => _database.OpenUnscopedAsync(cancellationToken);

    /// <summary>
    /// One transaction over several patients' rows (a FHIR bundle, attesting from a list): every
    /// patient written or read in it passes <see cref="PatientCheckpoint.WriteInAsync"/> on this transaction.
    /// </summary>
    public Task<T> InTransactionAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken = default) =>
        _database.InUnscopedTransactionAsync(work, cancellationToken);

    /// <summary>The rows of many patients the caller may see, decided per patient and audited (<see cref="PatientCheckpoint.ListVisibleAcrossAsync{T}"/>).</summary>
    public Task<List<T>> VisibleAsync<T>(IReadOnlyList<T> rows, Func<T, Guid> patientOf, Func<T, Guid> unitOf, string resource, bool auditShown = true,
        CancellationToken cancellationToken = default) =>
        _checkpoint.ListVisibleAcrossAsync(Caller, rows, patientOf, unitOf, resource, auditShown, cancellationToken);

    /// <summary>
    /// The patients the caller's unit has a care relation with, as a subquery (the one definition,
    /// <see cref="PatientCheckpoint.CareRelationPatientsSql"/>), with its parameters in <see cref="Parameters"/>.
    /// </summary>
    public string CareRelationPatientsSql => PatientCheckpoint.CareRelationPatientsSql;

    /// <summary>
    /// The parameters <see cref="CareRelationPatientsSql"/> and <see cref="VisibleRowsSql"/> name
    /// (@unitId, @staffId, @since, @now, @careAndTreatment); add the query's own to it.
    /// </summary>
    public DynamicParameters Parameters()
    {
        var parameters = _checkpoint.CareRelationParameters(Caller, _now);
        parameters.Add("staffId", Caller.StaffId);
        return parameters;
    }

    /// <summary>
    /// "The caller may see this row" as SQL over a row's patient and writing unit, the same decision
    /// as <see cref="PatientAccessContext.MaySee"/> after <see cref="PatientCheckpoint.ContextAsync(Caller, Guid, CancellationToken)"/>
    /// (care relation, grouped units, inner secrecy, blocks, consent, emergency access), for lists that
    /// must filter before they count or limit. Uses <see cref="Parameters"/>.
    /// </summary>
    public string VisibleRowsSql(string patientColumn, string unitColumn) =>
        PatientCheckpoint.VisibleRowsSql(Caller, patientColumn, unitColumn);
}
