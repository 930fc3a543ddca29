using System.Globalization;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Fhir.Patients;
using Stadig.Fhir.Search;
using Stadig.Fhir.Store;
using Stadig.Patients;

namespace Stadig.Fhir;

public sealed partial class FhirService
{
    /// <summary>
    /// A search, answered as a searchset Bundle with paging links. A search in one patient's
    /// compartment (patient= or subject=) passes the checkpoint once for that patient; a search
    /// across patients passes it for every patient it finds, and leaves out what the caller may not see.
    /// </summary>
    public async Task<JsonObject> SearchAsync(FhirCaller caller, string type, IReadOnlyList<KeyValuePair<string, string>> query, bool strict, string baseUrl,
        CancellationToken cancellationToken = default)
    {
        RequireKnownType(type);
        caller.Scopes.Demand(type, write: false);
        // An integration's search tolerates the replica's lag; a user's (a SMART app a clinician opened) stays on the primary.
        using var onReplica = caller.Scopes.OnlySystem ? database.PreferReplica() : null;
        if (type == "Patient") return await SearchPatientsAsync(caller, query, strict, baseUrl, cancellationToken);
        if (type == FhirResourceTypes.AuditEvent) return await SearchAuditEventsAsync(caller, query, strict, baseUrl, cancellationToken);

        var request = FhirSearchRequest.Parse(type, query, strict);
        var ignored = request.Ignored.Select(i => i.Expression ?? i.Diagnostics).ToList();
        await using var connection = await checkpoint.Scope(caller.Caller).OpenAsync(cancellationToken);
        Guid? patientId = null;
        PatientAccessGrant? grant = null;
        var patientValue = query.FirstOrDefault(q => q.Key is "patient" or "subject" or "patient:Patient" or "subject:Patient").Value;
        if (patientValue is { Length: > 0 } && !patientValue.Contains(','))
        {
            var reference = patientValue.StartsWith("Patient/", StringComparison.Ordinal) ? patientValue["Patient/".Length..] : patientValue;
            var target = await ResolvePatientAsync(connection, null, reference);
            if (target is null) return SearchSet(baseUrl, type, query, [], [], ignored, 0, request.Count, request.Offset, hasMore: false);
            RequirePatientContext(caller, type, write: false, reference, target.Value.Stored?.Id ?? target.Value.PatientId.ToString());
            grant = await checkpoint.ReadAsync(caller.Caller, target.Value.PatientId, $"FHIR {type} search", cancellationToken);
            patientId = target.Value.PatientId;
        }
        else if (caller.Scopes.OnlyPatientContext(type, write: false))
        {
            throw new FhirException(FhirFailureKind.Forbidden, "forbidden", "patient", "With patient/ scopes, a search must name the token's patient (patient=…).");
        }

        // A total counts only what the caller may see, and counting is an audited access like reading.
        long? total = request.Summary == "count" || request.Total is "accurate" or "estimate"
            ? await VisibleCountAsync(caller, connection, request, grant, cancellationToken)
            : null;
        if (request.Summary == "count") return SearchSet(baseUrl, type, query, [], [], ignored, (int?)total, 0, 0, hasMore: false);
        var page = await FhirSearchRunner.SearchAsync(connection, request, patientId, grant?.Context, cancellationToken);
        var rows = await VisibleAsync(caller, page.Rows.ToList(), grant, cancellationToken);

        var included = new List<JsonObject>();
        if (rows.Count > 0 && (request.Includes.Count > 0 || request.RevIncludes.Count > 0))
        {
            var matches = rows.Select(r => (r.ResourceType, r.Id)).ToList();
            foreach (var target in await FhirIncludes.IncludeTargetsAsync(connection, request, matches))
            {
                var slash = target.IndexOf('/');
                try
                {
                    included.Add(target[..slash] == "Patient" && grant is not null
                        ? await ReadPatientAsync(caller, target[(slash + 1)..], grant, cancellationToken)
                        : await ReadAsync(caller, target[..slash], target[(slash + 1)..], cancellationToken));
                }
                catch (FhirException e) when (e.Kind is FhirFailureKind.NotFound or FhirFailureKind.Gone or FhirFailureKind.Forbidden)
                {
                    // An included resource the caller may not see is left out, as a search would leave it out.
                }
            }
            // Filtered before the limit: read on past what the caller may not see until the limit is reached or nothing is left.
            var reverse = new List<FhirResourceRow>();
            (string Type, string Id)? after = null;
            while (reverse.Count < FhirIncludes.MaxRevIncluded)
            {
                var batch = (await FhirIncludes.RevIncludeAsync(connection, request, matches, after, cancellationToken)).ToList();
                reverse.AddRange(await VisibleAsync(caller, batch, grant, cancellationToken));
                if (batch.Count < FhirIncludes.MaxRevIncluded) break;
                after = (batch[^1].ResourceType, batch[^1].Id);
            }
            included.AddRange(reverse.Take(FhirIncludes.MaxRevIncluded).Select(r => FhirJson.Parse(r.Content)));
        }
        return SearchSet(baseUrl, type, query, rows.Select(r => FhirJson.Parse(r.Content)).ToList(), included, ignored, (int?)total,
            request.Count, request.Offset, page.HasNextPage);
    }

