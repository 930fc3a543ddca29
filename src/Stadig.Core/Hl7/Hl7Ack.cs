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
    public const string ApplicationInternalError = "207";
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
            trigger: original.Get("MSH-9.2"), version: original.Version, errorCode, errorText);
        var charset = original.Get("MSH-18");
        if (charset.Length > 0 && Hl7Charset.TryFind(charset, out _)) ack["MSH"].Set(18, charset);
        return ack;
    }

    /// <summary>An ACK for bytes that could not be parsed: what could be salvaged of MSH-10 is echoed.</summary>
    public static Hl7Message CreateForUnreadable(string acknowledgedControlId, string code, DateTimeOffset now, string controlId, string errorCode, string errorText) =>
        Build(Hl7Encoding.Default, code, now, controlId, acknowledgedControlId, Hl7Field.Empty, Hl7Field.Empty,
            Hl7Field.Of(StadigApplication), Hl7Field.Empty, trigger: "", version: "2.5", errorCode, errorText);

    private static Hl7Message Build(Hl7Encoding encoding, string code, DateTimeOffset now, string controlId, string acknowledgedControlId,
        Hl7Field receivingApplication, Hl7Field receivingFacility, Hl7Field sendingApplication, Hl7Field sendingFacility,
        string trigger, string version, string? errorCode, string? errorText)
    {
        var msh = new Hl7Segment("MSH", [Hl7Field.Of(encoding.Field.ToString()), Hl7Field.Of(encoding.EncodingCharacters)])
            .Set(3, sendingApplication.IsEmpty ? Hl7Field.Of(StadigApplication) : sendingApplication)
            .Set(4, sendingFacility)
            .Set(5, receivingApplication)
            .Set(6, receivingFacility)
            .Set(7, now.UtcDateTime.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture) + "+0000")
            .Set(9, trigger.Length > 0 ? Hl7Field.OfComponents("ACK", trigger, "ACK") : Hl7Field.OfComponents("ACK"))
            .Set(10, controlId)
            .Set(11, "P")
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
