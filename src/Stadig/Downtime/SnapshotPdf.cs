using System.Security.Cryptography;
using PdfSharp;
using PdfSharp.Drawing;
using PdfSharp.Fonts;
using PdfSharp.Pdf;
using Stadig.Audit;
using Stadig.Patients;

namespace Stadig.Downtime;

/// <summary>
/// The snapshot for printing: the same record as the HTML file (<see cref="SnapshotPage"/>, whose words
/// and values it reuses) as an A4 PDF encrypted with AES-256 (PDF 2.0's standard security handler,
/// revision 6) under the unit's downtime key as its open password, so the ward's staff type the same key
/// as for the HTML file. The ward list, then each current patient from a new page; on every page the
/// unit, the snapshot's time, a line saying the printout is out of date after that time, and
/// "page n of m". Text wraps and flows onto further pages: nothing is cut off.
/// </summary>
public sealed class SnapshotPdf(SnapshotPage page, DejaVuFontResolver fonts)
{
    private const double PageWidth = 595.28;
    private const double PageHeight = 841.89;
    private const double Left = 40;
    private const double Right = PageWidth - 40;
    private const double Width = Right - Left;
    private const double HeaderTop = 30;
    private const double BodyTop = 64;
    private const double ContinuedBodyTop = 80;
    private const double BodyBottom = PageHeight - 46;
    private const double TextSize = 10;
    private const double Line = 13;
    private const double CellPad = 4;

    private static readonly XColor Ink = XColor.FromArgb(17, 17, 17);
    private static readonly XColor Muted = XColor.FromArgb(85, 85, 85);
    private static readonly XColor Alert = XColor.FromArgb(160, 0, 0);
    private static readonly XColor Stamp = XColor.FromArgb(122, 46, 0);
    private static readonly XColor Frame = XColor.FromArgb(26, 79, 139);
    private static readonly XColor Rule = XColor.FromArgb(150, 150, 150);
    private static readonly XColor HeadFill = XColor.FromArgb(232, 238, 246);

    /// <summary>The PDF, encrypted under <paramref name="passphrase"/> (the unit's key as <see cref="SnapshotKeys.Read"/> gives it).</summary>
    public byte[] Render(UnitSnapshot snapshot, string passphrase)
    {
        PdfFonts.Use(fonts);
        using var document = new PdfDocument();
        document.Info.Title = page.T("SnapshotTitle", snapshot.Unit.Name) + " – " + page.Time.Format(snapshot.TakenAt);
        document.Info.Creator = "Stadig";
        var layout = new Layout(document);
        WardList(layout, snapshot);
        var today = page.Time.Day(snapshot.TakenAt);
        foreach (var p in snapshot.Patients) PatientPages(layout, p, snapshot.TakenAt, today);
        layout.Finish((gfx, number, count, label) => Furniture(gfx, snapshot, number, count, label));
        Protect(document, passphrase);
        using var output = new MemoryStream();
        document.Save(output, closeStream: false);
        return output.ToArray();
    }

    /// <summary>
    /// AES-256 with the key as the user (open) password; the owner password is random and thrown away, so
    /// nobody can lift the restrictions: print at full quality, but no changes, no page assembly, no
    /// annotations or forms.
    /// </summary>
    private static void Protect(PdfDocument document, string passphrase)
    {
        var security = document.SecuritySettings;
        security.UserPassword = passphrase;
        security.OwnerPassword = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        security.PermitPrint = true;
        security.PermitFullQualityPrint = true;
        security.PermitModifyDocument = false;
        security.PermitAssembleDocument = false;
        security.PermitAnnotations = false;
        security.PermitFormsFill = false;
        // Whoever has the key may read the text anyway; copying stays allowed so that a screen reader can read it.
        security.PermitExtractContent = true;
        document.SecurityHandler.SetEncryptionToV5();
    }

