using System.Data.Common;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Fhir.Store;

namespace Stadig.Fhir.Records;

/// <summary>What one batch of a publish walk did: rows read, resources that got a new version, and the last id read (the next batch's key).</summary>
public sealed record FhirBatchOutcome(int Read, int Published, Guid? Last);

/// <summary>
/// How one kind of chart record becomes a FHIR resource: the query that reads the record (with what the
/// mapping needs: staff and unit HSA-ids and names), and the mapping itself. A mapper publishes one record
/// on the caller's transaction (every write path of the record's use case), or a keyset-paged batch of them
/// (the backfill). The record's own Guid is the resource id, and its unit the resource's owning unit, so the
/// FHIR API's checkpoint hides it exactly where the chart hides the record.
/// </summary>
public abstract class FhirRecordMapping<TRow> where TRow : class
{
    /// <summary>The SELECT … FROM … of the record's rows; the record table is aliased <c>r</c>.</summary>
    protected abstract string Select { get; }

    /// <summary>Which rows are part of the record at all (e.g. signed notes only); null: every row.</summary>
    protected virtual string? Filter => null;

    protected abstract Guid IdOf(TRow row);
    protected abstract Guid PatientOf(TRow row);
    protected abstract Guid UnitOf(TRow row);

    /// <summary>
    /// The resource type <paramref name="row"/> is published as, when it is known before mapping: the publish
    /// then reads the patient's reference and the current row in one round trip. Null: read one after the other.
    /// </summary>
    protected virtual string? TypeOf(TRow row) => null;

    /// <summary>The resource for <paramref name="row"/> (without id and meta; the publisher sets them).</summary>
    public abstract Task<JsonObject> ToFhirAsync(DbConnection connection, DbTransaction? transaction, TRow row, string patientReference);

    private string WhereClause(string condition) => Filter is null ? $" WHERE {condition}" : $" WHERE {condition} AND {Filter}";

    /// <summary>Reads one record on the transaction and publishes it; false when it is not part of the record (yet) or nothing changed.</summary>
    public async Task<bool> PublishOneAsync(DbConnection connection, DbTransaction transaction, Guid id, DateTimeOffset now)
    {
        var row = await ReadAsync(connection, transaction, id);
        return row is not null && await PublishRowAsync(connection, transaction, row, now);
    }

    public Task<TRow?> ReadAsync(DbConnection connection, DbTransaction? transaction, Guid id) =>
        connection.QuerySingleOrDefaultAsync<TRow>($"{Select}{WhereClause("r.id = @id")}", new { id }, transaction);

    /// <summary>Publishes the rows after <paramref name="after"/> in id order, at most <paramref name="limit"/> of them.</summary>
    public async Task<FhirBatchOutcome> PublishBatchAsync(DbConnection connection, DbTransaction transaction, Guid after, int limit, DateTimeOffset now)
    {
        var rows = (await connection.QueryAsync<TRow>($"{Select}{WhereClause("r.id > @after")} ORDER BY r.id LIMIT @limit", new { after, limit }, transaction)).AsList();
        var published = 0;
        foreach (var row in rows)
        {
            if (await PublishRowAsync(connection, transaction, row, now)) published++;
        }
        return new FhirBatchOutcome(rows.Count, published, rows.Count == 0 ? null : IdOf(rows[^1]));
    }

    /// <summary>The resource as it would be published now, for tests and tools (read on its own connection).</summary>
    public async Task<JsonObject?> MapAsync(DbConnection connection, Guid id)
    {
        var row = await ReadAsync(connection, null, id);
        if (row is null) return null;
        return await ToFhirAsync(connection, null, row, await FhirRecordPublisher.PatientReferenceAsync(connection, null, PatientOf(row)));
    }

    /// <summary>Publishes a row already read on this transaction (<see cref="ReadAsync"/>); true when a new version was stored.</summary>
    public async Task<bool> PublishRowAsync(DbConnection connection, DbTransaction transaction, TRow row, DateTimeOffset now)
    {
        var id = IdOf(row).ToString();
        JsonObject resource;
        FhirResourceRow? before;
        if (TypeOf(row) is { } type)
        {
            var (patient, current) = await FhirResourceStore.PatientOfAndCurrentAsync(connection, transaction, PatientOf(row), type, id);
            resource = await ToFhirAsync(connection, transaction, row, FhirRecordPublisher.PatientReference(patient, PatientOf(row)));
            if (FhirJson.String(resource["resourceType"]) != type) throw new InvalidOperationException($"{GetType().Name} mapped a {type} as {resource["resourceType"]}.");
            before = current;
        }
        else
        {
            resource = await ToFhirAsync(connection, transaction, row, await FhirRecordPublisher.PatientReferenceAsync(connection, transaction, PatientOf(row)));
            before = await FhirResourceStore.CurrentAsync(connection, transaction, FhirJson.String(resource["resourceType"])!, id);
        }
        // The current row is handed on, not read again: a signing publishes on the clinician's critical path.
        var stored = await FhirRecordPublisher.PublishOverAsync(connection, transaction, resource, id, PatientOf(row), UnitOf(row), now, before);
        return stored.VersionId != before?.VersionId;
    }
}

/// <summary>The small pieces every mapping builds: codings, directory references, instants.</summary>
public static class FhirRecordParts
{
    /// <summary>HSA-id, for staff and units (DESIGN.md).</summary>
    public const string HsaSystem = "urn:oid:1.2.752.29.4.19";

    public static JsonObject Coding(string system, string code, string? display = null)
    {
        var coding = new JsonObject { ["system"] = system, ["code"] = code };
        if (display is not null) coding["display"] = display;
        return coding;
    }

    public static JsonObject Concept(string? text, params JsonObject[] codings)
    {
        var concept = new JsonObject();
        if (codings.Length > 0) concept["coding"] = new JsonArray(codings.Cast<JsonNode>().ToArray());
        if (text is not null) concept["text"] = text;
        return concept;
    }

    /// <summary>
    /// A reference to a unit (Organization) or a person (Practitioner) by HSA-id. It also names the
    /// resource when the directory is published over FHIR (<c>{type}/{guid}</c> exists); until then the
    /// identifier alone says who it is, which a client can resolve and the API's reference checks accept.
    /// </summary>
    public static async Task<JsonObject> DirectoryAsync(DbConnection connection, DbTransaction? transaction, string type, Guid id, string hsaId, string? display)
    {
        var reference = new JsonObject();
        if (await FhirResourceStore.ExistsAsync(connection, transaction, type, id.ToString())) reference["reference"] = $"{type}/{id}";
        reference["type"] = type;
        reference["identifier"] = new JsonObject { ["system"] = HsaSystem, ["value"] = hsaId };
        if (!string.IsNullOrEmpty(display)) reference["display"] = display;
        return reference;
    }

    public static Task<JsonObject> UnitAsync(DbConnection connection, DbTransaction? transaction, Guid unitId, string hsaId, string? name) =>
        DirectoryAsync(connection, transaction, "Organization", unitId, hsaId, name);

    public static Task<JsonObject> StaffAsync(DbConnection connection, DbTransaction? transaction, Guid staffId, string hsaId, string? name) =>
        DirectoryAsync(connection, transaction, "Practitioner", staffId, hsaId, name);

    public static JsonObject Reference(string reference) => new() { ["reference"] = reference };

    public static string Instant(DateTimeOffset moment) => FhirJson.Instant(moment);
}
