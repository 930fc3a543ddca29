using System.Diagnostics;
using System.Text.Json.Nodes;
using Firely.Fhir.Validation;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Hl7.Fhir.Specification.Source;
using Hl7.Fhir.Specification.Terminology;
using Hl7.Fhir.Utility;

namespace Stadig.Fhir.Profiles;

/// <summary>
/// Profile validation with the reference library (the Firely validator): a resource checked against
/// a StructureDefinition — the R4 core ones and the HL7 Sweden base profiles (SEBasePatient with its
/// identifier slices for personnummer, samordningsnummer and nationellt reservnummer, SEBaseHumanName
/// …) — including every FHIRPath invariant they carry (ele-1, pat-1, the slices' rules).
/// </summary>
/// <remarks>
/// Stadig's own <see cref="Validation.FhirValidator"/> stays the first check of every write: it is
/// some hundred times faster (no schema to compile, no model to build) and its messages name what
/// Stadig's clients get wrong. This one runs where a resource claims a profile (meta.profile) and
/// on $validate. The first validation of a type compiles its schemas (tens of seconds on a busy
/// machine); the library caches them, so the one validator is shared by the whole process and
/// warmed at start (<see cref="WarmUp"/>).
/// </remarks>
public static class FhirProfileValidator
{
    private const string ProfilePrefix = "Stadig.Fhir.Profiles.Hl7Sweden.";

    private static readonly Lazy<Engine> LazyEngine = new(Engine.Create, LazyThreadSafetyMode.ExecutionAndPublication);

    private static long validations;

    // The library's snapshot generator (which expands the HL7 Sweden differentials on first use) holds
    // state per operation and refuses a second one at the same time; one validation at a time keeps
    // it whole. A validation takes milliseconds once the schemas are compiled.
    private static readonly Lock OneAtATime = new();

    /// <summary>Validations run since start (to count what the writes cost, not to time them).</summary>
    public static long Validations => Interlocked.Read(ref validations);

    /// <summary>The canonical URLs of the HL7 Sweden profiles Stadig ships.</summary>
    public static IReadOnlySet<string> SwedishProfiles => LazyEngine.Value.SwedishProfiles;

    /// <summary>Whether a claimed profile is one this validator has (an R4 core or HL7 Sweden StructureDefinition).</summary>
    public static bool Knows(string canonical)
    {
        var engine = LazyEngine.Value;
        var url = canonical.Split('|')[0];
        // The sources underneath (the zip, the embedded profiles) are local and answer at once.
        return engine.Known.GetOrAdd(url, u =>
        {
            lock (OneAtATime) return engine.Resolver.TryResolveByCanonicalUriAsync(u).GetAwaiter().GetResult().Value is StructureDefinition;
        });
    }

