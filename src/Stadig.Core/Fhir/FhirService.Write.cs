using System.Data.Common;
using System.Globalization;
using System.Text.Json.Nodes;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Fhir.Patients;
using Stadig.Fhir.Records;
using Stadig.Fhir.Store;
using Stadig.Fhir.Validation;

namespace Stadig.Fhir;

/// <summary>What a create or update did: the resource as stored (and as a read gives it back).</summary>
public sealed record FhirWriteOutcome(JsonObject Resource, string Type, string Id, int Version, DateTimeOffset LastUpdated, bool Created);

public sealed partial class FhirService
{
    /// <summary>A refusal found inside a write transaction; thrown to roll it back, then logged.</summary>
    private sealed class RefusedWrite(CheckpointRefusal refusal) : Exception
    {
        public CheckpointRefusal Refusal { get; } = refusal;
    }

    public Task<FhirWriteOutcome> CreateAsync(FhirCaller caller, JsonObject resource, CancellationToken cancellationToken = default) =>
        TransactAsync(caller, (connection, transaction) => StoreAsync(caller, connection, transaction, resource, id: null, ifMatch: null, mayCreate: true), cancellationToken);

    /// <summary>Update, or create with the id the client chose. <paramref name="ifMatch"/>: the version the client last saw; another is PreconditionFailed.</summary>
    public Task<FhirWriteOutcome> UpdateAsync(FhirCaller caller, string type, string id, JsonObject resource, int? ifMatch, CancellationToken cancellationToken = default)
    {
        if (FhirJson.String(resource["resourceType"]) != type)
            throw new FhirException(FhirFailureKind.Invalid, "invalid", "resourceType", $"The body is a {FhirJson.String(resource["resourceType"])}, but the URL names {type}.");
        if (FhirJson.String(resource["id"]) is { } bodyId && bodyId != id)
            throw new FhirException(FhirFailureKind.Invalid, "invalid", $"{type}.id", $"The body's id '{bodyId}' differs from the URL's '{id}'.");
        if (FhirJson.String(resource["id"]) is null)
            throw new FhirException(FhirFailureKind.Invalid, "required", $"{type}.id", "An update must carry the resource's id in the body (FHIR R4 3.1.0.4).");
        return TransactAsync(caller, (connection, transaction) => StoreAsync(caller, connection, transaction, resource, id, ifMatch, mayCreate: true), cancellationToken);
    }

    public Task<FhirWriteOutcome> DeleteAsync(FhirCaller caller, string type, string id, CancellationToken cancellationToken = default) =>
        throw new FhirException(FhirFailureKind.NotAllowed, "not-supported", null,
            "Nothing in a patient record is deleted (Patientdatalagen): correct it with an update, e.g. status entered-in-error.");

    /// <summary>Runs a write in one transaction; a refusal inside rolls it all back and is then logged.</summary>
    private async Task<T> TransactAsync<T>(FhirCaller caller, Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        try
        {
            // Every patient the work touches passes the checkpoint on this transaction (WriteInAsync).
            return await checkpoint.Scope(caller.Caller).InTransactionAsync(work, cancellationToken);
        }
        catch (RefusedWrite refused)
        {
            throw Translate(await checkpoint.RecordAsync(refused.Refusal, cancellationToken));
        }
        catch (StadigException error)
        {
            throw Translate(error);
        }
    }

