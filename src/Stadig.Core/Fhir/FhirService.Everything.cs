using System.Globalization;
using System.Text.Json.Nodes;
using Stadig.Fhir.Search;
using Stadig.Fhir.Store;
using Stadig.Patients;

namespace Stadig.Fhir;

public sealed partial class FhirService
{
    /// <summary>
    /// Patient/{id}/$everything: the patient and everything in their compartment the caller may see,
    /// narrowed by the operation's parameters (R4 Patient-everything): _type (which types), _since
    /// (changed since), start and end (care dates: a resource is in when one of its dates — the
    /// date search parameters of its type — touches the range; one with no care date stays in, as
    /// nothing says it is outside). Any other parameter is reported in an OperationOutcome entry.
    /// </summary>
    public async Task<JsonObject> EverythingAsync(FhirCaller caller, string id, string baseUrl, IReadOnlyList<KeyValuePair<string, string>>? parameters = null,
        CancellationToken cancellationToken = default)
    {
        var (types, since, start, end, ignored) = EverythingParameters(parameters ?? []);
        caller.Scopes.Demand("Patient", write: false);
        await using var connection = await checkpoint.Scope(caller.Caller).OpenAsync(cancellationToken);
        var (patientId, stored) = await ResolvePatientAsync(connection, null, id) ?? throw NotFound("Patient", id);
        RequirePatientContext(caller, "Patient", write: false, id, stored?.Id ?? patientId.ToString());
        var grant = await checkpoint.ReadAsync(caller.Caller, patientId, "FHIR Patient $everything", cancellationToken);
        var patient = await PatientRegistry.FindInAsync(grant, connection, null) ?? throw NotFound("Patient", id);
        var resources = new List<JsonObject>();
        var patientResource = PatientResource(patient, stored);
        if ((types is null || types.Contains("Patient")) && ChangedSince(patientResource, since)) resources.Add(patientResource);
        foreach (var row in await FhirResourceStore.CompartmentAsync(connection, patientId, types))
        {
            if (!caller.Scopes.Allows(row.ResourceType, write: false) || !grant.Context.MaySee(row.OwningUnit)) continue;
            if (since is not null && row.LastUpdated <= since) continue;
            var resource = FhirJson.Parse(row.Content);
            if (InCareRange(resource, start, end)) resources.Add(resource);
        }
        var entries = new JsonArray();
        foreach (var resource in resources)
            entries.Add(new JsonObject { ["fullUrl"] = $"{baseUrl}/{FhirJson.String(resource["resourceType"])}/{FhirJson.String(resource["id"])}", ["resource"] = resource, ["search"] = new JsonObject { ["mode"] = "match" } });
        if (ignored.Count > 0)
            entries.Add(new JsonObject
            {
                ["resource"] = FhirBundles.OperationOutcome([new FhirIssue("warning", "not-supported", null,
                    $"Ignored parameters (not parameters of $everything): {string.Join(", ", ignored)}.")]),
                ["search"] = new JsonObject { ["mode"] = "outcome" },
            });
        return new JsonObject { ["resourceType"] = "Bundle", ["type"] = "searchset", ["total"] = resources.Count, ["entry"] = entries };
    }

    private static (IReadOnlySet<string>? Types, DateTimeOffset? Since, DateTimeOffset? Start, DateTimeOffset? End, List<string> Ignored) EverythingParameters(
        IReadOnlyList<KeyValuePair<string, string>> parameters)
    {
        HashSet<string>? types = null;
        DateTimeOffset? since = null, start = null, end = null;
        var ignored = new List<string>();
        foreach (var (key, value) in parameters)
        {
            switch (key)
            {
                case "_type":
                    types ??= new HashSet<string>(StringComparer.Ordinal);
                    foreach (var type in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        if (type != "Patient" && !FhirResourceTypes.PatientElement.ContainsKey(type))
                            throw new FhirException(FhirFailureKind.Invalid, "value", "_type",
                                $"_type '{type}' is not a type of a patient's compartment in Stadig. Kept there: Patient, {string.Join(", ", FhirResourceTypes.PatientElement.Keys.Order(StringComparer.Ordinal))}.");
                        types.Add(type);
                    }
                    break;
                case "_since":
                    since = Moment(key, value, endOfPeriod: false);
                    break;
                case "start":
                    start = Moment(key, value, endOfPeriod: false);
                    break;
                case "end":
                    end = Moment(key, value, endOfPeriod: true);
                    break;
                // The format and paging a client may send with any interaction: JSON is all Stadig speaks, and the whole compartment comes in one page.
                case "_format" or "_count":
                    break;
                default:
                    ignored.Add(key);
                    break;
            }
        }
        return (types, since, start, end, ignored);
    }

    /// <summary>A date or instant parameter: its first moment, or with <paramref name="endOfPeriod"/> the first moment after it (2025 → 2026-01-01).</summary>
    private static DateTimeOffset Moment(string key, string value, bool endOfPeriod)
    {
        if (FhirDateRange.TryParse(value, out var range)) return endOfPeriod ? range.High : range.Low;
        throw new FhirException(FhirFailureKind.Invalid, "value", key, $"{key} '{value}' is not a FHIR date or dateTime (as 2025, 2025-06 or 2025-06-01T12:00:00+02:00).");
    }

    private static bool ChangedSince(JsonObject resource, DateTimeOffset? since) =>
        since is null || !DateTimeOffset.TryParse(FhirJson.String(resource["meta"]?["lastUpdated"]), CultureInfo.InvariantCulture, DateTimeStyles.None, out var updated)
        || updated > since;

    private static bool InCareRange(JsonObject resource, DateTimeOffset? start, DateTimeOffset? end)
    {
        if (start is null && end is null) return true;
        var dates = FhirSearchIndexer.Extract(resource).Where(v => v.Low is not null && v.Param != "_lastUpdated").ToList();
        if (dates.Count == 0) return true;
        return dates.Any(d => (start is null || (d.High ?? DateTimeOffset.MaxValue) > start) && (end is null || d.Low < end));
    }
}
