using System.Globalization;

namespace Stadig.Rehearsal;

/// <summary>One phase of an overload run, in seconds into the run, and the clinicians working in it.</summary>
public sealed record Phase(string Name, double StartSeconds, double EndSeconds, int Clinicians);

/// <summary>What the engine knows of an overload run besides the samples: the phases and the export.</summary>
public sealed record OverloadRun(double Factor, IReadOnlyList<Phase> Phases, BulkExport? Export);

/// <summary>
/// One line of the verdict: issue 7's requirement, what was measured, and whether it holds (null:
/// not measured). An informational line is reported but not part of the verdict.
/// </summary>
public sealed record Criterion(string Name, string Requirement, string Measured, bool? Pass, bool Informational = false);

/// <summary>Per action with a budget, during the overload: how the requests that were not shed ended.</summary>
public sealed record BudgetShare(string Action, double BudgetMs, int Requests, int Shed, int WithinBudget, int OverBudget, int Errors, double? WithinShare, double? P99,
    OverBudgetSplit? Over = null);

/// <summary>
/// Where the requests over budget spent their server time, on average (Server-Timing): waiting for a
/// slot, in the database, in garbage-collection pauses (the process's, while the request ran), and the
/// rest (the application's CPU, and waiting for the cores).
/// </summary>
public sealed record OverBudgetSplit(double TotalMs, double QueueMs, double DatabaseMs, double GcMs, double RestMs);

/// <summary>
/// Every 503 answer of the run, timed per HTTP request: by the server (its Server-Timing, the time
/// the limit is about) and by the client (which adds the generator's own wait for the shared cores).
/// </summary>
public sealed record ShedLatency(int Count, int WithoutRetryAfter, double? P50, double? P99, double? Max, double LimitMs, int OverLimit,
    double? ClientP99 = null, double? ClientMax = null, int ClientOverLimit = 0);

public sealed record HealthResult(int Probes, int Failures, double? P99, double? Max, double LimitMs, int OverLimit);

/// <summary>Client timeouts (hangs), and the actions the end of the run cut off while they were still running.</summary>
public sealed record HangResult(int ClientTimeouts, double ClientTimeoutSeconds, int CutOffAtEnd, double? LongestCutOffSeconds);

/// <summary>A recovery window: p99 of the interactive actions that completed in it.</summary>
public sealed record RecoveryWindow(double StartSeconds, int Count, double? P99, bool Normal);

public sealed record RecoveryResult(double? BaselineP99, double ThresholdMs, double WindowSeconds, double? Seconds, double LimitSeconds, IReadOnlyList<RecoveryWindow> Windows);

public sealed record PriorityResult(
    double? AutosaveP99Baseline, double? AutosaveP99Overload, int AutosaveOverload, int AutosaveShed, int AutosaveErrors, double AutosaveBudget,
    double? SignP99Baseline, double? SignP99Overload, int SignOverload, int SignShed, int SignErrors, double SignBudget);

public sealed record ExportResult(string Status, double? AcceptedAtSeconds, double? FinishedAtSeconds, double? FinishedAfterOverloadSeconds, int Polls, long? Resources);

