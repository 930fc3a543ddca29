using System.Globalization;
using Stadig.Common;
using Stadig.Hl7;

namespace Stadig.LabResults;

/// <summary>One OBR with the OBX segments that follow it.</summary>
public sealed record OruReport(
    string? PlacerOrderNumber, string? FillerOrderNumber, string ServiceCode, string ServiceName, string Status,
    DateTimeOffset? ObservedAt, IReadOnlyList<OruObservation> Observations);

/// <summary>One OBX as Stadig stores it; <see cref="ValueText"/> is OBX-5 exactly as sent, escapes decoded.</summary>
public sealed record OruObservation(
    string ValueType, string Code, string Name, string? SubId, double? ValueNumeric, string? ValueText, string? Unit,
    string? ReferenceRange, double? ReferenceLow, double? ReferenceHigh, string? AbnormalFlag, string Status,
    DateTimeOffset? ObservedAt, string? Performer);

/// <summary>A value that cannot be taken as sent, naming the segment and field (e.g. OBX-14).</summary>
public sealed class Hl7FieldException(string field, string problem) : Exception($"{field}: {problem}")
{
    public string Field { get; } = field;
}

/// <summary>Reads the order groups and observations of an ORU^R01.</summary>
public static class OruObservations
{
    /// <summary>
    /// The reports of one patient group (see <see cref="OruGroups"/>). Times without an offset are read
    /// in the region's zone (<paramref name="zone"/>; Swedish time when none is given).
    /// </summary>
    public static IReadOnlyList<OruReport> Read(Hl7Message message, RegionTime? zone = null)
    {
        var reports = new List<OruReport>();
        Hl7Segment? obr = null;
        var observations = new List<OruObservation>();
        void Close()
        {
            if (obr is null && observations.Count == 0) return;
            var placer = NullIfEmpty(obr?[2].Value) ?? NullIfEmpty(message.Get("ORC-2"));
            var filler = NullIfEmpty(obr?[3].Value) ?? NullIfEmpty(message.Get("ORC-3"));
            reports.Add(new OruReport(placer, filler, obr?[4][1][1].Value ?? "", obr is null ? "" : NullIfEmpty(obr[4][1][2].Value) ?? obr[4][1][1].Value,
                ResultStatus(obr?[25].Value), Timestamp(obr?[7].Value, "OBR-7", zone), observations));
            observations = [];
        }
        foreach (var segment in message.Segments)
        {
            if (segment.Id == "OBR")
            {
                Close();
                obr = segment;
            }
            else if (segment.Id == "OBX")
            {
                observations.Add(Observation(segment, message.Encoding, zone));
            }
        }
        Close();
        return reports;
    }

    private static OruObservation Observation(Hl7Segment obx, Hl7Encoding encoding, RegionTime? zone)
    {
        var type = obx[2].Value.Trim().ToUpperInvariant();
        var code = obx[3][1][1].Value;
        var name = NullIfEmpty(obx[3][1][2].Value) ?? code;
        // Text types keep OBX-5 whole: repetitions are lines, and stray delimiters go back in as sent.
        var text = string.Join('\n', obx[5].Repetitions.Select(r => Rejoin(r, encoding)));
        double? numeric = null;
        string? valueText = text.Length == 0 ? null : text;
        switch (type)
        {
            case "NM":
                numeric = Number(text);
                break;
            case "SN":
                // Structured numeric: comparator ^ number ^ separator/suffix ^ number, e.g. <^5 or ^1^:^128.
                var sn = obx[5][1];
                valueText = sn[1].Value + sn[2].Value + sn[3].Value + sn[4].Value;
                if (sn[1].Value is "" or "=" && sn[3].Value.Length == 0) numeric = Number(sn[2].Value);
                break;
            case "CE" or "CWE" or "CNE":
                valueText = NullIfEmpty(obx[5][1][2].Value) ?? NullIfEmpty(obx[5][1][1].Value);
                break;
        }
        var range = NullIfEmpty(Rejoin(obx[7][1], encoding));
        var (low, high) = Range(range);
        var performer = NullIfEmpty(obx[23][1][1].Value) ?? NullIfEmpty(string.Join(' ', new[] { obx[16][1][3].Value, obx[16][1][2].Value }.Where(s => s.Length > 0)));
        return new OruObservation(type, code, name, NullIfEmpty(obx[4].Value), numeric, valueText,
            NullIfEmpty(obx[6][1][1].Value) ?? NullIfEmpty(obx[6][1][2].Value), range, low, high,
            NullIfEmpty(obx[8].Value), ResultStatus(obx[11].Value), Timestamp(obx[14].Value, "OBX-14", zone), performer);
    }