    /// <summary>What every page carries: the unit and the time at the top, the patient on a continued page, staleness and page number at the foot.</summary>
    private void Furniture(XGraphics gfx, UnitSnapshot snapshot, int number, int count, string? label)
    {
        var title = page.T("SnapshotTitle", snapshot.Unit.Name);
        var stamp = page.T("TakenAt", page.Time.Format(snapshot.TakenAt));
        gfx.DrawString(title, Fonts.Head, new XSolidBrush(Ink), Left, HeaderTop + 12, XStringFormats.BaseLineLeft);
        gfx.DrawString(stamp, Fonts.Head, new XSolidBrush(Stamp), Right, HeaderTop + 12, XStringFormats.BaseLineRight);
        gfx.DrawLine(new XPen(Rule, 0.8), Left, HeaderTop + 18, Right, HeaderTop + 18);
        if (label is not null)
            gfx.DrawString(page.T("PdfContinued", label), Fonts.Bold, new XSolidBrush(Ink), Left, HeaderTop + 36, XStringFormats.BaseLineLeft);
        var foot = PageHeight - 30;
        gfx.DrawLine(new XPen(Rule, 0.6), Left, foot - 12, Right, foot - 12);
        var pageText = page.T("PdfPage", number, count);
        var pageWidth = gfx.MeasureString(pageText, Fonts.Small).Width;
        // The staleness line may not run into the page number: it wraps (onto a second foot line) rather than being cut.
        var stale = Wrap(gfx, [new Run(page.T("PdfStale", page.Time.Format(snapshot.TakenAt)), Fonts.SmallBold, Stamp)], Width - pageWidth - 16);
        for (var i = 0; i < stale.Count; i++) DrawLine(gfx, stale[i], Left, foot + i * 10);
        gfx.DrawString(pageText, Fonts.Small, new XSolidBrush(Muted), Right, foot, XStringFormats.BaseLineRight);
    }

    private void WardList(Layout layout, UnitSnapshot snapshot)
    {
        layout.NewPage(null);
        layout.Continued = page.T("WardList");
        layout.Heading(page.T("WardList"), 14);
        if (snapshot.Patients.Count == 0)
        {
            layout.Paragraph([new Run(page.T("NoPatients"), Fonts.Regular, Ink)]);
            return;
        }
        var today = page.Time.Day(snapshot.TakenAt);
        var columns = new[]
        {
            new Column(page.T("Bed"), 0.08), new Column(page.T("Patient"), 0.22), new Column(page.T("Identifier"), 0.19),
            new Column(page.T("Age"), 0.08), new Column(page.T("AdmittedAt"), 0.20), new Column(page.T("WarningsShort"), 0.23),
        };
        var rows = snapshot.Patients.Select(p =>
        {
            var patient = p.Ward.Patient;
            Run[] name = patient.ProtectedIdentity != ProtectedIdentity.None
                ? [new Run(page.Name(patient), Fonts.Regular, Ink), new Run("!", Fonts.Bold, Alert)]
                : [new Run(page.Name(patient), Fonts.Regular, Ink)];
            return new[]
            {
                Plain(p.Ward.Bed ?? ""), new Cell([new Paragraph(name)]), Plain(patient.IdentifierDisplay), Plain(page.Age(patient, today)),
                Plain(page.Time.Format(p.Ward.AdmittedAt)), Plain(string.Join(", ", p.Warnings.Select(w => w.Agent ?? w.Text)), Alert),
            };
        }).ToList();
        layout.Table(columns, rows);
        if (snapshot.Patients.Any(p => p.Ward.Patient.ProtectedIdentity != ProtectedIdentity.None))
            layout.Paragraph([new Run(page.T("ProtectedMark"), Fonts.Bold, Alert)], before: 4);
    }

