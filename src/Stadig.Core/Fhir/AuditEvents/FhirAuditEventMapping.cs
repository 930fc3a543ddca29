using System.Text.Json.Nodes;
using Stadig.Audit;
using Stadig.Organisation;

namespace Stadig.Fhir.AuditEvents;

/// <summary>One row of Stadig's audit log with what the FHIR view adds: the patient's FHIR id, the unit's name, an emergency access's reason.</summary>
public sealed class FhirAuditEventRow
{
    public Guid Id { get; init; }
    public DateTimeOffset OccurredAt { get; init; }
    public Guid? StaffId { get; init; }
    public string StaffHsaId { get; init; } = "";
    public string StaffName { get; init; } = "";
    public string Role { get; init; } = "";
    public string UnitHsaId { get; init; } = "";
    public string? UnitName { get; init; }
    public Guid? PatientId { get; init; }
    public string? PatientFhirId { get; init; }
    public AuditActivity Activity { get; init; }
    public string Purpose { get; init; } = "";
    public string Resource { get; init; } = "";
    public AuditOutcome Outcome { get; init; }
    public AuditFlags Flags { get; init; }
    public string? Detail { get; init; }
    /// <summary>For an emergency-flagged access: the reason given when the record was opened in emergency.</summary>
    public string? EmergencyReason { get; init; }
}

/// <summary>A code an AuditEvent can carry, and the SQL condition on the audit log that holds exactly for the events carrying it.</summary>
public sealed record FhirAuditCode(string System, string Code, string Display, string Sql);

/// <summary>
/// Stadig's audit log as FHIR R4 AuditEvents, mapped when read (the log is never copied). The
/// DICOM/HL7 codes say what kind of event it was; Stadig's own activity (the national vocabulary:
/// Läsa, Skriva, Signera, …) stays beside them as a subtype, so nothing of the log is lost. Each code
/// has its SQL condition next to it, so a search finds exactly the events the mapping gives that code.
/// </summary>
public static class FhirAuditEventMapping
{
    public const string ActivitySystem = "https://stadig.se/fhir/CodeSystem/audit-activity";
    public const string RoleSystem = "https://stadig.se/fhir/CodeSystem/role";
    public const string PurposeSystem = "https://stadig.se/fhir/CodeSystem/purpose";
    public const string HsaIdSystem = "urn:oid:1.2.752.29.4.19";
    public const string Dicom = "http://dicom.nema.org/resources/ontology/DCM";
    public const string EventTypeSystem = "http://terminology.hl7.org/CodeSystem/audit-event-type";
    public const string RestfulSystem = "http://hl7.org/fhir/restful-interaction";
    public const string ActionSystem = "http://hl7.org/fhir/audit-event-action";
    public const string OutcomeSystem = "http://hl7.org/fhir/audit-event-outcome";
    private const string PurposeOfUseSystem = "http://terminology.hl7.org/CodeSystem/v3-ActReason";

    /// <summary>What log review itself writes (the UI's review page and this API): "Audit Log Used".</summary>
    public static readonly IReadOnlyList<string> LogReviewResources =
        ["AuditSearch", "AuditEvent", "AuditReview", "LogExtract", "FHIR AuditEvent", "FHIR AuditEvent search"];

    private static readonly string LogReviewSql = "(" + string.Join(", ", LogReviewResources.Select(r => $"'{r}'")) + ")";

    /// <summary>The kind of event, first match wins: emergency access, log review, printing, the FHIR API, else the record through the UI.</summary>
    private enum Kind { EmergencyOverride, AuditLogUsed, Export, Rest, PatientRecord }

    private static Kind KindOf(AuditActivity activity, string resource) =>
        activity == AuditActivity.EmergencyOpen ? Kind.EmergencyOverride
        : LogReviewResources.Contains(resource) ? Kind.AuditLogUsed
        : activity == AuditActivity.Print ? Kind.Export
        : resource.StartsWith("FHIR ", StringComparison.Ordinal) ? Kind.Rest
        : Kind.PatientRecord;

