using System.Globalization;

namespace Stadig.Hl7;

/// <summary>MSA-1 acknowledgment codes (original mode).</summary>
public static class AckCode
{
    /// <summary>Application Accept: the message is stored and tracked.</summary>
    public const string Accept = "AA";
    /// <summary>Application Error: understood, but cannot be processed (e.g. an unsupported message type).</summary>
    public const string Error = "AE";
    /// <summary>Application Reject: not readable as a message Stadig can take (malformed, oversized, no MSH-10).</summary>
    public const string Reject = "AR";
}

/// <summary>HL7 table 0357 error codes used in ERR-3.</summary>
public static class Hl7ErrorCode
{
    public const string SegmentSequenceError = "100";
    public const string RequiredFieldMissing = "101";
    public const string DataTypeError = "102";
    public const string UnsupportedMessageType = "200";
    public const string UnsupportedEventCode = "201";
    public const string UnsupportedProcessingId = "202";
    public const string UnsupportedVersionId = "203";
    public const string DuplicateKeyIdentifier = "205";
    public const string ApplicationInternalError = "207";
}

/// <summary>MSH-10, MSH-3, MSH-4 and MSH-11 as far as they can be read from text that does not parse.</summary>
public sealed record SalvagedHeader(string ControlId, string SendingApplication, string SendingFacility, string ProcessingId)
{
    public static SalvagedHeader None { get; } = new("", "", "", "");
}

/// <summary>Builds ACK messages: MSH, MSA (code and the acknowledged MSH-10) and, for AE/AR, an ERR with code (ERR-3) and text (ERR-8).</summary>
public static class Hl7Ack
{
    public const string StadigApplication = "STADIG";

    /// <summary>An ACK for a message that was parsed, in the message's own character set (MSH-18), so a lab on 8859/1 reads its Swedish text.</summary>
    public static Hl7Message Create(Hl7Message original, string code, DateTimeOffset now, string controlId, string? errorCode = null, string? errorText = null)
    {
        var ack = Build(original.Encoding, code, now, controlId,
            acknowledgedControlId: original.ControlId,
            receivingApplication: original["MSH"][3], receivingFacility: original["MSH"][4],
            sendingApplication: original["MSH"][5], sendingFacility: original["MSH"][6],
            trigger: original.Get("MSH-9.2"), version: original.Version, errorCode, errorText, ProcessingId(original.Get("MSH-11")));
        var charset = original.Get("MSH-18");
        if (charset.Length > 0 && Hl7Charset.TryFind(charset, out _)) ack["MSH"].Set(18, charset);
        return ack;
    }

    /// <summary>
    /// An ACK for bytes that could not be parsed: what could be salvaged of the header (see
    /// <see cref="Salvage"/>) addresses the sender and names its MSH-10.
    /// </summary>
    public static Hl7Message CreateForUnreadable(string acknowledgedControlId, string code, DateTimeOffset now, string controlId, string errorCode, string errorText,
        SalvagedHeader? header = null) =>
        Build(Hl7Encoding.Default, code, now, controlId, acknowledgedControlId,
            Hl7Field.Of(header?.SendingApplication ?? ""), Hl7Field.Of(header?.SendingFacility ?? ""),
            Hl7Field.Of(StadigApplication), Hl7Field.Empty, trigger: "", version: "2.5", errorCode, errorText, ProcessingId(header?.ProcessingId));

    /// <summary>
    /// The header fields read the plain way from text the parser refused (a broken MSH-2, a line
    /// break right after "MSH", …): the first MSH line split on its fourth character. Never throws;
    /// a value that is long or holds control characters is left out rather than echoed.
    /// </summary>
    public static SalvagedHeader Salvage(string text)
    {
        var start = text.IndexOf("MSH", StringComparison.Ordinal);
        if (start < 0) return SalvagedHeader.None;
        var line = text[start..].Split('\r', '\n')[0];
        if (line.Length < 4 || !CouldSeparate(line[3])) return SalvagedHeader.None;
        var fields = line.Split(line[3]);
        var component = fields.Length > 1 && fields[1].Length > 0 ? fields[1][0] : '^';
        string Field(int n)
        {
            // fields[0] is "MSH", fields[1] the encoding characters (MSH-2): MSH-n is fields[n - 1].
            var value = fields.Length > n - 1 ? fields[n - 1] : "";
            if (component != line[3]) value = value.Split(component)[0];
            return value.Length <= 50 && value.All(ch => !char.IsControl(ch) && !char.IsSurrogate(ch)) ? value : "";
        }
        return new SalvagedHeader(Field(10), Field(3), Field(4), Field(11));
    }

