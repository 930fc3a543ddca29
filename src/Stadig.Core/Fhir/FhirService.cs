using System.Data.Common;
using System.Globalization;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Fhir.Patients;
using Stadig.Fhir.Store;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Fhir;

/// <summary>Who asks through the FHIR API: the person's assignment (as everywhere) and the token's scopes.</summary>
public sealed record FhirCaller(Caller Caller, FhirScopes Scopes);

/// <summary>
/// The FHIR R4 interactions on Stadig's records: every one passes the access checkpoint and is
/// audited like the same access through the UI. Reads are in this file; writes, bundles, search
/// and bulk data in the other FhirService.*.cs files.
/// </summary>
public sealed partial class FhirService(Database database, PatientCheckpoint checkpoint, PatientRegistry registry, AuditLog audit, TimeProvider clock)
{
    public const int MaxHistory = 100;

    /// <summary>Whether a Patient read or search may start from a cached bearer caller (<see cref="PatientCheckpoint.ConfirmsCachedCallers"/>).</summary>
    public bool ConfirmsCachedCallers => checkpoint.ConfirmsCachedCallers;

    public async Task<JsonObject> ReadAsync(FhirCaller caller, string type, string id, CancellationToken cancellationToken = default) =>
        await ReadStoredAsync(caller, type, id, cancellationToken) switch
        {
            { Resource: { } resource } => resource,
            { Stored: { } row } => FhirJson.Parse(row.Content),
            _ => throw NotFound(type, id),
        };

    /// <summary>
    /// A read as the API answers it: a Patient (or AuditEvent) as a resource made from the registry
    /// (or the audit log); any other type as its stored row, whose content is the answer's bytes as
    /// they were written (never parsed and written again on the way out).
    /// </summary>
    public async Task<(JsonObject? Resource, FhirResourceRow? Stored)> ReadStoredAsync(FhirCaller caller, string type, string id,
        CancellationToken cancellationToken = default)
    {
        RequireKnownType(type);
        caller.Scopes.Demand(type, write: false);
        if (type == "Patient") return (null, await ReadPatientAnswerAsync(caller, id, cancellationToken));
        if (type == FhirResourceTypes.AuditEvent) return (await ReadAuditEventAsync(caller, id, cancellationToken), null);
        await using var connection = await checkpoint.Scope(caller.Caller).OpenAsync(cancellationToken);
        var row = await FhirResourceStore.CurrentAsync(connection, null, type, id) ?? throw NotFound(type, id);
        await AuthorizeReadAsync(caller, row, cancellationToken);
        if (row.Deleted) throw new FhirException(FhirFailureKind.Gone, "deleted", null, $"{type}/{id} was deleted (version {row.VersionId}).");
        return (null, row);
    }

    public async Task<JsonObject> VReadAsync(FhirCaller caller, string type, string id, int version, CancellationToken cancellationToken = default)
    {
        RequireKnownType(type);
        caller.Scopes.Demand(type, write: false);
        await using var connection = await checkpoint.Scope(caller.Caller).OpenAsync(cancellationToken);
        var row = await FhirResourceStore.VersionAsync(connection, null, type, id, version);
        if (type == "Patient")
        {
            // The registry's current version may be newer than any stored one (changed in the UI).
            var current = await ReadPatientAsync(caller, id, null, cancellationToken);
            if (current["meta"]?["versionId"]?.GetValue<string>() == version.ToString(CultureInfo.InvariantCulture)) return current;
            if (row is null) throw new FhirException(FhirFailureKind.NotFound, "not-found", null, $"Patient/{id} has no stored version {version}.");
            return FhirJson.Parse(row.Content);
        }
        if (row is null) throw new FhirException(FhirFailureKind.NotFound, "not-found", null, $"{type}/{id} has no version {version}.");
        await AuthorizeReadAsync(caller, row, cancellationToken);
        if (row.Deleted) throw new FhirException(FhirFailureKind.Gone, "deleted", null, $"Version {version} of {type}/{id} is its deletion.");
        return FhirJson.Parse(row.Content);
    }