    private static readonly string NotEarlier = $"e.activity NOT IN ('EmergencyOpen', 'Print') AND e.resource NOT IN {LogReviewSql}";
    private static readonly string RestSql = $"{NotEarlier} AND e.resource LIKE 'FHIR %'";

    /// <summary>AuditEvent.type, one per kind.</summary>
    public static readonly IReadOnlyList<FhirAuditCode> Types =
    [
        new(Dicom, "110113", "Security Alert", "e.activity = 'EmergencyOpen'"),
        new(Dicom, "110101", "Audit Log Used", $"e.activity <> 'EmergencyOpen' AND e.resource IN {LogReviewSql}"),
        new(Dicom, "110106", "Export", $"e.activity = 'Print' AND e.resource NOT IN {LogReviewSql}"),
        new(EventTypeSystem, "rest", "RESTful Operation", RestSql),
        new(Dicom, "110110", "Patient Record", $"{NotEarlier} AND e.resource NOT LIKE 'FHIR %'"),
    ];

    private static FhirAuditCode TypeOf(Kind kind) => Types[(int)kind];

    /// <summary>AuditEvent.subtype: the DICOM or RESTful detail where there is one, and always Stadig's own activity.</summary>
    public static readonly IReadOnlyList<FhirAuditCode> Subtypes =
    [
        new(Dicom, "110127", "Emergency Override Started", "e.activity = 'EmergencyOpen'"),
        new(RestfulSystem, "search-type", "search type", $"{RestSql} AND e.resource LIKE '% search'"),
        new(RestfulSystem, "operation", "operation", $"{RestSql} AND e.resource LIKE '%$%' AND e.resource NOT LIKE '% search'"),
        new(RestfulSystem, "read", "read", $"{RestSql} AND e.activity = 'Read' AND e.resource NOT LIKE '%$%' AND e.resource NOT LIKE '% search'"),
        .. Enum.GetValues<AuditActivity>().Select(a => new FhirAuditCode(ActivitySystem, a.ToString(), a.Swedish(), $"e.activity = '{a}'")),
    ];

    private static IEnumerable<FhirAuditCode> SubtypesOf(Kind kind, AuditActivity activity, string resource)
    {
        if (kind == Kind.EmergencyOverride) yield return Subtypes[0];
        if (kind == Kind.Rest)
        {
            if (resource.EndsWith(" search", StringComparison.Ordinal)) yield return Subtypes[1];
            else if (resource.Contains('$', StringComparison.Ordinal)) yield return Subtypes[2];
            else if (activity == AuditActivity.Read) yield return Subtypes[3];
            // A write: the log says Skriva for create and update alike, so no RESTful code is claimed.
        }
        yield return Subtypes.Single(s => s.System == ActivitySystem && s.Code == activity.ToString());
    }

    /// <summary>
    /// AuditEvent.action. Skriva, Signera and Vidimera change the record (U: the log does not tell a
    /// create from an update); Läsa and Utskrift are R (searches too: they are Läsa in the national
    /// vocabulary); Nödöppning is E.
    /// </summary>
    public static readonly IReadOnlyList<FhirAuditCode> Actions =
    [
        new(ActionSystem, "C", "Create", "1 = 0"),
        new(ActionSystem, "R", "Read/View/Print", "e.activity IN ('Read', 'Print')"),
        new(ActionSystem, "U", "Update", "e.activity IN ('Write', 'Sign', 'Attest')"),
        new(ActionSystem, "D", "Delete", "e.activity = 'Delete'"),
        new(ActionSystem, "E", "Execute", "e.activity = 'EmergencyOpen'"),
    ];

    private static string ActionOf(AuditActivity activity) => activity switch
    {
        AuditActivity.Read or AuditActivity.Print => "R",
        AuditActivity.Delete => "D",
        AuditActivity.EmergencyOpen => "E",
        _ => "U",
    };