/// <summary>
/// The overload section of the report: issue 7's "Overload" criteria, each measured from the run's
/// samples. How each figure is computed is said where it is computed, and in docs/benchmarks.md.
/// </summary>
public sealed record OverloadReport(
    double Factor, double ThinkScale, IReadOnlyList<Phase> Phases,
    ShedLatency Shed, IReadOnlyList<BudgetShare> Budgets, HealthResult Health, HangResult Hangs,
    RecoveryResult Recovery, PriorityResult Priority, ExportResult Export,
    IReadOnlyList<Criterion> Verdict, bool Pass)
{
    /// <summary>
    /// The clinicians' screens that go through admission control's interactive pool while they work
    /// (logins are left out: they happen at the start of a shift, not as the load falls): the
    /// recovery's rolling p99 is over these together.
    /// </summary>
    public static readonly string[] InteractiveActions =
    [
        ClinicianSession.Actions.WardList, ClinicianSession.Actions.Worklist, ClinicianSession.Actions.Search, ClinicianSession.Actions.Chart,
        ClinicianSession.Actions.ReadNote, ClinicianSession.Actions.Results, ClinicianSession.Actions.CreateNote, ClinicianSession.Actions.Inbox,
        ClinicianSession.Actions.Attest,
    ];

    /// <summary>The chart overview's budget, the largest of a clinician's screen: the recovery's "normal" is never stricter than it.</summary>
    public const double InteractiveBudgetMs = 100;

    /// <summary>A window starts the recovery only if it and the next ones (this many in all, as far as the run goes) are normal.</summary>
    public const int StableWindows = 3;

    public static OverloadReport Build(OverloadRun run, RehearsalConfig config, IReadOnlyList<Sample> samples,
        IReadOnlyCollection<UnavailableResponse> unavailable, IReadOnlyCollection<double> cutOff)
    {
        var settings = config.Overload;
        var overload = run.Phases.Single(p => p.Name == "overload");
        var baseline = run.Phases.Single(p => p.Name == "baseline");
        var end = run.Phases[^1].EndSeconds;
        bool Started(Sample s, Phase p) => s.AtSeconds >= p.StartSeconds && s.AtSeconds < p.EndSeconds;
        static double Completed(Sample s) => s.AtSeconds + s.Milliseconds / 1000;

        // (a) Shed latency: every 503 of the run, timed per HTTP request: the server's time (arrival to
        // answer), else the client's from sending to the answer's headers; the client's shown as well.
        var shedAnswers = unavailable.Where(u => u.RetryAfter).ToList();
        var shedMs = shedAnswers.Select(u => u.ServerMilliseconds ?? u.Milliseconds).Order().ToArray();
        var shedClientMs = shedAnswers.Select(u => u.Milliseconds).Order().ToArray();
        var shed = new ShedLatency(shedMs.Length, unavailable.Count(u => !u.RetryAfter), P(shedMs, 50), P(shedMs, 99), Max(shedMs),
            settings.ShedWithinMilliseconds, shedMs.Count(ms => ms > settings.ShedWithinMilliseconds),
            P(shedClientMs, 99), Max(shedClientMs), shedClientMs.Count(ms => ms > settings.ShedWithinMilliseconds));

        // (b) Within budget: per action with a budget, the requests started during the overload that
        // were not shed, by server time (DESIGN.md's budgets are server times).
        var budgets = RehearsalReport.Budgets.Where(b => samples.Any(s => s.Action == b.Key)).Select(b =>
        {
            var mine = samples.Where(s => s.Action == b.Key && Started(s, overload)).ToList();
            var ok = mine.Where(s => s.Outcome == Outcome.Ok).Select(s => s.BudgetMilliseconds).Order().ToArray();
            var within = ok.Count(ms => ms <= b.Value);
            var errors = mine.Count(s => s.Outcome == Outcome.Error);
            var finished = ok.Length + errors;
            var over = mine.Where(s => s.Outcome == Outcome.Ok && s.BudgetMilliseconds > b.Value).ToList();
            return new BudgetShare(b.Key, b.Value, mine.Count, mine.Count(s => s.Outcome == Outcome.Shed), within, ok.Length - within, errors,
                finished == 0 ? null : Math.Round((double)within / finished, 4), P(ok, 99), Split(over));
        }).ToList();

        // (c) Health: every probe of the run.
        var probes = samples.Where(s => s.Action == HealthProbe.Action).ToList();
        var probeMs = probes.Select(s => s.Milliseconds).Order().ToArray();
        var health = new HealthResult(probes.Count, probes.Count(s => s.Outcome != Outcome.Ok), P(probeMs, 99), Max(probeMs),
            settings.HealthWithinMilliseconds, probeMs.Count(ms => ms > settings.HealthWithinMilliseconds));

        // (d) Hangs: actions that hit the client's timeout; and what the end of the run cut off (not samples).
        var hangs = new HangResult(samples.Count(s => s.Status == "timeout"), config.RequestTimeoutSeconds,
            cutOff.Count, cutOff.Count == 0 ? null : Math.Round(cutOff.Max() / 1000, 2));

        // (e) Recovery: rolling p99 of the interactive screens, by the time they completed, in windows from the end of the overload.
        var interactive = samples.Where(s => s.Outcome == Outcome.Ok && InteractiveActions.Contains(s.Action)).ToList();
        var baselineMs = interactive.Where(s => Completed(s) >= baseline.StartSeconds && Completed(s) < baseline.EndSeconds).Select(s => s.Milliseconds).Order().ToArray();
        var baselineP99 = P(baselineMs, 99);
        var threshold = Math.Round(Math.Max(InteractiveBudgetMs, (baselineP99 ?? 0) * settings.RecoveryP99Factor), 2);
        var width = Math.Max(0.1, settings.RecoveryWindowSeconds);
        var windows = new List<RecoveryWindow>();
        var notShed = samples.Where(s => s.Outcome != Outcome.Shed && InteractiveActions.Contains(s.Action)).ToList();
        for (var start = overload.EndSeconds; start + width <= end + 1e-9; start += width)
        {
            var windowEnd = start + width;
            var ms = interactive.Where(s => Completed(s) >= start && Completed(s) < windowEnd).Select(s => s.Milliseconds).Order().ToArray();
            var p99 = P(ms, 99);
            // A request still running at the window's end and already older than the threshold makes the
            // window not normal, however fast the others were (so a quiet window is normal, a stuck one is not).
            var stuck = notShed.Any(s => s.AtSeconds < windowEnd && Completed(s) >= windowEnd && (windowEnd - s.AtSeconds) * 1000 > threshold);
            windows.Add(new RecoveryWindow(Math.Round(start, 2), ms.Length, p99, !stuck && (p99 is null || p99 <= threshold)));
        }
        double? recoverySeconds = null;
        for (var i = 0; i < windows.Count; i++)
        {
            if (windows.Skip(i).Take(StableWindows).All(w => w.Normal)) { recoverySeconds = Math.Round((i + 1) * width, 2); break; }
        }
        var recovery = new RecoveryResult(baselineP99, threshold, width, recoverySeconds, settings.RecoveryWithinSeconds, windows);

        // (f) Priority: autosave and sign (server time) while the overload (and the export) run, against the baseline and their budgets.
        (double? Baseline, double? Overload, int N, int Shed, int Errors) Of(string action)
        {
            var mine = samples.Where(s => s.Action == action).ToList();
            var ok = mine.Where(s => s.Outcome == Outcome.Ok).ToList();
            return (P(ok.Where(s => Started(s, baseline)).Select(s => s.BudgetMilliseconds).Order().ToArray(), 99),
                P(ok.Where(s => Started(s, overload)).Select(s => s.BudgetMilliseconds).Order().ToArray(), 99),
                mine.Count(s => Started(s, overload)), mine.Count(s => Started(s, overload) && s.Outcome == Outcome.Shed),
                mine.Count(s => Started(s, overload) && s.Outcome == Outcome.Error));
        }
        var autosave = Of(ClinicianSession.Actions.Autosave);
        var sign = Of(ClinicianSession.Actions.Sign);
        var priority = new PriorityResult(autosave.Baseline, autosave.Overload, autosave.N, autosave.Shed, autosave.Errors, RehearsalReport.Budgets[ClinicianSession.Actions.Autosave],
            sign.Baseline, sign.Overload, sign.N, sign.Shed, sign.Errors, RehearsalReport.Budgets[ClinicianSession.Actions.Sign]);

        var export = run.Export is { } e
            ? new ExportResult(e.Status, R(e.AcceptedAtSeconds), R(e.FinishedAtSeconds), e.FinishedAtSeconds is { } f ? R(f - overload.EndSeconds) : null, e.Polls, e.Resources)
            : new ExportResult(settings.Export ? "not started (no administrator account)" : "off", null, null, null, 0, null);

        var verdict = Judge(settings, shed, budgets, health, hangs, recovery, priority, export, end, overload.EndSeconds);
        return new OverloadReport(run.Factor, config.ThinkScale, run.Phases, shed, budgets, health, hangs, recovery, priority, export, verdict,
            verdict.Where(c => !c.Informational).All(c => c.Pass == true));
    }

    private static string OverText(OverBudgetSplit? over) => over is null ? ""
        : $", on average {F(over.TotalMs)} ms: queue {F(over.QueueMs)}, database {F(over.DatabaseMs)}, GC {F(over.GcMs)}, rest {F(over.RestMs)}";

    private static OverBudgetSplit? Split(IReadOnlyList<Sample> over)
    {
        if (over.Count == 0) return null;
        double Avg(Func<Sample, double> part) => Math.Round(over.Average(part), 1);
        var total = Avg(s => s.BudgetMilliseconds);
        var queue = Avg(s => s.QueueMilliseconds ?? 0);
        var database = Avg(s => s.DatabaseMilliseconds ?? 0);
        var gc = Avg(s => s.GcMilliseconds ?? 0);
        return new OverBudgetSplit(total, queue, database, gc, Math.Round(Math.Max(0, total - queue - database - gc), 1));
    }

    private static List<Criterion> Judge(OverloadSettings settings, ShedLatency shed, List<BudgetShare> budgets, HealthResult health, HangResult hangs,
        RecoveryResult recovery, PriorityResult priority, ExportResult export, double end, double overloadEnd)
    {
        var share = settings.WithinBudgetShare;
        var failing = budgets.Where(b => b.Errors > 0 || b.WithinShare < share).ToList();
        return
        [
            new("Interactive requests finish within budget or are shed",
                $"during the overload, per action with a DESIGN.md budget, server time: ≥ {F(share * 100)} % of the requests not shed finish within the budget, none fail",
                budgets.Count == 0 ? "no requests with a budget"
                    : string.Join("; ", budgets.Select(b => b.WithinShare is null ? $"{b.Action}: none finished ({b.Shed} shed)"
                        : $"{b.Action} {F(b.WithinShare * 100)} % within {F(b.BudgetMs)} ms ({b.OverBudget} over{OverText(b.Over)}, {b.Errors} failed, {b.Shed} shed)")),
                budgets.Count == 0 || budgets.All(b => b.WithinShare is null) ? null : failing.Count == 0),
            new("Shed fast, with Retry-After",
                $"every 503 carries Retry-After and arrives within {F(shed.LimitMs)} ms",
                shed.Count == 0 && shed.WithoutRetryAfter == 0 ? "nothing shed"
                    : $"{shed.Count} shed, server time: p50 {F(shed.P50)} ms, p99 {F(shed.P99)} ms, max {F(shed.Max)} ms, {shed.OverLimit} over {F(shed.LimitMs)} ms "
                      + $"(client time: p99 {F(shed.ClientP99)} ms, max {F(shed.ClientMax)} ms, {shed.ClientOverLimit} over); {shed.WithoutRetryAfter} × 503 without Retry-After",
                shed.OverLimit == 0 && shed.WithoutRetryAfter == 0),
            new("Autosave and sign keep priority over background work",
                $"during the overload (with the export running), server time: autosave p99 ≤ {F(priority.AutosaveBudget)} ms, sign p99 ≤ {F(priority.SignBudget)} ms, none fail",
                $"autosave p99 {F(priority.AutosaveP99Overload)} ms (baseline {F(priority.AutosaveP99Baseline)}; {priority.AutosaveOverload} requests, {priority.AutosaveShed} shed, {priority.AutosaveErrors} failed); " +
                $"sign p99 {F(priority.SignP99Overload)} ms (baseline {F(priority.SignP99Baseline)}; {priority.SignOverload} requests, {priority.SignShed} shed, {priority.SignErrors} failed)",
                priority.AutosaveP99Overload is null || priority.SignP99Overload is null ? null
                    : priority.AutosaveP99Overload <= priority.AutosaveBudget && priority.SignP99Overload <= priority.SignBudget && priority.AutosaveErrors + priority.SignErrors == 0),
            new("Background export (reported, not judged)",
                "the bulk $export started at the overload steps aside while clinicians are busy; whether it finishes within the run depends on its size",
                export.Status == "completed"
                    ? $"completed {F(export.FinishedAtSeconds - export.AcceptedAtSeconds)} s after it started, " + (export.FinishedAfterOverloadSeconds is <= 0
                        ? "during the overload"
                        : export.FinishedAtSeconds <= end ? $"{F(export.FinishedAfterOverloadSeconds)} s after the overload ended" : $"{F(export.FinishedAtSeconds - end)} s after the load stopped")
                      + $"; {export.Resources} resources, {export.Polls} polls"
                    : $"{export.Status} ({export.Polls} polls)",
                export.Status is "off" ? null : export.Status == "completed", Informational: true),
            new("/health/live answers within 1 s throughout",
                $"every probe answers 200 within {F(health.LimitMs)} ms",
                $"{health.Probes} probes: {health.Failures} failed, p99 {F(health.P99)} ms, max {F(health.Max)} ms, {health.OverLimit} over {F(health.LimitMs)} ms",
                health.Probes == 0 ? null : health.Failures == 0 && health.OverLimit == 0),
            new("No request hangs",
                $"no action reaches the client timeout ({F(hangs.ClientTimeoutSeconds)} s)",
                $"{hangs.ClientTimeouts} timed out; {hangs.CutOffAtEnd} cut off by the end of the run" + (hangs.LongestCutOffSeconds is { } l ? $" (longest running {F(l)} s)" : ""),
                hangs.ClientTimeouts == 0),
            new("p99 back to normal within 10 s after the load drops",
                $"rolling p99 ({F(recovery.WindowSeconds)} s windows) of the clinicians' screens within max(baseline p99 × {F(settings.RecoveryP99Factor)}, {F(InteractiveBudgetMs)} ms) = {F(recovery.ThresholdMs)} ms, for {StableWindows} windows in a row, within {F(recovery.LimitSeconds)} s",
                recovery.Seconds is { } seconds ? $"normal after {F(seconds)} s (baseline p99 {F(recovery.BaselineP99)} ms)"
                    : $"not back to normal by the end of the run ({F(end - overloadEnd)} s after the overload; baseline p99 {F(recovery.BaselineP99)} ms)",
                recovery.BaselineP99 is null ? null : recovery.Seconds <= recovery.LimitSeconds),
        ];
    }

    private static double? P(double[] sorted, double p) => sorted.Length == 0 ? null : Math.Round(RehearsalReport.Percentile(sorted, p), 2);

    private static double? Max(double[] sorted) => sorted.Length == 0 ? null : Math.Round(sorted[^1], 2);

    private static double? R(double? v) => v is { } x ? Math.Round(x, 2) : null;

    public static string F(double? v) => v is { } x ? x.ToString(x >= 100 ? "0" : "0.##", CultureInfo.InvariantCulture) : "–";
}
