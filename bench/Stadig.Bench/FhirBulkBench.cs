using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Stadig.Access;
using Stadig.Fhir;
using Stadig.Storage;

namespace Stadig.Bench;

/// <summary>
/// Bulk FHIR writes in-process (FhirService, no HTTP), audited as in production: a transaction
/// bundle (a Synthea patient history) posted again and again, entries/s; and an $import of N
/// generated NDJSON lines (records before their patients), lines/s. Each transaction creates a new
/// patient (Synthea's patients carry no Swedish number: they get a reservnummer).
/// </summary>
public static class FhirBulkBench
{
    private const string BaseUrl = "https://stadig.bench.invalid/fhir";

    public static async Task<int> TransactionAsync(Database database, Func<CoreServices, Task<Caller>> benchCaller, string bundlePath, int repeat, double targetMegabytes = 0)
    {
        var services = CoreServices.Create(database, TimeProvider.System);
        var fhir = new FhirService(database, services.Checkpoint, services.Patients, services.Audit, TimeProvider.System);
        var caller = new FhirCaller(await benchCaller(services), FhirScopes.Parse("user/*.read user/*.write", null));
        var text = await File.ReadAllTextAsync(bundlePath);
        if (targetMegabytes > 0) text = Enlarge(text, targetMegabytes);
        var entries = (JsonNode.Parse(text)!["entry"] as JsonArray)?.Count ?? 0;
        Console.WriteLine($"{Path.GetFileName(bundlePath)}: {text.Length / 1024.0 / 1024.0:F1} MB, {entries} entries; one warm-up run, then {repeat} timed");
        var rates = new List<double>();
        for (var run = 0; run <= repeat; run++)
        {
            var bundle = FhirJson.ParseResource(text);
            var watch = Stopwatch.StartNew();
            var response = await fhir.ProcessBundleAsync(caller, bundle, BaseUrl, kind => kind.ToString());
            watch.Stop();
            if ((response["entry"] as JsonArray)?.Count != entries) throw new InvalidOperationException("the transaction answered another number of entries");
            if (run == 0) continue;
            rates.Add(entries / watch.Elapsed.TotalSeconds);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  run {run}: {watch.Elapsed.TotalSeconds:F2} s, {entries / watch.Elapsed.TotalSeconds:F0} entries/s"));
        }
        if (rates.Count > 0)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"transaction throughput: median {rates.Order().ElementAt(rates.Count / 2):F0} entries/s (min {rates.Min():F0}, max {rates.Max():F0})"));
        return 0;
    }

    /// <summary>
    /// The bundle grown to at least <paramref name="targetMegabytes"/> (issue 15's 3.9 MB Synthea bundle is
    /// not in the samples): the patient's clinical entries are appended again, each copy with its own
    /// urn:uuid fullUrls (derived from the copy's number, so every run builds the same bundle) and its
    /// references to other copied entries rewritten; the patient and the directory entries (conditional
    /// creates of organisations and practitioners) stay once.
    /// </summary>
    public static string Enlarge(string text, double targetMegabytes)
    {
        var bundle = JsonNode.Parse(text)!.AsObject();
        var entries = bundle["entry"]!.AsArray();
        var clinical = entries.OfType<JsonObject>()
            .Where(e => e["resource"]?["resourceType"]?.GetValue<string>() is { } type && type != "Patient" && !FhirResourceTypes.Directory.Contains(type)
                && e["request"]?["ifNoneExist"] is null && e["fullUrl"]?.GetValue<string>()?.StartsWith("urn:uuid:", StringComparison.Ordinal) == true)
            .Select(e => e.ToJsonString()).ToList();
        var urls = clinical.Select(e => JsonNode.Parse(e)!["fullUrl"]!.GetValue<string>()).ToList();
        var size = (long)System.Text.Encoding.UTF8.GetByteCount(text);
        var target = (long)(targetMegabytes * 1024 * 1024);
        for (var copy = 1; size < target && clinical.Count > 0; copy++)
        {
            foreach (var entry in clinical)
            {
                var json = entry;
                foreach (var url in urls) json = json.Replace(url, "urn:uuid:" + CopyId(url, copy), StringComparison.Ordinal);
                entries.Add(JsonNode.Parse(json));
                size += System.Text.Encoding.UTF8.GetByteCount(json) + 1;
                if (size >= target) break;
            }
        }
        return bundle.ToJsonString();
    }

    private static Guid CopyId(string url, int copy) =>
        new(System.Security.Cryptography.MD5.HashData(System.Text.Encoding.UTF8.GetBytes($"{copy}|{url}")));

    public static async Task<int> ImportAsync(Database database, Func<CoreServices, Task<Caller>> benchCaller, int lines)
    {
        var services = CoreServices.Create(database, TimeProvider.System);
        var fhir = new FhirService(database, services.Checkpoint, services.Patients, services.Audit, TimeProvider.System);
        var physician = await benchCaller(services);
        // The same person as the bench's administrator: import is a bulk transfer.
        var assignments = await services.Staff.AssignmentsOfAsync(physician.StaffId);
        if (!assignments.Any(a => a.UnitId == physician.UnitId && a.Role == Organisation.Role.Administrator))
            await services.Staff.AddAssignmentAsync(physician.StaffId, physician.UnitId, Organisation.Role.Administrator, Organisation.Purpose.Administration);
        var admin = physician with { Role = Organisation.Role.Administrator, Purpose = Organisation.Purpose.Administration };
        var caller = new FhirCaller(admin, FhirScopes.Parse("system/*.*", null));

        var path = Path.Combine(Path.GetTempPath(), $"stadig-bench-import-{Guid.NewGuid():N}.ndjson");
        var run = Guid.NewGuid().ToString("N")[..8];
        var perPatient = 100;
        var patients = Math.Max(1, lines / perPatient);
        await using (var writer = new StreamWriter(path))
        {
            // The records first, their patients last: references resolve in any line order.
            for (var p = 0; p < patients; p++)
            {
                for (var o = 1; o < perPatient; o++)
                {
                    var observation = new JsonObject
                    {
                        ["resourceType"] = "Observation", ["id"] = $"bench-{run}-{p}-{o}", ["status"] = "final",
                        ["code"] = new JsonObject { ["coding"] = new JsonArray(new JsonObject { ["system"] = "http://loinc.org", ["code"] = "2823-3" }) },
                        ["subject"] = new JsonObject { ["reference"] = $"Patient/bench-{run}-{p}" },
                        ["effectiveDateTime"] = "2026-03-01T08:00:00+01:00",
                        ["valueQuantity"] = new JsonObject { ["value"] = 4 + o % 10 / 10.0, ["unit"] = "mmol/L", ["system"] = "http://unitsofmeasure.org", ["code"] = "mmol/L" },
                    };
                    await writer.WriteLineAsync(FhirJson.Serialize(observation));
                }
            }
            for (var p = 0; p < patients; p++)
            {
                var patient = new JsonObject
                {
                    ["resourceType"] = "Patient", ["id"] = $"bench-{run}-{p}",
                    ["name"] = new JsonArray(new JsonObject { ["family"] = "Import", ["given"] = new JsonArray($"Bänk{p}") }),
                    ["birthDate"] = "1970-01-01",
                };
                await writer.WriteLineAsync(FhirJson.Serialize(patient));
            }
        }
        var total = patients * perPatient;
        Console.WriteLine($"$import of {total} NDJSON lines ({patients} patients, {perPatient - 1} observations each; {new FileInfo(path).Length / 1024.0 / 1024.0:F1} MB)");
        var watch = Stopwatch.StartNew();
        var job = await fhir.StartImportAsync(caller, total, "bench");
        await fhir.RunImportAsync(caller, job, path);
        watch.Stop();
        var (found, _) = await fhir.ImportStatusAsync(caller, job);
        Console.WriteLine($"{found.Status}: {found.Outcome}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"import: {watch.Elapsed.TotalSeconds:F1} s, {total / watch.Elapsed.TotalSeconds:F0} lines/s"));
        return found.Status == "completed" ? 0 : 1;
    }
}
