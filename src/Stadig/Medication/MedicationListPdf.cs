using Stadig.Audit;
using Stadig.Chart;
using Stadig.Common;
using Stadig.Patients;
using UglyToad.PdfPig.Core;
using UglyToad.PdfPig.Writer;

namespace Stadig.Medication;

/// <summary>
/// The patient's läkemedelslista as an A4 PDF (issue #18 item 2), the same list as the print view: the
/// current ordinations, what other systems sent that still holds, and the ended ones; the patient's name
/// and personnummer on every page. A cell's text wraps rather than being cut off: a dosage shortened with an
/// ellipsis would be a different dosage.
/// </summary>
public sealed class MedicationListPdf(DejaVuFontResolver fonts, RegionTime? regionTime = null)
{
    // The list is in Swedish throughout, as the printed list and the dosage texts are (a document handed to the patient).
    private const string NameMissing = "Namn saknas";
    private const double Margin = 42;
    private const double TextSize = 9;
    private const double LineHeight = 11.5;
    private const double RowGap = 5;
    private const double FooterHeight = 30;
    private static readonly PdfRectangle A4 = new(0, 0, 595.28, 841.89);

    private sealed record Column(string Title, double Share);

    private static readonly Column[] CurrentColumns =
        [new("Läkemedel", 0.28), new("Dosering", 0.25), new("Indikation", 0.16), new("Insatt", 0.11), new("Ordinerat av", 0.20)];
    private static readonly Column[] ExternalColumns =
        [new("Läkemedel", 0.28), new("Dosering", 0.25), new("Status", 0.16), new("Från", 0.11), new("System, förskrivare", 0.20)];
    private static readonly Column[] EndedColumns =
        [new("Läkemedel", 0.28), new("Dosering", 0.25), new("Indikation", 0.16), new("Insatt–utsatt", 0.11), new("Ordinerat av", 0.20)];

    public byte[] Render(MedicationView view, string printedBy, DateTimeOffset printedAt)
    {
        var time = regionTime ?? RegionTime.Sweden;
        using var builder = new PdfDocumentBuilder();
        var regular = builder.AddTrueTypeFont(fonts.Font(bold: false));
        var bold = builder.AddTrueTypeFont(fonts.Font(bold: true));
        var width = A4.Width - 2 * Margin;
        var patient = view.Patient;
        var name = patient.SortName ?? NameMissing;
        var pages = new List<PdfPageBuilder>();
        PdfPageBuilder page = null!;
        double y = 0;

        void NewPage()
        {
            page = builder.AddPage(A4.Width, A4.Height);
            pages.Add(page);
            y = A4.Height - Margin - 16;
            page.AddText("Läkemedelslista", 16, new PdfPoint(Margin, y), bold);
            y -= 18;
            page.AddText($"{name}   {patient.IdentifierDisplay}", 11, new PdfPoint(Margin, y), bold);
            if (patient.ProtectedIdentity != ProtectedIdentity.None)
            {
                y -= 14;
                page.AddText(patient.ProtectedIdentity == ProtectedIdentity.SkyddadFolkbokforing ? "Skyddad folkbokföring" : "Sekretessmarkering",
                    TextSize, new PdfPoint(Margin, y), bold);
            }
            y -= 14;
            page.AddText($"Utskriven {time.Format(printedAt)} av {printedBy}", TextSize, new PdfPoint(Margin, y), regular);
            y -= 10;
        }

        void Section(string title, Column[] columns, IReadOnlyList<string[]> rows, string empty)
        {
            // A heading is never the last line of a page.
            if (y - 20 - 2 * LineHeight < Margin + FooterHeight) NewPage();
            y -= 20;
            page.AddText(title, 12, new PdfPoint(Margin, y), bold);
            Header(columns);
            if (rows.Count == 0)
            {
                y -= LineHeight + 2;
                page.AddText(empty, TextSize, new PdfPoint(Margin, y), regular);
                return;
            }
            foreach (var cells in rows)
            {
                var lines = cells.Select((text, c) => Wrap(page, text, columns[c].Share * width - 6, regular)).ToList();
                var height = lines.Max(l => l.Count) * LineHeight + RowGap;
                if (y - height < Margin + FooterHeight)
                {
                    NewPage();
                    y -= 8;
                    page.AddText(title + " (forts.)", 12, new PdfPoint(Margin, y), bold);
                    Header(columns);
                }
                var x = Margin;
                for (var c = 0; c < cells.Length; c++)
                {
                    var lineY = y - LineHeight;
                    foreach (var line in lines[c])
                    {
                        page.AddText(line, TextSize, new PdfPoint(x, lineY), c == 0 ? bold : regular);
                        lineY -= LineHeight;
                    }
                    x += columns[c].Share * width;
                }
                y -= height;
                page.DrawLine(new PdfPoint(Margin, y + 2), new PdfPoint(A4.Width - Margin, y + 2), 0.2);
            }
        }

        void Header(Column[] columns)
        {
            y -= 16;
            var x = Margin;
            foreach (var column in columns)
            {
                page.AddText(column.Title, TextSize, new PdfPoint(x, y), bold);
                x += column.Share * width;
            }
            page.DrawLine(new PdfPoint(Margin, y - 4), new PdfPoint(A4.Width - Margin, y - 4), 0.7);
            y -= 4;
        }

        NewPage();
        Section("Aktuella läkemedel", CurrentColumns, view.Current.Select(o => Row(o, time, ended: false)).ToList(), "Inga aktuella läkemedel.");
        if (view.ExternalCurrent.Count > 0)
            Section("Läkemedel från andra system", ExternalColumns, view.ExternalCurrent.Select(e => External(e, time)).ToList(), "");
        Section("Utsatta läkemedel", EndedColumns, view.Ended.Select(o => Row(o, time, ended: true)).ToList(), "Inga utsatta läkemedel.");

        for (var i = 0; i < pages.Count; i++)
        {
            var p = pages[i];
            p.DrawLine(new PdfPoint(Margin, Margin + 14), new PdfPoint(A4.Width - Margin, Margin + 14), 0.5);
            p.AddText($"Läkemedelslista för {name}, {patient.IdentifierDisplay}", 8, new PdfPoint(Margin, Margin), regular);
            var pageText = $"Sida {i + 1} av {pages.Count}";
            p.AddText(pageText, 8, new PdfPoint(A4.Width - Margin - Width(p, pageText, 8, regular), Margin), regular);
        }
        return builder.Build();
    }

