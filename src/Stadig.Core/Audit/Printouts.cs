using Stadig.Access;
using Stadig.Common;

namespace Stadig.Audit;

/// <summary>
/// Printouts (Utskrift) made from a page with its print button: recorded in the audit log before the
/// browser prints, as the national audit vocabulary asks. A printout of the record is allowed as
/// reading it is; a printout of a log extract only for those who may produce one.
/// </summary>
public sealed class Printouts(PatientCheckpoint checkpoint, AuditLog audit)
{
    /// <summary>What can be printed from a page: the resource the audit event names.</summary>
    public static readonly IReadOnlySet<string> Kinds = new HashSet<string>(StringComparer.Ordinal) { "Note", "Trend", "LogExtract", "MedicationList" };

    public async Task RecordAsync(Caller caller, Guid patientId, string? kind, CancellationToken cancellationToken = default)
    {
        if (kind is null || !Kinds.Contains(kind))
            throw new InvalidInputException("kind", $"Okänd utskrift \"{kind}\": ange en av {string.Join(", ", Kinds)}.");
        if (kind != "LogExtract")
        {
            await checkpoint.PrintAsync(caller, patientId, kind, cancellationToken);
            return;
        }
        if (!RolePermissions.ReviewsLogs(caller.Role) && caller.Role != Organisation.Role.Administrator)
        {
            await audit.AppendAsync(new AuditEntry(caller, null, AuditActivity.Print, kind, AuditOutcome.Denied, Detail: patientId.ToString()), cancellationToken);
            throw new ForbiddenException("Endast logggranskare och administratörer får skriva ut loggutdrag.");
        }
        if (await checkpoint.ContextAsync(caller, patientId, cancellationToken) is null) throw new NotFoundException("Patienten finns inte.");
        await audit.AppendAsync(new AuditEntry(caller, patientId, AuditActivity.Print, kind, Detail: "utskrift från sidan"), cancellationToken);
    }
}
