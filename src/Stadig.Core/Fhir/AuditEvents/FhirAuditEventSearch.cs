using Dapper;
using Stadig.Fhir.Search;
using Stadig.Storage;

namespace Stadig.Fhir.AuditEvents;

/// <summary>
/// An AuditEvent search (parsed by the shared <see cref="FhirSearchRequest"/>) as SQL on the audit
/// log itself, on its own indexes: by patient (patient_id, occurred_at), by person
/// (staff_hsa_id, occurred_at), by unit (unit_hsa_id, occurred_at) and by time (occurred_at).
/// </summary>
public static class FhirAuditEventSearch
{
    /// <summary>The columns of <see cref="FhirAuditEventRow"/>, over audit_event e.</summary>
    public const string Select =
        """
        SELECT e.id AS Id, e.occurred_at AS OccurredAt, e.staff_id AS StaffId, e.staff_hsa_id AS StaffHsaId, e.staff_name AS StaffName, e.role AS Role,
            e.unit_hsa_id AS UnitHsaId, (SELECT u.name FROM care_unit u WHERE u.id = e.unit_id) AS UnitName, e.patient_id AS PatientId,
            (SELECT f.id FROM fhir_resource f WHERE f.resource_type = 'Patient' AND f.patient_id = e.patient_id ORDER BY f.last_updated DESC LIMIT 1) AS PatientFhirId,
            e.activity AS Activity, e.purpose AS Purpose, e.resource AS Resource, e.outcome AS Outcome, e.flags AS Flags, e.detail AS Detail,
            CASE WHEN e.flags LIKE '%Emergency%' AND e.activity <> 'EmergencyOpen' THEN
                (SELECT a.reason FROM emergency_access a WHERE a.patient_id = e.patient_id AND a.staff_id = e.staff_id AND a.opened_at <= e.occurred_at
                 ORDER BY a.opened_at DESC LIMIT 1) END AS EmergencyReason
        FROM audit_event e
        """;

