using System.Security.Cryptography;
using System.Text;

namespace Stadig.Downtime;

/// <summary>An encrypted snapshot as the page carries it (base64), with what the browser needs to derive the key.</summary>
/// <param name="Aad">Authenticated, not secret: the unit and the snapshot's time, shown before the key is typed; changing them breaks decryption.</param>
public sealed record SealedPayload(string Salt, string Iv, int Iterations, string Aad, string Data);

/// <summary>
/// The snapshot's encryption, chosen so that a plain browser can undo it with WebCrypto and nothing
/// else: AES-256-GCM (12-byte random IV, 16-byte tag appended to the ciphertext as WebCrypto expects)
/// under a key from PBKDF2-HMAC-SHA256 of the unit's passphrase with a random 16-byte salt.
/// </summary>
public static class SnapshotCipher
{
    /// <summary>OWASP's figure for PBKDF2-HMAC-SHA256 (2023): about a third of a second in a browser, per attempt for an attacker too.</summary>
    public const int Iterations = 600_000;

    public static byte[] NewSalt() => RandomNumberGenerator.GetBytes(16);

    public static byte[] DeriveKey(string passphrase, byte[] salt, int iterations = Iterations) =>
        Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(passphrase.Trim().NormalizeText(NormalizationForm.FormC)), salt, iterations, HashAlgorithmName.SHA256, 32);

    public static SealedPayload Seal(byte[] key, byte[] salt, int iterations, string aad, string plaintext)
    {
        var iv = RandomNumberGenerator.GetBytes(12);
        var plain = Encoding.UTF8.GetBytes(plaintext);
        var sealedBytes = new byte[plain.Length + 16];
        using (var aes = new AesGcm(key, 16))
            aes.Encrypt(iv, plain, sealedBytes.AsSpan(0, plain.Length), sealedBytes.AsSpan(plain.Length), Encoding.UTF8.GetBytes(aad));
        return new SealedPayload(Convert.ToBase64String(salt), Convert.ToBase64String(iv), iterations, aad, Convert.ToBase64String(sealedBytes));
    }

    /// <summary>Decrypts as the page does; throws <see cref="AuthenticationTagMismatchException"/> for a wrong key or a changed file.</summary>
    public static string Open(string passphrase, SealedPayload payload)
    {
        var key = DeriveKey(passphrase, Convert.FromBase64String(payload.Salt), payload.Iterations);
        var data = Convert.FromBase64String(payload.Data);
        var plain = new byte[data.Length - 16];
        using (var aes = new AesGcm(key, 16))
            aes.Decrypt(Convert.FromBase64String(payload.Iv), data.AsSpan(0, plain.Length), data.AsSpan(plain.Length), plain, Encoding.UTF8.GetBytes(payload.Aad));
        return Encoding.UTF8.GetString(plain);
    }
}