    /// <summary>Most patients a total across patients counts: each one counted passes the checkpoint (and is audited).</summary>
    public const int MaxCountedPatients = 1000;

    /// <summary>
    /// The total of a search as the caller may see it: in one patient's compartment with the checkpoint's
    /// "what may this caller see" SQL (the grant's read is the audit event); across patients per patient
    /// and unit, each patient through the checkpoint as the search's own rows are.
    /// </summary>
    private async Task<long> VisibleCountAsync(FhirCaller caller, System.Data.Common.DbConnection connection, FhirSearchRequest request,
        PatientAccessGrant? grant, CancellationToken cancellationToken)
    {
        if (grant is not null)
        {
            var (sql, parameters) = FhirSearchSql.BuildCount(request, database.Engine, grant.PatientId, grant.Context);
            return await connection.ExecuteScalarAsync<long>(new CommandDefinition(sql, parameters, cancellationToken: cancellationToken));
        }
        var (groupSql, groupParameters) = FhirSearchSql.BuildCountPerPatient(request, database.Engine);
        var groups = (await connection.QueryAsync<CountGroup>(new CommandDefinition(groupSql, groupParameters, cancellationToken: cancellationToken))).ToList();
        if (groups.Select(g => g.PatientId).Distinct().Count() > MaxCountedPatients)
            throw new FhirException(FhirFailureKind.Invalid, "too-costly", "_total",
                $"A total across more than {MaxCountedPatients} patients is not counted: name the patient (patient=…) or narrow the search.");
        var resource = $"FHIR {request.ResourceType} count";
        long total = 0;
        foreach (var patient in groups.GroupBy(g => g.PatientId))
        {
            if (patient.Key is not { } patientId)
            {
                total += patient.Sum(g => g.Count);
                continue;
            }
            try
            {
                var patientGrant = await checkpoint.ReadAsync(caller.Caller, patientId, resource, cancellationToken);
                total += patient.Where(g => patientGrant.Context.MaySee(g.UnitId ?? Guid.Empty)).Sum(g => g.Count);
            }
            catch (Stadig.Common.NotFoundException)
            {
                // Not the caller's to see: not counted (the refusal is audited).
            }
        }
        // The count itself, with or without patients in it.
        await audit.AppendAsync(new AuditEntry(caller.Caller, null, AuditActivity.Read, resource, Detail: total.ToString(CultureInfo.InvariantCulture)), cancellationToken);
        return total;
    }

    private sealed class CountGroup
    {
        public Guid? PatientId { get; init; }
        public Guid? UnitId { get; init; }
        public long Count { get; init; }
    }

    /// <summary>The rows the caller may see: through the grant for one patient, else the checkpoint once per patient found.</summary>
    private async Task<List<FhirResourceRow>> VisibleAsync(FhirCaller caller, List<FhirResourceRow> rows, PatientAccessGrant? grant, CancellationToken cancellationToken)
    {
        var visible = new List<FhirResourceRow>();
        var grants = new Dictionary<Guid, PatientAccessGrant?>();
        if (grant is not null) grants[grant.PatientId] = grant;
        var directoryAudited = false;
        foreach (var row in rows)
        {
            if (row.PatientId is not { } patientId)
            {
                if (!directoryAudited)
                {
                    await audit.AppendAsync(new AuditEntry(caller.Caller, null, AuditActivity.Read, $"FHIR {row.ResourceType} search"), cancellationToken);
                    directoryAudited = true;
                }
                visible.Add(row);
                continue;
            }
            if (!grants.TryGetValue(patientId, out var patientGrant))
            {
                try
                {
                    patientGrant = await checkpoint.ReadAsync(caller.Caller, patientId, $"FHIR {row.ResourceType} search", cancellationToken);
                }
                catch (Stadig.Common.NotFoundException)
                {
                    patientGrant = null;
                }
                grants[patientId] = patientGrant;
            }
            if (patientGrant is not null && patientGrant.Context.MaySee(row.OwningUnit)) visible.Add(row);
        }
        return visible;
    }

