using System.Text.Json.Nodes;
using Stadig.Fhir.Search;

namespace Stadig.Fhir;

/// <summary>The CapabilityStatement at /fhir/metadata, built from the same tables the API runs on, so it cannot claim what is not there.</summary>
public static class FhirCapability
{
    public static JsonObject Statement(string baseUrl)
    {
        var resources = new JsonArray();
        foreach (var type in FhirResourceTypes.All)
        {
            var readOnly = type == FhirResourceTypes.AuditEvent;
            var interactions = new JsonArray { Interaction("read") };
            var codes = readOnly ? new[] { "search-type" } : ["vread", "history-instance", "history-type", "create", "update", "search-type"];
            foreach (var code in codes) interactions.Add(Interaction(code));
            var resource = new JsonObject
            {
                ["type"] = type,
                ["interaction"] = interactions,
                // AuditEvents are mapped from the append-only audit log when read: one version each, never changed.
                ["versioning"] = readOnly ? "no-version" : "versioned-update",
                ["readHistory"] = !readOnly,
                ["updateCreate"] = !readOnly,
                ["conditionalCreate"] = !readOnly,
                ["conditionalUpdate"] = false,
                ["conditionalDelete"] = "not-supported",
            };
            var parameters = new JsonArray();
            foreach (var parameter in FhirSearchParameters.For(type))
            {
                parameters.Add(new JsonObject { ["name"] = parameter.Name, ["type"] = parameter.Type.ToString().ToLowerInvariant() });
            }
            resource["searchParam"] = parameters;
            var operations = new JsonArray(new JsonObject { ["name"] = "validate", ["definition"] = "http://hl7.org/fhir/OperationDefinition/Resource-validate" });
            if (type == "Patient")
            {
                operations.Add(new JsonObject { ["name"] = "everything", ["definition"] = "http://hl7.org/fhir/OperationDefinition/Patient-everything" });
                operations.Add(new JsonObject { ["name"] = "export", ["definition"] = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export" });
            }
            resource["operation"] = operations;
            resources.Add(resource);
        }
        return new JsonObject
        {
            ["resourceType"] = "CapabilityStatement",
            ["status"] = "active",
            ["date"] = "2026-11-23",
            ["publisher"] = "Stadig",
            ["kind"] = "instance",
            ["software"] = new JsonObject { ["name"] = "Stadig" },
            ["implementation"] = new JsonObject { ["description"] = "Stadig vårdjournal: FHIR R4 API", ["url"] = baseUrl },
            ["fhirVersion"] = "4.0.1",
            ["format"] = new JsonArray("application/fhir+json"),
            ["rest"] = new JsonArray(new JsonObject
            {
                ["mode"] = "server",
                ["security"] = new JsonObject
                {
                    ["cors"] = false,
                    ["service"] = new JsonArray(new JsonObject
                    {
                        ["coding"] = new JsonArray(new JsonObject { ["system"] = "http://terminology.hl7.org/CodeSystem/restful-security-service", ["code"] = "SMART-on-FHIR" }),
                    }),
                    ["description"] = "OAuth2 bearer tokens (JWT) with SMART scopes such as patient/*.read and user/Observation.write, on top of the person's assignment and care relations; every access is audited.",
                },
                ["resource"] = resources,
                ["interaction"] = new JsonArray(Interaction("transaction"), Interaction("batch")),
                ["operation"] = new JsonArray(
                    new JsonObject { ["name"] = "export", ["definition"] = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export" },
                    new JsonObject { ["name"] = "import", ["definition"] = "https://stadig.example/fhir/OperationDefinition/import" }),
            }),
        };
    }

    private static JsonObject Interaction(string code) => new() { ["code"] = code };
}
