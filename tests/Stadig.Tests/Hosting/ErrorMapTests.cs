using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Stadig.Fhir;
using Stadig.Hosting;

namespace Stadig.Tests.Hosting;

/// <summary>Core says what went wrong; only the web layer's ProblemMapping says it in HTTP.</summary>
public class ErrorMapTests
{
    private static readonly Assembly Core = typeof(CoreServices).Assembly;

    [Fact]
    public void Core_references_no_http_status_type()
    {
        Assert.DoesNotContain(Core.GetReferencedAssemblies(), a => a.Name!.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal));
        using var stream = File.OpenRead(Core.Location);
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();
        var referenced = metadata.TypeReferences
            .Select(handle => metadata.GetTypeReference(handle))
            .Select(type => $"{metadata.GetString(type.Namespace)}.{metadata.GetString(type.Name)}")
            .ToList();
        Assert.DoesNotContain("System.Net.HttpStatusCode", referenced);
        Assert.DoesNotContain(referenced, name => name.StartsWith("Microsoft.AspNetCore.", StringComparison.Ordinal));
    }

    [Fact]
    public void Core_source_names_no_http_status()
    {
        // Enum constants compile to numbers, so the assembly alone cannot show (int)HttpStatusCode.NotFound.
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Stadig.slnx"))) root = Path.GetDirectoryName(root)!;
        var offending = Directory.EnumerateFiles(Path.Combine(root, "src", "Stadig.Core"), "*.cs", SearchOption.AllDirectories)
            .Where(file => !file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .SelectMany(file => File.ReadLines(file).Select((line, i) => (file, line, number: i + 1)))
            .Where(l => l.line.Contains("HttpStatusCode", StringComparison.Ordinal) || l.line.Contains("StatusCodes.Status", StringComparison.Ordinal))
            .Select(l => $"{Path.GetRelativePath(root, l.file)}:{l.number}")
            .ToList();
        Assert.True(offending.Count == 0, "HTTP status in Core: " + string.Join(", ", offending));
    }

    [Fact]
    public void Every_fhir_failure_has_its_own_client_error_status()
    {
        var statuses = Enum.GetValues<FhirFailureKind>().Select(ProblemMapping.FhirStatusOf).ToList();
        // All but read-only mode's, which is the server's state and may succeed later.
        Assert.All(Enum.GetValues<FhirFailureKind>().Where(k => k != FhirFailureKind.Unavailable).Select(ProblemMapping.FhirStatusOf),
            status => Assert.InRange(status, 400, 499));
        Assert.Equal(503, ProblemMapping.FhirStatusOf(FhirFailureKind.Unavailable));
        Assert.Equal(statuses.Count, statuses.Distinct().Count());
    }

    [Theory]
    [InlineData(FhirFailureKind.Invalid, "400 BadRequest")]
    [InlineData(FhirFailureKind.Unprocessable, "422 UnprocessableEntity")]
    [InlineData(FhirFailureKind.NotFound, "404 NotFound")]
    [InlineData(FhirFailureKind.Gone, "410 Gone")]
    [InlineData(FhirFailureKind.Forbidden, "403 Forbidden")]
    [InlineData(FhirFailureKind.Conflict, "409 Conflict")]
    [InlineData(FhirFailureKind.PreconditionFailed, "412 PreconditionFailed")]
    [InlineData(FhirFailureKind.NotAllowed, "405 MethodNotAllowed")]
    public void A_failed_bundle_entry_keeps_its_status_line(FhirFailureKind kind, string line) =>
        Assert.Equal(line, ProblemMapping.FhirStatusLine(kind));

    [Fact]
    public void A_fhir_failure_thrown_anywhere_gets_the_fhir_status() =>
        Assert.Equal(410, ProblemMapping.StatusOf(new FhirException(FhirFailureKind.Gone, "deleted", null, "Observation/x was deleted.")));
}
