using System.Security.Cryptography;
using System.Text;

namespace Stadig.Notes;

/// <summary>
/// The fingerprint of a signed note's content: SHA-256 over UTF-8 of each keyword + "\n" + text
/// + "\n", in keyword order, as lowercase hex. Signed content never changes, so every render can
/// recompute this and refuse to show text that differs from what was signed.
/// </summary>
public static class NoteContentHash
{
    public static string Compute(IEnumerable<(string keyword, string text)> keywords)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (keyword, text) in keywords)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(keyword + "\n" + text + "\n"));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