    /// <summary>The versions of one resource, newest first, as a history Bundle's entries.</summary>
    public async Task<IReadOnlyList<FhirResourceRow>> HistoryAsync(FhirCaller caller, string type, string id, int count, CancellationToken cancellationToken = default)
    {
        RequireKnownType(type);
        caller.Scopes.Demand(type, write: false);
        await using var connection = await checkpoint.Scope(caller.Caller).OpenAsync(cancellationToken);
        var rows = (await FhirResourceStore.HistoryAsync(connection, type, id, Math.Clamp(count, 1, MaxHistory))).ToList();
        if (type == "Patient")
        {
            var current = await ReadPatientAsync(caller, id, null, cancellationToken);
            var version = int.Parse(current["meta"]!["versionId"]!.GetValue<string>(), CultureInfo.InvariantCulture);
            if (rows.All(r => r.VersionId != version))
            {
                rows.Insert(0, new FhirResourceRow
                {
                    ResourceType = "Patient", Id = id, VersionId = version,
                    LastUpdated = DateTimeOffset.Parse(current["meta"]!["lastUpdated"]!.GetValue<string>(), CultureInfo.InvariantCulture),
                    Content = FhirJson.Serialize(current),
                });
            }
            return rows;
        }
        if (rows.Count == 0) throw NotFound(type, id);
        await AuthorizeReadAsync(caller, rows[0], cancellationToken);
        return rows;
    }

    /// <summary>
    /// A Patient read as the API answers it: the answer's text with its version. A uuid is taken first
    /// as a registry id, and resolved in the same round trip as the checkpoint's facts and the registry
    /// row (one round trip and the audit append, issue 23); only when it turns out to be the id of a
    /// Patient stored for another registry patient, or no patient's at all, is it resolved on its own
    /// first, as are other ids and callers held to one patient's context.
    /// </summary>
    private async Task<FhirResourceRow> ReadPatientAnswerAsync(FhirCaller caller, string id, CancellationToken cancellationToken)
    {
        Patient patient;
        FhirResourceRow? stored;
        if (Guid.TryParse(id, out var registryId) && !caller.Scopes.OnlyPatientContext("Patient", write: false))
        {
            var (grant, found) = await checkpoint.ReadWithAsync(caller.Caller, registryId, "Patient", FhirResourceStore.PatientByIdOrRegistryIdSql, new { id },
                FhirResourceStore.ReadPatientByIdOrRegistryIdAsync,
                f => f.Registry is not null && (f.Own is not { PatientId: { } linked, Deleted: false } || linked == registryId),
                FhirResourceStore.NoOtherPatientStoredUnderIdSql, cancellationToken);
            if (grant is not null)
            {
                patient = found.Registry!;
                stored = found.Own is { PatientId: not null, Deleted: false } ? found.Own : found.OfRegistry;
                return AnswerRow(patient, stored);
            }
        }
        // A cached caller is confirmed only by the one statement above; any other way goes with a caller looked up.
        if (caller.Caller.Unconfirmed is not null) throw new CallerUnconfirmedException();
        (patient, stored) = await PatientAndStoredAsync(caller, id, null, cancellationToken);
        return AnswerRow(patient, stored);
    }

    private static FhirResourceRow AnswerRow(Patient patient, FhirResourceRow? stored) => new()
    {
        ResourceType = "Patient", Id = stored?.Id ?? patient.Id.ToString(), VersionId = patient.Version, PatientId = patient.Id,
        LastUpdated = patient.UpdatedAt, Content = stored?.AnswerFor(patient.Version) ?? FhirPatientAnswer.Text(patient, stored),
    };

    /// <summary>
    /// A Patient resource: the registry's facts over what was stored. <paramref name="grant"/> is
    /// passed when the caller already holds the checkpoint's grant (search, $everything).
    /// </summary>
    private async Task<JsonObject> ReadPatientAsync(FhirCaller caller, string id, PatientAccessGrant? grant, CancellationToken cancellationToken)
    {
        var (patient, stored) = await PatientAndStoredAsync(caller, id, grant, cancellationToken);
        return PatientResource(patient, stored);
    }

    private async Task<(Patient Patient, FhirResourceRow? Stored)> PatientAndStoredAsync(FhirCaller caller, string id, PatientAccessGrant? grant,
        CancellationToken cancellationToken)
    {
        await using var connection = await checkpoint.Scope(caller.Caller).OpenAsync(cancellationToken);
        var (patientId, stored) = await ResolvePatientAsync(connection, null, id) ?? throw NotFound("Patient", id);
        RequirePatientContext(caller, "Patient", write: false, id, stored?.Id ?? patientId.ToString());
        Patient patient;
        if (grant is null) patient = await registry.GetAsync(caller.Caller, patientId, cancellationToken);
        else patient = await PatientRegistry.FindInAsync(grant, connection, null) ?? throw NotFound("Patient", id);
        return (patient, stored);
    }

    private static JsonObject PatientResource(Patient patient, FhirResourceRow? stored) => FhirPatientAnswer.Resource(patient, stored);

