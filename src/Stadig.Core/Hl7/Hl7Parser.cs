using System.Globalization;
using System.Text;

namespace Stadig.Hl7;

/// <summary>
/// A message that cannot be read as HL7 v2, naming where: the segment (1-based position and id)
/// and, when it applies, the field. The only exception the parser throws.
/// </summary>
public sealed class Hl7ParseException(string problem, int segmentPosition, string? segmentId = null, int? field = null)
    : Exception(Describe(problem, segmentPosition, segmentId, field))
{
    public string Problem { get; } = problem;
    public int SegmentPosition { get; } = segmentPosition;
    public string? SegmentId { get; } = segmentId;
    public int? Field { get; } = field;

    private static string Describe(string problem, int position, string? id, int? field) =>
        $"{problem} (segment {position}{(id is null ? "" : " " + id)}{(field is null ? "" : $", fält {field}")})";
}

/// <summary>
/// Reads HL7 v2 ER7 ("pipe") text. Honours the delimiters in MSH-1/MSH-2, decodes escapes
/// (\F\ \S\ \T\ \R\ \E\ \.br\ \Xhh..\), accepts CR, LF or CRLF between segments, a UTF-8 BOM,
/// Z-segments and trailing empty fields. Anything it cannot read is an <see cref="Hl7ParseException"/>.
/// </summary>
public static class Hl7Parser
{
    public static Hl7Message Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = Lines(text);
        if (lines.Count == 0) throw new Hl7ParseException("Meddelandet är tomt", 1);
        return ParseLines(lines);
    }

    public static bool TryParse(string text, out Hl7Message? message, out Hl7ParseException? error)
    {
        try
        {
            message = Parse(text);
            error = null;
            return true;
        }
        catch (Hl7ParseException e)
        {
            message = null;
            error = e;
            return false;
        }
    }

    /// <summary>
    /// Several messages in one text (a file, or a batch): a new message starts at every MSH; batch
    /// envelope segments (FHS, BHS, BTS, FTS) are skipped.
    /// </summary>
    public static IReadOnlyList<Hl7Message> ParseBatch(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var messages = new List<Hl7Message>();
        List<string>? current = null;
        foreach (var line in Lines(text))
        {
            if (line.StartsWith("MSH", StringComparison.Ordinal))
            {
                if (current is not null) messages.Add(ParseLines(current));
                current = [line];
            }
            else if (line.Length >= 3 && line[..3] is "FHS" or "BHS" or "BTS" or "FTS")
            {
                continue;
            }
            else if (current is null)
            {
                throw new Hl7ParseException("Segment före första MSH", 1, SafeId(line));
            }
            else
            {
                current.Add(line);
            }
        }
        if (current is not null) messages.Add(ParseLines(current));
        return messages;
    }

    /// <summary>Decodes the text of one leaf value (a subcomponent) under <paramref name="encoding"/>; <c>\Xhh\</c> bytes in <paramref name="charset"/> (MSH-18).</summary>
    public static string Decode(string raw, Hl7Encoding encoding, Hl7Charset? charset = null)
    {
        var escape = encoding.Escape;
        if (raw.IndexOf(escape) < 0) return raw;
        var text = new StringBuilder(raw.Length);
        var i = 0;
        while (i < raw.Length)
        {
            var c = raw[i];
            if (c != escape)
            {
                text.Append(c);
                i++;
                continue;
            }
            var end = raw.IndexOf(escape, i + 1);
            if (end < 0)
            {
                // An escape character with no closing one is text, not a sequence: keep it.
                text.Append(raw, i, raw.Length - i);
                break;
            }
            var sequence = raw.AsSpan(i + 1, end - i - 1);
            if (!TryDecodeSequence(sequence, encoding, charset ?? Hl7Charset.Default, text))
            {
                // Sequences Stadig does not interpret (\Zxx\, \Cxxyy\, malformed \X\) are kept as sent.
                text.Append(raw, i, end - i + 1);
            }
            i = end + 1;
        }
        return text.ToString();
    }

    private static bool TryDecodeSequence(ReadOnlySpan<char> sequence, Hl7Encoding encoding, Hl7Charset charset, StringBuilder text)
    {
        switch (sequence)
        {
            case "F": text.Append(encoding.Field); return true;
            case "S": text.Append(encoding.Component); return true;
            case "T": text.Append(encoding.Subcomponent); return true;
            case "R": text.Append(encoding.Repetition); return true;
            case "E": text.Append(encoding.Escape); return true;
            // Highlighting on/off: a display hint, not text.
            case "H" or "N": return true;
        }
        if (sequence.Equals(".br", StringComparison.OrdinalIgnoreCase) || sequence.Equals(".sp", StringComparison.OrdinalIgnoreCase))
        {
            text.Append('\n');
            return true;
        }
        if (sequence.Length >= 3 && sequence[0] == 'X' && sequence.Length % 2 == 1)
        {
            var hex = sequence[1..];
            var bytes = new byte[hex.Length / 2];
            for (var b = 0; b < bytes.Length; b++)
            {
                if (!byte.TryParse(hex.Slice(b * 2, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out bytes[b])) return false;
            }
            text.Append(charset.Decode(bytes));
            return true;
        }
        return false;
    }

    private static List<string> Lines(string text)
    {
        var lines = new List<string>();
        var start = text.Length > 0 && text[0] == '\uFEFF' ? 1 : 0;
        for (var i = start; i <= text.Length; i++)
        {
            if (i == text.Length || text[i] is '\r' or '\n')
            {
                // Blank lines (CRLF pairs, trailing newlines, padding) separate nothing.
                if (i > start && !string.IsNullOrWhiteSpace(text.AsSpan(start, i - start).ToString()))
                    lines.Add(text[start..i]);
                start = i + 1;
            }
        }
        return lines;
    }

    private static Hl7Message ParseLines(List<string> lines)
    {
        var header = lines[0];
        if (!header.StartsWith("MSH", StringComparison.Ordinal))
            throw new Hl7ParseException("Meddelandet börjar inte med MSH", 1, SafeId(header));
        if (header.Length < 4) throw new Hl7ParseException("MSH saknar fältavgränsare", 1, "MSH", 1);
        var fieldSeparator = header[3];
        if (!IsDelimiter(fieldSeparator)) throw new Hl7ParseException($"Ogiltig fältavgränsare '{Printable(header, 3)}'", 1, "MSH", 1);

        var encodingEnd = header.IndexOf(fieldSeparator, 4);
        var encodingCharacters = encodingEnd < 0 ? header[4..] : header[4..encodingEnd];
        // 4 characters, or 5 with the truncation character of v2.7 (read past, not used).
        if (encodingCharacters.Length is not (4 or 5))
            throw new Hl7ParseException($"MSH-2 ska ha fyra kodningstecken (fick {encodingCharacters.Length})", 1, "MSH", 2);
        var all = fieldSeparator + encodingCharacters;
        if (!all.All(IsDelimiter) || all.Distinct().Count() != all.Length)
            throw new Hl7ParseException("MSH-2: kodningstecknen ska vara olika varandra och fältavgränsaren, och inte bokstäver, siffror eller blanksteg", 1, "MSH", 2);
        var encoding = new Hl7Encoding(fieldSeparator, encodingCharacters[0], encodingCharacters[1], encodingCharacters[2], encodingCharacters[3]);

        // MSH-18 before any field is decoded: \Xhh\ escapes are bytes in the message's own character set.
        var msh18 = Hl7Charset.Msh18(header);
        if (!Hl7Charset.TryFind(msh18, out var charset))
            throw new Hl7ParseException($"MSH-18: teckenuppsättningen \"{Printable(msh18)}\" stöds inte (ASCII, 8859/1–9, 8859/15 eller UNICODE UTF-8)", 1, "MSH", 18);

        var segments = new List<Hl7Segment>(lines.Count);
        var mshFields = new List<Hl7Field> { Hl7Field.Of(fieldSeparator.ToString()), Hl7Field.Of(encoding.EncodingCharacters) };
        if (encodingEnd >= 0) mshFields.AddRange(Fields(header[(encodingEnd + 1)..], encoding, charset));
        segments.Add(new Hl7Segment("MSH", mshFields));

        for (var n = 1; n < lines.Count; n++)
        {
            var line = lines[n];
            var separatorAt = line.IndexOf(fieldSeparator);
            var id = separatorAt < 0 ? line.TrimEnd() : line[..separatorAt];
            if (!IsSegmentId(id)) throw new Hl7ParseException($"Ogiltigt segmentnamn \"{Printable(id)}\"", n + 1);
            segments.Add(new Hl7Segment(id, separatorAt < 0 ? [] : Fields(line[(separatorAt + 1)..], encoding, charset)));
        }
        return new Hl7Message(encoding, segments);
    }

    private static IEnumerable<Hl7Field> Fields(string text, Hl7Encoding encoding, Hl7Charset charset) =>
        text.Split(encoding.Field).Select(field => new Hl7Field(
            field.Split(encoding.Repetition).Select(repetition => new Hl7Repetition(
                repetition.Split(encoding.Component).Select(component => new Hl7Component(
                    component.Split(encoding.Subcomponent).Select(sub => Decode(sub, encoding, charset)))))))).ToList();

    private static bool IsDelimiter(char c) => !char.IsLetterOrDigit(c) && !char.IsWhiteSpace(c) && !char.IsControl(c) && !char.IsSurrogate(c);

    private static bool IsSegmentId(string id) =>
        id.Length == 3 && char.IsAsciiLetterUpper(id[0]) && (char.IsAsciiLetterUpper(id[1]) || char.IsAsciiDigit(id[1])) && (char.IsAsciiLetterUpper(id[2]) || char.IsAsciiDigit(id[2]));

    private static string? SafeId(string line) => line.Length >= 3 && IsSegmentId(line[..3]) ? line[..3] : null;

    // The problem is stored and sent back in the ACK: a cut that leaves half a surrogate pair could be neither.
    private static string Printable(string text) =>
        UnicodeText.WellFormed(new(text.Take(20).Select(c => char.IsControl(c) ? '?' : c).ToArray()));

    /// <summary>The character at <paramref name="at"/> as it can be shown: a control character or either half of a surrogate pair as its code point.</summary>
    private static string Printable(string text, int at)
    {
        var c = text[at];
        if (char.IsHighSurrogate(c) && at + 1 < text.Length && char.IsLowSurrogate(text[at + 1]))
            return $"U+{char.ConvertToUtf32(c, text[at + 1]):X4}";
        return char.IsControl(c) || char.IsSurrogate(c) ? $"U+{(int)c:X4}" : c.ToString();
    }
}
