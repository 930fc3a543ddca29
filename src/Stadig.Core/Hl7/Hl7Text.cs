namespace Stadig.Hl7;

/// <summary>
/// Bytes on the wire to text and back, in the character set the message declares in MSH-18
/// (<see cref="Hl7Charset"/>): a lab that sends 8859/1 gets its bytes read as Latin-1 even where
/// they would also pass as UTF-8, and its ACK back in 8859/1. A set Stadig does not read is decoded
/// by the default rule, so the parser can still refuse the message naming MSH-18.
/// </summary>
public static class Hl7Text
{
    public static string FromBytes(ReadOnlySpan<byte> bytes) =>
        (Hl7Charset.TryFind(Hl7Charset.Msh18(bytes), out var charset) ? charset : Hl7Charset.Default).Decode(bytes);

    public static byte[] ToBytes(string text) =>
        (Hl7Charset.TryFind(Hl7Charset.Msh18(text), out var charset) ? charset : Hl7Charset.Default).Encode(text);
}
