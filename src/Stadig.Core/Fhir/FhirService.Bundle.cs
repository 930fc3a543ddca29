using System.Text.Json.Nodes;
using Stadig.Access;
using Stadig.Common;

namespace Stadig.Fhir;

public sealed partial class FhirService
{
    /// <summary>
    /// A batch (each entry on its own) or a transaction (all entries or none: one database
    /// transaction, and an error in any entry leaves nothing stored). Entries with a urn:uuid
    /// fullUrl get their ids first, so the other entries' references to them can be rewritten.
    /// <paramref name="statusLine"/> writes a failed entry's response.status ("404 NotFound"): the web
    /// layer owns the map from failure to HTTP status, and a bundle carries it inside its body.
    /// </summary>
    public async Task<JsonObject> ProcessBundleAsync(FhirCaller caller, JsonObject bundle, string baseUrl, Func<FhirFailureKind, string> statusLine,
        CancellationToken cancellationToken = default)
    {
        if (FhirJson.String(bundle["resourceType"]) != "Bundle")
            throw new FhirException(FhirFailureKind.Invalid, "invalid", "resourceType", "POST to the base URL takes a Bundle of type batch or transaction.");
        var kind = FhirJson.String(bundle["type"]);
        if (kind is not ("batch" or "transaction"))
            throw new FhirException(FhirFailureKind.Invalid, "value", "Bundle.type", $"Bundle.type is '{kind}'; the base URL takes batch or transaction.");
        var entries = (bundle["entry"] as JsonArray ?? []).Select((e, i) => ParseEntry(e, i)).ToList();

        if (kind == "transaction")
        {
            var ids = AssignIds(entries);
            foreach (var entry in entries) if (entry.Resource is not null) RewriteReferences(entry.Resource, ids);
            var arriving = Arriving(entries, ids);
            var written = await TransactAsync(caller, async (connection, transaction) =>
            {
                // One access decision per patient for the whole transaction; one audit event per entry still.
                var decided = new TransactionAccess();
                var outcomes = new FhirWriteOutcome?[entries.Count];
                // Writes before reads, as FHIR orders them. Among the writes, patients first: a record
                // entry needs its patient's registry row to be filed under, whatever the entry order.
                // Other references to what this transaction writes hold in any order (arriving): all
                // of it commits together or none of it does, so no reference can end up dangling.
                foreach (var entry in entries.Where(e => e.Method is "POST" or "PUT").OrderBy(e => WriteRank(e.Type)).ThenBy(e => e.Method == "POST" ? 0 : 1))
                {
                    outcomes[entry.Index] = entry.IfNoneExist is { } condition
                        ? await ConditionalStoreAsync(caller, connection, transaction, entry.Resource!, condition, entry.Path, ids.GetValueOrDefault(entry.FullUrl ?? ""), decided)
                        : await StoreAsync(caller, connection, transaction, entry.Resource!, entry.Method == "PUT" ? entry.Id : null, entry.IfMatch, mayCreate: true,
                            entry.Path, NewIdOf(ids, entry), arriving: arriving, decided: decided);
                }
                return outcomes;
            }, cancellationToken);
            var response = new JsonArray();
            foreach (var entry in entries)
            {
                response.Add(entry.Method == "GET"
                    ? await ReadEntryAsync(caller, entry, baseUrl, statusLine, cancellationToken)
                    : ResponseEntry(baseUrl, written[entry.Index]!));
            }
            return new JsonObject { ["resourceType"] = "Bundle", ["type"] = "transaction-response", ["entry"] = response };
        }

        var results = new JsonArray();
        foreach (var entry in entries)
        {
            try
            {
                results.Add(entry.Method switch
                {
                    "GET" => await ReadEntryAsync(caller, entry, baseUrl, statusLine, cancellationToken),
                    "POST" when entry.IfNoneExist is { } condition => ResponseEntry(baseUrl, await TransactAsync(caller, (c, t) =>
                        ConditionalStoreAsync(caller, c, t, entry.Resource!, condition, entry.Path, null), cancellationToken)),
                    _ => ResponseEntry(baseUrl, await TransactAsync(caller, (c, t) =>
                        StoreAsync(caller, c, t, entry.Resource!, entry.Method == "PUT" ? entry.Id : null, entry.IfMatch, mayCreate: true, entry.Path), cancellationToken)),
                });
            }
            catch (FhirException failure)
            {
                results.Add(FailedEntry(failure, statusLine));
            }
            catch (StadigException failure)
            {
                results.Add(FailedEntry(Translate(failure), statusLine));
            }
        }
        return new JsonObject { ["resourceType"] = "Bundle", ["type"] = "batch-response", ["entry"] = results };
    }

