using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;

namespace Stadig.Patients;

public sealed partial class PatientRegistry
{
    /// <summary>
    /// Which patient has this personnummer, samordningsnummer or reservnummer, for log review and log
    /// extracts: the one registry question a log auditor may ask (they never read the record), answered
    /// with the internal id only and audited like any registry lookup. Administrators may ask it too.
    /// </summary>
    public async Task<Guid?> FindIdForLogReviewAsync(Caller caller, string identifierInput, CancellationToken cancellationToken = default)
    {
        if (!RolePermissions.ReviewsLogs(caller.Role) && caller.Role != Organisation.Role.Administrator)
        {
            await audit.AppendAsync(new AuditEntry(caller, null, AuditActivity.Read, "PatientLookup", AuditOutcome.Denied), cancellationToken);
            throw new ForbiddenException("Endast logggranskare och administratörer söker patienter för logggranskning.");
        }
        var identifier = identifiers.Parse(identifierInput);
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        var id = await connection.QuerySingleOrDefaultAsync<Guid?>("SELECT id FROM patient WHERE identifier = @Value", new { identifier.Value });
        await audit.AppendAsync(new AuditEntry(caller, null, AuditActivity.Read, "PatientLookup", AuditOutcome.Allowed, Detail: id is null ? "ingen träff" : "1 träff"), cancellationToken);
        return id;
    }
}
