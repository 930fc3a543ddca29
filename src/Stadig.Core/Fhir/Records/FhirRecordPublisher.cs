using System.Data.Common;
using System.Text.Json.Nodes;
using Stadig.Fhir.Store;

namespace Stadig.Fhir.Records;

/// <summary>
/// Publishes Stadig's own records (warnings, problems, notes, results, …) as FHIR resources, on the
/// transaction that writes the record, so the FHIR view is never behind the chart and never ahead
/// of it. A published resource carries <see cref="SourceTag"/>: the chart is its master, so the API
/// refuses to change it (a client would otherwise fork the record), while reads, search, history,
/// $everything and export treat it like any other resource.
/// </summary>
public static class FhirRecordPublisher
{
    public const string SourceSystem = "https://stadig.se/fhir/CodeSystem/record-source";
    public const string SourceCode = "stadig-chart";

    public static JsonObject SourceTag() => new() { ["system"] = SourceSystem, ["code"] = SourceCode, ["display"] = "Förs i Stadigs journal" };

    /// <summary>Whether a stored resource was published from a Stadig record (and so is changed only in the chart).</summary>
    public static bool IsPublished(string content) =>
        content.Contains(SourceSystem, StringComparison.Ordinal) && IsPublished(FhirJson.Parse(content));

    public static bool IsPublished(JsonObject resource) =>
        resource["meta"]?["tag"] is JsonArray tags && tags.OfType<JsonObject>().Any(t =>
            FhirJson.String(t["system"]) == SourceSystem && FhirJson.String(t["code"]) == SourceCode);

    /// <summary>
    /// Whether a resource names the record-source system anywhere: the chart's views leave out what
    /// names it as a published copy (one SQL pattern), so a client may not use it at all.
    /// </summary>
    public static bool NamesSourceSystem(JsonObject resource) =>
        FhirJson.Serialize(resource).Contains("\"" + SourceSystem + "\"", StringComparison.Ordinal);

    /// <summary>
    /// Stores <paramref name="resource"/> as <c>{type}/{id}</c>, a new version only when its content
    /// changed (a re-publish of the same record, e.g. by the backfill, leaves the history alone).
    /// </summary>
    public static async Task<FhirResourceRow> PublishAsync(DbConnection connection, DbTransaction transaction, JsonObject resource, string id,
        Guid? patientId, Guid unitId, DateTimeOffset now)
    {
        var type = FhirJson.String(resource["resourceType"]) ?? throw new ArgumentException("resourceType is missing", nameof(resource));
        return await PublishOverAsync(connection, transaction, resource, id, patientId, unitId, now,
            await FhirResourceStore.CurrentAsync(connection, transaction, type, id));
    }

    /// <summary>As <see cref="PublishAsync"/>, with the current row already read on this transaction (null: there is none).</summary>
    internal static async Task<FhirResourceRow> PublishOverAsync(DbConnection connection, DbTransaction transaction, JsonObject resource, string id,
        Guid? patientId, Guid unitId, DateTimeOffset now, FhirResourceRow? current)
    {
        Tagged(resource, id);
        if (current is { Deleted: false } && SameApartFromVersion(FhirJson.Parse(current.Content), resource)) return current;
        return await FhirResourceStore.PutAsync(connection, transaction, resource, id, patientId, unitId, now, version: null, current);
    }

    /// <summary>
    /// <see cref="PublishAsync"/> for many resources at once, with the same outcome: the current rows are
    /// read a few hundred at a time and the new resources written in multi-row statements; a resource
    /// that already exists (a correction, a re-publish) takes the one-by-one path.
    /// </summary>
    public static async Task PublishManyAsync(DbConnection connection, DbTransaction transaction,
        IReadOnlyList<(JsonObject Resource, string Id, Guid? PatientId, Guid UnitId)> resources, DateTimeOffset now)
    {
        var fresh = new List<(JsonObject, string, Guid?, Guid)>();
        var oneByOne = new List<(JsonObject Resource, string Id, Guid? PatientId, Guid UnitId)>();
        foreach (var byType in resources.GroupBy(r => FhirJson.String(r.Resource["resourceType"]) ?? throw new ArgumentException("resourceType is missing", nameof(resources))))
        {
            var current = await FhirResourceStore.CurrentManyAsync(connection, transaction, byType.Key, byType.Select(r => r.Id));
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var item in byType)
            {
                // A second resource under the same id in one run is a second version: it follows the first, one by one.
                if (!current.ContainsKey(item.Id) && seen.Add(item.Id)) fresh.Add((Tagged(item.Resource, item.Id), item.Id, item.PatientId, item.UnitId));
                else oneByOne.Add(item);
            }
        }
        await FhirResourceStore.InsertNewAsync(connection, transaction, fresh, now);
        foreach (var (resource, id, patientId, unitId) in oneByOne) await PublishAsync(connection, transaction, resource, id, patientId, unitId, now);
    }

    internal static JsonObject Tagged(JsonObject resource, string id)
    {
        var meta = resource["meta"] as JsonObject ?? new JsonObject();
        resource.Remove("meta");
        meta.Remove("tag");
        meta["tag"] = new JsonArray(SourceTag());
        resource["meta"] = meta;
        resource["id"] = id;
        return resource;
    }

    /// <summary>The reference to a registry patient as the API serves it (its FHIR id if it came through the API, else the registry id).</summary>
    public static async Task<string> PatientReferenceAsync(DbConnection connection, DbTransaction? transaction, Guid patientId) =>
        PatientReference(await FhirResourceStore.PatientOfAsync(connection, transaction, patientId), patientId);

    /// <summary>As <see cref="PatientReferenceAsync"/>, with the stored Patient already read (null: none).</summary>
    public static string PatientReference(FhirResourceRow? stored, Guid patientId) => $"Patient/{stored?.Id ?? patientId.ToString()}";

    private static bool SameApartFromVersion(JsonObject stored, JsonObject fresh)
    {
        static string Comparable(JsonObject resource)
        {
            var copy = (JsonObject)resource.DeepClone();
            if (copy["meta"] is JsonObject meta) { meta.Remove("versionId"); meta.Remove("lastUpdated"); }
            return FhirJson.Serialize(FhirJson.Ordered(copy));
        }
        return Comparable(stored) == Comparable(fresh);
    }
}
