using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Stadig.Readiness;

/// <summary>The gate's report as JSON (for tools and the CI log) and as one self-contained HTML page with inline SVG plots.</summary>
public static class ReadinessReportWriter
{
    public const string JsonFileName = "readiness.json";
    public const string HtmlFileName = "readiness.html";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
    };

    public static string ToJson(ReadinessReport report) => JsonSerializer.Serialize(new
    {
        report.Version, report.Commit, report.GeneratedAt, GoLive = report.GoLive.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        Form = report.ShortForm ? "short" : "full", report.Answer, report.Go,
        Criteria = report.Criteria.Select(c => new
        {
            c.Name, c.Verdict, c.Source, c.Measured, c.Threshold, c.EvidenceAt, AgeDays = c.AgeDays(report.GeneratedAt), c.Reason, c.Plot,
        }),
    }, Json);

    public static (string Json, string Html) Write(ReadinessReport report, string folder)
    {
        Directory.CreateDirectory(folder);
        var json = Path.Combine(folder, JsonFileName);
        var html = Path.Combine(folder, HtmlFileName);
        File.WriteAllText(json, ToJson(report));
        File.WriteAllText(html, ToHtml(report));
        return (json, html);
    }

    public static string VerdictText(Verdict v) => v switch { Verdict.Go => "GO", Verdict.NoGo => "NO-GO", _ => "not checked" };

    public static string ToHtml(ReadinessReport report)
    {
        static string E(string? v) => WebUtility.HtmlEncode(v ?? "");
        var s = new StringBuilder();
        s.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Stadig readiness — ").Append(E(report.Answer))
            .Append("</title><style>body{font-family:sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse}td,th{border:1px solid #999;padding:.3em;vertical-align:top;text-align:left}")
            .Append(".go{color:#060;font-weight:bold}.nogo{color:#a00;font-weight:bold}.nc{color:#666}</style></head><body>")
            .Append("<h1>Stadig readiness: <span class=\"").Append(report.Go ? "go" : "nogo").Append("\">").Append(E(report.Answer)).Append("</span></h1>")
            .Append("<p>Release ").Append(E(report.Version)).Append(" (").Append(E(report.Commit)).Append("), go-live ").Append(report.GoLive.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture))
            .Append(", generated ").Append(report.GeneratedAt.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)).Append("Z, ").Append(report.ShortForm ? "short form (CI)" : "full form").Append(".</p>")
            .Append("<table><tr><th>Criterion</th><th>Answer</th><th>Measured</th><th>Threshold</th><th>Age (days)</th><th>Source</th><th>Why</th></tr>");
        foreach (var c in report.Criteria)
            s.Append("<tr><td>").Append(E(c.Name)).Append("</td><td class=\"").Append(c.Verdict switch { Verdict.Go => "go", Verdict.NoGo => "nogo", _ => "nc" }).Append("\">")
                .Append(VerdictText(c.Verdict)).Append("</td><td>").Append(E(c.Measured)).Append("</td><td>").Append(E(c.Threshold)).Append("</td><td>")
                .Append(c.AgeDays(report.GeneratedAt)?.ToString("0.#", CultureInfo.InvariantCulture) ?? "—").Append("</td><td>").Append(E(c.Source)).Append("</td><td>").Append(E(c.Reason)).Append("</td></tr>");
        s.Append("</table>");
        foreach (var c in report.Criteria.Where(c => c.Plot is { Count: > 0 }))
            s.Append("<h2>").Append(E(c.Name)).Append("</h2>").Append(Bars(c.Plot!));
        return s.Append("</body></html>").ToString();
    }

    /// <summary>Horizontal bars: each value as a share of its limit (the dashed line); on the wrong side of it in red.</summary>
    private static string Bars(IReadOnlyList<PlotBar> bars)
    {
        const int row = 22, label = 260, width = 400;
        var max = Math.Max(1.5, bars.Max(b => b.Limit > 0 ? b.Value / b.Limit : 1));
        var s = new StringBuilder();
        s.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{label + width + 120}\" height=\"{bars.Count * row + 10}\" role=\"img\" aria-label=\"measured against limit\">");
        for (var i = 0; i < bars.Count; i++)
        {
            var b = bars[i];
            var share = b.Limit > 0 ? b.Value / b.Limit : 0;
            var y = i * row + 4;
            var ok = b.AtLeast ? b.Value >= b.Limit : b.Value <= b.Limit;
            s.Append(CultureInfo.InvariantCulture, $"<text x=\"0\" y=\"{y + 14}\" font-size=\"12\">{WebUtility.HtmlEncode(b.Label)}</text>")
                .Append(CultureInfo.InvariantCulture, $"<rect x=\"{label}\" y=\"{y}\" width=\"{share / max * width:0.#}\" height=\"{row - 6}\" fill=\"{(ok ? "#2a7" : "#c33")}\"/>")
                .Append(CultureInfo.InvariantCulture, $"<text x=\"{label + width + 6}\" y=\"{y + 14}\" font-size=\"12\">{b.Value:0.#} / {b.Limit:0.#}</text>");
        }
        var limitX = label + 1 / max * width;
        s.Append(CultureInfo.InvariantCulture, $"<line x1=\"{limitX:0.#}\" y1=\"0\" x2=\"{limitX:0.#}\" y2=\"{bars.Count * row + 6}\" stroke=\"#000\" stroke-dasharray=\"4 3\"/></svg>");
        return s.ToString();
    }
}
