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
}
