using System.Data.Common;
using Stadig.Storage;

namespace Stadig.Access;

/// <summary>
/// Proof that the checkpoint allowed this caller to reach this patient's data and audited it. Only
/// the checkpoint can make one (internal constructor), and it is the one source of a connection for
/// the patient's rows (<see cref="OpenAsync"/>): nothing reaches patient data around the checkpoint.
/// </summary>
public sealed class PatientAccessGrant
{
    private readonly Database _database;

    internal PatientAccessGrant(PatientAccessContext context, Database database) => (Context, _database) = (context, database);

    public PatientAccessContext Context { get; }

    public Caller Caller => Context.Caller;

    public Guid PatientId => Context.PatientId;

    /// <summary>
    /// A connection for reading this patient's rows after the checkpoint's decision; dispose it. What
    /// is read on it is still filtered by <see cref="PatientAccessContext.MaySee"/> per writing unit.
    /// </summary>
    public Task<DbConnection> OpenAsync(CancellationToken cancellationToken = default) => _database.OpenUnscopedAsync(cancellationToken);
}
