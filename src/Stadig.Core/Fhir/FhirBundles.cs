using System.Globalization;
using System.Text.Json.Nodes;
using Stadig.Fhir.Store;

namespace Stadig.Fhir;

/// <summary>The Bundle and OperationOutcome resources Stadig answers with.</summary>
public static class FhirBundles
{
    public static JsonObject OperationOutcome(IEnumerable<FhirIssue> issues) => new()
    {
        ["resourceType"] = "OperationOutcome",
        ["issue"] = new JsonArray(issues.Select(i =>
        {
            var issue = new JsonObject { ["severity"] = i.Severity, ["code"] = i.Code, ["diagnostics"] = i.Diagnostics };
            if (i.Expression is not null) issue["expression"] = new JsonArray(i.Expression);
            return (JsonNode?)issue;
        }).ToArray()),
    };

    public static JsonObject Information(string diagnostics) => OperationOutcome([new FhirIssue("information", "informational", null, diagnostics)]);

    /// <summary>A history Bundle: each version with the request that made it.</summary>
    public static JsonObject History(string baseUrl, IEnumerable<FhirResourceRow> rows)
    {
        var entries = new JsonArray();
        foreach (var row in rows)
        {
            var entry = new JsonObject { ["fullUrl"] = $"{baseUrl}/{row.ResourceType}/{row.Id}" };
            if (!row.Deleted) entry["resource"] = FhirJson.Parse(row.Content);
            entry["request"] = new JsonObject
            {
                ["method"] = row.Deleted ? "DELETE" : row.VersionId == 1 ? "POST" : "PUT",
                ["url"] = row.VersionId == 1 && !row.Deleted ? row.ResourceType : $"{row.ResourceType}/{row.Id}",
            };
            entry["response"] = new JsonObject
            {
                ["status"] = row.Deleted ? "204" : row.VersionId == 1 ? "201" : "200",
                ["etag"] = ETag(row.VersionId),
                ["lastModified"] = FhirJson.Instant(row.LastUpdated),
            };
            entries.Add(entry);
        }
        return new JsonObject
        {
            ["resourceType"] = "Bundle", ["type"] = "history", ["total"] = entries.Count, ["entry"] = entries,
        };
    }

    public static string ETag(int version) => $"W/\"{version.ToString(CultureInfo.InvariantCulture)}\"";

    /// <summary>The version in an If-Match header (W/"3" or "3"); null when absent, Invalid when malformed.</summary>
    public static int? ParseETag(string? header)
    {
        if (string.IsNullOrWhiteSpace(header)) return null;
        var text = header.Trim();
        if (text.StartsWith("W/", StringComparison.Ordinal)) text = text[2..];
        text = text.Trim('"');
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var version)) return version;
        throw new FhirException(FhirFailureKind.Invalid, "invalid", null, $"If-Match '{header}' is not an ETag of the form W/\"version\".");
    }
}