    private sealed record BundleEntry(int Index, string Method, string Url, string? Type, string? Id, JsonObject? Resource, string? FullUrl,
        string? IfNoneExist, int? IfMatch, string Path);

    private static BundleEntry ParseEntry(JsonNode? node, int index)
    {
        var path = $"Bundle.entry[{index}]";
        if (node is not JsonObject entry) throw new FhirException(FhirFailureKind.Invalid, "structure", path, "A bundle entry must be an object.");
        var request = entry["request"] as JsonObject
            ?? throw new FhirException(FhirFailureKind.Invalid, "required", $"{path}.request", "Every entry of a batch or transaction needs request (method and url).");
        var method = FhirJson.String(request["method"]) ?? "";
        var url = FhirJson.String(request["url"])
            ?? throw new FhirException(FhirFailureKind.Invalid, "required", $"{path}.request.url", "The entry's request has no url.");
        if (method is "DELETE" or "PATCH" or "HEAD")
            throw new FhirException(FhirFailureKind.NotAllowed, "not-supported", $"{path}.request.method",
                $"{method} is not supported in a bundle: nothing in a patient record is deleted; correct it with PUT.");
        if (method is not ("GET" or "POST" or "PUT"))
            throw new FhirException(FhirFailureKind.Invalid, "value", $"{path}.request.method", $"'{method}' is not a FHIR bundle request method.");
        var resource = entry["resource"] as JsonObject;
        if (method != "GET" && resource is null)
            throw new FhirException(FhirFailureKind.Invalid, "required", $"{path}.resource", $"A {method} entry needs a resource.");
        var parts = url.Split('?')[0].Split('/');
        var type = parts[0];
        var id = parts.Length > 1 ? parts[1] : null;
        if (resource is not null && FhirJson.String(resource["resourceType"]) != type)
            throw new FhirException(FhirFailureKind.Invalid, "invalid", $"{path}.request.url",
                $"The entry's url names {type}, but its resource is a {FhirJson.String(resource["resourceType"])}.");
        if (method == "PUT" && id is null)
            throw new FhirException(FhirFailureKind.Invalid, "invalid", $"{path}.request.url", "A PUT entry's url must be Type/id.");
        if (method == "PUT" && resource is not null && FhirJson.String(resource["id"]) is null) resource["id"] = id;
        return new BundleEntry(index, method, url, type, id, resource, FhirJson.String(entry["fullUrl"]), FhirJson.String(request["ifNoneExist"]),
            FhirBundles.ParseETag(FhirJson.String(request["ifMatch"])), $"{path}.resource");
    }

