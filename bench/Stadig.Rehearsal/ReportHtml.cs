using System.Globalization;
using System.Net;
using System.Text;

namespace Stadig.Rehearsal;

/// <summary>The report as one self-contained HTML file: tables, and SVG line charts drawn here (no chart library).</summary>
public static class ReportHtml
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Render(RehearsalReport r)
    {
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Stadig go-live rehearsal – ").Append(E(r.Name)).Append("</title><style>")
            .Append("body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1b1b1b;max-width:1200px}h1{font-size:22px}h2{font-size:17px;margin-top:28px}")
            .Append("table{border-collapse:collapse;margin:8px 0}th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}")
            .Append("th{background:#f3f3f3}td.text,th.text{text-align:left;max-width:460px}h3{font-size:15px;margin-top:18px}.over{color:#a00;font-weight:600}.ok{color:#06612a}.bad{color:#a00;font-weight:600}.hint{color:#555}")
            .Append(".charts{display:flex;flex-wrap:wrap;gap:12px}svg{background:#fff;border:1px solid #ddd}dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px}dt{color:#555}")
            .Append("</style></head><body>");
        html.Append("<h1>Stadig go-live rehearsal: ").Append(E(r.Name)).Append("</h1><dl>");
        Item(html, "started (UTC)", r.StartedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", Inv));
        Item(html, "measured for", $"{r.DurationSeconds:0} s");
        Item(html, "server", r.Run.BaseUrl + (r.Run.Engine is null ? "" : $" on {r.Run.Engine}") + (r.Run.Patients is { } p ? $", {p:N0} patients" : ""));
        Item(html, "simulated clinicians", r.Run.Clinicians.ToString(Inv)
            + (r.Overload is { } o ? $" ({o.Phases.Single(p => p.Name == "overload").Clinicians.ToString(Inv)} during the overload)" : ""));
        if (r.Run.ThinkScale != 1)
            Item(html, "think times", $"× {r.Run.ThinkScale.ToString("0.###", Inv)} of the config's (shortened: each simulated clinician works faster than the modelled day)");
        Item(html, "lab feed", $"{r.Run.LabMessagesPerSecond:0.###} ORU^R01 / s");
        Item(html, "FHIR integrations", $"{r.Run.FhirRequestsPerSecond:0.###} requests / s");
        Item(html, "machine", $"{r.Run.ProcessorCount} cores; {r.Run.Machine}");
        if (r.Run.Command is not null) Item(html, "command", r.Run.Command);
        html.Append("</dl>");
        html.Append("<p class=\"").Append(r.TotalErrors == 0 ? "ok" : "bad").Append("\">").Append(r.TotalErrors == 0 ? "No errors." : $"{r.TotalErrors} errors.")
            .Append($" {r.TotalShed} requests shed by admission control (503 + Retry-After).</p>");

        if (r.Overload is { } overload) Overload(html, overload);

        html.Append("<h2>Actions</h2><p class=\"hint\">Client-side times over loopback HTTP/MLLP, page or body fully received; latency columns over successful actions. ")
            .Append("Budgets are DESIGN.md's p99 server-time budgets. The client times are the generator's (request sent to page read, on cores it shares with the server); the server times are Stadig's own Server-Timing (arrival to answer, waiting for a slot included), summed over an action's requests. A server p99 over budget is marked red.</p>");
        html.Append("<table><thead><tr><th>action</th><th>n</th><th>per s</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>server p50</th><th>server p99</th><th>slot wait p99</th><th>budget p99</th><th>errors</th><th>shed</th><th>shed p99 ms</th></tr></thead><tbody>");
        foreach (var a in r.Actions)
        {
            var over = a.BudgetP99 is { } b && (a.ServerP99 ?? a.P99) > b;
            html.Append("<tr><td>").Append(E(a.Action)).Append("</td><td>").Append(a.Count).Append("</td><td>").Append(N(a.PerSecond))
                .Append("</td><td>").Append(N(a.P50)).Append("</td><td>").Append(N(a.P95)).Append("</td><td>").Append(N(a.P99))
                .Append("</td><td>").Append(N(a.Max)).Append("</td><td>").Append(N(a.ServerP50)).Append("</td><td").Append(over ? " class=\"over\"" : "").Append('>').Append(N(a.ServerP99)).Append("</td><td>").Append(N(a.QueueP99)).Append("</td><td>").Append(a.BudgetP99 is { } budget ? N(budget) : "").Append("</td><td").Append(a.Errors > 0 ? " class=\"bad\"" : "").Append('>').Append(a.Errors)
                .Append("</td><td>").Append(a.Shed).Append("</td><td>").Append(N(a.ShedP99)).Append("</td></tr>");
        }
        html.Append("</tbody></table>");
        var failing = r.Actions.Where(a => a.Errors > 0).ToList();
        if (failing.Count > 0)
        {
            html.Append("<h2>Errors by status</h2><table><thead><tr><th>action</th><th>status</th><th>count</th></tr></thead><tbody>");
            foreach (var a in failing)
                foreach (var (status, count) in a.ErrorStatuses.OrderByDescending(kv => kv.Value))
                    html.Append("<tr><td>").Append(E(a.Action)).Append("</td><td>").Append(E(status)).Append("</td><td>").Append(count).Append("</td></tr>");
            html.Append("</tbody></table>");
        }

        html.Append("<h2>Server process</h2>");
        if (r.ServerSamples.Count == 0) html.Append("<p class=\"hint\">Not sampled (no /proc for the server process).</p>");
        else
        {
            html.Append("<p>CPU average ").Append(N(r.Server.CpuAvgPercent)).Append(" %, max ").Append(N(r.Server.CpuMaxPercent))
                .Append(" % (100 % = one core); resident memory max ").Append(N(r.Server.RssMaxMiB)).Append(" MiB, at the end ").Append(N(r.Server.RssEndMiB))
                .Append(" MiB; whole machine CPU average ").Append(N(r.Server.MachineCpuAvgPercent)).Append(" % (server, generator and database together).</p>");
            html.Append("<div class=\"charts\">");
            html.Append(Svg.LineChart("Server CPU (% of one core) and machine CPU (% of all cores)", "%",
                [new("server CPU", "#1f5fa8", r.ServerSamples.Select(s => (s.AtSeconds, s.ServerCpuPercent)).ToList()),
                 new("machine CPU", "#999999", r.ServerSamples.Select(s => (s.AtSeconds, s.MachineCpuPercent)).ToList(), Dashed: true)], r.DurationSeconds, null, r.Overload?.Phases));
            html.Append(Svg.LineChart("Server resident memory", "MiB",
                [new("RSS", "#6a3d9a", r.ServerSamples.Select(s => (s.AtSeconds, s.ServerRssMiB)).ToList())], r.DurationSeconds, null, r.Overload?.Phases));
            html.Append("</div>");
        }

        html.Append("<h2>Latency over time</h2><p class=\"hint\">Per ").Append(N(r.Config.BucketSeconds))
            .Append(" s window: p50, p95 and p99 of the successful actions started in it; the dashed red line is the p99 budget where there is one")
            .Append(r.Overload is null ? "" : "; the shaded band is the overload").Append(".</p><div class=\"charts\">");
        var throughput = r.Timeline.Values.SelectMany(t => t).GroupBy(t => t.AtSeconds).OrderBy(g => g.Key)
            .Select(g => (g.Key, g.Sum(t => t.Count) / Math.Max(1, r.Config.BucketSeconds))).ToList();
        html.Append(Svg.LineChart("All actions: completed per second", "/s", [new("actions/s", "#1b1b1b", throughput)], r.DurationSeconds, null, r.Overload?.Phases));
        foreach (var a in r.Actions)
        {
            if (!r.Timeline.TryGetValue(a.Action, out var points) || points.Count == 0) continue;
            html.Append(Svg.LineChart(a.Action, "ms",
                [new("p50", "#7fa7d6", points.Select(p => (p.AtSeconds, p.P50)).ToList()),
                 new("p95", "#1f5fa8", points.Select(p => (p.AtSeconds, p.P95)).ToList()),
                 new("p99", "#0b2a4a", points.Select(p => (p.AtSeconds, p.P99)).ToList())], r.DurationSeconds, a.BudgetP99, r.Overload?.Phases));
        }
        html.Append("</div>");
        html.Append("<h2>Configuration</h2><pre>").Append(E(System.Text.Json.JsonSerializer.Serialize(r.Config, RehearsalConfig.Json))).Append("</pre></body></html>\n");
        return html.ToString();
    }

    /// <summary>The overload run: the verdict per criterion, then the figures behind it.</summary>
    private static void Overload(StringBuilder html, OverloadReport o)
    {
        html.Append("<h2>Overload</h2><p>");
        html.AppendJoin(", then ", o.Phases.Select(p => $"{E(p.Name)} {N(p.StartSeconds)}–{N(p.EndSeconds)} s with {p.Clinicians} clinicians"));
        html.Append(Inv, $" (×{N(o.Factor)}; lab and FHIR scaled alike; think times ×{N(o.ThinkScale)}).</p>");
        html.Append("<p class=\"").Append(o.Pass ? "ok" : "bad").Append("\">").Append(o.Pass ? "Every overload criterion holds." : "Not every overload criterion holds.").Append("</p>");
        html.Append("<table><thead><tr><th>criterion</th><th class=\"text\">requirement</th><th class=\"text\">measured</th><th>verdict</th></tr></thead><tbody>");
        foreach (var c in o.Verdict)
            html.Append("<tr><td>").Append(E(c.Name)).Append("</td><td class=\"text\">").Append(E(c.Requirement)).Append("</td><td class=\"text\">").Append(E(c.Measured))
                .Append("</td><td class=\"").Append(c.Informational ? "hint\">reported" : c.Pass switch { true => "ok\">pass", false => "bad\">fail", null => "hint\">not measured" }).Append("</td></tr>");
        html.Append("</tbody></table>");

        html.Append("<h3>Within budget during the overload</h3><p class=\"hint\">Requests started during the overload, per action with a DESIGN.md budget: ")
            .Append("of those not shed, how many finished within the budget, over it, or failed.</p>");
        html.Append("<table><thead><tr><th>action</th><th>budget ms</th><th>requests</th><th>shed</th><th>within</th><th>over</th><th>failed</th><th>within %</th><th>p99 ms</th></tr></thead><tbody>");
        foreach (var b in o.Budgets)
            html.Append("<tr><td>").Append(E(b.Action)).Append("</td><td>").Append(N(b.BudgetMs)).Append("</td><td>").Append(b.Requests).Append("</td><td>").Append(b.Shed)
                .Append("</td><td>").Append(b.WithinBudget).Append("</td><td>").Append(b.OverBudget).Append("</td><td").Append(b.Errors > 0 ? " class=\"bad\"" : "").Append('>').Append(b.Errors)
                .Append("</td><td>").Append(N(b.WithinShare * 100)).Append("</td><td>").Append(N(b.P99)).Append("</td></tr>");
        html.Append("</tbody></table>");

        var r = o.Recovery;
        html.Append("<h3>Recovery</h3><p class=\"hint\">p99 of the clinicians' screens (").Append(E(string.Join(", ", OverloadReport.InteractiveActions)))
            .Append(") per ").Append(N(r.WindowSeconds)).Append(" s window after the overload, by completion time; normal = at most ").Append(N(r.ThresholdMs)).Append(" ms.</p>");
        html.Append("<div class=\"charts\">").Append(Svg.LineChart("Recovery: rolling p99 of the clinicians' screens", "ms",
            [new("p99", "#0b2a4a", r.Windows.Where(w => w.P99 is not null).Select(w => (w.StartSeconds + r.WindowSeconds / 2 - o.Phases[1].EndSeconds, w.P99!.Value)).ToList())],
            r.Windows.Count * r.WindowSeconds, r.ThresholdMs, xLabel: "seconds after the overload", budgetLabel: "normal", alwaysDrawBudget: true)).Append("</div>");
    }

    private static void Item(StringBuilder html, string term, string value) => html.Append("<dt>").Append(E(term)).Append("</dt><dd>").Append(E(value)).Append("</dd>");

    private static string N(double? v) => v is { } x ? x.ToString(x >= 100 ? "0" : "0.0#", Inv) : "";

    private static string E(string s) => WebUtility.HtmlEncode(s);
}

public sealed record Series(string Name, string Color, IReadOnlyList<(double X, double Y)> Points, bool Dashed = false);

/// <summary>A small SVG line chart: linear axes from zero, 1-2-5 ticks, a legend, an optional budget line.</summary>
public static class Svg
{
    private const int Width = 560, Height = 260, Left = 56, Right = 16, Top = 34, Bottom = 40;
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string LineChart(string title, string unit, IReadOnlyList<Series> series, double xMax, double? budget,
        IReadOnlyList<Phase>? phases = null, string xLabel = "seconds into the run", string budgetLabel = "budget p99", bool alwaysDrawBudget = false)
    {
        var dataMax = series.SelectMany(s => s.Points).Select(p => p.Y).DefaultIfEmpty(0).Max();
        // A budget far above the data would squash it flat: then it is named, not drawn (unless the line is the point).
        var drawBudget = budget is { } b && (alwaysDrawBudget || b <= Math.Max(dataMax, 0.001) * 4);
        var yMax = Nice(Math.Max(dataMax * 1.1, drawBudget ? budget!.Value * 1.1 : 0));
        if (yMax <= 0) yMax = 1;
        xMax = Math.Max(xMax, series.SelectMany(s => s.Points).Select(p => p.X).DefaultIfEmpty(1).Max());
        double X(double x) => Left + x / xMax * (Width - Left - Right);
        double Y(double y) => Height - Bottom - y / yMax * (Height - Top - Bottom);

        var svg = new StringBuilder();
        svg.Append(Inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" role=\"img\" aria-label=\"{E(title)}\">");
        svg.Append(Inv, $"<text x=\"{Left}\" y=\"18\" font-size=\"13\" font-weight=\"600\">{E(title)}</text>");
        var yStep = Nice(yMax / 5);
        for (var y = 0.0; y <= yMax + 1e-9; y += yStep)
        {
            svg.Append(Inv, $"<line x1=\"{Left}\" x2=\"{Width - Right}\" y1=\"{Y(y):0.#}\" y2=\"{Y(y):0.#}\" stroke=\"#eee\"/>");
            svg.Append(Inv, $"<text x=\"{Left - 6}\" y=\"{Y(y) + 4:0.#}\" font-size=\"11\" text-anchor=\"end\">{Label(y)}</text>");
        }
        var xStep = Nice(xMax / 6);
        for (var x = 0.0; x <= xMax + 1e-9; x += xStep)
            svg.Append(Inv, $"<text x=\"{X(x):0.#}\" y=\"{Height - Bottom + 16}\" font-size=\"11\" text-anchor=\"middle\">{Label(x)}</text>");
        svg.Append(Inv, $"<text x=\"{(Left + Width - Right) / 2}\" y=\"{Height - 6}\" font-size=\"11\" text-anchor=\"middle\">{E(xLabel)}</text>");
        // The overload run's phases: the overload shaded, each boundary a dotted line.
        foreach (var phase in phases ?? [])
        {
            if (phase.Name == "overload")
                svg.Append(Inv, $"<rect x=\"{X(phase.StartSeconds):0.#}\" y=\"{Top}\" width=\"{X(Math.Min(phase.EndSeconds, xMax)) - X(phase.StartSeconds):0.#}\" height=\"{Height - Top - Bottom}\" fill=\"#f5a623\" fill-opacity=\"0.12\"/>")
                   .Append(Inv, $"<text x=\"{X(phase.StartSeconds) + 4:0.#}\" y=\"{Top + 12}\" font-size=\"10\" fill=\"#9a5b00\">overload</text>");
            if (phase.StartSeconds > 0 && phase.StartSeconds < xMax)
                svg.Append(Inv, $"<line x1=\"{X(phase.StartSeconds):0.#}\" x2=\"{X(phase.StartSeconds):0.#}\" y1=\"{Top}\" y2=\"{Height - Bottom}\" stroke=\"#9a5b00\" stroke-dasharray=\"2 3\"/>");
        }
        svg.Append(Inv, $"<text x=\"14\" y=\"{(Top + Height - Bottom) / 2}\" font-size=\"11\" text-anchor=\"middle\" transform=\"rotate(-90 14 {(Top + Height - Bottom) / 2})\">{E(unit)}</text>");
        svg.Append(Inv, $"<polyline fill=\"none\" stroke=\"#888\" points=\"{Left},{Top} {Left},{Height - Bottom} {Width - Right},{Height - Bottom}\"/>");
        if (budget is { } limit)
        {
            if (drawBudget)
                svg.Append(Inv, $"<line x1=\"{Left}\" x2=\"{Width - Right}\" y1=\"{Y(limit):0.#}\" y2=\"{Y(limit):0.#}\" stroke=\"#c00\" stroke-dasharray=\"6 4\"/>")
                   .Append(Inv, $"<text x=\"{Width - Right - 4}\" y=\"{Y(limit) - 4:0.#}\" font-size=\"11\" fill=\"#c00\" text-anchor=\"end\">{E(budgetLabel)} {Label(limit)} ms</text>");
            else
                svg.Append(Inv, $"<text x=\"{Width - Right - 4}\" y=\"{Top + 10}\" font-size=\"11\" fill=\"#c00\" text-anchor=\"end\">{E(budgetLabel)} {Label(limit)} ms (above the scale)</text>");
        }
        var legendX = (double)Left + 8;
        foreach (var s in series)
        {
            if (s.Points.Count == 1)
                svg.Append(Inv, $"<circle cx=\"{X(s.Points[0].X):0.#}\" cy=\"{Y(s.Points[0].Y):0.#}\" r=\"3\" fill=\"{s.Color}\"/>");
            else if (s.Points.Count > 1)
                svg.Append(Inv, $"<polyline fill=\"none\" stroke=\"{s.Color}\" stroke-width=\"1.6\"{(s.Dashed ? " stroke-dasharray=\"4 3\"" : "")} points=\"")
                   .AppendJoin(' ', s.Points.Select(p => string.Create(Inv, $"{X(p.X):0.#},{Y(p.Y):0.#}"))).Append("\"/>");
            svg.Append(Inv, $"<line x1=\"{legendX:0.#}\" x2=\"{legendX + 16:0.#}\" y1=\"{Top - 6}\" y2=\"{Top - 6}\" stroke=\"{s.Color}\" stroke-width=\"2\"/>")
               .Append(Inv, $"<text x=\"{legendX + 20:0.#}\" y=\"{Top - 2}\" font-size=\"11\">{E(s.Name)}</text>");
            legendX += 30 + s.Name.Length * 6.5;
        }
        return svg.Append("</svg>").ToString();
    }

    /// <summary>The smallest 1, 2 or 5 × 10^k at or above <paramref name="value"/>.</summary>
    public static double Nice(double value)
    {
        if (value <= 0) return 0;
        var power = Math.Pow(10, Math.Floor(Math.Log10(value)));
        foreach (var m in new[] { 1.0, 2, 5, 10 })
            if (m * power >= value - 1e-12) return m * power;
        return 10 * power;
    }

    private static string Label(double v) => v.ToString(v >= 10 || v == Math.Floor(v) ? "0" : "0.##", Inv);

    private static string E(string s) => WebUtility.HtmlEncode(s);
}
