namespace Stadig.Fhir.Store;

/// <summary>One stored version of a resource (tables fhir_resource and fhir_resource_version).</summary>
public sealed class FhirResourceRow
{
    public string ResourceType { get; init; } = "";
    public string Id { get; init; } = "";
    public int VersionId { get; init; }
    public Guid? PatientId { get; init; }
    /// <summary>The unit whose record this is; Guid.Empty when Stadig itself wrote it.</summary>
    public Guid? UnitId { get; init; }

    public Guid OwningUnit => UnitId ?? Guid.Empty;
    public DateTimeOffset LastUpdated { get; init; }
    public bool Deleted { get; init; }
    public string Content { get; init; } = "";

    /// <summary>A Patient's read answer kept with the row (read only where asked for), the registry version it was made at, and the row's version then.</summary>
    public string? Answer { get; init; }
    public int? AnswerRegistryVersion { get; init; }
    public int? AnswerOfVersion { get; init; }

    /// <summary>The kept answer, while neither the registry row nor this row has changed since it was made.</summary>
    public string? AnswerFor(int registryVersion) =>
        Answer is not null && AnswerRegistryVersion == registryVersion && AnswerOfVersion == VersionId ? Answer : null;
}
