using System.Globalization;

namespace Stadig.Common;

/// <summary>
/// The region's clock face. Every instant is stored in UTC and shown in the region's zone (a
/// setting, Europe/Stockholm by default), never in the host's zone: containers run in UTC, and a
/// sample taken at 17:00 Swedish time must never read 16:00. Times without an offset that arrive
/// from outside (HL7 v2 TS, forms, paper records entered afterwards) are read in the same zone.
/// </summary>
public sealed class RegionTime
{
    public const string DefaultZone = "Europe/Stockholm";

    /// <summary>The Swedish default, for command-line verbs, seeding and tests that have no settings.</summary>
    public static RegionTime Sweden { get; } = new(DefaultZone);

    public RegionTime(string zoneId)
    {
        if (string.IsNullOrWhiteSpace(zoneId)) throw new ArgumentException("TimeZone is empty; use an IANA zone such as Europe/Stockholm.");
        try { Zone = TimeZoneInfo.FindSystemTimeZoneById(zoneId.Trim()); }
        catch (TimeZoneNotFoundException)
        {
            throw new ArgumentException($"TimeZone '{zoneId}' is not a time zone this machine knows (install tzdata, or use an IANA name such as Europe/Stockholm).");
        }
    }

    public TimeZoneInfo Zone { get; }

    /// <summary>The instant as the region's wall clock shows it.</summary>
    public DateTimeOffset ToRegion(DateTimeOffset instant) => TimeZoneInfo.ConvertTime(instant, Zone);

    /// <summary>
    /// A wall-clock time in the region as an instant. In the autumn's repeated hour the earlier
    /// (summer-time) reading is taken; a time inside the spring's skipped hour is read as if the
    /// clock had not yet moved, which is how a clinician who wrote it on paper meant it.
    /// </summary>
    public DateTimeOffset FromRegion(DateTime wallClock)
    {
        var local = DateTime.SpecifyKind(wallClock, DateTimeKind.Unspecified);
        var offset = Zone.IsAmbiguousTime(local)
            ? Zone.GetAmbiguousTimeOffsets(local).Max()
            : Zone.IsInvalidTime(local) ? Zone.GetUtcOffset(local.AddHours(-1)) : Zone.GetUtcOffset(local);
        return new DateTimeOffset(local, offset);
    }

    /// <summary>The calendar day in the region an instant falls on.</summary>
    public DateOnly Day(DateTimeOffset instant) => DateOnly.FromDateTime(ToRegion(instant).DateTime);

    /// <summary>The first instant (UTC) of a calendar day in the region.</summary>
    public DateTimeOffset StartOfDay(DateOnly day) => FromRegion(day.ToDateTime(TimeOnly.MinValue)).ToUniversalTime();

    /// <summary>Date and minute, as every page, PDF and list shows a time: 2026-12-04 17:05.</summary>
    public string Format(DateTimeOffset instant) => ToRegion(instant).ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);

    public string? Format(DateTimeOffset? instant) => instant is { } i ? Format(i) : null;

    /// <summary>With seconds, where events are told apart by them (the audit log).</summary>
    public string FormatSeconds(DateTimeOffset instant) => ToRegion(instant).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    public string FormatDate(DateTimeOffset instant) => ToRegion(instant).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    public string? FormatDate(DateTimeOffset? instant) => instant is { } i ? FormatDate(i) : null;
}
