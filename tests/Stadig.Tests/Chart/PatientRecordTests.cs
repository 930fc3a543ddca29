using Dapper;
using Stadig.Chart;
using Stadig.Common;
using Stadig.Fhir;
using Stadig.Fhir.Store;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Tests.Chart;

/// <summary>
/// One record whatever the door: what other systems wrote over FHIR stands in the banner, the
/// overview, the sections, the trends and the timeline beside the chart's own records, once each
/// (the chart's published copies are never read twice), through the checkpoint and audited.
/// </summary>
public class PatientRecordTests
{
    private static async Task PutAsync(TestRegion region, Guid patientId, Guid unitId, string json, DateTimeOffset? at = null)
    {
        var resource = FhirJson.Parse(json);
        var id = resource["id"]!.GetValue<string>();
        await region.Database.InUnscopedTransactionAsync(async (c, tx) =>
            await FhirResourceStore.PutAsync(c, tx, resource, id, patientId, unitId, at ?? DateTimeOffset.UtcNow));
    }

    private static string Allergy(string id, Guid patientId, string substance, string clinical = "active") => $$$"""
        {"resourceType":"AllergyIntolerance","id":"{{{id}}}","patient":{"reference":"Patient/{{{patientId}}}"},
         "clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical","code":"{{{clinical}}}"}]},
         "verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-verification","code":"confirmed"}]},
         "criticality":"high","code":{"text":"{{{substance}}}"},"recordedDate":"2020-03-01",
         "reaction":[{"manifestation":[{"text":"Anafylaxi"}],"severity":"severe"}],"meta":{"source":"urn:system:primarvarden"}}
        """;

    private static string Condition(string id, Guid patientId, string text, string clinical = "active") => $$$"""
        {"resourceType":"Condition","id":"{{{id}}}","subject":{"reference":"Patient/{{{patientId}}}"},
         "clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"{{{clinical}}}"}]},
         "code":{"coding":[{"system":"http://snomed.info/sct","code":"38341003","display":"{{{text}}}"}]},"onsetDateTime":"2012-06-04T14:10:09+00:00"}
        """;

    private static string Weight(string id, Guid patientId, double kg, DateTimeOffset at) => $$$"""
        {"resourceType":"Observation","id":"{{{id}}}","status":"final","subject":{"reference":"Patient/{{{patientId}}}"},
         "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
         "code":{"coding":[{"system":"http://loinc.org","code":"29463-7","display":"Body Weight"}],"text":"Body Weight"},
         "effectiveDateTime":"{{{at:yyyy-MM-ddTHH:mm:ssZ}}}","valueQuantity":{"value":{{{kg.ToString(System.Globalization.CultureInfo.InvariantCulture)}}},"unit":"kg"}}
        """;

    private static string Encounter(string id, Guid patientId, DateTimeOffset at) => $$$"""
        {"resourceType":"Encounter","id":"{{{id}}}","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
         "type":[{"text":"Hälsokontroll"}],"subject":{"reference":"Patient/{{{patientId}}}"},"period":{"start":"{{{at:yyyy-MM-ddTHH:mm:ssZ}}}"}}
        """;

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Allergies_and_conditions_another_system_wrote_stand_beside_the_charts_own_once_each_in_banner_overview_sections_and_timeline(DatabaseEngine engine)
    {
        var (region, patientId) = await TestRegion.WithPatientAsync(engine);
        var doctor = region.Physician;
        await region.Services.Warnings.AddAsync(doctor, patientId, new("Hypersensitivity", "Penicillin ger utslag.", "Penicillin", "Utslag", "Harmful", "Confirmed"));
        await region.Services.Problems.AddAsync(doctor, patientId, "I10");
        await PutAsync(region, patientId, region.Clinic.Id, Allergy("bee", patientId, "Bigift"));
        await PutAsync(region, patientId, region.Clinic.Id, Allergy("old", patientId, "Jordnötter", clinical: "resolved"));
        await PutAsync(region, patientId, region.Clinic.Id, Condition("htn", patientId, "Hypertension"));
        await PutAsync(region, patientId, region.Clinic.Id, Condition("sinus", patientId, "Viral sinusitis", clinical: "resolved"));
        await PutAsync(region, patientId, region.Clinic.Id, Encounter("visit", patientId, DateTimeOffset.Parse("2021-05-01T08:00:00Z")));

        // The chart's warning is also in the FHIR store (published): still one entry each.
        var signals = await region.Services.Record.AttentionAsync(doctor, patientId);
        Assert.Equal(["Bigift", "Penicillin"], signals.Where(s => s.Kind == RecordKind.Allergy).Select(s => s.Title).Order());
        var bee = signals.Single(s => s.Title == "Bigift");
        Assert.Equal(("severe", "high", "confirmed", "Anafylaxi"), (bee.Severity, bee.Criticality, bee.Verification, bee.Detail));
        Assert.Equal(("urn:system:primarvarden", "Medicinmottagningen"), (bee.Source, bee.UnitName));
        Assert.Null(signals.Single(s => s.Title == "Penicillin").Source);

        var overview = await region.Chart.OverviewAsync(doctor, patientId);
        Assert.Equal(2, overview.Warnings.Count);
        Assert.Equal(["Essentiell hypertoni", "Hypertension"], overview.Problems.Select(p => p.Text).Order());

        var sections = await region.Services.Record.SectionsAsync(doctor, patientId);
        Assert.Equal(3, sections.Problems.Count);
        Assert.Contains(sections.Encounters, e => e.Title == "Hälsokontroll" && e.Source == "FHIR");

        var timeline = await region.Services.Record.TimelineAsync(doctor, patientId, new TimelineQuery());
        Assert.Equal(timeline.Entries.Count, timeline.Entries.Select(e => e.Key).Distinct().Count());
        Assert.Equal(3, timeline.Entries.Count(e => e.Kind == RecordKind.Allergy));
        Assert.Equal(3, timeline.Entries.Count(e => e.Kind == RecordKind.Problem));
        Assert.Equal(4, await region.AuditCountAsync(patientId, "Read", "Allowed") - await OtherReadsAsync(region, patientId));
    }

