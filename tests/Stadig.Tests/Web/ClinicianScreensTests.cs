using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AngleSharp.Html.Parser;
using Stadig.Common;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Tests.Web;

/// <summary>The clinician's screens over HTTP: discharge in steps, the autosave's named limit, printouts logged, the worklist.</summary>
public class ClinicianScreensTests
{
    private static string WallClock(StadigServer server, DateTimeOffset instant) =>
        server.Services.GetRequiredService<RegionTime>().ToRegion(instant).ToString("yyyy-MM-dd'T'HH:mm", CultureInfo.InvariantCulture);

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Discharge_takes_a_time_a_destination_and_a_confirmation_warns_what_is_missing_and_can_be_undone(DatabaseEngine engine)
    {
        var (server, client, eva) = await StadigServer.WithLoggedInPhysicianAsync(engine);
        await using var _s = server;
        var patient = (await server.Patients.RegisterAsync(eva, "19121212-1212", new("Öström", "Anna"))).PatientId;
        await server.Services.GetRequiredService<Stadig.Encounters.PatientEncounters>().AdmitAsync(eva, patient, eva.UnitId, "4");
        await server.Services.GetRequiredService<Stadig.Notes.ClinicalNotes>().CreateDraftAsync(eva, patient, "Daganteckning");
        var path = $"/patients/{patient}/discharge";

        // The chart has no one-click discharge any more: a link to the form.
        var chart = new HtmlParser().ParseDocument(await client.GetStringAsync($"/patients/{patient}"));
        Assert.Equal(path, chart.QuerySelector("a#discharge")!.GetAttribute("href"));
        Assert.Equal("Skriv ut patient", chart.QuerySelector("a#discharge")!.TextContent.Trim());
        var form = new HtmlParser().ParseDocument(await client.GetStringAsync(path));
        Assert.NotNull(form.QuerySelector("#unsigned-warning"));
        Assert.NotNull(form.QuerySelector("#epikris-warning"));
        Assert.False(string.IsNullOrEmpty(form.QuerySelector("#discharge-at")!.GetAttribute("value")));

        var future = await StadigServer.PostFormAsync(client, path, "discharge",
            new() { ["Input.At"] = WallClock(server, DateTimeOffset.UtcNow.AddHours(3)), ["Input.Destination"] = "Home", ["Input.Step"] = "review" });
        var futurePage = new HtmlParser().ParseDocument(await future.Content.ReadAsStringAsync());
        Assert.Contains("framtiden", futurePage.QuerySelector("#discharge-at-error")!.TextContent);
        Assert.Equal("true", futurePage.QuerySelector("#discharge-at")!.GetAttribute("aria-invalid"));
        var noDestination = await StadigServer.PostFormAsync(client, path, "discharge",
            new() { ["Input.At"] = WallClock(server, DateTimeOffset.UtcNow), ["Input.Step"] = "review" });
        Assert.Contains("Välj vart patienten skrivs ut", await noDestination.Content.ReadAsStringAsync());

        var review = await StadigServer.PostFormAsync(client, path, "discharge",
            new() { ["Input.At"] = WallClock(server, DateTimeOffset.UtcNow), ["Input.Destination"] = "OtherUnit", ["Input.Step"] = "review" });
        var confirm = new HtmlParser().ParseDocument(await review.Content.ReadAsStringAsync());
        Assert.Contains("Öström, Anna", confirm.QuerySelector("#discharge-summary")!.TextContent);
        Assert.Contains("Annan enhet", confirm.QuerySelector("#discharge-summary")!.TextContent);
        Assert.Single(await server.Services.GetRequiredService<Stadig.Encounters.PatientEncounters>().WardListAsync(eva));

        var done = await StadigServer.PostFormAsync(client, path, "discharge", new()
        {
            ["Input.At"] = confirm.QuerySelector("input[name='Input.At']")!.GetAttribute("value")!,
            ["Input.Destination"] = confirm.QuerySelector("input[name='Input.Destination']")!.GetAttribute("value")!, ["Input.Step"] = "confirm",
        });
        Assert.Equal(HttpStatusCode.Redirect, done.StatusCode);
        Assert.Contains("Inga inskrivna patienter", await client.GetStringAsync("/ward"));
        var after = new HtmlParser().ParseDocument(await client.GetStringAsync(done.Headers.Location!.OriginalString));
        Assert.Contains("Annan enhet", after.QuerySelector("#encounter-saved")!.TextContent);
        Assert.NotNull(after.QuerySelector("#undo-discharge"));

        var undone = await StadigServer.PostFormAsync(client, $"/patients/{patient}", "undo-discharge", new());
        Assert.Equal(HttpStatusCode.Redirect, undone.StatusCode);
        Assert.Contains("Öström, Anna", await client.GetStringAsync("/ward"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    [Hazard("H-03")]
    public async Task An_autosave_over_the_limit_gets_a_problem_naming_the_field_and_the_limit(DatabaseEngine engine)
    {
        var (server, client, eva) = await StadigServer.WithLoggedInPhysicianAsync(engine);
        await using var _s = server;
        var patient = (await server.Patients.RegisterAsync(eva, "19121212-1212", new("Öström", "Anna"))).PatientId;
        var note = await server.Services.GetRequiredService<Stadig.Notes.ClinicalNotes>().CreateDraftAsync(eva, patient, "Besöksanteckning");

        var response = await client.PutAsJsonAsync($"/api/notes/{note.Id}/draft", new
        {
            version = note.Version,
            keywords = new[] { new { keyword = "Aktuellt", text = new string('a', Stadig.Notes.ClinicalNotes.MaxKeywordLength + 1) } },
        });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("keywords[0]", problem.GetProperty("field").GetString());
        Assert.Equal(Stadig.Notes.ClinicalNotes.MaxKeywordLength, problem.GetProperty("maxLength").GetInt32());
        Assert.Contains("Aktuellt", problem.GetProperty("detail").GetString());
        Assert.True(problem.GetProperty("errors").TryGetProperty("keywords[0]", out _));
        // The page carries the limit on every text field.
        var editor = new HtmlParser().ParseDocument(await client.GetStringAsync($"/notes/{note.Id}"));
        Assert.All(editor.QuerySelectorAll("#note-editor textarea"), t => Assert.Equal("20000", t.GetAttribute("data-max-length")));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_printout_is_logged_as_utskrift_when_allowed_refused_and_logged_when_not(DatabaseEngine engine)
    {
        var (server, client, eva) = await StadigServer.WithLoggedInPhysicianAsync(engine);
        await using var _s = server;
        var patient = (await server.Patients.RegisterAsync(eva, "19121212-1212", new("Öström", "Anna"))).PatientId;
        var (other, otherAssignments) = await server.AddUserAsync("otto", "lösen");
        var stranger = (await server.Patients.RegisterAsync(StadigServer.CallerFor(other, otherAssignments[0]), TestNumbers.Personnummer(1980, 1, 1), new("Berg", "Bo"))).PatientId;
        async Task<long> PrintsAsync(Guid id, string outcome)
        {
            await using var c = await server.Database.OpenUnscopedAsync();
            return await Dapper.SqlMapper.ExecuteScalarAsync<long>(c,
                "SELECT COUNT(*) FROM audit_event WHERE patient_id = @id AND activity = 'Print' AND outcome = @outcome AND staff_id = @staff", new { id, outcome, staff = eva.StaffId });
        }

        Assert.Equal(HttpStatusCode.NoContent, (await client.PostAsJsonAsync($"/api/patients/{patient}/printouts", new { kind = "Note" })).StatusCode);
        Assert.Equal(1, await PrintsAsync(patient, "Allowed"));
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsJsonAsync($"/api/patients/{patient}/printouts", new { kind = "Allt" })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsJsonAsync($"/api/patients/{stranger}/printouts", new { kind = "Trend" })).StatusCode);
        Assert.Equal(1, await PrintsAsync(stranger, "Denied"));
        Assert.Equal(HttpStatusCode.Forbidden, (await client.PostAsJsonAsync($"/api/patients/{patient}/printouts", new { kind = "LogExtract" })).StatusCode);
        Assert.Equal(1, await PrintsAsync(patient, "Allowed"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_worklist_shows_each_patient_and_discards_only_an_own_empty_draft(DatabaseEngine engine)
    {
        var (server, client, eva) = await StadigServer.WithLoggedInPhysicianAsync(engine);
        await using var _s = server;
        var notes = server.Services.GetRequiredService<Stadig.Notes.ClinicalNotes>();
        var patient = (await server.Patients.RegisterAsync(eva, "19121212-1212", new("Öström", "Anna"))).PatientId;
        var empty = await notes.CreateDraftAsync(eva, patient, "Daganteckning");
        var written = await notes.CreateDraftAsync(eva, patient, "Besöksanteckning");
        await notes.SaveDraftAsync(eva, written.Id, written.Version, [new("Aktuellt", "Hosta.")]);

        var page = new HtmlParser().ParseDocument(await client.GetStringAsync("/worklist"));
        var rows = page.QuerySelectorAll("#worklist tbody tr");
        Assert.Equal(2, rows.Length);
        Assert.All(rows, r => Assert.Contains("Öström, Anna", r.Children[0].TextContent));
        Assert.All(rows, r => Assert.Contains("19121212-1212", r.Children[1].TextContent));
        Assert.NotNull(page.QuerySelector($"tr[data-note-id='{empty.Id}'] button.discard-draft"));
        Assert.Null(page.QuerySelector($"tr[data-note-id='{written.Id}'] button.discard-draft"));

        var discarded = await StadigServer.PostFormAsync(client, "/worklist", $"discard-{empty.Id}", new());
        Assert.Equal(HttpStatusCode.Redirect, discarded.StatusCode);
        var after = new HtmlParser().ParseDocument(await client.GetStringAsync("/worklist"));
        Assert.Equal([written.Id.ToString()], after.QuerySelectorAll("#worklist tbody tr").Select(r => r.GetAttribute("data-note-id")));
        // A form naming a written draft is refused with the reason; nothing changes.
        var refused = await StadigServer.PostFormAsync(client, "/worklist", $"discard-{written.Id}", new());
        Assert.NotEqual(HttpStatusCode.Redirect, refused.StatusCode);
        Assert.False((await notes.GetAsync(eva, written.Id)).IsDiscarded);
    }

    /// <summary>
    /// The note editor's form without JavaScript: a save or a signing that goes through answers with a
    /// redirect without reading the page first; one that does not (someone saved since, an empty note,
    /// a note that is not there) shows the page, read then, with what was typed still in the form.
    /// </summary>
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_note_editors_form_saves_and_signs_and_a_refused_post_shows_the_page_with_the_typed_text(DatabaseEngine engine)
    {
        var (server, client, eva) = await StadigServer.WithLoggedInPhysicianAsync(engine);
        await using var _s = server;
        var notes = server.Services.GetRequiredService<Stadig.Notes.ClinicalNotes>();
        var patient = (await server.Patients.RegisterAsync(eva, "19121212-1212", new("Öström", "Anna"))).PatientId;
        var note = await notes.CreateDraftAsync(eva, patient, "Daganteckning");
        async Task<HttpResponseMessage> PostAsync(Guid noteId, string action, int version, string text)
        {
            var page = await client.GetStringAsync($"/notes/{note.Id}");
            return await client.PostAsync($"/notes/{noteId}", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["__RequestVerificationToken"] = StadigServer.AntiforgeryToken(page), ["_handler"] = "note-editor", ["Input.Action"] = action,
                ["Input.Version"] = version.ToString(CultureInfo.InvariantCulture), ["Input.Keywords[0]"] = "Aktuellt", ["Input.Texts[0]"] = text,
            }));
        }

        // An empty note is not signed: the page says why.
        var empty = await PostAsync(note.Id, "sign", note.Version, "");
        Assert.Equal(HttpStatusCode.OK, empty.StatusCode);
        var emptyPage = new HtmlParser().ParseDocument(await empty.Content.ReadAsStringAsync());
        Assert.Contains("tom", emptyPage.QuerySelector("#form-error")?.TextContent ?? "");
        Assert.NotNull(emptyPage.QuerySelector("#note-editor"));

        var saved = await PostAsync(note.Id, "save", note.Version, "Hosta sedan i går.");
        Assert.Equal(HttpStatusCode.Redirect, saved.StatusCode);
        Assert.Equal("Hosta sedan i går.", (await notes.GetAsync(eva, note.Id)).Keywords.Single(k => k.Keyword == "Aktuellt").Text);

        // Signing from the version before that save: nothing is signed, both texts are shown, the typed one stays in the form.
        var stale = await PostAsync(note.Id, "sign", note.Version, "Hosta och feber.");
        Assert.Equal(HttpStatusCode.OK, stale.StatusCode);
        var stalePage = new HtmlParser().ParseDocument(await stale.Content.ReadAsStringAsync());
        Assert.Contains("Hosta sedan i går.", stalePage.QuerySelector("#conflict")?.TextContent ?? "");
        Assert.Contains("Hosta och feber.", stalePage.QuerySelector("#kw-0")?.TextContent ?? "");
        Assert.Equal((note.Version + 1).ToString(CultureInfo.InvariantCulture), stalePage.QuerySelector("#note-version")?.GetAttribute("value"));
        Assert.False((await notes.GetAsync(eva, note.Id)).IsSigned);

        var signed = await PostAsync(note.Id, "sign", note.Version + 1, "Hosta och feber.");
        Assert.Equal(HttpStatusCode.Redirect, signed.StatusCode);
        var stored = await notes.GetAsync(eva, note.Id);
        Assert.True(stored.IsSigned && stored.IntegrityIntact);

        // A note that is not there: the page says there is no access, never an error.
        var missing = await PostAsync(Guid.NewGuid(), "sign", 1, "Text.");
        Assert.Equal(HttpStatusCode.OK, missing.StatusCode);
        Assert.Contains("Ingen åtkomst", new HtmlParser().ParseDocument(await missing.Content.ReadAsStringAsync()).QuerySelector("main")?.TextContent ?? "");
    }

    /// <summary>
    /// The prescription form: a signing that goes through answers with a redirect without reading the
    /// page first; one that does not (the checks to sign past, a dose that is not a number, a patient
    /// the caller may not reach) shows the page, read then, and writes nothing.
    /// </summary>
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_prescription_form_signs_and_a_refused_post_shows_the_page_and_writes_nothing(DatabaseEngine engine)
    {
        var (server, client, eva) = await StadigServer.WithLoggedInPhysicianAsync(engine);
        await using var _s = server;
        var (patient, catalogue, medication) = await server.WithPatientAndCatalogueAsync(eva);
        var product = (await catalogue.SearchAsync("alvedon 500")).First();
        async Task<HttpResponseMessage> PostAsync(Guid patientId, string dose, string? overrideReason = null, bool sendSeen = true)
        {
            var page = await client.GetStringAsync($"/patients/{patient}/medication/prescribe?product={product.Id}");
            var fields = new Dictionary<string, string>
            {
                ["__RequestVerificationToken"] = StadigServer.AntiforgeryToken(page), ["_handler"] = "prescribe", ["Input.ProductId"] = product.Id.ToString(),
                ["Input.DoseValue"] = dose, ["Input.DoseUnit"] = "tablett", ["Input.Schedule"] = "AsNeeded", ["Input.MaxDosesPer24h"] = "4",
                ["Input.Indication"] = "Smärta", ["Input.Origin"] = "OtherSystem",
            };
            if (overrideReason is not null) fields["Input.OverrideReason"] = overrideReason;
            // The checks the form showed, as the browser posts them back with the reason.
            if (sendSeen && new HtmlParser().ParseDocument(page).QuerySelector("input[name='Input.SeenChecks']")?.GetAttribute("value") is { } seen) fields["Input.SeenChecks"] = seen;
            return await client.PostAsync($"/patients/{patientId}/medication/prescribe", new FormUrlEncodedContent(fields));
        }

        var notANumber = await PostAsync(patient, "två");
        Assert.Equal(HttpStatusCode.OK, notANumber.StatusCode);
        var notANumberPage = new HtmlParser().ParseDocument(await notANumber.Content.ReadAsStringAsync());
        Assert.Contains("två", notANumberPage.QuerySelector("#form-error")?.TextContent ?? "");
        Assert.NotNull(notANumberPage.QuerySelector(".patient-banner"));
        Assert.Empty((await medication.ViewAsync(eva, patient)).Orders);

        var signed = await PostAsync(patient, "1");
        Assert.Equal(HttpStatusCode.Redirect, signed.StatusCode);
        Assert.Single((await medication.ViewAsync(eva, patient)).Orders);

        // The same product again: the duplicate check stands on the form as soon as the product is chosen, with the reason field.
        var form = new HtmlParser().ParseDocument(await client.GetStringAsync($"/patients/{patient}/medication/prescribe?product={product.Id}"));
        Assert.Contains("Dubbelbehandling", form.QuerySelector("#prescribing-checks")?.TextContent ?? "");
        Assert.NotNull(form.QuerySelector("#override-reason"));
        // Nothing is written until it is signed past with a reason.
        var twice = await PostAsync(patient, "1");
        Assert.Equal(HttpStatusCode.OK, twice.StatusCode);
        Assert.NotNull(new HtmlParser().ParseDocument(await twice.Content.ReadAsStringAsync()).QuerySelector("#prescribing-checks"));
        Assert.Single((await medication.ViewAsync(eva, patient)).Orders);
        // A reason covers only the checks the form showed: a post that names none of them is refused and shows them.
        var unseen = await PostAsync(patient, "1", "Vid genombrottssmärta", sendSeen: false);
        Assert.Equal(HttpStatusCode.OK, unseen.StatusCode);
        var unseenPage = new HtmlParser().ParseDocument(await unseen.Content.ReadAsStringAsync());
        Assert.Contains("nya varningar", unseenPage.QuerySelector("#form-error")?.TextContent ?? "");
        Assert.NotNull(unseenPage.QuerySelector("#prescribing-checks"));
        Assert.Equal("Vid genombrottssmärta", unseenPage.QuerySelector("#override-reason")?.GetAttribute("value"));
        Assert.Single((await medication.ViewAsync(eva, patient)).Orders);
        Assert.Equal(HttpStatusCode.Redirect, (await PostAsync(patient, "1", "Vid genombrottssmärta")).StatusCode);
        Assert.Equal(2, (await medication.ViewAsync(eva, patient)).Orders.Count);

        // A patient that is not there: the page says there is no access, never an error.
        var missing = await PostAsync(Guid.NewGuid(), "1");
        Assert.Equal(HttpStatusCode.OK, missing.StatusCode);
        Assert.Contains("Ingen åtkomst", new HtmlParser().ParseDocument(await missing.Content.ReadAsStringAsync()).QuerySelector("main")?.TextContent ?? "");
    }

    /// <summary>
    /// The dose form: a record that goes through answers with a redirect to the round without reading the
    /// dose view first; one that does not (a dose above the ordered, a high-risk dose without its second
    /// nurse, the as-needed maximum reached, an ordination under another patient's id) shows the page,
    /// read then, with what was typed, and writes nothing.
    /// </summary>
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_dose_form_records_and_a_refused_post_shows_the_page_and_writes_nothing(DatabaseEngine engine)
    {
        var (server, client, nurse) = await StadigServer.WithLoggedInNurseAsync(engine);
        await using var _s = server;
        var physician = nurse with { Role = Role.Physician };
        var (patient, catalogue, medication) = await server.WithPatientAndCatalogueAsync(nurse);
        var other = (await server.Patients.RegisterAsync(nurse, TestNumbers.Personnummer(1970, 1, 1), new("Berg", "Eva"))).PatientId;
        var alvedon = (await catalogue.SearchAsync("alvedon 500")).First();
        var morfin = (await catalogue.SearchAsync("morfin")).First(p => p.HighRisk);
        Stadig.Medication.MedicationDraft AsNeeded(Guid product, double max) =>
            new() { ProductId = product, DoseValue = 1, DoseUnit = "tablett", AsNeeded = true, MaxDosesPer24h = max, Indication = "Smärta" };
        var paracetamol = await medication.PrescribeAsync(physician, patient, AsNeeded(alvedon.Id, 1));
        var opioid = await medication.PrescribeAsync(physician, patient, AsNeeded(morfin.Id, 4));
        async Task<long> RecordsAsync()
        {
            await using var c = await server.Services.GetRequiredService<Database>().OpenUnscopedAsync();
            return await Dapper.SqlMapper.ExecuteScalarAsync<long>(c, "SELECT COUNT(*) FROM medication_administration");
        }
        async Task<(HttpResponseMessage Response, AngleSharp.Html.Dom.IHtmlDocument? Page)> PostAsync(Guid patientId, Guid orderId, string dose)
        {
            var form = await client.GetStringAsync($"/patients/{patient}/medication/administer?order={paracetamol.Id}");
            var response = await client.PostAsync($"/patients/{patientId}/medication/administer?order={orderId}", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["__RequestVerificationToken"] = StadigServer.AntiforgeryToken(form), ["_handler"] = "administer", ["Input.Outcome"] = "Given",
                ["Input.DoseValue"] = dose, ["Input.GivenAt"] = "", ["Input.Reason"] = "Smärta VAS 5",
            }));
            return (response, response.StatusCode == HttpStatusCode.OK ? new HtmlParser().ParseDocument(await response.Content.ReadAsStringAsync()) : null);
        }

        var tooMuch = await PostAsync(patient, paracetamol.Id, "2");
        Assert.Equal(HttpStatusCode.OK, tooMuch.Response.StatusCode);
        Assert.Contains("större än den ordinerade", tooMuch.Page!.QuerySelector("#form-error")?.TextContent ?? "");
        Assert.NotNull(tooMuch.Page.QuerySelector(".patient-banner"));
        Assert.Equal("2", tooMuch.Page.QuerySelector("#dose-value")?.GetAttribute("value"));
        var unchecked_ = await PostAsync(patient, opioid.Id, "1");
        Assert.Contains("andra sjuksköterska", unchecked_.Page!.QuerySelector("#form-error")?.TextContent ?? "");
        Assert.NotNull(unchecked_.Page.QuerySelector("#checker-username"));
        var wrongPatient = await PostAsync(other, paracetamol.Id, "1");
        Assert.Equal(HttpStatusCode.OK, wrongPatient.Response.StatusCode);
        Assert.Null(wrongPatient.Page!.QuerySelector("#record-dose"));
        Assert.Equal(0, await RecordsAsync());

        var given = await PostAsync(patient, paracetamol.Id, "1");
        Assert.Equal(HttpStatusCode.Redirect, given.Response.StatusCode);
        Assert.Equal("/ward/medication", given.Response.Headers.Location!.AbsolutePath);
        Assert.Equal(1, await RecordsAsync());
        // At most one a day: the second is refused with the reason, and the page shows it.
        var again = await PostAsync(patient, paracetamol.Id, "1");
        Assert.Contains("Högst 1", again.Page!.QuerySelector("#form-error")?.TextContent ?? "");
        Assert.Equal(1, await RecordsAsync());
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_nurses_chart_offers_nursing_templates_and_a_posted_physician_type_is_refused(DatabaseEngine engine)
    {
        var (server, client, nurse) = await StadigServer.WithLoggedInNurseAsync(engine);
        await using var _s = server;
        var patient = (await server.Patients.RegisterAsync(nurse, "19121212-1212", new("Öström", "Anna"))).PatientId;

        var chart = new HtmlParser().ParseDocument(await client.GetStringAsync($"/patients/{patient}"));
        var offered = chart.QuerySelectorAll("#note-type option").Select(o => o.GetAttribute("value")).ToList();
        Assert.Contains("Omvårdnadsanteckning", offered);
        Assert.DoesNotContain("Epikris", offered);
        Assert.DoesNotContain("Inskrivningsanteckning", offered);

        var posted = await StadigServer.PostFormAsync(client, $"/patients/{patient}", "new-note", new() { ["NewNote.NoteType"] = "Epikris" });
        Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
        Assert.Contains("skriver inte Epikris", new HtmlParser().ParseDocument(await posted.Content.ReadAsStringAsync()).QuerySelector("#note-error")!.TextContent);
    }
}