    private async Task<JsonObject> SearchPatientsAsync(FhirCaller caller, IReadOnlyList<KeyValuePair<string, string>> query, bool strict, string baseUrl,
        CancellationToken cancellationToken)
    {
        var parsed = FhirPatientSearch.Build(FhirSearchRequest.Parse("Patient", query, strict), strict);
        var request = parsed.Request;
        if (caller.Scopes.OnlyPatientContext("Patient", write: false))
            throw new FhirException(FhirFailureKind.Forbidden, "forbidden", null, "With patient/ scopes, read the token's patient (Patient/{id}) instead of searching.");
        var wantsTotal = request.Summary == "count" || request.Total is "accurate" or "estimate";
        var wantsPage = request.Summary != "count";
        parsed.Parameters.Add("limit", request.Count + 1);
        parsed.Parameters.Add("offset", request.Offset);
        parsed.Parameters.Add("window", request.Count + 1 + request.Offset);
        var page = parsed.PageSql(PatientRegistry.PatientColumns.Replace("id AS Id", "p.id AS Id", StringComparison.Ordinal));
        // The count, the page and its patients' stored rows in one round trip with the search's audit event (issue 23).
        var sql = (wantsTotal ? $"SELECT COUNT(*) FROM patient p WHERE {parsed.Where};\n" : "")
            + (wantsPage ? page + ";\n" + FhirResourceStore.PatientsOfSql($"SELECT page.Id FROM ({page}) AS page") + ";" : "");
        var (total, patients, storedRows) = await checkpoint.AuditRegistryWithAsync(caller.Caller, "FHIR Patient search", string.Join("&", query.Select(q => q.Key)),
            sql, parsed.Parameters, async grid =>
            {
                long? count = wantsTotal ? await grid.ReadSingleAsync<long>() : null;
                if (!wantsPage) return (count, new List<Patient>(), new Dictionary<Guid, FhirResourceRow>());
                var rows = (await grid.ReadAsync<Patient>()).ToList();
                var stored = (await grid.ReadAsync<FhirResourceRow>()).ToDictionary(r => r.PatientId!.Value);
                return (count, rows, stored);
            }, cancellationToken, byKey: parsed.ByKey);
        if (request.Summary == "count") return SearchSet(baseUrl, "Patient", query, [], [], parsed.Ignored, (int?)total, 0, 0, hasMore: false);
        var hasMore = patients.Count > request.Count;
        if (hasMore) patients.RemoveAt(patients.Count - 1);
        var shown = new List<(Patient Patient, JsonObject Resource)>();
        foreach (var patient in patients)
        {
            // As in the UI's search: a protected identity shows only to those with a care relation.
            var visible = patient;
            if (patient.ProtectedIdentity != ProtectedIdentity.None)
            {
                var context = await checkpoint.ContextAsync(caller.Caller, patient.Id, cancellationToken);
                if (context?.HasCareRelation != true) visible = patient.AsMasked();
            }
            var stored = visible.Masked ? null : storedRows.GetValueOrDefault(patient.Id);
            shown.Add((visible, PatientResource(visible, stored)));
        }
        // _revinclude=Observation:patient and the like: each patient's records, through the same search (and checkpoint) as any other.
        var included = new List<JsonObject>();
        foreach (var revInclude in request.RevIncludes)
        {
            foreach (var (_, resource) in shown.Where(s => !s.Patient.Masked))
            {
                var bundle = await SearchAsync(caller, revInclude.SourceType,
                    [KeyValuePair.Create(revInclude.Param, $"Patient/{FhirJson.String(resource["id"])}"), KeyValuePair.Create("_count", FhirSearchRequest.MaxCount.ToString(CultureInfo.InvariantCulture))],
                    strict: false, baseUrl, cancellationToken);
                included.AddRange((bundle["entry"] as JsonArray ?? []).OfType<JsonObject>()
                    .Where(e => FhirJson.String(e["search"]?["mode"]) == "match").Select(e => (JsonObject)e["resource"]!.DeepClone()));
            }
        }
        return SearchSet(baseUrl, "Patient", query, shown.Select(s => s.Resource).ToList(), included, parsed.Ignored, (int?)total, request.Count, request.Offset, hasMore);
    }

