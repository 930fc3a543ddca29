using System.Net;
using System.Text.RegularExpressions;
using Dapper;
using Stadig.Audit;
using Stadig.Chart;
using Stadig.Medication;
using Stadig.Patients;
using Stadig.Patients.Identifiers;
using Stadig.Storage;
using UglyToad.PdfPig;

namespace Stadig.Tests.Medication;

/// <summary>The läkemedelslista as a PDF (issue #18 item 2): read back by text extraction, the products and dosages are there.</summary>
public class MedicationListPdfTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>
    /// A page's text in the order it was written, without white space: a cell is written line after line, so a dosage
    /// wrapped over two lines reads as one phrase (compare with <see cref="Squash"/> of the expected text).
    /// </summary>
    internal static string Text(UglyToad.PdfPig.Content.Page page) => Squash(page.Text);

    internal static string Squash(string text) => Regex.Replace(text, @"\s+", "");

    private static void Shows(string text, string expected) => Assert.Contains(Squash(expected), text);

    private static MedicationOrder Order(string product, string atc, string dose, string times, string indication, string status = "Active", string? instructions = null) => new()
    {
        Id = Guid.NewGuid(), Origin = nameof(MedicationOrigin.Prescribed), Status = status, UnitName = "Medicinavdelning 4",
        Current = new MedicationVersion
        {
            ProductText = product, AtcCode = atc, DoseValue = double.Parse(dose, System.Globalization.CultureInfo.InvariantCulture), DoseUnit = "tablett",
            TimesOfDay = times, Indication = indication, Route = "oral", Instructions = instructions, PrescriberName = "Märta Öhman",
            StartsAt = new DateTimeOffset(2026, 3, 1, 8, 0, 0, TimeSpan.Zero), EndsAt = status == "Ended" ? new DateTimeOffset(2026, 3, 4, 8, 0, 0, TimeSpan.Zero) : null,
        },
    };

    private static MedicationView View(int extra = 0) => new(
        new Patient { FamilyName = "Öström", GivenNames = "Åsa Ängla", Identifier = "191212121212", IdentifierKind = IdentifierKind.Personnummer },
        [
            Order("Alvedon 500 mg filmdragerad tablett", "N02BE01", "2", "08:00,14:00,20:00", "Smärta efter operation",
                instructions: "Sväljes hela med ett glas vatten, inte tillsammans med andra läkemedel som innehåller paracetamol"),
            Order("Losec 20 mg enterokapsel", "A02BC01", "1", "08:00", "Ulcusprofylax", status: "Paused"),
            Order("Ibuprofen 400 mg tablett", "M01AE01", "1", "08:00,20:00", "Ledvärk", status: "Ended"),
            .. Enumerable.Range(0, extra).Select(i => Order($"Tillägg {i} 10 mg tablett", "A11", "1", "08:00", "Prov")),
        ], [])
    {
        External =
        [
            new RecordEntry { Kind = RecordKind.Medication, Key = "MedicationRequest/w1", Title = "Waran 2,5 mg", Detail = "1 tablett dagligen enligt ordinationsschema",
                Status = "active", Source = "urn:system:annan-region", Author = "Dr. Berg", At = new DateTimeOffset(2026, 1, 10, 0, 0, 0, TimeSpan.Zero) },
        ],
    };

    [Fact]
    public void The_list_names_each_current_external_and_ended_medication_with_its_dosage_and_the_patient_on_every_page()
    {
        var bytes = new MedicationListPdf(new DejaVuFontResolver()).Render(View(), "Test lena", new DateTimeOffset(2026, 3, 2, 9, 30, 0, TimeSpan.Zero));

        using var document = PdfDocument.Open(bytes);
        var text = Text(Assert.Single(document.GetPages()));
        Shows(text, "Läkemedelslista");
        Shows(text, "Öström, Åsa Ängla 19121212-1212");
        Shows(text, "Utskriven 2026-03-02 10:30 av Test lena");
        Shows(text, "Alvedon 500 mg filmdragerad tablett");
        // The whole dosage and instruction, wrapped but never cut short.
        Shows(text, "2 tablett kl. 08:00, 14:00, 20:00, oral. Sväljes hela med ett glas vatten, inte tillsammans med andra läkemedel som innehåller paracetamol");
        Shows(text, "Smärta efter operation");
        Shows(text, "Losec 20 mg enterokapsel");
        Shows(text, "1 tablett kl. 08:00, oral (pausad)");
        Shows(text, "Läkemedel från andra system");
        Shows(text, "Waran 2,5 mg");
        Shows(text, "1 tablett dagligen enligt ordinationsschema");
        Shows(text, "urn:system:annan-region");
        Shows(text, "Utsatta läkemedel");
        Shows(text, "Ibuprofen 400 mg tablett");
        Shows(text, "2026-03-01–2026-03-04");
        Assert.True(text.IndexOf("Alvedon", StringComparison.Ordinal) < text.IndexOf("Waran", StringComparison.Ordinal)
            && text.IndexOf("Waran", StringComparison.Ordinal) < text.IndexOf("Ibuprofen400", StringComparison.Ordinal), text);
    }

    [Fact]
    public void A_long_list_continues_over_pages_that_each_carry_the_patients_identity()
    {
        using var document = PdfDocument.Open(new MedicationListPdf(new DejaVuFontResolver()).Render(View(extra: 60), "Test lena", DateTimeOffset.UnixEpoch));

        Assert.True(document.NumberOfPages >= 2);
        var pages = document.GetPages().Select(Text).ToList();
        Assert.All(pages, p => Shows(p, "Öström, Åsa Ängla 19121212-1212"));
        Shows(pages[^1], $"Sida {pages.Count} av {pages.Count}");
        Shows(pages[1], "Aktuella läkemedel (forts.)");
        Assert.All(Enumerable.Range(0, 60), i => Assert.Single(pages, p => p.Contains(Squash($"Tillägg {i} 10 mg tablett"), StringComparison.Ordinal)));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_PDF_is_read_through_the_checkpoint_logged_as_a_printout_and_refused_without_a_care_relation(DatabaseEngine engine)
    {
        var (server, client, eva) = await StadigServer.WithLoggedInPhysicianAsync(engine);
        await using var _s = server;
        var patientId = (await server.Patients.RegisterAsync(eva, "19121212-1212", new("Öström", "Anna"))).PatientId;
        var catalogue = server.Services.GetRequiredService<ProductCatalogue>();
        await catalogue.SeedIfEmptyAsync(Ct);
        var omeprazol = (await catalogue.SearchAsync("omeprazol 20", cancellationToken: Ct)).First(p => p.Name == "Omeprazol");
        await server.Services.GetRequiredService<MedicationList>().PrescribeAsync(eva, patientId,
            new MedicationDraft { ProductId = omeprazol.Id, DoseValue = 1, DoseUnit = "kapsel", TimesOfDay = [new TimeOnly(8, 0)], Indication = "Ulcusprofylax" }, cancellationToken: Ct);

        var pdf = await client.GetAsync($"/patients/{patientId}/medication.pdf", Ct);

        Assert.Equal(HttpStatusCode.OK, pdf.StatusCode);
        Assert.Equal("application/pdf", pdf.Content.Headers.ContentType!.MediaType);
        Assert.Contains("no-store", pdf.Headers.CacheControl!.ToString());
        using (var document = PdfDocument.Open(await pdf.Content.ReadAsByteArrayAsync(Ct)))
        {
            var text = Text(document.GetPage(1));
            Shows(text, "Öström, Anna 19121212-1212");
            Shows(text, omeprazol.Display);
            Shows(text, "1 kapsel kl. 08:00");
            Shows(text, "Ulcusprofylax");
        }
        await using (var connection = await server.Database.OpenUnscopedAsync(Ct))
        {
            Assert.Equal(1, await connection.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM audit_event WHERE resource = 'MedicationList' AND activity = 'Print' AND outcome = 'Allowed' AND patient_id = @patientId", new { patientId }));
        }

        // Another unit's physician without a care relation gets no list.
        await server.AddUserAsync("otto", "lösen");
        var stranger = server.CreateClient();
        await server.PostLoginAsync(stranger, "otto", "lösen");
        var refused = await stranger.GetAsync($"/patients/{patientId}/medication.pdf", Ct);
        Assert.NotEqual(HttpStatusCode.OK, refused.StatusCode);
        Assert.NotEqual("application/pdf", refused.Content.Headers.ContentType?.MediaType);
        await using (var connection = await server.Database.OpenUnscopedAsync(Ct))
        {
            Assert.Equal(1, await connection.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM audit_event WHERE resource = 'MedicationList' AND activity = 'Print' AND outcome = 'Allowed' AND patient_id = @patientId", new { patientId }));
        }
    }
}