    private static async Task<long> OtherReadsAsync(TestRegion region, Guid patientId)
    {
        await using var c = await region.Database.OpenUnscopedAsync();
        return await c.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM audit_event WHERE patient_id = @patientId AND activity = 'Read' AND outcome = 'Allowed' AND resource NOT IN ('AttentionSignals', 'ChartOverview', 'PatientRecord', 'JournalTimeline')",
            new { patientId });
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_unrelated_caller_is_refused_and_audited_and_a_blocked_units_resources_are_left_out_of_every_view(DatabaseEngine engine)
    {
        var (region, patientId) = await TestRegion.WithPatientAsync(engine);
        await PutAsync(region, patientId, region.Clinic.Id, Allergy("bee", patientId, "Bigift"));
        await PutAsync(region, patientId, region.Clinic.Id, Condition("htn", patientId, "Hypertension"));
        await PutAsync(region, patientId, region.Clinic.Id, Weight("w1", patientId, 80, DateTimeOffset.Parse("2021-01-01T08:00:00Z")));
        var provider = (await region.Staff.UnitsAsync()).First(u => u.Id == region.Ward.Id).ProviderId;
        var elsewhere = await region.Staff.AddUnitAsync(provider, "SE2321000016-0009", "Ortopedmottagningen", UnitKind.OutpatientClinic);
        var stranger = await region.AddCallerAsync("stranger", Role.Physician, elsewhere);

        await Assert.ThrowsAsync<NotFoundException>(() => region.Services.Record.AttentionAsync(stranger, patientId));
        await Assert.ThrowsAsync<NotFoundException>(() => region.Services.Record.SectionsAsync(stranger, patientId));
        await Assert.ThrowsAsync<NotFoundException>(() => region.Services.Record.TimelineAsync(stranger, patientId, new TimelineQuery()));
        await using (var c = await region.Database.OpenUnscopedAsync())
            Assert.Equal(3, await c.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM audit_event WHERE patient_id = @patientId AND staff_id = @staff AND outcome = 'Denied' AND resource IN ('AttentionSignals', 'PatientRecord', 'JournalTimeline')",
                new { patientId, staff = stranger.StaffId }));

