using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Stadig.Readiness;

namespace Stadig.Hosting;

/// <summary>
/// The expiry register's automatic part: TLS certificates named in Kestrel's configuration
/// (Kestrel:Certificates:Default and Kestrel:Endpoints:*:Certificate, by file) and the identity
/// provider's signing certificates (the x5c of its JWKS, from Stadig:Oidc:Authority). A certificate that
/// cannot be read is an entry with a problem, so the gate answers NO-GO rather than skipping it.
/// </summary>
public static class ConfiguredExpiries
{
    public const string Owner = "operations (configuration)";

    public static IReadOnlyList<ExpiryEntry> Certificates(IConfiguration configuration)
    {
        var entries = new List<ExpiryEntry>();
        var sections = new List<(string Name, IConfigurationSection Section)>();
        var kestrel = configuration.GetSection("Kestrel");
        if (kestrel.GetSection("Certificates:Default").Exists()) sections.Add(("Kestrel default certificate", kestrel.GetSection("Certificates:Default")));
        foreach (var endpoint in kestrel.GetSection("Endpoints").GetChildren())
            if (endpoint.GetSection("Certificate").Exists()) sections.Add(($"Kestrel endpoint {endpoint.Key} certificate", endpoint.GetSection("Certificate")));
        foreach (var (name, section) in sections)
        {
            var path = section["Path"];
            if (string.IsNullOrWhiteSpace(path))
            {
                entries.Add(new ExpiryEntry(null, "certificate", name, Owner, null, "configuration",
                    Problem: section["Subject"] is { } subject ? $"read from the certificate store (subject {subject}): register its expiry by hand" : "no Path"));
                continue;
            }
            try
            {
                using var certificate = Load(path, section["Password"]);
                entries.Add(new ExpiryEntry(null, "certificate", $"{name} ({certificate.Subject})", Owner,
                    DateOnly.FromDateTime(certificate.NotAfter.ToUniversalTime()), "configuration", path));
            }
            catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
            {
                entries.Add(new ExpiryEntry(null, "certificate", name, Owner, null, "configuration", path, $"cannot be read: {e.Message}"));
            }
        }
        return entries;
    }

    private static X509Certificate2 Load(string path, string? password) =>
        Path.GetExtension(path).ToLowerInvariant() is ".pfx" or ".p12"
            ? X509CertificateLoader.LoadPkcs12FromFile(path, password)
            : X509CertificateLoader.LoadCertificateFromFile(path);

    /// <summary>The identity provider's signing certificates, from its discovery document and JWKS.</summary>
    public static async Task<IReadOnlyList<ExpiryEntry>> OidcSigningKeysAsync(string? authority, HttpClient http, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(authority)) return [];
        const string name = "OIDC signing keys";
        try
        {
            var discovery = JsonDocument.Parse(await http.GetStringAsync(authority.TrimEnd('/') + "/.well-known/openid-configuration", cancellationToken));
            var jwksUri = discovery.RootElement.GetProperty("jwks_uri").GetString()!;
            var jwks = JsonDocument.Parse(await http.GetStringAsync(jwksUri, cancellationToken));
            var entries = new List<ExpiryEntry>();
            foreach (var key in jwks.RootElement.GetProperty("keys").EnumerateArray())
            {
                var kid = key.TryGetProperty("kid", out var k) ? k.GetString() : "?";
                if (!key.TryGetProperty("x5c", out var x5c) || x5c.GetArrayLength() == 0)
                {
                    entries.Add(new ExpiryEntry(null, "key", $"{name}: key {kid}", authority, null, "configuration", jwksUri,
                        "published without a certificate (x5c): register its rotation date by hand"));
                    continue;
                }
                using var certificate = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(x5c[0].GetString()!));
                entries.Add(new ExpiryEntry(null, "key", $"{name}: key {kid} ({certificate.Subject})", authority,
                    DateOnly.FromDateTime(certificate.NotAfter.ToUniversalTime()), "configuration", jwksUri));
            }
            return entries;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException or InvalidOperationException or FormatException or CryptographicException)
        {
            return [new ExpiryEntry(null, "key", name, authority, null, "configuration", authority,
                string.Create(CultureInfo.InvariantCulture, $"could not be checked: {e.Message}"))];
        }
    }
}