    /// <summary>New ids for the entries a transaction creates, by their fullUrl (urn:uuid:… or a URL), as Type/id.</summary>
    private static Dictionary<string, string> AssignIds(IEnumerable<BundleEntry> entries)
    {
        var ids = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            if (entry.FullUrl is not { } fullUrl || entry.Resource is null) continue;
            ids[fullUrl] = entry.Method == "POST" ? $"{entry.Type}/{Guid.NewGuid()}" : $"{entry.Type}/{entry.Id}";
        }
        return ids;
    }

    /// <summary>
    /// The resources a transaction surely writes, as Type/id: every PUT and every unconditional POST
    /// with a fullUrl. A conditional create may turn out to be an existing resource, so it is not counted.
    /// </summary>
    private static HashSet<string> Arriving(IEnumerable<BundleEntry> entries, Dictionary<string, string> ids)
    {
        var arriving = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            if (entry.Resource is null || entry.IfNoneExist is not null) continue;
            if (entry.Method == "PUT") arriving.Add($"{entry.Type}/{entry.Id}");
            else if (entry.Method == "POST" && entry.FullUrl is { } fullUrl && ids.TryGetValue(fullUrl, out var assigned)) arriving.Add(assigned);
        }
        return arriving;
    }

    /// <summary>The order a bulk write stores types in: patients, then the directory, then the records that point at both.</summary>
    internal static int WriteRank(string? type) => type switch
    {
        "Patient" => 0,
        not null when FhirResourceTypes.Directory.Contains(type) => 1,
        _ => 2,
    };

    private static Guid? NewIdOf(Dictionary<string, string> ids, BundleEntry entry) =>
        entry.Method == "POST" && entry.FullUrl is { } fullUrl && ids.TryGetValue(fullUrl, out var assigned) ? Guid.Parse(assigned.Split('/')[1]) : null;

    private static void RewriteReferences(JsonObject resource, Dictionary<string, string> ids)
    {
        foreach (var (_, holder, reference) in FhirJson.References(resource, "").ToList())
        {
            if (ids.TryGetValue(reference, out var local)) holder["reference"] = local;
        }
        // A contained resource's references point out of the bundle entry like its container's do.
        foreach (var inside in (resource["contained"] as JsonArray ?? []).OfType<JsonObject>()) RewriteReferences(inside, ids);
    }

    private static JsonObject ResponseEntry(string baseUrl, FhirWriteOutcome outcome) => new()
    {
        ["fullUrl"] = $"{baseUrl}/{outcome.Type}/{outcome.Id}",
        ["resource"] = outcome.Resource,
        ["response"] = new JsonObject
        {
            ["status"] = outcome.Created ? "201 Created" : "200 OK",
            ["location"] = $"{outcome.Type}/{outcome.Id}/_history/{outcome.Version}",
            ["etag"] = FhirBundles.ETag(outcome.Version),
            ["lastModified"] = FhirJson.Instant(outcome.LastUpdated),
        },
    };

    private static JsonObject FailedEntry(FhirException failure, Func<FhirFailureKind, string> statusLine) => new()
    {
        ["response"] = new JsonObject
        {
            ["status"] = statusLine(failure.Kind),
            ["outcome"] = FhirBundles.OperationOutcome(failure.Issues),
        },
    };

    private async Task<JsonObject> ReadEntryAsync(FhirCaller caller, BundleEntry entry, string baseUrl, Func<FhirFailureKind, string> statusLine,
        CancellationToken cancellationToken)
    {
        try
        {
            var query = entry.Url.Contains('?') ? entry.Url[(entry.Url.IndexOf('?') + 1)..] : null;
            var resource = entry.Id is { } id && query is null
                ? await ReadAsync(caller, entry.Type!, id, cancellationToken)
                : await SearchAsync(caller, entry.Type!, ParseQuery(query), strict: false, baseUrl, cancellationToken);
            return new JsonObject { ["resource"] = resource, ["response"] = new JsonObject { ["status"] = "200 OK" } };
        }
        catch (FhirException failure)
        {
            return FailedEntry(failure, statusLine);
        }
    }

    public static List<KeyValuePair<string, string>> ParseQuery(string? query) =>
        (query ?? "").Split('&', StringSplitOptions.RemoveEmptyEntries).Select(pair =>
        {
            var equals = pair.IndexOf('=');
            return equals < 0
                ? KeyValuePair.Create(Uri.UnescapeDataString(pair), "")
                : KeyValuePair.Create(Uri.UnescapeDataString(pair[..equals]), Uri.UnescapeDataString(pair[(equals + 1)..].Replace('+', ' ')));
        }).ToList();
}