    private static readonly Lazy<bool> Warmed = new(() =>
    {
        var patient = new JsonObject
        {
            ["resourceType"] = "Patient",
            ["meta"] = new JsonObject { ["profile"] = new JsonArray("http://hl7.se/fhir/ig/base/StructureDefinition/SEBasePatient") },
            ["identifier"] = new JsonArray(new JsonObject { ["system"] = "http://electronichealth.se/identifier/personnummer", ["value"] = "191212121212" }),
            ["name"] = new JsonArray(new JsonObject { ["family"] = "Warm", ["given"] = new JsonArray("Up") }),
        };
        Validate(patient);
        // The R4 profile that official and integration examples claim most (vital signs).
        var observation = new JsonObject
        {
            ["resourceType"] = "Observation",
            ["meta"] = new JsonObject { ["profile"] = new JsonArray("http://hl7.org/fhir/StructureDefinition/vitalsigns") },
            ["status"] = "final",
            ["category"] = new JsonArray(new JsonObject { ["coding"] = new JsonArray(new JsonObject { ["system"] = "http://terminology.hl7.org/CodeSystem/observation-category", ["code"] = "vital-signs" }) }),
            ["code"] = new JsonObject { ["coding"] = new JsonArray(new JsonObject { ["system"] = "http://loinc.org", ["code"] = "8867-4" }) },
            ["subject"] = new JsonObject { ["reference"] = "Patient/warm-up" },
            ["effectiveDateTime"] = "2026-01-01",
            ["valueQuantity"] = new JsonObject { ["value"] = 60, ["unit"] = "/min", ["system"] = "http://unitsofmeasure.org", ["code"] = "/min" },
        };
        Validate(observation);
        return true;
    }, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// Compiles the schemas of SEBasePatient, vital signs and the R4 base they build on, so no client
    /// waits for it (nor runs into the request deadline). Once per process; later calls return at once.
    /// </summary>
    public static void WarmUp() => _ = Warmed.Value;

    /// <summary>
    /// Every issue the library finds: against <paramref name="profile"/>, or (null) against the base
    /// definition and every profile the resource claims in meta.profile.
    /// </summary>
    public static IReadOnlyList<FhirIssue> Validate(JsonObject resource, string? profile = null)
    {
        var engine = LazyEngine.Value;
        Interlocked.Increment(ref validations);
        var issues = new List<FhirIssue>();
        Resource? poco;
        try
        {
            poco = engine.Deserializer.Deserialize<Resource>(resource.ToJsonString());
        }
        catch (DeserializationFailedException e)
        {
            issues.AddRange(Issues(e.ToOperationOutcome()));
            poco = e.PartialResult as Resource;
        }
        catch (System.Text.Json.JsonException e)
        {
            // The library's reader stops at 64 levels of JSON (extensions nested 40 deep are more): found by the
            // fuzzed resources, where it escaped as an exception. A verdict, not a fault: the library cannot read it.
            issues.Add(FhirIssue.Error("structure", null, $"The profile validator cannot read this resource: {e.Message}"));
            return issues;
        }
        if (poco is null) return issues;
        try
        {
            lock (OneAtATime) issues.AddRange(Issues(engine.Validator.Validate(poco, profile)));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A fault of the library is not a verdict on the resource, but nothing unchecked is let through either.
            issues.Add(FhirIssue.Error("exception", null, $"The profile validator could not check this resource ({e.GetType().Name}: {e.Message})."));
        }
        return issues;
    }

    private static IEnumerable<FhirIssue> Issues(OperationOutcome outcome) =>
        outcome.Issue
            .Where(i => i.Severity is not OperationOutcome.IssueSeverity.Information)
            .Select(i => new FhirIssue(
                i.Severity?.GetLiteral() ?? "error",
                i.Code?.GetLiteral() ?? "invalid",
                i.Expression?.FirstOrDefault() ?? i.Location?.FirstOrDefault(),
                i.Details?.Text ?? i.Diagnostics ?? "(no message)"));

    private sealed class Engine
    {
        public required CachedResolver Resolver { get; init; }
        public required Validator Validator { get; init; }
        public required FhirJsonDeserializer Deserializer { get; init; }
        public required IReadOnlySet<string> SwedishProfiles { get; init; }
        public System.Collections.Concurrent.ConcurrentDictionary<string, bool> Known { get; } = new(StringComparer.Ordinal);

        public static Engine Create()
        {
            var parser = new FhirJsonDeserializer();
            var swedish = new List<Resource>();
            var assembly = typeof(FhirProfileValidator).Assembly;
            foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ProfilePrefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
            {
                using var stream = assembly.GetManifestResourceStream(name)!;
                using var reader = new StreamReader(stream);
                swedish.Add(parser.Deserialize<Resource>(reader.ReadToEnd()));
            }
            // The R4 core definitions ship as specification.zip next to the application (Hl7.Fhir.Specification.Data.R4).
            var core = ZipSource.CreateValidationSource(Path.Combine(AppContext.BaseDirectory, "specification.zip"));
            // The HL7 Sweden profiles are differentials (as sushi writes them): snapshots are generated on first use.
            var resolver = new CachedResolver(new SnapshotSource(new MultiResolver(core, new InMemoryResourceResolver(swedish))));
            var validator = new Validator(resolver.AsAsync(), new LocalTerminologyService(resolver.AsAsync()), null, new ValidationSettings());
            Debug.Assert(swedish.Count > 0, "The HL7 Sweden profiles are embedded resources of Stadig.Core.");
            return new Engine
            {
                Resolver = resolver, Validator = validator, Deserializer = parser,
                SwedishProfiles = swedish.OfType<StructureDefinition>().Select(s => s.Url).OfType<string>().ToHashSet(StringComparer.Ordinal),
            };
        }
    }
}
