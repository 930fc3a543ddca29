using Stadig.Common;
using Stadig.Medication;

namespace Stadig.Tests.Medication;

public class AdministrationScheduleTests
{
    private static DateTimeOffset Utc(int day, int hour, int minute = 0) => new(2026, 3, day, hour, minute, 0, TimeSpan.Zero);

    private static DoseOrder Order(string? times = null, int? interval = null, DateTimeOffset? starts = null, DateTimeOffset? recorded = null, DateTimeOffset? ends = null) => new()
    {
        TimesOfDay = times, IntervalHours = interval, StartsAt = starts ?? Utc(1, 0), RecordedAt = recorded ?? starts ?? Utc(1, 0), EndsAt = ends,
        DoseValue = 1, DoseUnit = "tablett", Version = 1, Status = "Active",
    };

    [Fact]
    public void Times_of_day_are_the_regions_clock_across_the_change_to_summer_time()
    {
        // Sweden moves to summer time in the night to Sunday 29 March 2026: 08:00 is 07:00 UTC before and 06:00 UTC after.
        var slots = AdministrationSchedule.Slots(Order("08:00"), Utc(28, 0), Utc(30, 0), RegionTime.Sweden);

        Assert.Equal([Utc(28, 7), Utc(29, 6)], slots);
    }

    [Fact]
    public void Doses_before_the_current_version_took_effect_or_after_its_end_are_not_scheduled()
    {
        // Changed at 10:00 (09:00 UTC) to 08:00 and 20:00: this morning's 08:00 never was a dose of this version.
        var changed = Order("08:00,20:00", starts: Utc(10, 9), recorded: Utc(10, 9));
        Assert.Equal([Utc(10, 19), Utc(11, 7)], AdministrationSchedule.Slots(changed, Utc(10, 0), Utc(11, 12), RegionTime.Sweden));

        var ending = Order(interval: 6, starts: Utc(10, 0), ends: Utc(10, 12));
        Assert.Equal([Utc(10, 0), Utc(10, 6)], AdministrationSchedule.Slots(ending, Utc(9, 0), Utc(11, 0), RegionTime.Sweden));
        Assert.Empty(AdministrationSchedule.Slots(Order() with { AsNeeded = true }, Utc(9, 0), Utc(11, 0), RegionTime.Sweden));
    }

    [Fact]
    public void A_dose_is_due_within_the_window_around_its_time_and_overdue_after_it()
    {
        var window = TimeSpan.FromMinutes(60);

        Assert.Equal(DoseState.Due, AdministrationSchedule.StateOf(Utc(10, 8), null, Utc(10, 7), window));
        Assert.Equal(DoseState.Due, AdministrationSchedule.StateOf(Utc(10, 8), null, Utc(10, 9), window));
        Assert.Equal(DoseState.Overdue, AdministrationSchedule.StateOf(Utc(10, 8), null, Utc(10, 9, 1), window));
        Assert.Equal(DoseState.Recorded, AdministrationSchedule.StateOf(Utc(10, 8), new AdministrationEntry(), Utc(10, 12), window));
    }

    [Fact]
    public void The_24_hour_maximum_holds_in_every_span_that_holds_the_new_dose()
    {
        DateTimeOffset[] given = [Utc(10, 8), Utc(10, 20), Utc(11, 6)];

        // Three in 22 hours: a fourth within them is over a maximum of three, one a day after the first is not.
        Assert.Equal([Utc(10, 8), Utc(10, 20), Utc(11, 6)], AdministrationSchedule.OverMaximum(given, Utc(11, 7), 3));
        Assert.Empty(AdministrationSchedule.OverMaximum(given, Utc(11, 8), 3));
        // Recorded afterwards for a time between them, the span that starts at the first dose is full.
        Assert.NotEmpty(AdministrationSchedule.OverMaximum(given, Utc(10, 12), 3));
        Assert.Empty(AdministrationSchedule.OverMaximum(given, Utc(10, 12), 4));
    }
}