    private void PatientPages(Layout layout, SnapshotPatient p, DateTimeOffset takenAt, DateOnly today)
    {
        var patient = p.Ward.Patient;
        layout.NewPage(null);
        layout.Continued = $"{page.Name(patient)}, {patient.IdentifierDisplay}";

        // The banner: a framed box with the name, the identity line and the protected-identity warning.
        var banner = new List<Paragraph>
        {
            new([new Run(page.Name(patient), Fonts.Name, Ink)]),
            new([new Run(string.Join(" · ", patient.IdentifierDisplay, page.Age(patient, today), page.T("Sex_" + patient.Sex), page.T("Bed") + " " + (p.Ward.Bed ?? ""))
                .Replace(" ·  · ", " · ", StringComparison.Ordinal), Fonts.Regular, Ink)]),
        };
        if (patient.ProtectedIdentity != ProtectedIdentity.None) banner.Add(new([new Run(page.T("ProtectedIdentity"), Fonts.Bold, Alert)]));
        layout.Box(banner, Frame);
        if (p.BlockedRecordsWithheld) layout.Paragraph([new Run(page.T("BlockedWithheld"), Fonts.Regular, Muted)], before: 2);

        layout.Heading(page.T("Warnings"));
        if (p.Warnings.Count == 0) layout.Paragraph([new Run(page.T("NoWarnings"), Fonts.Regular, Ink)]);
        foreach (var w in SnapshotPage.WarningsInOrder(p))
        {
            var (category, text, origin) = page.Warning(w);
            layout.Paragraph([new Run("• " + category + ":", Fonts.Bold, Alert), new Run(text, Fonts.Regular, Alert), new Run($"({origin})", Fonts.Small, Muted)], indent: 9);
        }

        layout.Heading(page.T("Problems"));
        if (p.Problems.Count == 0) layout.Paragraph([new Run(page.T("NoProblems"), Fonts.Regular, Ink)]);
        foreach (var problem in p.Problems)
        {
            var (text, origin) = SnapshotPage.Problem(problem);
            layout.Paragraph([new Run("• " + text, Fonts.Regular, Ink), new Run($"({origin})", Fonts.Small, Muted)], indent: 9);
        }

        layout.Heading(page.T("Medications"));
        if (p.Medications.Count == 0) layout.Paragraph([new Run(page.T("NoMedications"), Fonts.Regular, Ink)]);
        else
        {
            var columns = new[] { new Column(page.T("Product"), 0.27), new Column(page.T("Dosage"), 0.29), new Column(page.T("Route"), 0.24), new Column(page.T("DueNext"), 0.20) };
            layout.Table(columns, p.Medications.Select(order =>
            {
                var v = order.Current;
                var dosage = new List<Paragraph> { new([new Run(v.DosageText, Fonts.Regular, Ink)]) };
                if (!string.IsNullOrWhiteSpace(v.Instructions)) dosage.Add(new([new Run(v.Instructions, Fonts.Small, Muted)]));
                return new[] { Plain(v.ProductText), new Cell(dosage), Plain(v.Route ?? ""), Plain(page.Due(v, takenAt)) };
            }).ToList());
        }

        layout.Heading(page.T("Results"));
        if (p.Results.Count == 0) layout.Paragraph([new Run(page.T("NoResults"), Fonts.Regular, Ink)]);
        else
        {
            var columns = new[] { new Column(page.T("Taken"), 0.22), new Column(page.T("Analysis"), 0.34), new Column(page.T("Value"), 0.24), new Column(page.T("Reference"), 0.20) };
            layout.Table(columns, p.Results.Select(r =>
            {
                var (value, flag, reference) = page.Result(r);
                Run[] shown = flag is null ? [new Run(value, Fonts.Regular, Ink)] : [new Run(value, Fonts.Regular, Ink), new Run(flag, Fonts.Bold, Alert)];
                return new[] { Plain(page.Time.Format(r.ObservedAt)), Plain(r.AnalysisName), new Cell([new Paragraph(shown)]), Plain(reference) };
            }).ToList());
        }

        layout.Heading(page.T("Notes"));
        if (p.Notes.Count == 0) layout.Paragraph([new Run(page.T("NoNotes"), Fonts.Regular, Ink)]);
        foreach (var note in p.Notes)
        {
            layout.KeepTogether(3 * Line + 6);
            layout.Paragraph([new Run(note.NoteType, Fonts.Bold, Ink)], before: 5);
            layout.Paragraph([new Run(page.NoteSigned(note), Fonts.Small, Muted)]);
            foreach (var k in note.Keywords.Where(k => k.Text.Length > 0))
                layout.Paragraph([new Run(k.Keyword + ":", Fonts.Bold, Ink), new Run(k.Text, Fonts.Regular, Ink)], before: 2);
        }
        layout.Continued = null;
    }

    private static Cell Plain(string text) => Plain(text, Ink);

    private static Cell Plain(string text, XColor color) => new([new Paragraph([new Run(text, Fonts.Regular, color)])]);

    // ---- layout: runs of text wrapped into lines, lines flowed onto pages

    private sealed record Run(string Text, XFont Font, XColor Color);

    private sealed record Paragraph(IReadOnlyList<Run> Runs);

    private sealed record Cell(IReadOnlyList<Paragraph> Paragraphs);

    private sealed record Column(string Title, double Share);

    private sealed record Piece(string Text, XFont Font, XColor Color, double X);

    private sealed record TextLine(IReadOnlyList<Piece> Pieces, double Height);

