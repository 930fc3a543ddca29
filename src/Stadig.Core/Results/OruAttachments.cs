using System.Text;
using System.Text.RegularExpressions;
using Stadig.Hl7;

namespace Stadig.LabResults;

/// <summary>
/// ED values (OBX-2 ED, OBX-5 = source ^ type ^ subtype ^ encoding ^ data): a document such as a
/// PDF report, decoded to its bytes with a MIME content type. Data that does not decode under its
/// encoding is an <see cref="Hl7FieldException"/> naming OBX-5, so the message is refused whole.
/// </summary>
public static partial class OruAttachments
{
    /// <summary>Content types a browser may show inline from Stadig's own origin; anything else is only offered as a download.</summary>
    public static readonly IReadOnlySet<string> Inline = new HashSet<string>(StringComparer.Ordinal)
    {
        "application/pdf", "image/png", "image/jpeg", "image/gif", "text/plain",
    };

    /// <returns>The document, or null when OBX-5 carries no data.</returns>
    public static OruAttachment? Read(Hl7Repetition ed)
    {
        var encoding = ed[4].Value.Trim();
        var data = ed[5].Value;
        if (data.Trim().Length == 0) return null;
        byte[] bytes;
        switch (encoding.ToUpperInvariant())
        {
            case "BASE64":
                // Labs wrap long base64 over lines (\.br\ or CR escaped) and some leave out the padding; neither is data.
                var compact = Whitespace().Replace(data, "");
                if (compact.Length % 4 is 2 or 3) compact = compact.PadRight(compact.Length + 4 - compact.Length % 4, '=');
                bytes = new byte[compact.Length * 3 / 4 + 3];
                if (!Convert.TryFromBase64String(compact, bytes, out var written))
                    throw new Hl7FieldException("OBX-5", "ED-datat är inte giltig Base64.");
                Array.Resize(ref bytes, written);
                break;
            case "HEX":
                try { bytes = Convert.FromHexString(Whitespace().Replace(data, "")); }
                catch (FormatException) { throw new Hl7FieldException("OBX-5", "ED-datat är inte giltig hex."); }
                break;
            case "A" or "":
                // No encoding: the data is the text itself.
                bytes = Encoding.UTF8.GetBytes(data);
                break;
            default:
                throw new Hl7FieldException("OBX-5", $"ED-kodningen \"{encoding}\" är okänd (Base64, Hex eller A).");
        }
        return new OruAttachment(ContentType(ed[2].Value, ed[3].Value, bytes), bytes);
    }

    /// <summary>OBX-5.2/OBX-5.3 (HL7 tables 0191 and 0291) as a MIME type; a PDF is a PDF whatever the lab called it.</summary>
    public static string ContentType(string type, string subtype, ReadOnlySpan<byte> data)
    {
        if (data.StartsWith("%PDF-"u8)) return "application/pdf";
        var media = type.Trim().ToUpperInvariant() switch
        {
            "AP" or "APPLICATION" => "application",
            "IM" or "IMAGE" or "SI" or "NS" => "image",
            "TEXT" or "TX" => "text",
            "AU" or "AUDIO" => "audio",
            "VIDEO" => "video",
            _ => null,
        };
        var sub = subtype.Trim().ToLowerInvariant();
        if (media == "text" && sub.Length == 0) sub = "plain";
        return media is not null && Token().IsMatch(sub) ? $"{media}/{sub}" : "application/octet-stream";
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    [GeneratedRegex(@"^[a-z0-9][a-z0-9.+-]{0,62}$")]
    private static partial Regex Token();
}
