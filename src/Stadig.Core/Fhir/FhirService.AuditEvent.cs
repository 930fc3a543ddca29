using System.Text.Json.Nodes;
using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Fhir.AuditEvents;
using Stadig.Fhir.Search;

namespace Stadig.Fhir;

public sealed partial class FhirService
{
    /// <summary>How much of a search's query an audit event keeps as its detail.</summary>
    private const int MaxAuditedQueryLength = 500;

    /// <summary>
    /// One event of the audit log as an AuditEvent. The log is log review's data (Patientdatalagen
    /// 4 kap. 3 §): only a log auditor reads it, and reading it is itself logged, as on the UI's review page.
    /// </summary>
    private async Task<JsonObject> ReadAuditEventAsync(FhirCaller caller, string id, CancellationToken cancellationToken)
    {
        await RequireLogReviewAsync(caller, "FHIR AuditEvent", cancellationToken);
        if (!Guid.TryParse(id, out var eventId)) throw NotFound(FhirResourceTypes.AuditEvent, id);
        await using var connection = await database.OpenReplicaTolerantAsync(cancellationToken);
        var parameters = new DynamicParameters();
        parameters.AddGuid(database.Engine, "eventId", eventId);
        var row = await connection.QuerySingleOrDefaultAsync<FhirAuditEventRow>($"{FhirAuditEventSearch.Select} WHERE e.id = @eventId", parameters)
            ?? throw NotFound(FhirResourceTypes.AuditEvent, id);
        // Fail closed: the read is in the log before the event is shown.
        await audit.AppendAsync(new AuditEntry(caller.Caller, null, AuditActivity.Read, "FHIR AuditEvent", Detail: eventId.ToString()), cancellationToken);
        return FhirAuditEventMapping.ToFhir(row);
    }

    /// <summary>A search of the audit log, newest first, as a searchset of AuditEvents. Log auditors only; the search is logged.</summary>
    private async Task<JsonObject> SearchAuditEventsAsync(FhirCaller caller, IReadOnlyList<KeyValuePair<string, string>> query, bool strict, string baseUrl,
        CancellationToken cancellationToken)
    {
        await RequireLogReviewAsync(caller, "FHIR AuditEvent search", cancellationToken);
        var request = FhirSearchRequest.Parse(FhirResourceTypes.AuditEvent, query, strict);
        var ignored = request.Ignored.Select(i => i.Expression ?? i.Diagnostics).ToList();
        if (request.Includes.Count > 0 || request.RevIncludes.Count > 0)
        {
            const string message = "_include and _revinclude are not supported on AuditEvent.";
            if (strict) throw new FhirException(FhirFailureKind.Invalid, "not-supported", "_include", message);
            ignored.Add(request.Includes.Count > 0 ? "_include" : "_revinclude");
        }
        var orderBy = FhirAuditEventSearch.OrderBy(request);

        await using var connection = await database.OpenReplicaTolerantAsync(cancellationToken);
        var patients = new Dictionary<string, Guid>(StringComparer.Ordinal);
        foreach (var fhirId in FhirAuditEventSearch.PatientIds(request))
        {
            if (await ResolvePatientAsync(connection, null, fhirId) is { } found) patients[fhirId] = found.PatientId;
        }
        var parameters = new DynamicParameters();
        var where = FhirAuditEventSearch.Where(request, database.Engine, patients, parameters);
        long? total = request.Summary == "count" || request.Total is "accurate" or "estimate"
            ? await connection.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM audit_event e WHERE {where}", parameters)
            : null;
        var rows = new List<FhirAuditEventRow>();
        if (request.Summary != "count")
        {
            parameters.Add("limit", request.Count + 1);
            parameters.Add("offset", request.Offset);
            rows = (await connection.QueryAsync<FhirAuditEventRow>(
                $"{FhirAuditEventSearch.Select} WHERE {where} ORDER BY {orderBy} LIMIT @limit OFFSET @offset", parameters)).ToList();
        }
        var hasMore = rows.Count > request.Count;
        if (hasMore) rows.RemoveAt(rows.Count - 1);

        // Fail closed: the search is in the log before its answer is shown; a search of one patient's events goes in that patient's chain.
        var searchedPatients = patients.Values.Distinct().ToList();
        var applied = string.Join("&", request.Applied.Select(a => $"{a.Key}={a.Value}"));
        await audit.AppendAsync(new AuditEntry(caller.Caller, searchedPatients.Count == 1 ? searchedPatients[0] : null, AuditActivity.Read, "FHIR AuditEvent search",
            Detail: applied.Length > MaxAuditedQueryLength ? applied[..MaxAuditedQueryLength] : applied), cancellationToken);
        return SearchSet(baseUrl, FhirResourceTypes.AuditEvent, query, rows.Select(FhirAuditEventMapping.ToFhir).ToList(), [], ignored, (int?)total,
            request.Count, request.Offset, hasMore);
    }

    /// <summary>
    /// The same rule as the UI's log review: log auditors only (a refusal is logged). A patient/ token
    /// never reaches the log: the patient's view of it is the log extract (loggutdrag) the care provider hands out.
    /// </summary>
    private async Task RequireLogReviewAsync(FhirCaller caller, string resource, CancellationToken cancellationToken)
    {
        if (caller.Scopes.OnlyPatientContext(FhirResourceTypes.AuditEvent, write: false))
            throw new FhirException(FhirFailureKind.Forbidden, "forbidden", null,
                "The audit log is read by log auditors only; a patient gets a log extract (loggutdrag) from the care provider, not patient/ access to AuditEvent.");
        if (RolePermissions.ReviewsLogs(caller.Caller.Role)) return;
        await audit.AppendAsync(new AuditEntry(caller.Caller, null, AuditActivity.Read, resource, AuditOutcome.Denied), cancellationToken);
        throw new FhirException(FhirFailureKind.Forbidden, "forbidden", null, "Only log auditors (logggranskare) read the audit log.");
    }
}