    private static JsonObject SearchSet(string baseUrl, string type, IReadOnlyList<KeyValuePair<string, string>> query, IReadOnlyList<JsonObject> matches,
        IReadOnlyList<JsonObject> included, IReadOnlyList<string> ignored, int? total, int count, int offset, bool hasMore)
    {
        string Link(int at)
        {
            var parameters = query.Where(q => q.Key != "_offset").Select(q => $"{Uri.EscapeDataString(q.Key)}={Uri.EscapeDataString(q.Value)}")
                .Append($"_offset={at.ToString(CultureInfo.InvariantCulture)}");
            return $"{baseUrl}/{type}?{string.Join('&', parameters)}";
        }
        var links = new JsonArray(new JsonObject { ["relation"] = "self", ["url"] = Link(offset) });
        if (hasMore) links.Add(new JsonObject { ["relation"] = "next", ["url"] = Link(offset + count) });
        if (offset > 0) links.Add(new JsonObject { ["relation"] = "previous", ["url"] = Link(Math.Max(0, offset - count)) });
        var entries = new JsonArray();
        foreach (var resource in matches)
            entries.Add(new JsonObject { ["fullUrl"] = $"{baseUrl}/{FhirJson.String(resource["resourceType"])}/{FhirJson.String(resource["id"])}", ["resource"] = resource, ["search"] = new JsonObject { ["mode"] = "match" } });
        foreach (var resource in included.DistinctBy(r => $"{FhirJson.String(r["resourceType"])}/{FhirJson.String(r["id"])}"))
            entries.Add(new JsonObject { ["fullUrl"] = $"{baseUrl}/{FhirJson.String(resource["resourceType"])}/{FhirJson.String(resource["id"])}", ["resource"] = resource, ["search"] = new JsonObject { ["mode"] = "include" } });
        if (ignored.Count > 0)
            entries.Add(new JsonObject
            {
                ["resource"] = FhirBundles.OperationOutcome([new FhirIssue("warning", "not-supported", null,
                    $"Ignored search parameters (Prefer: handling=lenient): {string.Join(", ", ignored)}.")]),
                ["search"] = new JsonObject { ["mode"] = "outcome" },
            });
        var bundle = new JsonObject { ["resourceType"] = "Bundle", ["type"] = "searchset" };
        if (total is not null) bundle["total"] = total;
        bundle["link"] = links;
        bundle["entry"] = entries;
        return bundle;
    }

    /// <summary>Create unless the If-None-Exist search finds one (then that one, unchanged); more than one found is PreconditionFailed.</summary>
    public Task<FhirWriteOutcome> ConditionalCreateAsync(FhirCaller caller, JsonObject resource, string ifNoneExist, CancellationToken cancellationToken = default) =>
        TransactAsync(caller, (connection, transaction) => ConditionalStoreAsync(caller, connection, transaction, resource, ifNoneExist, null, null), cancellationToken);