    /// <summary>
    /// Validates, checks references and access, and stores one resource on the caller's transaction.
    /// <paramref name="id"/> null: a new id. <paramref name="path"/> prefixes error expressions (a bundle entry).
    /// </summary>
    private async Task<FhirWriteOutcome> StoreAsync(FhirCaller caller, DbConnection connection, DbTransaction transaction, JsonObject resource,
        string? id, int? ifMatch, bool mayCreate, string? path = null, Guid? newId = null, bool importing = false, IReadOnlySet<string>? arriving = null,
        TransactionAccess? decided = null)
    {
        var type = FhirJson.String(resource["resourceType"]) ?? "";
        if (type == FhirResourceTypes.AuditEvent)
            throw new FhirException(FhirFailureKind.NotAllowed, "not-supported", path, "AuditEvent is read-only: Stadig writes its audit log itself.");
        if (!FhirResourceTypes.IsSupported(type))
            throw new FhirException(FhirFailureKind.Unprocessable, "not-supported", Prefixed(path, "resourceType"),
                $"Stadig does not keep {type} resources{(type == "Bundle" ? " (a batch or transaction Bundle is POSTed to the base URL)" : "")}. Kept: {string.Join(", ", FhirResourceTypes.All)}.");
        var issues = FhirValidator.Validate(resource).Where(i => i.Severity is "error" or "fatal").ToList();
        if (issues.Count > 0)
            throw new FhirException(FhirFailureKind.Invalid, issues.Select(i => i with { Expression = Prefixed(path, i.Expression) }).ToList());
        // A resource that claims a profile is held to it (R4: 422 for a resource that breaks a profile).
        var profileIssues = ProfileIssues(resource, onlyErrors: true).ToList();
        if (profileIssues.Count > 0)
            throw new FhirException(FhirFailureKind.Unprocessable, profileIssues.Select(i => i with { Expression = Prefixed(path, i.Expression) }).ToList());
        caller.Scopes.Demand(type, write: true);
        var now = clock.GetUtcNow();

        // An import brings a resource's version along (export → import → export is exact); a new one elsewhere starts at 1.
        var importedVersion = importing && int.TryParse(FhirJson.String(resource["meta"]?["versionId"]), out var given) && given > 0 ? given : (int?)null;
        if (type == "Patient")
            return await StorePatientAsync(caller, connection, transaction, resource, id, ifMatch, path, newId, now, decided, arriving, importedVersion);

        var current = id is null ? null : await FhirResourceStore.CurrentAsync(connection, transaction, type, id);
        if (current is null && !mayCreate) throw NotFound(type, id!);
        // The chart is the master of what Stadig published; an import brings such resources whole.
        if (!importing && current is { Deleted: false } && FhirRecordPublisher.IsPublished(current.Content))
            throw new FhirException(FhirFailureKind.Unprocessable, "business-rule", path,
                $"{type}/{id} is a record kept in Stadig's chart and published from it: change it in the chart (or with the record's own FHIR use case), not over the API.");
        if (!importing && (FhirRecordPublisher.IsPublished(resource) || FhirRecordPublisher.NamesSourceSystem(resource)))
            throw new FhirException(FhirFailureKind.Unprocessable, "business-rule", Prefixed(path, $"{type}.meta.tag"),
                $"The system {FhirRecordPublisher.SourceSystem} (tag {FhirRecordPublisher.SourceCode}) marks records Stadig publishes from its chart; a client cannot use it.");
        if (current is not null && ifMatch is { } expected && expected != current.VersionId)
            throw new FhirException(FhirFailureKind.PreconditionFailed, "conflict", path,
                $"{type}/{id} is at version {current.VersionId}, not {expected}: someone else changed it. Read it again and redo the change.");

        Guid? patientId = null;
        if (FhirResourceTypes.PatientElement.TryGetValue(type, out var element))
        {
            var reference = FhirJson.String(resource[element]?["reference"]);
            var expression = Prefixed(path, $"{type}.{element}");
            if (reference is null)
                throw new FhirException(FhirFailureKind.Unprocessable, "required", expression,
                    $"Stadig keeps clinical data in a patient's record: {type}.{element} must reference the Patient.");
            if (!reference.StartsWith("Patient/", StringComparison.Ordinal))
                throw new FhirException(FhirFailureKind.Unprocessable, "business-rule", expression,
                    $"{type}.{element} references '{reference}'; Stadig keeps only patients' records, so it must be a Patient.");
            var target = await ResolvePatientAsync(connection, transaction, reference["Patient/".Length..])
                ?? throw new FhirException(FhirFailureKind.Unprocessable, "not-found", expression, $"{type}.{element} references {reference}, which does not exist.");
            patientId = target.PatientId;
            if (current?.PatientId is { } before && before != patientId)
                throw new FhirException(FhirFailureKind.Unprocessable, "business-rule", expression,
                    $"{type}/{id} belongs to another patient's record: mark it entered-in-error there and create it anew for this patient.");
            // An administrator's $import moves whole records in (from an export); other writes are clinicians'.
            if (!RolePermissions.WorksWithRecords(caller.Caller.Role) && !importing)
                throw new FhirException(FhirFailureKind.Forbidden, "forbidden", null, "Your role does not write in patient records.");
            RequirePatientContext(caller, type, write: true, reference["Patient/".Length..], target.Stored?.Id ?? target.PatientId.ToString());
            var (grant, refusal) = await checkpoint.WriteInAsync(caller.Caller, target.PatientId, $"FHIR {type}", AuditActivity.Write, connection, transaction, decided,
                importing ? RecordPart.BulkTransfer : null);
            if (refusal is not null) throw new RefusedWrite(refusal);
            if (current is not null && !grant!.Context.MaySee(current.OwningUnit)) throw NotFound(type, id!);
        }
        else
        {
            if (!RolePermissions.WorksWithRegistry(caller.Caller.Role))
                throw new FhirException(FhirFailureKind.Forbidden, "forbidden", null, "Your role does not maintain the directory.");
            await audit.AppendAsync(new AuditEntry(caller.Caller, null, AuditActivity.Write, $"FHIR {type}", Detail: $"{type}/{id}"), connection, transaction);
        }
        await CheckReferencesAsync(connection, transaction, resource, type, path, arriving);

        var newResourceId = id ?? (newId ?? Guid.NewGuid()).ToString();
        var row = await FhirResourceStore.PutAsync(connection, transaction, resource, newResourceId, patientId, current?.UnitId ?? caller.Caller.UnitId, now,
            current is null ? importedVersion : null);
        return new FhirWriteOutcome(FhirJson.Parse(row.Content), type, newResourceId, row.VersionId, row.LastUpdated, current is null || current.Deleted);
    }