    private static string[] Row(MedicationOrder order, RegionTime time, bool ended)
    {
        var v = order.Current;
        var dosage = v.DosageText + (v.Route is null ? "" : ", " + v.Route) + (v.Instructions is null ? "" : ". " + v.Instructions)
            + (order.Status == nameof(MedicationStatus.Paused) ? " (pausad)" : "");
        var period = ended
            ? $"{time.FormatDate(v.StartsAt)}–{(v.EndsAt is { } end ? time.FormatDate(end) : "")}"
            : time.FormatDate(v.StartsAt) + (v.EndsAt is { } until ? $" till {time.FormatDate(until)}" : "");
        var origin = order.Origin switch
        {
            nameof(MedicationOrigin.OtherSystem) => "annat system",
            nameof(MedicationOrigin.PatientOwn) => "patientens egna",
            _ => order.UnitName,
        };
        return [v.ProductText, dosage, v.Indication ?? "", period, $"{v.PrescriberName ?? ""} ({origin})".Trim()];
    }

    private static string[] External(RecordEntry e, RegionTime time) =>
        [e.Title, e.Detail ?? "", e.Status ?? "", time.FormatDate(e.At), string.Join(", ", new[] { e.Source, e.Author }.Where(s => !string.IsNullOrEmpty(s)))];

    private static double Width(PdfPageBuilder page, string text, double size, PdfDocumentBuilder.AddedFont font)
    {
        if (text.Length == 0) return 0;
        var letters = page.MeasureText(text, size, new PdfPoint(0, 0), font);
        return letters.Count == 0 ? 0 : letters[^1].EndBaseLine.X - letters[0].StartBaseLine.X;
    }

    /// <summary>The text in lines that fit <paramref name="room"/>: by words, a word longer than a line broken where it must be.</summary>
    private static List<string> Wrap(PdfPageBuilder page, string text, double room, PdfDocumentBuilder.AddedFont font)
    {
        var lines = new List<string>();
        foreach (var paragraph in text.Replace("\r", "", StringComparison.Ordinal).Replace('\t', ' ').Split('\n'))
        {
            var line = "";
            foreach (var word in paragraph.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                var candidate = line.Length == 0 ? word : line + " " + word;
                if (Width(page, candidate, TextSize, font) <= room) { line = candidate; continue; }
                if (line.Length > 0) lines.Add(line);
                line = word;
                while (line.Length > 1 && Width(page, line, TextSize, font) > room)
                {
                    var fit = line.Length - 1;
                    while (fit > 1 && Width(page, line[..fit], TextSize, font) > room) fit--;
                    lines.Add(line[..fit]);
                    line = line[fit..];
                }
            }
            lines.Add(line);
        }
        return lines.Count == 0 ? [""] : lines;
    }
}