    /// <summary>AuditEvent.outcome: allowed is 0 (success), refused 4 (minor failure: the request was turned down, nothing broke).</summary>
    public static readonly IReadOnlyList<FhirAuditCode> Outcomes =
    [
        new(OutcomeSystem, "0", "Success", "e.outcome = 'Allowed'"),
        new(OutcomeSystem, "4", "Minor failure", "e.outcome = 'Denied'"),
        new(OutcomeSystem, "8", "Serious failure", "1 = 0"),
        new(OutcomeSystem, "12", "Major failure", "1 = 0"),
    ];

    public static JsonObject ToFhir(FhirAuditEventRow row)
    {
        var kind = KindOf(row.Activity, row.Resource);
        var emergency = row.Activity == AuditActivity.EmergencyOpen || row.Flags.HasFlag(AuditFlags.Emergency);
        var resource = new JsonObject
        {
            ["resourceType"] = "AuditEvent",
            ["id"] = row.Id.ToString(),
            ["meta"] = new JsonObject { ["lastUpdated"] = Recorded(row.OccurredAt) },
            ["type"] = Coding(TypeOf(kind)),
            ["subtype"] = new JsonArray(SubtypesOf(kind, row.Activity, row.Resource).Select(c => (JsonNode)Coding(c)).ToArray()),
            ["action"] = ActionOf(row.Activity),
            ["recorded"] = Recorded(row.OccurredAt),
            ["outcome"] = row.Outcome == AuditOutcome.Allowed ? "0" : "4",
        };
        if (row.Outcome == AuditOutcome.Denied)
            resource["outcomeDesc"] = row.Flags.HasFlag(AuditFlags.NoCareRelation) ? "Refused: no care relation, or the role may not do this" : "Refused";

        var agents = new JsonArray { PersonAgent(row, emergency) };
        if (row.StaffId is not null && row.UnitHsaId.Length > 0)
        {
            agents.Add(new JsonObject
            {
                ["type"] = Concept("http://terminology.hl7.org/CodeSystem/v3-RoleClass", "PROV", "healthcare provider"),
                ["who"] = new JsonObject
                {
                    ["identifier"] = new JsonObject { ["system"] = HsaIdSystem, ["value"] = row.UnitHsaId },
                    ["display"] = row.UnitName ?? row.UnitHsaId,
                },
                ["requestor"] = false,
            });
        }
        resource["agent"] = agents;
        resource["source"] = new JsonObject
        {
            ["observer"] = new JsonObject { ["type"] = "Device", ["display"] = "Stadig" },
            ["type"] = new JsonArray(new JsonObject
            {
                ["system"] = "http://terminology.hl7.org/CodeSystem/security-source-type", ["code"] = "4", ["display"] = "Application Server",
            }),
        };

        var entities = new JsonArray();
        if (row.PatientId is { } patientId)
        {
            var patient = new JsonObject
            {
                ["what"] = new JsonObject { ["reference"] = $"Patient/{row.PatientFhirId ?? patientId.ToString()}" },
                ["type"] = EntityType("1", "Person"),
                ["role"] = new JsonObject { ["system"] = "http://terminology.hl7.org/CodeSystem/object-role", ["code"] = "1", ["display"] = "Patient" },
            };
            if (row.Flags.HasFlag(AuditFlags.ProtectedIdentity))
                patient["securityLabel"] = new JsonArray(new JsonObject
                {
                    ["system"] = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", ["code"] = "R", ["display"] = "restricted",
                });
            var reason = row.Activity == AuditActivity.EmergencyOpen ? row.Detail : row.EmergencyReason;
            if (emergency && !string.IsNullOrWhiteSpace(reason))
                patient["detail"] = new JsonArray(Detail("emergency-access-reason", reason));
            entities.Add(patient);
        }
        var accessed = new JsonObject { ["type"] = EntityType("2", "System Object"), ["name"] = row.Resource };
        if (WhatOf(kind, row) is { } what) accessed["what"] = new JsonObject { ["reference"] = what };
        var details = new JsonArray();
        if (row.Detail is { Length: > 0 } detail && row.Activity != AuditActivity.EmergencyOpen) details.Add(Detail("detail", detail));
        if (row.Flags != AuditFlags.None) details.Add(Detail("flags", row.Flags.ToString()));
        if (details.Count > 0) accessed["detail"] = details;
        entities.Add(accessed);
        resource["entity"] = entities;
        return resource;
    }

