using System.Data.Common;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Fhir.Records;
using Stadig.Fhir.Search;

namespace Stadig.Fhir.Store;

/// <summary>
/// The FHIR store's part of a patient merge, on the merge's transaction: every resource in the source's
/// compartment, and every resource whose search index references the source, is stored as a new version
/// whose <c>Patient/…</c> references name the target, re-indexed, and moved to the target's compartment.
/// Older versions stay as they were written (FHIR history is never rewritten); only their compartment
/// column follows, so the target's access decisions cover the whole history. Chart records' published
/// copies go the same way: their only patient-dependent part is the reference, so the rewrite is what a
/// re-publish would write. Patient resources are left alone: the source's stays the source's (served with
/// <c>link: replaced-by</c>) and a Patient's version follows its registry row.
/// </summary>
public static class FhirPatientMerge
{
    /// <returns>How many resources got a new version.</returns>
    public static async Task<int> MoveAsync(DbConnection connection, DbTransaction transaction, Guid source, Guid target, DateTimeOffset now)
    {
        var sourceStored = await FhirResourceStore.PatientOfAsync(connection, transaction, source);
        var oldReferences = new HashSet<string>(StringComparer.Ordinal) { $"Patient/{source}" };
        if (sourceStored is not null) oldReferences.Add($"Patient/{sourceStored.Id}");
        var newReference = await FhirRecordPublisher.PatientReferenceAsync(connection, transaction, target);

        // The compartment by its column, other patients' and directory resources by the search index's reference values.
        var parameters = new DynamicParameters(new { source });
        var names = oldReferences.Select((reference, i) => { parameters.Add($"r{i}", reference); return $"@r{i}"; }).ToList();
        var keys = (await connection.QueryAsync<(string Type, string Id)>(
            $"""
             SELECT resource_type, id FROM fhir_resource WHERE patient_id = @source AND resource_type <> 'Patient'
             UNION
             SELECT resource_type, id FROM fhir_search WHERE value IN ({string.Join(", ", names)}) AND resource_type <> 'Patient'
             """, parameters, transaction)).AsList();

        var rewritten = 0;
        foreach (var (type, id) in keys.OrderBy(k => k.Type, StringComparer.Ordinal).ThenBy(k => k.Id, StringComparer.Ordinal))
        {
            var current = await FhirResourceStore.CurrentAsync(connection, transaction, type, id);
            if (current is null) continue;
            var patientId = current.PatientId == source ? target : current.PatientId;
            var resource = FhirJson.Parse(current.Content);
            if (!current.Deleted && Rewrite(resource, oldReferences, newReference))
            {
                await FhirResourceStore.PutAsync(connection, transaction, resource, id, patientId, current.OwningUnit, now, version: null, current);
                rewritten++;
            }
            else if (patientId != current.PatientId)
            {
                // Nothing in it names the source (a deleted resource, or a reference form the index does not hold): only the compartment moves.
                await connection.ExecuteAsync("UPDATE fhir_resource SET patient_id = @target WHERE resource_type = @type AND id = @id",
                    new { target, type, id }, transaction);
                await connection.ExecuteAsync("UPDATE fhir_search SET patient_id = @target WHERE resource_type = @type AND id = @id",
                    new { target, type, id }, transaction);
            }
        }
        await connection.ExecuteAsync("UPDATE fhir_resource_version SET patient_id = @target WHERE patient_id = @source AND resource_type <> 'Patient'",
            new { source, target }, transaction);
        return rewritten;
    }

    /// <summary>Replaces every <c>reference</c> that names one of <paramref name="from"/> (relative, absolute or versioned) by <paramref name="to"/>.</summary>
    internal static bool Rewrite(JsonNode? node, IReadOnlySet<string> from, string to)
    {
        var changed = false;
        switch (node)
        {
            case JsonObject obj:
                if (obj["reference"] is JsonValue value && value.TryGetValue<string>(out var reference)
                    && FhirSearchIndexer.NormalizeReference(reference) is { } normalized && from.Contains(normalized))
                {
                    obj["reference"] = to;
                    changed = true;
                }
                foreach (var (_, child) in obj.ToList())
                    changed |= child is JsonObject or JsonArray && Rewrite(child, from, to);
                break;
            case JsonArray array:
                foreach (var child in array.ToList()) changed |= Rewrite(child, from, to);
                break;
        }
        return changed;
    }
}