        // The patient blocks the clinic's records: the ward's physician no longer sees what the clinic's system wrote.
        Assert.Contains(await region.Services.Record.AttentionAsync(region.Physician, patientId), s => s.Title == "Bigift");
        await region.Access.BlockAsync(region.Physician, patientId, region.Clinic.Id, "Patienten begär spärr");
        Assert.Empty(await region.Services.Record.AttentionAsync(region.Physician, patientId));
        Assert.Empty((await region.Chart.OverviewAsync(region.Physician, patientId)).Problems);
        var sections = await region.Services.Record.SectionsAsync(region.Physician, patientId);
        Assert.Empty(sections.Problems);
        Assert.Empty(sections.Observations);
        Assert.True(sections.BlockedRecordsWithheld);
        Assert.DoesNotContain((await region.Services.Record.TimelineAsync(region.Physician, patientId, new TimelineQuery())).Entries, e => e.Source is not null);
        await Assert.ThrowsAsync<NotFoundException>(() => region.Services.Trends.TrendAsync(region.Physician, patientId, "29463-7"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_timeline_pages_by_keyset_filters_by_kind_and_date_and_shows_an_amended_note_once_with_its_versions(DatabaseEngine engine)
    {
        var (region, patientId) = await TestRegion.WithPatientAsync(engine);
        var doctor = region.Physician;
        var start = DateTimeOffset.Parse("2020-01-01T08:00:00Z");
        for (var i = 0; i < 120; i++) await PutAsync(region, patientId, region.Ward.Id, Weight($"w{i}", patientId, 70 + i / 10.0, start.AddDays(i)));
        // Two at the same instant: the key orders them and neither is lost at a page's edge.
        await PutAsync(region, patientId, region.Ward.Id, Encounter("same-time", patientId, start.AddDays(49)));
        var note = await region.Notes.CreateDraftAsync(doctor, patientId, "Besöksanteckning");
        note = await region.Notes.SaveDraftAsync(doctor, note.Id, note.Version, [new("Aktuellt", "Ingen feber.")]);
        await region.Notes.SignAsync(doctor, note.Id, note.Version);
        var amendment = await region.Notes.AmendAsync(doctor, note.Id);
        amendment = await region.Notes.SaveDraftAsync(doctor, amendment.Id, amendment.Version, [new("Aktuellt", "Feber 38,5.")]);
        await region.Notes.SignAsync(doctor, amendment.Id, amendment.Version);

        var seen = new List<RecordEntry>();
        string? after = null;
        var pages = 0;
        do
        {
            var page = await region.Services.Record.TimelineAsync(doctor, patientId, new TimelineQuery(After: after, PageSize: 25));
            Assert.True(page.Entries.Count <= 25);
            seen.AddRange(page.Entries);
            after = page.Next;
            pages++;
        } while (after is not null && pages < 20);
        Assert.Equal(seen.Count, seen.Select(e => e.Key).Distinct().Count());
        Assert.Equal(seen.OrderByDescending(e => e.At).ThenByDescending(e => e.Key, StringComparer.Ordinal).Select(e => e.Key), seen.Select(e => e.Key));
        Assert.Equal(120, seen.Count(e => e.Kind == RecordKind.Observation));
        Assert.Contains(seen, e => e.Key == "Encounter/same-time");
        var notes = seen.Where(e => e.Kind == RecordKind.Note).ToList();
        Assert.Equal(amendment.Id, Assert.Single(notes).RecordId);
        Assert.Equal(2, notes[0].Versions);

        var onlyNotes = await region.Services.Record.TimelineAsync(doctor, patientId, new TimelineQuery([RecordKind.Note]));
        Assert.Equal(RecordKind.Note, Assert.Single(onlyNotes.Entries).Kind);
        var january = await region.Services.Record.TimelineAsync(doctor, patientId,
            new TimelineQuery([RecordKind.Observation], start, start.AddDays(31), PageSize: 200));
        Assert.Equal(31, january.Entries.Count);
        Assert.Null(january.Next);
        await Assert.ThrowsAsync<InvalidInputException>(() => region.Services.Record.TimelineAsync(doctor, patientId, new TimelineQuery(After: "not a cursor!")));
        await Assert.ThrowsAsync<InvalidInputException>(() => region.Services.Record.TimelineAsync(doctor, patientId, new TimelineQuery(PageSize: 100_000)));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Observations_another_system_wrote_make_a_trend_under_their_code(DatabaseEngine engine)
    {
        var (region, patientId) = await TestRegion.WithPatientAsync(engine);
        await PutAsync(region, patientId, region.Clinic.Id, Weight("w1", patientId, 81.5, DateTimeOffset.Parse("2021-01-01T08:00:00Z")));
        await PutAsync(region, patientId, region.Clinic.Id, Weight("w2", patientId, 79, DateTimeOffset.Parse("2022-01-01T08:00:00Z")));

        var trend = await region.Services.Trends.TrendAsync(region.Physician, patientId, "29463-7");

        Assert.Equal([81.5, 79], trend.Points.Select(p => p.Value));
        Assert.Equal("Body Weight", trend.AnalysisName);
        Assert.All(trend.Points, p => Assert.Equal("FHIR", p.Source));
        var sections = await region.Services.Record.SectionsAsync(region.Physician, patientId);
        var series = Assert.Single(sections.Observations);
        Assert.Equal((2, 79.0), (series.Count, series.Latest.Number));
    }
}