    private static JsonObject PersonAgent(FhirAuditEventRow row, bool emergency)
    {
        if (row.StaffId is null)
        {
            // Stadig itself (seeding, background work): an application, not a person.
            return new JsonObject
            {
                ["type"] = Concept(Dicom, "110150", "Application"),
                ["who"] = new JsonObject { ["display"] = row.StaffName.Length > 0 ? row.StaffName : "Stadig" },
                ["requestor"] = false,
            };
        }
        var agent = new JsonObject
        {
            ["type"] = Concept("http://terminology.hl7.org/CodeSystem/extra-security-role-type", "humanuser", "human user"),
            ["role"] = new JsonArray(Enum.TryParse<Role>(row.Role, out var role) ? Concept(RoleSystem, role.ToString(), role.Swedish()) : new JsonObject { ["text"] = row.Role }),
            ["who"] = new JsonObject
            {
                ["identifier"] = new JsonObject { ["system"] = HsaIdSystem, ["value"] = row.StaffHsaId },
                ["display"] = row.StaffName,
            },
            ["requestor"] = true,
        };
        var codings = new JsonArray();
        if (Enum.TryParse<Purpose>(row.Purpose, out var purpose))
        {
            var v3 = purpose switch
            {
                Purpose.CareAndTreatment => emergency ? ("ETREAT", "Emergency Treatment") : ("TREAT", "treatment"),
                Purpose.QualityAssurance or Purpose.QualityRegistry => ("HQUALIMP", "health quality improvement"),
                Purpose.Administration => ("HOPERAT", "healthcare operations"),
                _ => ((string, string)?)null,
            };
            if (v3 is ({ } code, { } display)) codings.Add(new JsonObject { ["system"] = PurposeOfUseSystem, ["code"] = code, ["display"] = display });
            codings.Add(new JsonObject { ["system"] = PurposeSystem, ["code"] = purpose.ToString(), ["display"] = purpose.Swedish() });
        }
        if (codings.Count > 0) agent["purposeOfUse"] = new JsonArray(new JsonObject { ["coding"] = codings });
        return agent;
    }

    /// <summary>The resource the event was about, where the log names it: an audit event under review, a directory resource read over FHIR.</summary>
    private static string? WhatOf(Kind kind, FhirAuditEventRow row)
    {
        if (row.Detail is not { } detail) return null;
        if (kind == Kind.AuditLogUsed && row.Resource is "AuditEvent" or "AuditReview" or "FHIR AuditEvent" && Guid.TryParse(detail, out var eventId))
            return $"AuditEvent/{eventId}";
        var slash = detail.IndexOf('/');
        return kind == Kind.Rest && slash > 0 && slash < detail.Length - 1 && detail.IndexOf('/', slash + 1) < 0
            && FhirResourceTypes.IsSupported(detail[..slash]) && !detail.Contains(' ', StringComparison.Ordinal) ? detail : null;
    }

    /// <summary>To the microsecond the log keeps (and hashes), so that date=eq… finds the very event.</summary>
    private static string Recorded(DateTimeOffset moment) =>
        moment.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", System.Globalization.CultureInfo.InvariantCulture);

    private static JsonObject Coding(FhirAuditCode code) => new() { ["system"] = code.System, ["code"] = code.Code, ["display"] = code.Display };

    private static JsonObject Concept(string system, string code, string display) =>
        new() { ["coding"] = new JsonArray(new JsonObject { ["system"] = system, ["code"] = code, ["display"] = display }) };

    private static JsonObject EntityType(string code, string display) =>
        new() { ["system"] = "http://terminology.hl7.org/CodeSystem/audit-entity-type", ["code"] = code, ["display"] = display };

    private static JsonObject Detail(string type, string value) => new() { ["type"] = type, ["valueString"] = value };
}
