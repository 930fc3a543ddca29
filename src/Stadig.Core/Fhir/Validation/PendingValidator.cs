// TEMPORARY until the fhir-validation branch lands.
using System.Text.Json.Nodes;
namespace Stadig.Fhir.Validation;
public static class FhirValidator
{
    public static IReadOnlyList<FhirIssue> Validate(JsonObject resource) => [];
}
