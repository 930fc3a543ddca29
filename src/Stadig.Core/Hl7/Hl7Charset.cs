using System.Text;

namespace Stadig.Hl7;

/// <summary>
/// The character set a message declares in MSH-18 (HL7 table 0211), used both for the bytes on the
/// wire and for <c>\Xhh\</c> escapes. Without MSH-18 (or with ASCII, UTF-8 or UNICODE) the bytes are
/// read as UTF-8 when they are valid UTF-8 and otherwise as ISO 8859-1, which maps every byte to one
/// character, so nothing is ever replaced by "�". A declared 8859 part is honoured even where its
/// bytes happen to form valid UTF-8.
/// </summary>
public sealed class Hl7Charset
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>No MSH-18, and the sets that are the same on the wire for the text Stadig reads: UTF-8 when valid, else 8859/1.</summary>
    public static Hl7Charset Default { get; } = new("", null);

    private static readonly Dictionary<string, int> IsoParts = new(StringComparer.OrdinalIgnoreCase)
    {
        ["8859/1"] = 28591, ["8859/2"] = 28592, ["8859/3"] = 28593, ["8859/4"] = 28594, ["8859/5"] = 28595,
        ["8859/6"] = 28596, ["8859/7"] = 28597, ["8859/8"] = 28598, ["8859/9"] = 28599, ["8859/15"] = 28605,
    };

    private readonly Encoding? _encoding;

    private Hl7Charset(string name, Encoding? encoding)
    {
        Name = name;
        _encoding = encoding;
    }

    /// <summary>The MSH-18 code as sent ("" when none).</summary>
    public string Name { get; }

    /// <summary>
    /// The set for an MSH-18 value. False for the sets of table 0211 Stadig does not read (UTF-16 and
    /// UTF-32, whose bytes collide with MLLP framing, and the Asian multi-byte sets, whose bytes can
    /// collide with the delimiters): such a message is refused rather than read as the wrong letters.
    /// </summary>
    public static bool TryFind(string? msh18, out Hl7Charset charset)
    {
        var code = msh18?.Trim() ?? "";
        charset = Default;
        if (code.Length == 0 || code.Equals("ASCII", StringComparison.OrdinalIgnoreCase)
            || code.Equals("UNICODE UTF-8", StringComparison.OrdinalIgnoreCase) || code.Equals("UNICODE", StringComparison.OrdinalIgnoreCase))
        {
            if (code.Length > 0) charset = new Hl7Charset(code, null);
            return true;
        }
        if (!IsoParts.TryGetValue(code, out var codePage)) return false;
        var encoding = codePage == 28591 ? Encoding.Latin1 : CodePagesEncodingProvider.Instance.GetEncoding(codePage);
        if (encoding is null) return false;
        charset = new Hl7Charset(code, encoding);
        return true;
    }

    public string Decode(ReadOnlySpan<byte> bytes)
    {
        if (_encoding is not null) return _encoding.GetString(bytes);
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            // Older lab systems send 8859/1 without saying so; Latin-1 maps each byte to one character, so nothing is lost.
            return Encoding.Latin1.GetString(bytes);
        }
    }

    public byte[] Encode(string text) => (_encoding ?? Encoding.UTF8).GetBytes(text);

    /// <summary>MSH-18's first repetition read straight from the start of a message, before any decoding (the header is ASCII in every set Stadig reads).</summary>
    public static string Msh18(ReadOnlySpan<byte> message)
    {
        var start = message.IndexOf("MSH"u8);
        if (start < 0 || message.Length < start + 8) return "";
        var header = message[start..];
        var end = header.IndexOfAny((byte)'\r', (byte)'\n');
        if (end >= 0) header = header[..end];
        Span<char> chars = stackalloc char[Math.Min(header.Length, 512)];
        for (var i = 0; i < chars.Length; i++) chars[i] = (char)header[i];
        return Msh18(new string(chars));
    }

    /// <summary>MSH-18's first repetition, first component, as written in a message's text (escapes are not expected there).</summary>
    public static string Msh18(string message)
    {
        var start = message.IndexOf("MSH", StringComparison.Ordinal);
        if (start < 0 || message.Length < start + 8) return "";
        var lineEnd = message.IndexOfAny(['\r', '\n'], start);
        var header = lineEnd < 0 ? message[start..] : message[start..lineEnd];
        // A line break right after "MSH" leaves no field separator to read: no MSH-18 (the parser refuses the message).
        if (header.Length < 4) return "";
        var fields = header.Split(header[3]);
        // fields[0] is "MSH" and fields[1] MSH-2, so MSH-n is fields[n - 1].
        if (fields.Length < 18 || fields[1].Length < 2) return "";
        var value = fields[17];
        var repetition = value.IndexOf(fields[1][1]);
        if (repetition >= 0) value = value[..repetition];
        var component = value.IndexOf(fields[1][0]);
        return (component >= 0 ? value[..component] : value).Trim();
    }
}
