using System.Data.Common;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Access;
using Stadig.Chart;
using Stadig.Fhir;
using Stadig.Storage;

namespace Stadig.Medication;

/// <summary>
/// The medications other systems wrote over FHIR (MedicationRequest, MedicationStatement), as the medication
/// list shows them beside its own ordinations: read from the FHIR store as sent (never the list's published
/// copies), as the caller may see them, newest first. A product given only as a reference to a Medication
/// (contained, or stored on its own) is named by that Medication's code.
/// </summary>
public static class ExternalMedications
{
    private static readonly string[] Types = ["MedicationRequest", "MedicationStatement"];

    /// <summary>A medication another system sent that still holds (R4 request and statement statuses).</summary>
    public static bool IsCurrent(RecordEntry e) => e.Status is null or "active" or "on-hold" or "intended" or "draft" or "unknown";

    internal static async Task<IReadOnlyList<RecordEntry>> ReadAsync(DbConnection connection, DatabaseEngine engine, PatientAccessContext context)
    {
        var rows = (await PatientRecordQueries.ExternalAsync(connection, engine, context.PatientId, Types))
            .Where(r => context.MaySee(r.UnitId ?? Guid.Empty)).ToList();
        var entries = new List<RecordEntry>(rows.Count);
        var referenced = new Dictionary<int, string>();
        foreach (var row in rows)
        {
            var entry = FhirRecordReader.Read(row.Row, row.UnitName);
            if (entry.Title.Length == 0)
            {
                var resource = FhirJson.Parse(row.Content);
                var reference = FhirJson.String(resource["medicationReference"]?["reference"]);
                if (reference is { Length: > 1 } && reference[0] == '#')
                {
                    var contained = (resource["contained"] as JsonArray)?.OfType<JsonObject>()
                        .FirstOrDefault(c => FhirJson.String(c["id"]) == reference[1..]);
                    entry = entry with { Title = Name(contained?["code"]) ?? "", Code = FirstCode(contained?["code"]) };
                }
                else if (reference?.StartsWith("Medication/", StringComparison.Ordinal) == true)
                {
                    referenced[entries.Count] = reference["Medication/".Length..];
                }
            }
            entries.Add(entry);
        }
        if (referenced.Count > 0)
        {
            var products = (await connection.QueryAsync<(string Id, string Content)>(
                    "SELECT id, content FROM fhir_resource WHERE resource_type = 'Medication' AND NOT deleted AND "
                    + (engine == DatabaseEngine.Postgres ? "id = ANY(@ids)" : "id IN @ids"), new { ids = referenced.Values.Distinct().ToArray() }))
                .ToDictionary(p => p.Id, p => FhirJson.Parse(p.Content)["code"], StringComparer.Ordinal);
            foreach (var (index, id) in referenced)
            {
                if (products.TryGetValue(id, out var code))
                    entries[index] = entries[index] with { Title = Name(code) ?? "", Code = FirstCode(code) };
            }
        }
        return entries.OrderByDescending(e => e.At).ToList();
    }

    private static string? Name(JsonNode? concept) =>
        FhirJson.String(concept?["text"]) ?? FhirJson.String(concept?["coding"]?[0]?["display"]) ?? FhirJson.String(concept?["coding"]?[0]?["code"]);

    private static string? FirstCode(JsonNode? concept) => FhirJson.String(concept?["coding"]?[0]?["code"]);
}
