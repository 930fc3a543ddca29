using System.Net;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Fhir;
using Stadig.Fhir.Profiles;
using Stadig.Fhir.Validation;
using Stadig.Storage;
using Stadig.Tests.Fhir.Validation;

namespace Stadig.Tests.Fhir.Fuzz;

/// <summary>
/// Mutants of the official examples (<see cref="ResourceMutator"/>: elements dropped, wrong JSON types,
/// codes outside a required value set, impossible dates, deep nesting, strings over 1 MB, unknown
/// elements): Stadig's validator and the reference library's must call each one valid or invalid
/// alike, or the difference has a cause listed here; and the FHIR API, on both engines, answers
/// every mutant without a 500 and writes nothing of a refused transaction.
/// </summary>
public class FuzzedResourceTests
{
    private const int Seed = 20261205;
    private const int PerMutation = 24;

    /// <summary>Mutations the two validators judge differently on purpose, and why.</summary>
    private static readonly Dictionary<Mutation, string> Differences = new()
    {
        // R4 sets no limit on nesting; the library's JSON reader stops at 64 levels and calls the resource unreadable
        // (FhirProfileValidator reports it as an error instead of letting the exception out, which the fuzzing found).
        // Stadig's validator walks the nesting; the API's own JSON limits decide what a request may hold.
        [Mutation.DeepNesting] = "the library reads at most 64 levels of JSON",
        // R4 caps a string at 1 MB (datatypes, string); Stadig enforces it, the library does not check the length.
        [Mutation.HugeString] = "Stadig enforces R4's 1 MB string limit, the library does not",
    };

    private static bool IsError(FhirIssue issue) => issue.Severity is "error" or "fatal";

    /// <summary>Examples both validators call valid (so a verdict on a mutant is about the mutation), non-Bundles, in a seeded order.</summary>
    private static readonly Lazy<IReadOnlyList<(string Name, JsonObject Resource)>> Pool = new(() =>
    {
        var random = new Random(Seed);
        return Directory.EnumerateFiles(OfficialExamplesTests.ExamplesFolder, "*.json").Order(StringComparer.Ordinal)
            .Select(f => (Name: Path.GetFileName(f), Resource: JsonNode.Parse(File.ReadAllText(f))!.AsObject()))
            .Where(e => e.Resource["resourceType"]!.GetValue<string>() != "Bundle" && !e.Resource.ContainsKey("contained"))
            .OrderBy(_ => random.Next())
            .Where(e => !FhirValidator.Validate(e.Resource).Any(IsError))
            .Take(PerMutation * 3).ToList()
            .Where(e => !FhirProfileValidator.Validate(e.Resource).Any(IsError))
            .ToList();
    });

    private static IEnumerable<(string Name, Mutation Mutation, JsonObject Mutant)> Mutants(int perMutation)
    {
        var mutator = new ResourceMutator(Seed);
        foreach (var mutation in Enum.GetValues<Mutation>())
        {
            var made = 0;
            foreach (var (name, resource) in Pool.Value)
            {
                if (made == perMutation) break;
                if (mutator.Mutate(resource, mutation) is not { } mutant) continue;
                made++;
                yield return (name, mutation, mutant);
            }
        }
    }

    [Fact]
    public void Stadig_and_the_reference_validator_agree_on_every_mutant_or_the_mutation_is_listed()
    {
        Assert.True(Pool.Value.Count >= PerMutation, $"only {Pool.Value.Count} examples both validators call valid");
        var disagreements = new System.Collections.Concurrent.ConcurrentBag<string>();
        var counted = 0;
        Parallel.ForEach(Mutants(PerMutation).ToList(), new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, m =>
        {
            Interlocked.Increment(ref counted);
            var stadig = FhirValidator.Validate(m.Mutant);
            var reference = FhirProfileValidator.Validate(m.Mutant);
            var stadigValid = !stadig.Any(IsError);
            var referenceValid = !reference.Any(IsError);
            if (stadigValid == referenceValid || Differences.ContainsKey(m.Mutation)) return;
            // A mutant of an example claiming a profile (vital signs) may break only the profile (effective[x] is
            // required there, not in base R4): Stadig's validator checks base R4, and a write of a resource claiming
            // a profile is checked by the library as well (FhirService), so the mutant is refused on write all the same.
            if (stadigValid && m.Mutant["meta"]?["profile"] is JsonArray { Count: > 0 }) return;
            string Describe(IReadOnlyList<FhirIssue> issues) => string.Join("; ", issues.Where(IsError).Take(2).Select(i => $"{i.Expression}: {i.Diagnostics}"));
            disagreements.Add($"{m.Mutation} of {m.Name}: Stadig {(stadigValid ? "valid" : "invalid (" + Describe(stadig) + ")")}, reference {(referenceValid ? "valid" : "invalid (" + Describe(reference) + ")")}");
        });
        Assert.True(counted >= PerMutation * 5, $"only {counted} mutants");
        Assert.True(disagreements.IsEmpty, string.Join("\n", disagreements.Order(StringComparer.Ordinal)));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_FHIR_API_answers_every_mutant_without_a_500_and_a_refused_transaction_writes_nothing(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var client = fhir.Client();
        async Task<long> RowsAsync()
        {
            await using var c = await fhir.Server.Database.OpenUnscopedAsync(TestContext.Current.CancellationToken);
            return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM fhir_resource");
        }
        var serial = 0;
        foreach (var (name, mutation, mutant) in Mutants(4))
        {
            var type = mutant["resourceType"]!.GetValue<string>();
            var before = await RowsAsync();
            var (status, body, _) = await client.PostFhirAsync($"/fhir/{type}", mutant);
            Assert.True((int)status < 500, $"{mutation} of {name}: POST answered {(int)status}");
            if ((int)status >= 400)
            {
                Assert.Equal("OperationOutcome", body["resourceType"]?.GetValue<string>());
                Assert.Equal((name, mutation, before), (name, mutation, await RowsAsync()));
            }

            // In a transaction after a patient it would create: refused whole, or written whole.
            var patient = FhirCalls.Patient(TestNumbers.Personnummer(1980, 1 + serial % 12, 1 + serial % 28).Replace("-", "", StringComparison.Ordinal), "Fuzz", "Test");
            serial++;
            var bundle = new JsonObject
            {
                ["resourceType"] = "Bundle", ["type"] = "transaction",
                ["entry"] = new JsonArray(
                    new JsonObject { ["fullUrl"] = "urn:uuid:" + Guid.NewGuid(), ["resource"] = patient, ["request"] = new JsonObject { ["method"] = "POST", ["url"] = "Patient" } },
                    new JsonObject { ["fullUrl"] = "urn:uuid:" + Guid.NewGuid(), ["resource"] = mutant.DeepClone(), ["request"] = new JsonObject { ["method"] = "POST", ["url"] = type } }),
            };
            before = await RowsAsync();
            (status, body, _) = await client.PostFhirAsync("/fhir", bundle);
            Assert.True((int)status < 500, $"{mutation} of {name} in a transaction: answered {(int)status}");
            if ((int)status >= 400) Assert.Equal((name, mutation, before), (name, mutation, await RowsAsync()));
        }
    }
}