    /// <summary>
    /// Which registry patient a FHIR Patient id stands for: a Patient stored through the API (its own
    /// id, linked to the registry row), or a registry id for a patient registered in Stadig.
    /// </summary>
    private static async Task<(Guid PatientId, FhirResourceRow? Stored)?> ResolvePatientAsync(DbConnection connection, DbTransaction? transaction, string id)
    {
        if (!Guid.TryParse(id, out var registryId))
        {
            var stored = await FhirResourceStore.CurrentAsync(connection, transaction, "Patient", id);
            return stored is { PatientId: { } linked, Deleted: false } ? (linked, stored) : null;
        }
        // Both readings of a uuid in one round trip: a stored Patient's own id, or a registry id.
        var (own, exists, ofRegistry) = await FhirResourceStore.PatientByIdOrRegistryIdAsync(connection, transaction, id, registryId);
        if (own is { PatientId: { } ownLinked, Deleted: false }) return (ownLinked, own);
        return exists ? (registryId, ofRegistry) : null;
    }

    /// <summary>The checkpoint for a stored resource: the patient's (with inner secrecy and blocks by the writing unit), or an audited directory read.</summary>
    private async Task AuthorizeReadAsync(FhirCaller caller, FhirResourceRow row, CancellationToken cancellationToken)
    {
        var resource = $"FHIR {row.ResourceType}";
        if (row.PatientId is not { } patientId)
        {
            await audit.AppendAsync(new AuditEntry(caller.Caller, null, AuditActivity.Read, resource, Detail: $"{row.ResourceType}/{row.Id}"), cancellationToken);
            return;
        }
        if (caller.Scopes.OnlyPatientContext(row.ResourceType, write: false))
        {
            await using var connection = await checkpoint.Scope(caller.Caller).OpenAsync(cancellationToken);
            var context = caller.Scopes.PatientContext is { } launch ? await ResolvePatientAsync(connection, null, launch) : null;
            if (context?.PatientId != patientId) throw await checkpoint.RefuseAsync(caller.Caller, patientId, resource, AuditActivity.Read, cancellationToken);
        }
        var grant = await checkpoint.ReadAsync(caller.Caller, patientId, resource, cancellationToken);
        if (!grant.Context.MaySee(row.OwningUnit)) throw await checkpoint.RefuseAsync(caller.Caller, patientId, resource, AuditActivity.Read, cancellationToken);
    }

    /// <summary>With only patient-context scopes, a Patient id other than the launch patient is refused.</summary>
    private static void RequirePatientContext(FhirCaller caller, string type, bool write, params string[] ids)
    {
        if (!caller.Scopes.OnlyPatientContext(type, write)) return;
        if (caller.Scopes.PatientContext is { } launch && ids.Contains(launch, StringComparer.Ordinal)) return;
        throw new FhirException(FhirFailureKind.Forbidden, "forbidden", null, "The token's patient/ scopes reach only the token's own patient.");
    }

    private static void RequireKnownType(string type)
    {
        if (!FhirResourceTypes.IsSupported(type))
            throw new FhirException(FhirFailureKind.NotFound, "not-supported", null,
                $"Stadig does not support the resource type '{type}'. Supported: {string.Join(", ", FhirResourceTypes.All)}.");
    }

    private static FhirException NotFound(string type, string id) =>
        new(FhirFailureKind.NotFound, "not-found", null, $"{type}/{id} does not exist, or you have no access to it.");

    /// <summary>The use cases' own errors as FHIR answers (the checkpoint and the registry speak Swedish to people; the messages are kept).</summary>
    public static FhirException Translate(StadigException error, string? expression = null) => error switch
    {
        NotFoundException => new FhirException(FhirFailureKind.NotFound, "not-found", expression, error.Message),
        ForbiddenException => new FhirException(FhirFailureKind.Forbidden, "forbidden", expression, error.Message),
        ConflictException => new FhirException(FhirFailureKind.Conflict, "conflict", expression, error.Message),
        Downtime.ReadOnlyException => new FhirException(FhirFailureKind.Unavailable, "transient", expression, error.Message),
        Storage.DatabaseUnavailableException => new FhirException(FhirFailureKind.Unavailable, "transient", expression, error.Message),
        InvalidInputException invalid => new FhirException(FhirFailureKind.Unprocessable, "value", expression ?? PatientPath(invalid.Field), error.Message),
        _ => new FhirException(FhirFailureKind.Invalid, "invalid", expression, error.Message),
    };

    private static string PatientPath(string field) => field switch
    {
        "identifier" => "Patient.identifier",
        "familyName" => "Patient.name.family",
        "givenNames" => "Patient.name.given",
        "addressLine" => "Patient.address.line",
        "postalCode" => "Patient.address.postalCode",
        "city" => "Patient.address.city",
        "phone" or "email" => "Patient.telecom",
        "birthDate" => "Patient.birthDate",
        "deceasedDate" => "Patient.deceasedDateTime",
        "protectedIdentity" => "Patient.meta.security",
        _ => $"Patient.{field}",
    };
}