    /// <summary>OBR-25 / OBX-11 result status in Stadig's words.</summary>
    public static string ResultStatus(string? code) => code?.Trim() switch
    {
        "F" => "Final",
        "P" => "Preliminary",
        "C" => "Corrected",
        "X" => "Cancelled",
        "R" => "Preliminary",
        "I" or "S" or "O" => "Registered",
        "D" => "EnteredInError",
        "W" => "EnteredInError",
        null or "" => "Final",
        var other => other,
    };

    private static string Rejoin(Hl7Repetition repetition, Hl7Encoding encoding) =>
        string.Join(encoding.Component, repetition.Components.Select(c => string.Join(encoding.Subcomponent, c.Subcomponents)));

    private static double? Number(string text)
    {
        var t = text.Trim().Replace(',', '.');
        return double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) ? v : null;
    }

    private static (double? Low, double? High) Range(string? range)
    {
        if (range is null) return (null, null);
        var t = range.Trim();
        if (t.Length < 2) return (null, null);
        if (t.StartsWith('<')) return (null, Number(t.TrimStart('<', '=')));
        if (t.StartsWith('>')) return (Number(t.TrimStart('>', '=')), null);
        var dash = t.IndexOf('-', 1);
        return dash > 0 ? (Number(t[..dash]), Number(t[(dash + 1)..])) : (null, null);
    }

    /// <summary>
    /// HL7 TS/DTM: YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]; without an offset it is the region's wall
    /// clock (<paramref name="zone"/>, Swedish time when none is given). An offset that is not +/-HHMM
    /// within ±14:00, or an instant outside what can be stored, is a <see cref="Hl7FieldException"/>
    /// naming <paramref name="field"/>: guessing would put a result at the wrong hour.
    /// </summary>
    public static DateTimeOffset? Timestamp(string? text, string field = "TS", RegionTime? zone = null)
    {
        var t = text?.Trim() ?? "";
        if (t.Length < 8) return null;
        var zoneAt = t.IndexOfAny(['+', '-'], 8);
        var local = zoneAt < 0 ? t : t[..zoneAt];
        var dot = local.IndexOf('.', StringComparison.Ordinal);
        if (dot >= 0) local = local[..dot];
        local = local.PadRight(14, '0');
        if (local.Length != 14 || !DateTime.TryParseExact(local, "yyyyMMddHHmmss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var at)) return null;
        if (zoneAt < 0)
        {
            try { return (zone ?? RegionTime.Sweden).FromRegion(at); }
            catch (ArgumentOutOfRangeException) { throw new Hl7FieldException(field, $"tidpunkten {t} går inte att återge."); }
        }
        TimeSpan offset;
        {
            var sign = t[zoneAt];
            var digits = t[(zoneAt + 1)..];
            if (digits.Length != 4 || !digits.All(char.IsAsciiDigit))
                throw new Hl7FieldException(field, $"tidszonen \"{sign}{digits}\" ska skrivas +HHMM eller -HHMM.");
            var (hours, minutes) = (int.Parse(digits[..2], CultureInfo.InvariantCulture), int.Parse(digits[2..], CultureInfo.InvariantCulture));
            offset = new TimeSpan(hours, minutes, 0);
            if (minutes >= 60 || offset > TimeSpan.FromHours(14))
                throw new Hl7FieldException(field, $"tidszonen {sign}{digits} ligger utanför ±1400.");
            if (sign == '-') offset = -offset;
        }
        var utcTicks = at.Ticks - offset.Ticks;
        if (utcTicks < DateTime.MinValue.Ticks || utcTicks > DateTime.MaxValue.Ticks)
            throw new Hl7FieldException(field, $"tidpunkten {t} går inte att återge.");
        return new DateTimeOffset(at, offset);
    }

    private static string? NullIfEmpty(string? text) => string.IsNullOrEmpty(text) ? null : text;
}