    private async Task<FhirWriteOutcome> StorePatientAsync(FhirCaller caller, DbConnection connection, DbTransaction transaction, JsonObject resource,
        string? id, int? ifMatch, string? path, Guid? newId, DateTimeOffset now, TransactionAccess? decided, IReadOnlySet<string>? arriving, int? importedVersion = null)
    {
        var part = FhirPatientMapping.FromFhir(resource);
        var existing = id is null ? null : await ResolvePatientAsync(connection, transaction, id);
        if (existing is { } known)
        {
            var fhirId = known.Stored?.Id ?? id!;
            RequirePatientContext(caller, "Patient", write: true, id!, fhirId);
            var (grant, refusal) = await checkpoint.WriteInAsync(caller.Caller, known.PatientId, "FHIR Patient", AuditActivity.Write, connection, transaction, decided);
            if (refusal is not null) throw new RefusedWrite(refusal);
            var before = await Stadig.Patients.PatientRegistry.FindInAsync(grant!, connection, transaction) ?? throw NotFound("Patient", id!);
            if (ifMatch is { } expected && expected != before.Version)
                throw new FhirException(FhirFailureKind.PreconditionFailed, "conflict", path,
                    $"Patient/{id} is at version {before.Version}, not {expected}: someone else changed it. Read it again and redo the change.");
            if (part.Identifier is { } number && number != before.Identifier)
                throw new FhirException(FhirFailureKind.Unprocessable, "business-rule", Prefixed(path, "Patient.identifier"),
                    "A patient's identity number does not change by update: register the new number and merge the records.");
            await CheckReferencesAsync(connection, transaction, resource, "Patient", path, arriving);
            var after = await TranslatingAsync(() => registry.UpdateInAsync(grant!, connection, transaction, before.Version, part.Details), path);
            decided?.Forget(known.PatientId);
            var updated = new Answered(after);
            await FhirResourceStore.PutAsync(connection, transaction, resource, fhirId, known.PatientId, caller.Caller.UnitId, now, after.Version,
                await FhirResourceStore.CurrentAsync(connection, transaction, "Patient", fhirId), updated.Of);
            return new FhirWriteOutcome(updated.Resource!,
                "Patient", fhirId, after.Version, after.UpdatedAt, Created: false);
        }

        await CheckReferencesAsync(connection, transaction, resource, "Patient", path, arriving);
        var identifier = part.Identifier ?? await registry.NewReservnummerAsync(connection, transaction)
            ?? throw new FhirException(FhirFailureKind.Unprocessable, "required", Prefixed(path, "Patient.identifier"),
                "The patient has no personnummer, samordningsnummer or reservnummer, and this region's reservnummer format is its own: send one.");
        var registryId = newId ?? (Guid.TryParse(id, out var given) ? given : Guid.NewGuid());
        var result = await TranslatingAsync(() => registry.RegisterInAsync(connection, transaction, caller.Caller, identifier, part.Details, registryId, importedVersion ?? 1), path);
        if (!result.Created)
            throw new FhirException(FhirFailureKind.Conflict, "duplicate", Prefixed(path, "Patient.identifier"),
                $"A patient with identity number {identifier} is already registered: Patient/{result.PatientId}. Use a conditional create (If-None-Exist) or update that one.");
        var patient = result.Patient!;
        if (part.Details.BirthDate is { } birthDate && patient.BirthDate != birthDate)
            throw new FhirException(FhirFailureKind.Unprocessable, "business-rule", Prefixed(path, "Patient.birthDate"),
                $"Patient.birthDate {birthDate:yyyy-MM-dd} does not match the identity number {identifier}, which gives {patient.BirthDate:yyyy-MM-dd}.");
        var newFhirId = id ?? registryId.ToString();
        // A create without an id has a new one, so no stored row to read first; the row written is the one answered.
        var answered = new Answered(patient);
        await FhirResourceStore.PutAsync(connection, transaction, resource, newFhirId, patient.Id, caller.Caller.UnitId, now, patient.Version,
            id is null ? null : await FhirResourceStore.CurrentAsync(connection, transaction, "Patient", newFhirId), answered.Of);
        return new FhirWriteOutcome(answered.Resource!,
            "Patient", newFhirId, patient.Version, patient.UpdatedAt, Created: true);
    }

