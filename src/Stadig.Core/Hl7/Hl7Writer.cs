using System.Text;

namespace Stadig.Hl7;

/// <summary>
/// Writes a message as ER7 text with CR between segments, escaping every value so that
/// <c>Hl7Parser.Parse(Hl7Writer.Write(m))</c> gives back the same values. Line breaks become \.br\,
/// other control characters \Xhh\ (so a value can never end a segment or an MLLP frame).
/// </summary>
public static class Hl7Writer
{
    public static string Write(Hl7Message message)
    {
        var e = message.Encoding;
        var text = new StringBuilder();
        foreach (var segment in message.Segments)
        {
            text.Append(segment.Id);
            var first = 1;
            if (segment.Id == "MSH")
            {
                text.Append(e.Field).Append(e.EncodingCharacters);
                first = 3;
            }
            for (var f = first; f <= segment.Fields.Count; f++)
            {
                text.Append(e.Field);
                WriteField(text, segment.Fields[f - 1], e);
            }
            text.Append('\r');
        }
        return text.ToString();
    }

    private static void WriteField(StringBuilder text, Hl7Field field, Hl7Encoding e)
    {
        for (var r = 0; r < field.Repetitions.Count; r++)
        {
            if (r > 0) text.Append(e.Repetition);
            var components = field.Repetitions[r].Components;
            for (var c = 0; c < components.Count; c++)
            {
                if (c > 0) text.Append(e.Component);
                var subcomponents = components[c].Subcomponents;
                for (var s = 0; s < subcomponents.Count; s++)
                {
                    if (s > 0) text.Append(e.Subcomponent);
                    text.Append(Escape(subcomponents[s], e));
                }
            }
        }
    }

    /// <summary>One value with its delimiters, escape character and control characters escaped.</summary>
    public static string Escape(string value, Hl7Encoding e)
    {
        var text = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            if (c == e.Field) text.Append(e.Escape).Append('F').Append(e.Escape);
            else if (c == e.Component) text.Append(e.Escape).Append('S').Append(e.Escape);
            else if (c == e.Subcomponent) text.Append(e.Escape).Append('T').Append(e.Escape);
            else if (c == e.Repetition) text.Append(e.Escape).Append('R').Append(e.Escape);
            else if (c == e.Escape) text.Append(e.Escape).Append('E').Append(e.Escape);
            else if (c == '\n') text.Append(e.Escape).Append(".br").Append(e.Escape);
            else if (c < 0x20 || c == 0x7F) text.Append(e.Escape).Append('X').Append(((int)c).ToString("X2", System.Globalization.CultureInfo.InvariantCulture)).Append(e.Escape);
            else text.Append(c);
        }
        return text.ToString();
    }
}