    private async Task<FhirWriteOutcome> ConditionalStoreAsync(FhirCaller caller, System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction transaction,
        JsonObject resource, string condition, string? path, string? assigned, TransactionAccess? decided = null)
    {
        var type = FhirJson.String(resource["resourceType"]) ?? "";
        var query = ParseQuery(condition.Contains('?') ? condition[(condition.IndexOf('?') + 1)..] : condition);
        if (query.Count == 0) throw new FhirException(FhirFailureKind.Invalid, "invalid", path, "If-None-Exist holds no search parameters.");
        var found = await MatchIdsAsync(connection, transaction, type, query);
        if (found.Count > 1)
            throw new FhirException(FhirFailureKind.PreconditionFailed, "multiple-matches", path, $"If-None-Exist '{condition}' matches {found.Count} resources; it must match at most one.");
        if (found.Count == 1)
        {
            // The match comes back as a read would: the same scopes, checkpoint, inner secrecy and audit
            // (on this transaction, so a bundle's decisions and events stay with it); refused, it answers as the read does.
            caller.Scopes.Demand(type, write: true);
            caller.Scopes.Demand(type, write: false);
            var existing = await FhirResourceStore.CurrentAsync(connection, transaction, type, found[0]);
            if (type == "Patient")
            {
                var patientRow = await ResolvePatientAsync(connection, transaction, found[0]) ?? throw NotFound(type, found[0]);
                RequirePatientContext(caller, "Patient", write: false, found[0], patientRow.PatientId.ToString());
                var (grant, refusal) = await checkpoint.WriteInAsync(caller.Caller, patientRow.PatientId, "FHIR Patient", AuditActivity.Read, connection, transaction, decided);
                if (refusal is not null) throw new RefusedWrite(refusal);
                var patient = await PatientRegistry.FindInAsync(grant!, connection, transaction) ?? throw NotFound(type, found[0]);
                return new FhirWriteOutcome(PatientResource(patient, existing), type, found[0], patient.Version, patient.UpdatedAt, Created: false);
            }
            if (existing is null) throw NotFound(type, found[0]);
            if (existing.PatientId is { } patientId)
            {
                var refused = CheckpointRefusal.Read(caller.Caller, patientId, $"FHIR {type}");
                if (caller.Scopes.OnlyPatientContext(type, write: false))
                {
                    var launch = caller.Scopes.PatientContext is { } context ? await ResolvePatientAsync(connection, transaction, context) : null;
                    if (launch?.PatientId != patientId) throw new RefusedWrite(refused);
                }
                var (grant, refusal) = await checkpoint.WriteInAsync(caller.Caller, patientId, $"FHIR {type}", AuditActivity.Read, connection, transaction, decided);
                if (refusal is not null) throw new RefusedWrite(refusal);
                if (!grant!.Context.MaySee(existing.OwningUnit)) throw new RefusedWrite(refused);
            }
            else
            {
                await audit.AppendAsync(new AuditEntry(caller.Caller, null, AuditActivity.Read, $"FHIR {type}", Detail: $"{type}/{existing.Id}"), connection, transaction);
            }
            return new FhirWriteOutcome(FhirJson.Parse(existing.Content), type, existing.Id, existing.VersionId, existing.LastUpdated, Created: false);
        }
        return await StoreAsync(caller, connection, transaction, resource, null, null, mayCreate: true, path, assigned is null ? null : Guid.Parse(assigned.Split('/')[1]),
            decided: decided);
    }

    /// <summary>Ids of the resources a search finds, without access filtering: for If-None-Exist, which must see duplicates to refuse them.</summary>
    private async Task<IReadOnlyList<string>> MatchIdsAsync(System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction transaction, string type,
        IReadOnlyList<KeyValuePair<string, string>> query)
    {
        if (type == "Patient")
        {
            var parsed = FhirPatientSearch.Build(FhirSearchRequest.Parse("Patient", query, strict: true), strict: true);
            var ids = await connection.QueryAsync<Guid>($"SELECT p.id FROM patient p WHERE {parsed.Where} LIMIT 2", parsed.Parameters, transaction);
            var result = new List<string>();
            foreach (var id in ids)
                result.Add((await FhirResourceStore.PatientOfAsync(connection, transaction, id))?.Id ?? id.ToString());
            return result;
        }
        var request = FhirSearchRequest.Parse(type, query.Append(KeyValuePair.Create("_count", "2")).ToList(), strict: true);
        var (sql, parameters) = FhirSearchSql.Build(request, database.Engine, null);
        // On the write transaction: a match created earlier in the same transaction bundle counts.
        return (await connection.QueryAsync<FhirResourceRow>(sql, parameters, transaction)).Select(r => r.Id).ToList();
    }

    public async Task<IReadOnlyList<FhirResourceRow>> TypeHistoryAsync(FhirCaller caller, string type, DateTimeOffset? since, int count, CancellationToken cancellationToken = default)
    {
        RequireKnownType(type);
        caller.Scopes.Demand(type, write: false);
        if (caller.Scopes.OnlyPatientContext(type, write: false))
            throw new FhirException(FhirFailureKind.Forbidden, "forbidden", null, "Type history spans patients; patient/ scopes do not reach it.");
        await using var connection = await checkpoint.Scope(caller.Caller).OpenAsync(cancellationToken);
        var rows = (await FhirResourceStore.TypeHistoryAsync(connection, type, since, Math.Clamp(count, 1, MaxHistory))).ToList();
        return await VisibleAsync(caller, rows, null, cancellationToken);
    }
}