    /// <summary>
    /// Wraps runs into lines no wider than <paramref name="width"/>: at spaces, and inside a word only
    /// when the word alone is wider than a line; a line break in the text is kept (a note's paragraphs).
    /// Runs are separated by a space. Every character ends up on some line.
    /// </summary>
    private static List<TextLine> Wrap(XGraphics gfx, IReadOnlyList<Run> runs, double width)
    {
        var lines = new List<TextLine>();
        var pieces = new List<Piece>();
        double x = 0, height = 0;
        void Break()
        {
            lines.Add(new TextLine(pieces.ToList(), Math.Max(height, Line)));
            pieces.Clear();
            x = 0;
            height = 0;
        }
        void Put(string word, Run run, bool spaceBefore)
        {
            var space = spaceBefore && pieces.Count > 0 ? gfx.MeasureString(" ", run.Font).Width : 0;
            var w = gfx.MeasureString(word, run.Font).Width;
            if (pieces.Count > 0 && x + space + w > width)
            {
                Break();
                space = 0;
            }
            // A word wider than a whole line (a long code or address) is split where it must be.
            while (w > width && word.Length > 1)
            {
                var n = word.Length - 1;
                while (n > 1 && gfx.MeasureString(word[..n], run.Font).Width > width) n--;
                if (n > 1 && char.IsHighSurrogate(word[n - 1])) n--;
                pieces.Add(new Piece(word[..n], run.Font, run.Color, x));
                height = Math.Max(height, LineHeight(run.Font));
                Break();
                word = word[n..];
                w = gfx.MeasureString(word, run.Font).Width;
            }
            // Words go into the line's text with their spaces (one string per run on a line), so that the text copied or read out of the PDF has them.
            if (space == 0) pieces.Add(new Piece(word, run.Font, run.Color, x));
            else if (pieces[^1].Font == run.Font && pieces[^1].Color == run.Color) pieces[^1] = pieces[^1] with { Text = pieces[^1].Text + " " + word };
            else pieces.Add(new Piece(" " + word, run.Font, run.Color, x));
            height = Math.Max(height, LineHeight(run.Font));
            x += space + w;
        }
        var first = true;
        foreach (var run in runs)
        {
            var text = run.Text.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n').Replace('\t', ' ');
            var paragraphs = text.Split('\n');
            for (var i = 0; i < paragraphs.Length; i++)
            {
                if (i > 0) Break();
                var words = paragraphs[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                for (var j = 0; j < words.Length; j++)
                {
                    Put(words[j], run, spaceBefore: !first);
                    first = false;
                }
            }
        }
        if (pieces.Count > 0 || lines.Count == 0) Break();
        return lines;
    }

    private static double LineHeight(XFont font) => Math.Max(Line, font.Size * 1.3);

    private static void DrawLine(XGraphics gfx, TextLine line, double x, double baseline)
    {
        foreach (var piece in line.Pieces)
            gfx.DrawString(piece.Text, piece.Font, new XSolidBrush(piece.Color), x + piece.X, baseline, XStringFormats.BaseLineLeft);
    }

    /// <summary>The pages as they fill: a cursor <see cref="_y"/> down the body, a new page when the next line would not fit.</summary>
    private sealed class Layout(PdfDocument document)
    {
        private readonly List<(PdfPage Page, string? Label)> _pages = [];
        private XGraphics? _gfx;
        private double _y;
        private double _top;

        /// <summary>The patient whose part a page continues: named at its top, so a loose printed page still says whose it is.</summary>
        public string? Continued { get; set; }

        private XGraphics Gfx => _gfx!;

        public void NewPage(string? label)
        {
            _gfx?.Dispose();
            var pdfPage = document.AddPage();
            pdfPage.Size = PageSize.A4;
            _pages.Add((pdfPage, label));
            _gfx = XGraphics.FromPdfPage(pdfPage);
            _top = label is null ? BodyTop : ContinuedBodyTop;
            _y = _top;
        }

        private (string Text, double Size)? _heading;

        private double HeadingHeight => _heading is { } h ? 18 + h.Size : 0;

        /// <summary>
        /// Makes room for what comes next, on a new page if this one has too little left. Every drawing
        /// goes through here, and a heading waiting to be drawn is drawn with it: a heading never stands
        /// last on a page.
        /// </summary>
        private void Room(double height)
        {
            if (_y + HeadingHeight + height > BodyBottom && _y > _top) NewPage(Continued);
            if (_heading is not { } heading) return;
            _heading = null;
            _y += 10 + heading.Size;
            Gfx.DrawString(heading.Text, heading.Size >= 14 ? Fonts.Title : Fonts.Section, new XSolidBrush(Ink), Left, _y, XStringFormats.BaseLineLeft);
            _y += 4;
            Gfx.DrawLine(new XPen(Rule, 0.7), Left, _y, Right, _y);
            _y += 4;
        }

        public void KeepTogether(double height) => Room(height);

        public void Heading(string text, double size = 12) => _heading = (text, size);

        public void Paragraph(IReadOnlyList<Run> runs, double indent = 0, double before = 0)
        {
            var lines = Wrap(Gfx, runs, Width - indent);
            for (var i = 0; i < lines.Count; i++)
            {
                Room(lines[i].Height + (i == 0 ? before : 0));
                if (i == 0) _y += before;
                _y += lines[i].Height;
                DrawLine(Gfx, lines[i], Left + (i == 0 ? 0 : indent), _y - 3);
            }
        }

        /// <summary>A framed box (the patient's banner); it is short, so it is kept on one page.</summary>
        public void Box(IReadOnlyList<Paragraph> paragraphs, XColor frame)
        {
            var lines = paragraphs.SelectMany(p => Wrap(Gfx, p.Runs, Width - 2 * 8)).ToList();
            var height = lines.Sum(l => l.Height) + 2 * 6;
            Room(4 + height);
            _y += 4;
            Gfx.DrawRoundedRectangle(new XPen(frame, 1.5), Left, _y, Width, height, 8, 8);
            var y = _y + 6;
            foreach (var line in lines)
            {
                y += line.Height;
                DrawLine(Gfx, line, Left + 8, y - 3);
            }
            _y += height + 2;
        }

        /// <summary>
        /// A table with lines; the header row is repeated on each page it runs onto, and a row taller than
        /// what is left of a page goes on over the break, line by line, rather than being shortened.
        /// </summary>
        public void Table(IReadOnlyList<Column> columns, IReadOnlyList<Cell[]> rows)
        {
            var widths = columns.Select(c => c.Share * Width).ToArray();
            var header = columns.Select(c => (IReadOnlyList<TextLine>)Wrap(Gfx, [new Run(c.Title, Fonts.TableHead, Ink)], c.Share * Width - 2 * CellPad)).ToArray();
            var headerHeight = header.Max(h => h.Sum(l => l.Height)) + 2 * CellPad;
            var laid = rows.Select(row => row.Select((cell, c) =>
                (IReadOnlyList<TextLine>)cell.Paragraphs.SelectMany(p => Wrap(Gfx, p.Runs, widths[c] - 2 * CellPad)).ToList()).ToArray()).ToList();
            var freshRoom = BodyBottom - (Continued is null ? BodyTop : ContinuedBodyTop) - 4 - headerHeight - 2 * CellPad;
            // The header never stands alone at the foot of a page: it comes with its first row (as much of it as a page holds).
            Room(4 + headerHeight + Math.Min(laid.Count == 0 ? Line : Tallest(laid[0], new int[laid[0].Length]), freshRoom) + 2 * CellPad);
            _y += 4;
            DrawRow(header, widths, headerHeight, fill: true);
            var fresh = false;
            foreach (var cells in laid)
            {
                var start = new int[cells.Length];
                while (true)
                {
                    var room = BodyBottom - _y - 2 * CellPad;
                    var chunk = cells.Select((lines, c) => Fit(lines, start[c], room)).ToArray();
                    var fitsAll = cells.Select((lines, c) => start[c] + chunk[c] >= lines.Count).All(b => b);
                    // A row that would fit on a page of its own moves there whole; only a taller one is split, line by line.
                    if (!fitsAll && !fresh && (Tallest(cells, start) <= freshRoom || chunk.All(n => n == 0)))
                    {
                        BreakTable(header, widths, headerHeight);
                        fresh = true;
                        continue;
                    }
                    // A single line taller than a page (not met with these sizes) still goes down, one line per page.
                    if (chunk.All(n => n == 0)) chunk = cells.Select((lines, c) => Math.Min(1, lines.Count - start[c])).ToArray();
                    var part = cells.Select((lines, c) => (IReadOnlyList<TextLine>)lines.Skip(start[c]).Take(chunk[c]).ToList()).ToArray();
                    DrawRow(part, widths, Math.Max(part.Max(p => p.Sum(l => l.Height)), Line) + 2 * CellPad, fill: false);
                    fresh = false;
                    for (var c = 0; c < cells.Length; c++) start[c] += chunk[c];
                    if (cells.Select((lines, c) => start[c] >= lines.Count).All(b => b)) break;
                    BreakTable(header, widths, headerHeight);
                    fresh = true;
                }
            }
            _y += 2;
        }

        private void BreakTable(IReadOnlyList<TextLine>[] header, double[] widths, double headerHeight)
        {
            NewPage(Continued);
            _y += 4;
            DrawRow(header, widths, headerHeight, fill: true);
        }

        private static double Tallest(IReadOnlyList<TextLine>[] cells, int[] start) =>
            cells.Select((lines, c) => lines.Skip(start[c]).Sum(l => l.Height)).DefaultIfEmpty().Max();

        private static int Fit(IReadOnlyList<TextLine> lines, int from, double room)
        {
            var n = 0;
            for (var used = 0.0; from + n < lines.Count && used + lines[from + n].Height <= room; n++) used += lines[from + n].Height;
            return n;
        }

        private void DrawRow(IReadOnlyList<TextLine>[] cells, double[] widths, double height, bool fill)
        {
            var pen = new XPen(Rule, 0.6);
            var x = Left;
            for (var c = 0; c < cells.Length; c++)
            {
                if (fill) Gfx.DrawRectangle(pen, new XSolidBrush(HeadFill), x, _y, widths[c], height);
                else Gfx.DrawRectangle(pen, x, _y, widths[c], height);
                var y = _y + CellPad;
                foreach (var line in cells[c])
                {
                    y += line.Height;
                    DrawLine(Gfx, line, x + CellPad, y - 3);
                }
                x += widths[c];
            }
            _y += height;
        }

        /// <summary>Closes the last page, then draws each page's furniture (it needs the page count).</summary>
        public void Finish(Action<XGraphics, int, int, string?> furniture)
        {
            _gfx?.Dispose();
            _gfx = null;
            for (var i = 0; i < _pages.Count; i++)
            {
                using var gfx = XGraphics.FromPdfPage(_pages[i].Page, XGraphicsPdfPageOptions.Append);
                furniture(gfx, i + 1, _pages.Count, _pages[i].Label);
            }
        }
    }

    /// <summary>The typefaces, all DejaVu Sans (every Swedish letter; fonts-dejavu-core, as the other PDFs use).</summary>
    private static class Fonts
    {
        private const string Family = "DejaVu Sans";

        // Made at first use, after the resolver is in place; a failed attempt (the font missing) is tried again next time.
        private static Set? _set;

        private sealed class Set
        {
            public readonly XFont Regular = new(Family, TextSize, XFontStyleEx.Regular);
            public readonly XFont Bold = new(Family, TextSize, XFontStyleEx.Bold);
            public readonly XFont Small = new(Family, 8.5, XFontStyleEx.Regular);
            public readonly XFont SmallBold = new(Family, 8.5, XFontStyleEx.Bold);
            public readonly XFont Head = new(Family, 10.5, XFontStyleEx.Bold);
            public readonly XFont TableHead = new(Family, 9, XFontStyleEx.Bold);
            public readonly XFont Section = new(Family, 12, XFontStyleEx.Bold);
            public readonly XFont Title = new(Family, 14, XFontStyleEx.Bold);
        }

        private static Set Current => _set ??= new Set();

        public static XFont Regular => Current.Regular;
        public static XFont Bold => Current.Bold;
        public static XFont Small => Current.Small;
        public static XFont SmallBold => Current.SmallBold;
        public static XFont Head => Current.Head;
        public static XFont TableHead => Current.TableHead;
        public static XFont Section => Current.Section;
        public static XFont Title => Current.Title;
        public static XFont Name => Current.Title;
    }

    /// <summary>
    /// PDFsharp finds fonts through one process-wide resolver and has no font lookup of its own on Linux:
    /// this one serves DejaVu Sans from <see cref="DejaVuFontResolver"/> for every family asked for.
    /// It is set once, before the first font is made.
    /// </summary>
    private sealed class PdfFonts(DejaVuFontResolver fonts) : IFontResolver
    {
        private static readonly Lock Gate = new();
        private const string RegularFace = "DejaVuSans";
        private const string BoldFace = "DejaVuSans-Bold";

        public static void Use(DejaVuFontResolver fonts)
        {
            lock (Gate)
            {
                if (GlobalFontSettings.FontResolver is PdfFonts) return;
                GlobalFontSettings.FontResolver = new PdfFonts(fonts);
            }
        }

        public FontResolverInfo? ResolveTypeface(string familyName, bool bold, bool italic) =>
            new(bold ? BoldFace : RegularFace, mustSimulateBold: false, mustSimulateItalic: italic);

        public byte[]? GetFont(string faceName) => fonts.Font(bold: faceName == BoldFace);
    }
}
