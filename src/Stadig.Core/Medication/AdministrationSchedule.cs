using System.Globalization;
using Stadig.Common;

namespace Stadig.Medication;

/// <summary>
/// The scheduled doses of an ordination's current version, and where each stands: pure rules over
/// what the use case read, so the ward list, the form and the write agree on them.
/// </summary>
public static class AdministrationSchedule
{
    /// <summary>How far back an unrecorded dose stays on the ward list as overdue: a day's round, after which the record, not the list, tells.</summary>
    public static readonly TimeSpan Lookback = TimeSpan.FromHours(24);

    /// <summary>
    /// The scheduled times of <paramref name="order"/> in [<paramref name="from"/>, <paramref name="to"/>]: its times of
    /// day in the region's clock, or every <see cref="DoseOrder.IntervalHours"/> hours from its start. Only from when
    /// the current version took effect (its start, or when it was recorded if later: a change or a resumption
    /// does not make the doses before it due) and before its end.
    /// </summary>
    public static IReadOnlyList<DateTimeOffset> Slots(DoseOrder order, DateTimeOffset from, DateTimeOffset to, RegionTime time)
    {
        if (order.AsNeeded) return [];
        var effective = order.RecordedAt > order.StartsAt ? order.RecordedAt : order.StartsAt;
        var lo = from > effective ? from : effective;
        var hi = order.EndsAt is { } end && end <= to ? end.AddTicks(-1) : to;
        if (hi < lo) return [];
        var slots = new List<DateTimeOffset>();
        if (!string.IsNullOrEmpty(order.TimesOfDay))
        {
            var times = order.TimesOfDay.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(t => TimeOnly.ParseExact(t, "HH:mm", CultureInfo.InvariantCulture)).ToList();
            for (var day = time.Day(lo).AddDays(-1); day <= time.Day(hi).AddDays(1); day = day.AddDays(1))
                foreach (var t in times)
                {
                    var at = time.FromRegion(day.ToDateTime(t)).ToUniversalTime();
                    if (at >= lo && at <= hi) slots.Add(at);
                }
        }
        else if (order.IntervalHours is { } hours and > 0)
        {
            var step = TimeSpan.FromHours(hours);
            var first = lo <= order.StartsAt ? 0 : (long)Math.Ceiling((lo - order.StartsAt) / step);
            for (var at = order.StartsAt + TimeSpan.FromTicks(first * step.Ticks); at <= hi; at += step)
                if (at >= lo) slots.Add(at.ToUniversalTime());
        }
        return slots.Distinct().Order().ToList();
    }

    /// <summary>Whether <paramref name="at"/> is a scheduled time of the order (within the lookback and the coming window).</summary>
    public static bool IsSlot(DoseOrder order, DateTimeOffset at, DateTimeOffset now, TimeSpan window, RegionTime time) =>
        Slots(order, at.AddMinutes(-1), at.AddMinutes(1), time).Any(s => s == at) && at >= now - Lookback - window && at <= now + window;

    /// <summary>Where a scheduled dose stands now: recorded, due within the window around its time, or overdue after it.</summary>
    public static DoseState StateOf(DateTimeOffset slot, AdministrationEntry? record, DateTimeOffset now, TimeSpan window) =>
        record is not null ? DoseState.Recorded : now > slot + window ? DoseState.Overdue : DoseState.Due;

    /// <summary>
    /// The doses of the ward list for one ordination: every unrecorded scheduled time from <see cref="Lookback"/> ago to
    /// the window ahead (due or overdue), and recorded ones while their time or their recording is within the window
    /// behind, so the round shows what was just done.
    /// </summary>
    public static IReadOnlyList<DueDose> Round(DoseOrder order, IReadOnlyDictionary<DateTimeOffset, AdministrationEntry> standing, DateTimeOffset now,
        TimeSpan window, RegionTime time)
    {
        var doses = new List<DueDose>();
        foreach (var slot in Slots(order, now - Lookback, now + window, time))
        {
            standing.TryGetValue(slot, out var record);
            if (record is not null && slot < now - window && record.RecordedAt < now - window) continue;
            doses.Add(new DueDose(order, slot, StateOf(slot, record, now, window), record));
        }
        return doses;
    }

    /// <summary>
    /// The doses (times given) that, with one more at <paramref name="at"/>, would exceed <paramref name="max"/> in some
    /// 24 hours; empty when the dose is within the maximum. Every 24-hour span holding the new dose is tried, so a
    /// dose recorded afterwards for an earlier time is held to the same rule.
    /// </summary>
    public static IReadOnlyList<DateTimeOffset> OverMaximum(IReadOnlyList<DateTimeOffset> given, DateTimeOffset at, double max)
    {
        var day = TimeSpan.FromHours(24);
        var near = given.Where(g => g > at - day && g < at + day).Order().ToList();
        foreach (var start in near.Where(g => g <= at).Append(at))
        {
            var inSpan = near.Where(g => g >= start && g < start + day).ToList();
            if (at >= start && at < start + day && inSpan.Count + 1 > max) return inSpan;
        }
        return [];
    }
}
