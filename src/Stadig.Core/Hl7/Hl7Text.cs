using System.Text;

namespace Stadig.Hl7;

/// <summary>Bytes on the wire to text: UTF-8 when the bytes are valid UTF-8, otherwise ISO 8859-1 (every byte kept).</summary>
public static class Hl7Text
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static string FromBytes(ReadOnlySpan<byte> bytes)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            // Older lab systems send 8859/1 (MSH-18); Latin-1 maps each byte to one character, so nothing is lost.
            return Encoding.Latin1.GetString(bytes);
        }
    }

    public static byte[] ToBytes(string text) => Encoding.UTF8.GetBytes(text);
}