    /// <summary>The WHERE clause (without the keyword; "1 = 1" when there is no criterion) and its parameters.</summary>
    /// <param name="patients">Patient references (their FHIR ids) resolved to registry ids; missing ones match nothing.</param>
    public static string Where(FhirSearchRequest request, DatabaseEngine engine, IReadOnlyDictionary<string, Guid> patients, DynamicParameters parameters)
    {
        var next = 0;
        string Text(string value)
        {
            var name = "a" + next++;
            parameters.AddText(name, value);
            return "@" + name;
        }
        string Time(DateTimeOffset value)
        {
            var name = "a" + next++;
            parameters.AddTime(engine, name, value);
            return "@" + name;
        }
        string Id(Guid value)
        {
            var name = "a" + next++;
            parameters.AddGuid(engine, name, value);
            return "@" + name;
        }
        string PatientIn(IEnumerable<string> fhirIds)
        {
            var ids = fhirIds.Select(i => patients.TryGetValue(i, out var id) ? id : (Guid?)null).OfType<Guid>().Distinct().ToList();
            return ids.Count == 0 ? "1 = 0" : $"e.patient_id IN ({string.Join(", ", ids.Select(Id))})";
        }

        var conditions = new List<string>();
        foreach (var criterion in request.Criteria)
        {
            var name = criterion.Parameter.Name;
            if (criterion.Missing is { } missing)
            {
                // Every event has a type, subtype, action, outcome, date and agent; only the patient may be missing.
                conditions.Add(name is "patient" or "entity" ? $"e.patient_id IS {(missing ? "" : "NOT ")}NULL" : missing ? "1 = 0" : "1 = 1");
                continue;
            }
            var alternatives = criterion.Values.Select(value => name switch
            {
                "_id" => Guid.TryParse(value.Code, out var id) ? $"e.id = {Id(id)}" : "1 = 0",
                "date" or "_lastUpdated" => FhirSearchSql.InstantCondition("e.occurred_at", value.Prefix, Time(value.Low), Time(value.High)),
                "patient" => PatientIn(value.References.Count > 0 ? value.References.Select(IdOf) : [value.Code!]),
                "entity" => Entity(value),
                "agent" when criterion.Modifier == "identifier" => value.System is null or FhirAuditEventMapping.HsaIdSystem && value.Code is { } hsa
                    ? $"(e.staff_hsa_id = {Text(hsa)} OR e.unit_hsa_id = {Text(hsa)})"
                    : "1 = 0",
                "agent" => Agent(value),
                "type" => Token(FhirAuditEventMapping.Types, value),
                "subtype" => Token(FhirAuditEventMapping.Subtypes, value),
                "action" => Token(FhirAuditEventMapping.Actions, value),
                "outcome" => Token(FhirAuditEventMapping.Outcomes, value),
                _ => throw new FhirException(FhirFailureKind.Invalid, "not-supported", name, $"AuditEvent search by '{name}' is not supported."),
            }).ToList();
            var condition = alternatives.Count == 1 ? alternatives[0] : "(" + string.Join(" OR ", alternatives.Select(a => $"({a})")) + ")";
            conditions.Add(criterion.Modifier == "not" ? $"NOT ({condition})" : $"({condition})");
        }
        return conditions.Count == 0 ? "1 = 1" : string.Join(" AND ", conditions);

        string Entity(FhirSearchOperand value)
        {
            if (value.References.Count == 0) return PatientIn([value.Code!]);
            var reference = value.References[0];
            if (reference.StartsWith("Patient/", StringComparison.Ordinal)) return PatientIn([IdOf(reference)]);
            // Other entities are named in the event's detail: an audit event under review, a directory resource read.
            return reference.StartsWith("AuditEvent/", StringComparison.Ordinal)
                ? $"(e.detail = {Text(IdOf(reference))} AND e.resource IN ('AuditEvent', 'AuditReview', 'FHIR AuditEvent'))"
                : $"e.detail = {Text(reference)}";
        }

        string Agent(FhirSearchOperand value)
        {
            // Stadig's people and units are named by HSA-id: Practitioner/{hsa-id}, Organization/{unit hsa-id}, or the bare id for either.
            var references = value.References.Count > 0 ? value.References : [$"Practitioner/{value.Code}", $"Organization/{value.Code}"];
            var parts = new List<string>();
            foreach (var reference in references)
            {
                if (reference.StartsWith("Practitioner/", StringComparison.Ordinal) || reference.StartsWith("PractitionerRole/", StringComparison.Ordinal))
                    parts.Add($"e.staff_hsa_id = {Text(IdOf(reference))}");
                else if (reference.StartsWith("Organization/", StringComparison.Ordinal))
                    parts.Add($"e.unit_hsa_id = {Text(IdOf(reference))}");
            }
            return parts.Count == 0 ? "1 = 0" : string.Join(" OR ", parts);
        }
    }

    /// <summary>The Patient ids a request names (patient=, entity=Patient/…), to resolve before <see cref="Where"/>.</summary>
    public static IEnumerable<string> PatientIds(FhirSearchRequest request) =>
        request.Criteria.Where(c => c.Missing is null && c.Parameter.Name is "patient" or "entity").SelectMany(c => c.Values)
            .SelectMany(v => v.References.Count > 0 ? v.References.Where(r => r.StartsWith("Patient/", StringComparison.Ordinal)).Select(IdOf) : [v.Code!])
            .Distinct(StringComparer.Ordinal);

    /// <summary>Newest first unless _sort=date; date (and _lastUpdated, the same instant) is the only sort.</summary>
    public static string OrderBy(FhirSearchRequest request)
    {
        foreach (var key in request.Sort)
        {
            if (key.Parameter.Name is not ("date" or "_lastUpdated"))
                throw new FhirException(FhirFailureKind.Invalid, "not-supported", "_sort", $"AuditEvent sorts by date only (_sort=date or _sort=-date), not by '{key.Parameter.Name}'.");
        }
        return request.Sort.Count > 0 && !request.Sort[0].Descending ? "e.occurred_at, e.id" : "e.occurred_at DESC, e.id DESC";
    }

    private static string Token(IReadOnlyList<FhirAuditCode> codes, FhirSearchOperand value)
    {
        var matches = codes.Where(c => (value.System is null ? !value.NoSystem : c.System == value.System) && (value.Code is null || c.Code == value.Code)).ToList();
        return matches.Count == 0 ? "1 = 0" : string.Join(" OR ", matches.Select(m => $"({m.Sql})"));
    }

    private static string IdOf(string reference) => reference[(reference.IndexOf('/') + 1)..];
}
