using Stadig.Common;
using System.Globalization;
using Stadig.Audit;
using UglyToad.PdfPig.Core;
using UglyToad.PdfPig.Writer;

namespace Stadig.Audit;

/// <summary>
/// Serves the fonts the PDFs embed: DejaVu Sans (regular and bold), which has every Swedish letter.
/// The PDF writer has no system font lookup, so the files are read from the fonts directory
/// (Debian's fonts-dejavu-core puts them in /usr/share/fonts/truetype/dejavu/); the bytes are kept
/// after the first read.
/// </summary>
public sealed class DejaVuFontResolver(string directory = DejaVuFontResolver.DefaultDirectory)
{
    public const string DefaultDirectory = "/usr/share/fonts/truetype/dejavu";

    private readonly Lazy<byte[]> _regular = new(() => Read(directory, "DejaVuSans.ttf"));
    private readonly Lazy<byte[]> _bold = new(() => Read(directory, "DejaVuSans-Bold.ttf"));

    public byte[] Font(bool bold) => bold ? _bold.Value : _regular.Value;

    private static byte[] Read(string directory, string file)
    {
        var path = Path.Combine(directory, file);
        if (!File.Exists(path))
            throw new FileNotFoundException($"The font {file} is missing from {directory}: install the package fonts-dejavu-core.", path);
        return File.ReadAllBytes(path);
    }
}

/// <summary>
/// The patient's log extract as an A4 PDF: heading, the patient's name and personnummer and the
/// period on every page, then a table (Tid, Vårdenhet, Aktivitet and, where the region allows it,
/// Person) that continues over as many pages as it needs.
/// </summary>
public sealed class LogExtractPdf(DejaVuFontResolver fonts, RegionTime? regionTime = null)
{
    private const double Margin = 42;
    // The extract is in Swedish throughout (a document handed to the patient); as the pages' "Namn saknas".
    private const string NameMissing = "Namn saknas";
    private const double RowHeight = 14;
    private const double TextSize = 9;
    private const double HeaderSize = 9.5;
    private const double FooterHeight = 30;
    private static readonly PdfRectangle A4 = new(0, 0, 595.28, 841.89);

    /// <summary>Rows on each page after the heading block.</summary>
    public static int RowsPerPage => (int)((A4.Height - 2 * Margin - HeadingHeight - FooterHeight) / RowHeight);

    private const double HeadingHeight = 96;

    public byte[] Render(LogExtract extract)
    {
        using var builder = new PdfDocumentBuilder();
        var regular = builder.AddTrueTypeFont(fonts.Font(bold: false));
        var bold = builder.AddTrueTypeFont(fonts.Font(bold: true));
        var width = A4.Width - 2 * Margin;
        // Column widths as shares of the text width; the person column only when names are included.
        var columns = extract.IncludesStaffNames
            ? new[] { ("Tid", 0.20), ("Vårdenhet", 0.42), ("Aktivitet", 0.14), ("Person", 0.24) }
            : new[] { ("Tid", 0.22), ("Vårdenhet", 0.58), ("Aktivitet", 0.20) };
        var perPage = RowsPerPage;
        var pages = Math.Max(1, (extract.Rows.Count + perPage - 1) / perPage);

        for (var pageNumber = 1; pageNumber <= pages; pageNumber++)
        {
            var page = builder.AddPage(A4.Width, A4.Height);
            var y = A4.Height - Margin;

            y -= 16;
            page.AddText("Loggutdrag", 16, new PdfPoint(Margin, y), bold);
            y -= 18;
            page.AddText($"{extract.PatientName ?? NameMissing}   {extract.PatientIdentifier}", 11, new PdfPoint(Margin, y), bold);
            y -= 15;
            page.AddText($"Period: {Day(extract.From)} – {Day(extract.To)}   Framtaget: {Time(extract.ProducedAt)}", TextSize, new PdfPoint(Margin, y), regular);
            y -= 13;
            page.AddText("Åtkomster till patientens uppgifter: tid, vårdenhet och aktivitet (HSLF-FS 2016:40 4 kap. 10 §).",
                TextSize, new PdfPoint(Margin, y), regular);

            y -= 24;
            var x = Margin;
            foreach (var (title, share) in columns)
            {
                page.AddText(title, HeaderSize, new PdfPoint(x, y), bold);
                x += share * width;
            }
            page.DrawLine(new PdfPoint(Margin, y - 4), new PdfPoint(A4.Width - Margin, y - 4), 0.7);

            var rows = extract.Rows.Skip((pageNumber - 1) * perPage).Take(perPage).ToList();
            if (rows.Count == 0)
                page.AddText("Inga åtkomster under perioden.", TextSize, new PdfPoint(Margin, y - RowHeight - 2), regular);
            foreach (var row in rows)
            {
                y -= RowHeight;
                string[] cells = extract.IncludesStaffNames
                    ? [Time(row.OccurredAt), $"{row.UnitName} ({row.UnitHsaId})", row.ActivitySwedish, row.StaffName ?? ""]
                    : [Time(row.OccurredAt), $"{row.UnitName} ({row.UnitHsaId})", row.ActivitySwedish];
                x = Margin;
                for (var c = 0; c < cells.Length; c++)
                {
                    var room = columns[c].Item2 * width - 6;
                    page.AddText(Fit(page, cells[c], room, regular), TextSize, new PdfPoint(x, y - 2), regular);
                    x += columns[c].Item2 * width;
                }
            }

            page.DrawLine(new PdfPoint(Margin, Margin + 14), new PdfPoint(A4.Width - Margin, Margin + 14), 0.5);
            page.AddText($"Loggutdrag för {extract.PatientName ?? NameMissing}, {extract.PatientIdentifier}", 8, new PdfPoint(Margin, Margin), regular);
            var pageText = $"Sida {pageNumber} av {pages}";
            page.AddText(pageText, 8, new PdfPoint(A4.Width - Margin - Width(page, pageText, 8, regular), Margin), regular);
        }
        return builder.Build();

        string Day(DateTimeOffset? instant) => instant is { } i ? (regionTime ?? RegionTime.Sweden).FormatDate(i) : "–";
        string Time(DateTimeOffset instant) => (regionTime ?? RegionTime.Sweden).Format(instant);
    }

    private static double Width(PdfPageBuilder page, string text, double size, PdfDocumentBuilder.AddedFont font)
    {
        if (text.Length == 0) return 0;
        var letters = page.MeasureText(text, size, new PdfPoint(0, 0), font);
        return letters.Count == 0 ? 0 : letters[^1].EndBaseLine.X - letters[0].StartBaseLine.X;
    }

    /// <summary>The text, shortened with an ellipsis if it would run into the next column.</summary>
    private static string Fit(PdfPageBuilder page, string text, double room, PdfDocumentBuilder.AddedFont font)
    {
        if (Width(page, text, TextSize, font) <= room) return text;
        var length = text.Length;
        while (length > 1 && Width(page, text[..length] + "…", TextSize, font) > room) length--;
        return text[..length] + "…";
    }
}
