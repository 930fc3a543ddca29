using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Stadig.Notes;

/// <summary>
/// The fingerprint of a signed note's content: SHA-256 over each keyword and its text in order,
/// each as its UTF-8 bytes preceded by their length (so no text can imitate a keyword boundary),
/// as lowercase hex. Signed content never changes, so every render recomputes this and refuses to
/// show text that differs from what was signed.
/// </summary>
public static class NoteContentHash
{
    public static string Compute(IEnumerable<(string keyword, string text)> keywords)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> length = stackalloc byte[4];
        foreach (var (keyword, text) in keywords)
        {
            foreach (var part in new[] { keyword, text })
            {
                var bytes = Encoding.UTF8.GetBytes(part);
                BinaryPrimitives.WriteInt32BigEndian(length, bytes.Length);
                hash.AppendData(length);
                hash.AppendData(bytes);
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
