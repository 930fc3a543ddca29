namespace Stadig.Readiness;

public enum Verdict { Go, NoGo, NotChecked }

/// <summary>A bar of a criterion's plot: a measured value against its limit (a ceiling, or a floor when <see cref="AtLeast"/>).</summary>
public sealed record PlotBar(string Label, double Value, double Limit, bool AtLeast = false);

/// <summary>One criterion's answer with where it comes from, what was measured, against what, and how old the evidence is.</summary>
public sealed record Criterion(
    string Name, Verdict Verdict, string Source, string Measured, string Threshold, DateTimeOffset? EvidenceAt, string Reason,
    IReadOnlyList<PlotBar>? Plot = null)
{
    public double? AgeDays(DateTimeOffset now) => EvidenceAt is { } at ? Math.Round((now - at).TotalDays, 1) : null;

    public static Criterion Missing(string name, string source, string threshold) =>
        new(name, Verdict.NoGo, source, "—", threshold, null, "evidence missing");

    public static Criterion NotInShortForm(string name, string threshold) =>
        new(name, Verdict.NotChecked, "a region's evidence", "—", threshold, null, "not checked in the short form: only a region can produce this evidence");
}