    /// <summary>
    /// The read answer kept with a Patient's stored row (migration 0032): the merge the write answers
    /// with anyway, kept as text, so a read need not parse the stored resource to make it again.
    /// </summary>
    private sealed class Answered(Stadig.Patients.Patient patient)
    {
        public JsonObject? Resource { get; private set; }

        public (string, int) Of(FhirResourceRow row)
        {
            Resource = PatientResource(patient, row);
            return (FhirJson.Serialize(Resource), patient.Version);
        }
    }

    private static async Task<T> TranslatingAsync<T>(Func<Task<T>> work, string? path)
    {
        try
        {
            return await work();
        }
        catch (InvalidInputException invalid)
        {
            throw Translate(invalid, Prefixed(path, PatientPath(invalid.Field)));
        }
    }

    /// <summary>
    /// Every reference must lead somewhere: a resource Stadig has, a contained one, or an absolute
    /// URL of another server. A reference to nothing would be a record that points into the void.
    /// </summary>
    private static async Task CheckReferencesAsync(DbConnection connection, DbTransaction transaction, JsonObject resource, string type, string? path,
        IReadOnlySet<string>? arriving = null)
    {
        var contained = resource["contained"] is JsonArray inside
            ? inside.OfType<JsonObject>().Select(c => FhirJson.String(c["id"])).Where(i => i is not null).ToHashSet()
            : [];
        // A contained resource's bundle-local references were rewritten with its container's; one left over leads nowhere.
        var containedReferences = (resource["contained"] as JsonArray ?? []).Select((c, i) => (c, i)).Where(c => c.c is JsonObject)
            .SelectMany(c => FhirJson.References(c.c, $"{type}.contained[{c.i}]"));
        foreach (var (at, _, reference) in containedReferences)
        {
            if (reference.StartsWith("urn:", StringComparison.Ordinal))
                throw new FhirException(FhirFailureKind.Unprocessable, "not-found", Prefixed(path, at + ".reference"),
                    $"'{reference}' is a bundle-local reference, but no entry of this bundle has it as fullUrl.");
        }
        foreach (var (at, _, reference) in FhirJson.References(resource, type))
        {
            var expression = Prefixed(path, at + ".reference");
            if (reference.StartsWith('#'))
            {
                if (reference.Length > 1 && !contained.Contains(reference[1..]))
                    throw new FhirException(FhirFailureKind.Unprocessable, "not-found", expression, $"'{reference}' names no contained resource.");
                continue;
            }
            if (reference.StartsWith("http://", StringComparison.Ordinal) || reference.StartsWith("https://", StringComparison.Ordinal)) continue;
            if (reference.StartsWith("urn:", StringComparison.Ordinal))
                throw new FhirException(FhirFailureKind.Unprocessable, "not-found", expression,
                    $"'{reference}' is a bundle-local reference, but no entry of this bundle has it as fullUrl.");
            var parts = reference.Split('/');
            if (parts.Length is not (2 or 4) || parts.Length == 4 && parts[2] != "_history")
                throw new FhirException(FhirFailureKind.Unprocessable, "invalid", expression, $"'{reference}' is not a reference of the form Type/id.");
            // Resources arriving in the same import or transaction are as good as stored: they are, when it commits.
            var exists = arriving?.Contains($"{parts[0]}/{parts[1]}") == true || (parts[0] == "Patient"
                ? await ResolvePatientAsync(connection, transaction, parts[1]) is not null
                : FhirResourceTypes.IsSupported(parts[0]) && await FhirResourceStore.ExistsAsync(connection, transaction, parts[0], parts[1]));
            if (!exists)
                throw new FhirException(FhirFailureKind.Unprocessable, "not-found", expression, $"The reference {reference} leads to no resource Stadig has.");
        }
    }

    private static string? Prefixed(string? path, string? expression) =>
        path is null ? expression : expression is null ? path : $"{path}.{expression}";
}