    /// <summary>
    /// Whether a header's fourth character can be read as its field separator: not a letter, digit,
    /// space or control character, and not half of a surrogate pair (splitting there would leave the
    /// other half alone in every field, text that can be neither stored nor sent).
    /// </summary>
    private static bool CouldSeparate(char c) => !char.IsLetterOrDigit(c) && !char.IsWhiteSpace(c) && !char.IsControl(c) && !char.IsSurrogate(c);

    /// <summary>
    /// The answer to a batch (HL7 v2.5 2.10.3): [FHS] BHS, the ACK of every message in the batch's
    /// order, BTS with their count [FTS]. FHS-12 / BHS-12 name the control ids the sender gave its file
    /// and batch (FHS-11 / BHS-11), and the sender's application and facility are addressed.
    /// </summary>
    public static string CreateBatch(string? fileHeader, string? batchHeader, IReadOnlyList<string> acks, DateTimeOffset now, string controlId)
    {
        var e = Hl7Encoding.Default;
        var time = now.UtcDateTime.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture) + "+0000";
        string Header(string id, string? sent)
        {
            var fields = sent is { Length: > 3 } && CouldSeparate(sent[3]) ? sent.Split(sent[3]) : [id];
            string Field(int n) => fields.Length > n - 1 && n > 2 ? Hl7Writer.Escape(fields[n - 1].Split(fields.Length > 1 && fields[1].Length > 0 ? fields[1][0] : '^')[0], e) : "";
            return $"{id}{e.Field}{e.EncodingCharacters}{e.Field}{StadigApplication}{e.Field}{e.Field}{Field(3)}{e.Field}{Field(4)}{e.Field}{time}"
                + $"{e.Field}{e.Field}{e.Field}{e.Field}{Hl7Writer.Escape(controlId, e)}{e.Field}{Field(11)}\r";
        }
        var text = new System.Text.StringBuilder();
        if (fileHeader is not null) text.Append(Header("FHS", fileHeader));
        text.Append(Header("BHS", batchHeader));
        foreach (var ack in acks) text.Append(ack.TrimEnd('\r', '\n')).Append('\r');
        text.Append($"BTS{e.Field}{acks.Count}\r");
        if (fileHeader is not null) text.Append($"FTS{e.Field}1\r");
        return UnicodeText.WellFormed(text.ToString());
    }

    /// <summary>MSH-11 echoed in the ACK (P, T or D; its first component), P when unreadable.</summary>
    private static string ProcessingId(string? sent) => sent?.Trim() is { Length: 1 } id && id[0] is 'P' or 'T' or 'D' ? id : "P";

    private static Hl7Message Build(Hl7Encoding encoding, string code, DateTimeOffset now, string controlId, string acknowledgedControlId,
        Hl7Field receivingApplication, Hl7Field receivingFacility, Hl7Field sendingApplication, Hl7Field sendingFacility,
        string trigger, string version, string? errorCode, string? errorText, string processingId)
    {
        var msh = new Hl7Segment("MSH", [Hl7Field.Of(encoding.Field.ToString()), Hl7Field.Of(encoding.EncodingCharacters)])
            .Set(3, sendingApplication.IsEmpty ? Hl7Field.Of(StadigApplication) : sendingApplication)
            .Set(4, sendingFacility)
            .Set(5, receivingApplication)
            .Set(6, receivingFacility)
            .Set(7, now.UtcDateTime.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture) + "+0000")
            .Set(9, trigger.Length > 0 ? Hl7Field.OfComponents("ACK", trigger, "ACK") : Hl7Field.OfComponents("ACK"))
            .Set(10, controlId)
            .Set(11, processingId)
            .Set(12, version.Length > 0 ? version : "2.5");
        var segments = new List<Hl7Segment> { msh, Hl7Segment.Of("MSA", code, acknowledgedControlId) };
        if (code != AckCode.Accept || errorCode is not null)
        {
            var err = new Hl7Segment("ERR")
                .Set(3, Hl7Field.OfComponents(errorCode ?? Hl7ErrorCode.ApplicationInternalError, errorText ?? "", "HL70357"))
                .Set(4, code == AckCode.Accept ? "W" : "E")
                .Set(8, errorText ?? "");
            segments.Add(err);
        }
        return new Hl7Message(encoding, segments);
    }
}
