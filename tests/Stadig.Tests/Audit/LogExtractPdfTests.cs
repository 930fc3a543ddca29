using Stadig.Audit;
using UglyToad.PdfPig;

namespace Stadig.Tests.Audit;

public class LogExtractPdfTests
{
    private static LogExtract Extract(int rows, bool names = false) => new(
        Guid.NewGuid(), "Öström, Åsa Ängla", "19121212-1212", new DateTimeOffset(2026, 1, 1, 8, 0, 0, TimeSpan.Zero),
        new DateTimeOffset(2026, 3, 1, 8, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 3, 1, 8, 0, 0, TimeSpan.Zero), names,
        Enumerable.Range(0, rows).Select(i => new LogExtractRow(new DateTimeOffset(2026, 1, 1, 8, 0, 0, TimeSpan.Zero).AddHours(i),
            i % 2 == 0 ? "Medicinavdelning 1 Östra sjukhuset" : "Vårdcentralen Åkersberga", $"SE2321000016-000{i % 2}",
            i % 3 == 0 ? AuditActivity.Write : AuditActivity.Read, names ? "Märta Öhman" : null)).ToList());

    [Fact]
    public void The_extract_renders_Swedish_letters_and_the_patient_on_one_page_when_it_fits()
    {
        var bytes = new LogExtractPdf(new DejaVuFontResolver()).Render(Extract(5));

        using var document = PdfDocument.Open(bytes);
        var page = Assert.Single(document.GetPages());
        var text = page.Text;
        Assert.Contains("Loggutdrag", text);
        Assert.Contains("Öström, Åsa Ängla", text);
        Assert.Contains("19121212-1212", text);
        Assert.Contains("Vårdcentralen Åkersberga", text);
        Assert.Contains("Läsa", text);
        Assert.Contains("Skriva", text);
        Assert.DoesNotContain("Märta", text);
    }

    [Fact]
    public void A_long_extract_breaks_into_pages_that_each_carry_the_patients_identity()
    {
        var rows = LogExtractPdf.RowsPerPage * 2 + 3;

        var bytes = new LogExtractPdf(new DejaVuFontResolver()).Render(Extract(rows, names: true));

        using var document = PdfDocument.Open(bytes);
        Assert.Equal(3, document.NumberOfPages);
        foreach (var page in document.GetPages())
        {
            Assert.Contains("Öström, Åsa Ängla", page.Text);
            Assert.Contains("19121212-1212", page.Text);
            Assert.Contains($"Sida {page.Number} av 3", page.Text);
        }
        Assert.Contains("Märta Öhman", document.GetPage(1).Text);
    }

    [Fact]
    public void An_empty_extract_is_one_page_that_says_so()
    {
        using var document = PdfDocument.Open(new LogExtractPdf(new DejaVuFontResolver()).Render(Extract(0)));

        Assert.Contains("Inga åtkomster under perioden.", Assert.Single(document.GetPages()).Text);
    }
}
