using System.Text.Json.Nodes;
using Dapper;
using Stadig.Access;
using Stadig.Common;
using Stadig.Fhir.Store;
using Stadig.Medication;
using Stadig.Organisation;
using Stadig.Storage;
using Stadig.Warnings;

namespace Stadig.Tests.Medication;

public class MedicationListTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string Catalogue =
        """
        npl_id;name;substances;strength;dose_form;route;atc_code;max_daily_dose;high_risk
        ;Alvedon;Paracetamol;500 mg;filmdragerad tablett;oral;N02BE01;4 g;nej
        ;Panodil;Paracetamol;500 mg;filmdragerad tablett;oral;N02BE01;4 g;nej
        ;Amimox;Amoxicillin;500 mg;kapsel;oral;J01CA04;;nej
        ;Ibuprofen;Ibuprofen;400 mg;tablett;oral;M01AE01;1200 mg;nej
        ;Naproxen;Naproxen;250 mg;tablett;oral;M01AE02;1000 mg;nej
        20050101000100;Morfin;Morfin;10 mg;tablett;oral;N02AA01;;ja

        """;

    private sealed record Fixture(TestRegion Region, Guid PatientId, Dictionary<string, Guid> Products)
    {
        public MedicationList Medication => Region.Services.Medication;
        public Guid this[string name] => Products[name];
    }

    private static async Task<Fixture> CreateAsync(DatabaseEngine engine)
    {
        var (region, patientId) = await TestRegion.WithPatientAsync(engine);
        await region.Services.Catalogue.ImportAsync(CatalogueFile.Read(new StringReader(Catalogue)), null, Ct);
        var products = new Dictionary<string, Guid>();
        foreach (var name in new[] { "Alvedon", "Panodil", "Amimox", "Ibuprofen", "Naproxen", "Morfin" })
            products[name] = (await region.Services.Catalogue.SearchAsync(name, cancellationToken: Ct)).Single(p => p.Name == name).Id;
        return new Fixture(region, patientId, products);
    }

    private static MedicationDraft Scheduled(Guid product, double dose = 1, string unit = "tablett", params string[] times) => new()
    {
        ProductId = product, DoseValue = dose, DoseUnit = unit, Indication = "Smärta",
        TimesOfDay = (times.Length == 0 ? ["08:00", "14:00", "20:00"] : times).Select(t => TimeOnly.Parse(t, System.Globalization.CultureInfo.InvariantCulture)).ToList(),
    };

    private static MedicationDraft AsNeeded(Guid product, double dose, string unit, double max) =>
        new() { ProductId = product, DoseValue = dose, DoseUnit = unit, AsNeeded = true, MaxDosesPer24h = max, Indication = "Smärta" };

    private static async Task<long> OrdersAsync(TestRegion region, Guid patientId)
    {
        await using var c = await region.Database.OpenUnscopedAsync(Ct);
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM medication_order WHERE patient_id = @patientId", new { patientId })
            + await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM medication_order_version WHERE patient_id = @patientId", new { patientId });
    }

    private static Task AllergyAsync(Fixture f, string agent) =>
        f.Region.Services.Warnings.AddAsync(f.Region.Physician, f.PatientId, new NewWarning("Hypersensitivity", "", agent, "Utslag", "Harmful", "Confirmed"), Ct);

    /// <summary>
    /// Signing reads what its checks need (here an allergy's substance group) on the write's own
    /// connection: one connection per prescription, so it also runs where there is only one — a
    /// scratch scope, which refuses a step that opens a second while it holds the first (the checks
    /// did, on a connection of their own, until 2026-12-06).
    /// </summary>
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Signing_a_prescription_past_its_checks_holds_one_connection_at_a_time(DatabaseEngine engine)
    {
        var f = await CreateAsync(engine);
        await AllergyAsync(f, "Paracetamol");

        await using (var scope = f.Region.Database.Scratch())
        {
            var order = await f.Medication.PrescribeAsync(f.Region.Physician, f.PatientId, Scheduled(f["Alvedon"]), "Bedömd tålig tidigare", cancellationToken: Ct);
            Assert.Equal("AllergySubstance", Assert.Single(order.Current.Findings).Kind);
            Assert.Single(await f.Medication.ListAsync(f.Region.Physician, f.PatientId, Ct));
        }
        Assert.Equal(0, await OrdersAsync(f.Region, f.PatientId));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_prescription_is_listed_as_current_with_its_structured_dosage_origin_prescriber_and_unit(DatabaseEngine engine)
    {
        var f = await CreateAsync(engine);

        var order = await f.Medication.PrescribeAsync(f.Region.Physician, f.PatientId, Scheduled(f["Alvedon"]) with { DurationDays = 5, Instructions = "Tas med vatten." }, cancellationToken: Ct);

        var listed = Assert.Single(await f.Medication.ListAsync(f.Region.Physician, f.PatientId, Ct));
        Assert.Equal(order.Id, listed.Id);
        Assert.Equal(("Prescribed", "Active", f.Region.Ward.Id), (listed.Origin, listed.Status, listed.UnitId));
        var v = listed.Current;
        Assert.Equal((1, "Prescribe", "Alvedon 500 mg filmdragerad tablett", "N02BE01", "Smärta"), (v.Version, v.Action, v.ProductText, v.AtcCode, v.Indication));
        Assert.Equal(("08:00,14:00,20:00", "oral", "Tas med vatten."), (v.TimesOfDay, v.Route, v.Instructions));
        Assert.Equal("1 tablett kl. 08:00, 14:00, 20:00", v.DosageText);
        Assert.Equal((f.Region.Physician.StaffId, f.Region.Physician.DisplayName, "Physician"), (v.PrescriberId!.Value, v.PrescriberName, v.RecordedRole));
        Assert.Equal(v.StartsAt.AddDays(5), v.EndsAt);
        Assert.Empty(v.Findings);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Change_pause_resume_and_stop_each_make_a_new_version_with_who_and_why_and_the_history_keeps_every_one(DatabaseEngine engine)
    {
        var f = await CreateAsync(engine);
        var nurse = await f.Region.AddCallerAsync("ssk", Role.Nurse, f.Region.Ward);
        var order = await f.Medication.PrescribeAsync(f.Region.Physician, f.PatientId, Scheduled(f["Alvedon"]), cancellationToken: Ct);

        Assert.Equal("reason", (await Assert.ThrowsAsync<InvalidInputException>(() => f.Medication.ChangeAsync(f.Region.Physician, order.Id, Scheduled(f["Alvedon"], 2), " ", cancellationToken: Ct))).Field);
        await Assert.ThrowsAsync<ForbiddenException>(() => f.Medication.StopAsync(nurse, order.Id, "Ej längre smärta", Ct));
        var changed = await f.Medication.ChangeAsync(f.Region.Physician, order.Id, Scheduled(f["Alvedon"], 2, "tablett", "08:00", "20:00"), "Otillräcklig effekt", cancellationToken: Ct);
        await Assert.ThrowsAsync<ConflictException>(() => f.Medication.ResumeAsync(f.Region.Physician, order.Id, "Igen", Ct));
        await f.Medication.PauseAsync(f.Region.Physician, order.Id, "Inför operation", Ct);
        await f.Medication.ResumeAsync(f.Region.Physician, order.Id, "Efter operation", Ct);
        var stopped = await f.Medication.StopAsync(f.Region.Physician, order.Id, "Smärtfri", Ct);
        await Assert.ThrowsAsync<ConflictException>(() => f.Medication.StopAsync(f.Region.Physician, order.Id, "Igen", Ct));

        Assert.Equal(("Active", 2, "2 tablett kl. 08:00, 20:00"), (changed.Status, changed.Current.Version, changed.Current.DosageText));
        Assert.Equal(("Ended", 5), (stopped.Status, stopped.Current.Version));
        Assert.NotNull(stopped.Current.EndsAt);
        Assert.Empty((await f.Medication.ViewAsync(f.Region.Physician, f.PatientId, Ct)).Current);
        Assert.Equal([order.Id], (await f.Medication.ViewAsync(f.Region.Physician, f.PatientId, Ct)).Ended.Select(o => o.Id));
        var history = await f.Medication.HistoryAsync(f.Region.Physician, order.Id, Ct);
        Assert.Equal(["Stop", "Resume", "Pause", "Change", "Prescribe"], history.Versions.Select(v => v.Action));
        Assert.Equal(["Smärtfri", "Efter operation", "Inför operation", "Otillräcklig effekt", null], history.Versions.Select(v => v.Reason));
        Assert.Equal(["Ended", "Active", "Paused", "Active", "Active"], history.Versions.Select(v => v.Status));
        Assert.All(history.Versions, v => Assert.Equal((f.Region.Physician.StaffId, f.Region.Physician.DisplayName), (v.RecordedBy, v.RecordedByName)));
        // The first version still says what was first prescribed.
        Assert.Equal("1 tablett kl. 08:00, 14:00, 20:00", history.Versions[^1].DosageText);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_allergy_to_the_substance_is_shown_before_signing_blocks_a_silent_signature_and_an_override_keeps_its_reason(DatabaseEngine engine)
    {
        var f = await CreateAsync(engine);
        await AllergyAsync(f, "Paracetamol");

        var finding = Assert.Single(await f.Medication.CheckAsync(f.Region.Physician, f.PatientId, Scheduled(f["Alvedon"]), cancellationToken: Ct));
        Assert.Equal("AllergySubstance", finding.Kind);
        Assert.Contains("Paracetamol", finding.Text);
        var refused = await Assert.ThrowsAsync<PrescribingChecksException>(() => f.Medication.PrescribeAsync(f.Region.Physician, f.PatientId, Scheduled(f["Alvedon"]), "  ", cancellationToken: Ct));
        Assert.Equal([finding], refused.Findings);
        Assert.Equal(0, await OrdersAsync(f.Region, f.PatientId));

        var order = await f.Medication.PrescribeAsync(f.Region.Physician, f.PatientId, Scheduled(f["Alvedon"]), "Tålt paracetamol väl 2024, reaktionen var annat", cancellationToken: Ct);

        Assert.Equal([finding], order.Current.Findings);
        Assert.Equal("Tålt paracetamol väl 2024, reaktionen var annat", order.Current.OverrideReason);
        Assert.Equal(order.Current.OverrideReason, Assert.Single(await f.Medication.ListAsync(f.Region.Physician, f.PatientId, Ct)).Current.OverrideReason);
    }

    /// <summary>
    /// The form shows the product's checks when it is chosen (no dose yet, so no daily maximum), and a
    /// reason signs past the findings the form showed, no others: a finding the signing meets that was
    /// not shown (a dose above the maximum, a hypersensitivity recorded meanwhile) refuses it, nothing written.
    /// </summary>
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_reason_signs_past_the_checks_that_were_shown_and_a_finding_not_shown_refuses_the_signing(DatabaseEngine engine)
    {
        var f = await CreateAsync(engine);
        await AllergyAsync(f, "Paracetamol");

        var view = await f.Medication.PrescribingViewAsync(f.Region.Physician, f.PatientId, f["Alvedon"], cancellationToken: Ct);
        var shown = Assert.Single(view.Checks);
        Assert.Equal("AllergySubstance", shown.Kind);
        Assert.Empty((await f.Medication.ViewAsync(f.Region.Physician, f.PatientId, Ct)).Checks);
        var seen = CheckFinding.Seen(CheckFinding.Fingerprints(view.Checks));

        // Six grams a day: the maximum is found at signing, was not shown, and the reason does not cover it.
        var overMax = await Assert.ThrowsAsync<PrescribingChecksException>(() => f.Medication.SignPrescriptionAsync(f.Region.Physician, f.PatientId,
            AsNeeded(f["Alvedon"], 1, "g", 6), "Tålt paracetamol väl", seenChecks: seen, cancellationToken: Ct));
        Assert.True(overMax.Unseen);
        Assert.Equal(["AllergySubstance", "MaxDose"], overMax.Findings.Select(x => x.Kind));
        // A hypersensitivity recorded after the form was shown: also not covered.
        await AllergyAsync(f, "Paracetamolpreparat i högdos");
        var meanwhile = await Assert.ThrowsAsync<PrescribingChecksException>(() => f.Medication.SignPrescriptionAsync(f.Region.Physician, f.PatientId,
            Scheduled(f["Alvedon"]), "Tålt paracetamol väl", seenChecks: seen, cancellationToken: Ct));
        Assert.True(meanwhile.Unseen);
        Assert.Equal(2, meanwhile.Findings.Count);
        Assert.Equal(0, await OrdersAsync(f.Region, f.PatientId));

        // Shown, then signed past: the reason is kept with the findings it covered.
        var again = await f.Medication.PrescribingViewAsync(f.Region.Physician, f.PatientId, f["Alvedon"], cancellationToken: Ct);
        var id = await f.Medication.SignPrescriptionAsync(f.Region.Physician, f.PatientId, Scheduled(f["Alvedon"]), "Tålt paracetamol väl",
            seenChecks: CheckFinding.Seen(CheckFinding.Fingerprints(again.Checks)), cancellationToken: Ct);
        var order = Assert.Single(await f.Medication.ListAsync(f.Region.Physician, f.PatientId, Ct));
        Assert.Equal(id, order.Id);
        Assert.Equal(again.Checks, order.Current.Findings);
        Assert.Equal("Tålt paracetamol väl", order.Current.OverrideReason);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_allergy_to_the_ATC_group_is_found_by_class_name_and_by_a_substance_of_the_same_group(DatabaseEngine engine)
    {
        var f = await CreateAsync(engine);
        await AllergyAsync(f, "Penicilliner");
        await AllergyAsync(f, "Ibuprofen");

        var penicillin = Assert.Single(await f.Medication.CheckAsync(f.Region.Physician, f.PatientId, Scheduled(f["Amimox"]), cancellationToken: Ct));
        var nsaid = Assert.Single(await f.Medication.CheckAsync(f.Region.Physician, f.PatientId, Scheduled(f["Naproxen"]), cancellationToken: Ct));

        Assert.Equal(("AllergyAtcGroup", "AllergyAtcGroup"), (penicillin.Kind, nsaid.Kind));
        Assert.Contains("J01C", penicillin.Text);
        Assert.Contains("M01AE", nsaid.Text);
        Assert.Empty(await f.Medication.CheckAsync(f.Region.Physician, f.PatientId, Scheduled(f["Alvedon"]), cancellationToken: Ct));
        await Assert.ThrowsAsync<PrescribingChecksException>(() => f.Medication.PrescribeAsync(f.Region.Physician, f.PatientId, Scheduled(f["Naproxen"]), cancellationToken: Ct));
        var order = await f.Medication.PrescribeAsync(f.Region.Physician, f.PatientId, Scheduled(f["Naproxen"]), "Ingen korsreaktion känd, infektionsläkare konsulterad", cancellationToken: Ct);
        Assert.Equal(("AllergyAtcGroup", "Ingen korsreaktion känd, infektionsläkare konsulterad"), (Assert.Single(order.Current.Findings).Kind, order.Current.OverrideReason));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_allergy_another_system_sent_over_FHIR_is_checked_as_the_charts_own(DatabaseEngine engine)
    {
        var f = await CreateAsync(engine);
        await f.Region.Database.InUnscopedTransactionAsync(async (connection, transaction) =>
        {
            var allergy = new JsonObject
            {
                ["resourceType"] = "AllergyIntolerance",
                ["meta"] = new JsonObject { ["source"] = "urn:system:annan-region" },
                ["clinicalStatus"] = new JsonObject { ["coding"] = new JsonArray(new JsonObject { ["system"] = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", ["code"] = "active" }) },
                ["code"] = new JsonObject { ["text"] = "Amoxicillin" },
                ["patient"] = new JsonObject { ["reference"] = $"Patient/{f.PatientId}" },
            };
            await FhirResourceStore.PutAsync(connection, transaction, allergy, Guid.NewGuid().ToString(), f.PatientId, f.Region.Ward.Id, DateTimeOffset.UtcNow);
            return 0;
        }, Ct);

        var finding = Assert.Single(await f.Medication.CheckAsync(f.Region.Physician, f.PatientId, Scheduled(f["Amimox"]), cancellationToken: Ct));
        Assert.Equal("AllergySubstance", finding.Kind);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Duplicate_therapy_in_the_same_ATC_group_is_found_but_a_change_is_no_duplicate_of_itself(DatabaseEngine engine)
    {
        var f = await CreateAsync(engine);
        var alvedon = await f.Medication.PrescribeAsync(f.Region.Physician, f.PatientId, Scheduled(f["Alvedon"]), cancellationToken: Ct);

        var finding = Assert.Single(await f.Medication.CheckAsync(f.Region.Physician, f.PatientId, AsNeeded(f["Panodil"], 1, "tablett", 2), cancellationToken: Ct));
        Assert.Equal("DuplicateTherapy", finding.Kind);
        Assert.Contains("N02BE", finding.Text);
        Assert.Empty(await f.Medication.CheckAsync(f.Region.Physician, f.PatientId, Scheduled(f["Alvedon"], 2), alvedon.Id, Ct));
        await f.Medication.ChangeAsync(f.Region.Physician, alvedon.Id, Scheduled(f["Alvedon"], 2), "Högre dos", cancellationToken: Ct);
        var panodil = await f.Medication.PrescribeAsync(f.Region.Physician, f.PatientId, AsNeeded(f["Panodil"], 1, "tablett", 2), "Vid genombrottsvärk, total dygnsdos under 4 g", cancellationToken: Ct);
        Assert.Equal("Vid genombrottsvärk, total dygnsdos under 4 g", panodil.Current.OverrideReason);

        // An ended ordination is no duplicate.
        await f.Medication.StopAsync(f.Region.Physician, alvedon.Id, "Smärtfri", Ct);
        await f.Medication.StopAsync(f.Region.Physician, panodil.Id, "Smärtfri", Ct);
        Assert.Empty(await f.Medication.CheckAsync(f.Region.Physician, f.PatientId, Scheduled(f["Panodil"]), cancellationToken: Ct));
    }

    /// <summary>A MedicationRequest or MedicationStatement another system sent, stored as sent; returns its key ("MedicationRequest/…").</summary>
    internal static Task<string> ForeignAsync(TestRegion region, Guid patientId, string type, JsonObject product, string status = "active",
        string source = "urn:system:annan-region") =>
        ForeignAsync(region.Database, patientId, region.Ward.Id, type, product, status, source);

    internal static async Task<string> ForeignAsync(Database database, Guid patientId, Guid unitId, string type, JsonObject product, string status = "active",
        string source = "urn:system:annan-region")
    {
        var id = Guid.NewGuid().ToString();
        var resource = new JsonObject
        {
            ["resourceType"] = type, ["meta"] = new JsonObject { ["source"] = source }, ["status"] = status,
            ["subject"] = new JsonObject { ["reference"] = $"Patient/{patientId}" },
        };
        if (type == "MedicationRequest") { resource["intent"] = "order"; resource["authoredOn"] = "2026-01-10"; }
        else resource["effectiveDateTime"] = "2026-01-10";
        foreach (var (name, value) in product) resource[name] = value?.DeepClone();
        await database.InUnscopedTransactionAsync(async (connection, transaction) =>
        {
            await FhirResourceStore.PutAsync(connection, transaction, resource, id, patientId, unitId, DateTimeOffset.UtcNow);
            return 0;
        }, Ct);
        return $"{type}/{id}";
    }

    internal static JsonObject Coded(string text, string? system = null, string? code = null) => new()
    {
        ["medicationCodeableConcept"] = system is null
            ? new JsonObject { ["text"] = text }
            : new JsonObject { ["text"] = text, ["coding"] = new JsonArray(new JsonObject { ["system"] = system, ["code"] = code, ["display"] = text }) },
    };

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Another_systems_current_medication_is_a_duplicate_by_its_ATC_code_NPL_id_or_substance_name_and_one_that_cannot_be_classified_is_named_as_not_checked(DatabaseEngine engine)
    {
        var f = await CreateAsync(engine);
        // By ATC code (the name says nothing the catalogue knows), by NPL id of a contained Medication, by substance name (RxNorm, English spelling).
        await ForeignAsync(f.Region, f.PatientId, "MedicationRequest", Coded("Brufen 400 mg", "http://www.whocc.no/atc", "M01AE01"));
        await ForeignAsync(f.Region, f.PatientId, "MedicationStatement", new JsonObject
        {
            ["contained"] = new JsonArray(new JsonObject
            {
                ["resourceType"] = "Medication", ["id"] = "m1",
                ["code"] = new JsonObject { ["coding"] = new JsonArray(new JsonObject { ["system"] = "urn:oid:1.2.752.129.2.1.5.1", ["code"] = "20050101000100", ["display"] = "Dolcontin" }) },
            }),
            ["medicationReference"] = new JsonObject { ["reference"] = "#m1" },
        });
        await ForeignAsync(f.Region, f.PatientId, "MedicationRequest", Coded("Acetaminophen 325 MG Oral Tablet", "http://www.nlm.nih.gov/research/umls/rxnorm", "313782"),
            source: "urn:system:synthea");
        // Ended there: no longer a duplicate of anything.
        await ForeignAsync(f.Region, f.PatientId, "MedicationRequest", Coded("Amoxicillin 500 MG Oral Capsule"), status: "stopped");

        var naproxen = await f.Medication.CheckAsync(f.Region.Physician, f.PatientId, Scheduled(f["Naproxen"]), cancellationToken: Ct);
        var alvedon = await f.Medication.CheckAsync(f.Region.Physician, f.PatientId, Scheduled(f["Alvedon"]), cancellationToken: Ct);
        var morfin = await f.Medication.CheckAsync(f.Region.Physician, f.PatientId, AsNeeded(f["Morfin"], 1, "tablett", 4), cancellationToken: Ct);

        var byAtc = Assert.Single(naproxen);
        Assert.Equal("DuplicateTherapy", byAtc.Kind);
        Assert.Contains("Brufen 400 mg från urn:system:annan-region (ATC M01AE01)", byAtc.Text);
        Assert.Contains("M01AE", byAtc.Text);
        var bySubstance = Assert.Single(alvedon);
        Assert.Equal("DuplicateTherapy", bySubstance.Kind);
        Assert.Contains("Acetaminophen 325 MG Oral Tablet från urn:system:synthea (substans paracetamol)", bySubstance.Text);
        Assert.Contains("Dolcontin", Assert.Single(morfin).Text);
        Assert.Contains("NPL-id 20050101000100", morfin[0].Text);
        Assert.Empty(await f.Medication.CheckAsync(f.Region.Physician, f.PatientId, Scheduled(f["Amimox"]), cancellationToken: Ct));

        // A medication the check cannot place is named as not checked, never passed over: it needs a reason like any finding.
        await ForeignAsync(f.Region, f.PatientId, "MedicationStatement", Coded("Lugna Nätter örtte", "urn:oid:1.2.3.4.5", "LN-77"));
        var notChecked = Assert.Single(await f.Medication.CheckAsync(f.Region.Physician, f.PatientId, Scheduled(f["Amimox"]), cancellationToken: Ct));
        Assert.Equal("NotChecked", notChecked.Kind);
        Assert.Contains("Lugna Nätter örtte från urn:system:annan-region", notChecked.Text);
        var refused = await Assert.ThrowsAsync<PrescribingChecksException>(() => f.Medication.PrescribeAsync(f.Region.Physician, f.PatientId, Scheduled(f["Naproxen"]), cancellationToken: Ct));
        Assert.Equal(["DuplicateTherapy", "NotChecked"], refused.Findings.Select(x => x.Kind));
        Assert.Equal(0, await OrdersAsync(f.Region, f.PatientId));
        var order = await f.Medication.PrescribeAsync(f.Region.Physician, f.PatientId, Scheduled(f["Naproxen"]), "Brufen sätts ut i dag, örtteet tål naproxen", cancellationToken: Ct);
        Assert.Equal(["DuplicateTherapy", "NotChecked"], order.Current.Findings.Select(x => x.Kind));
        Assert.Equal("Brufen sätts ut i dag, örtteet tål naproxen", order.Current.OverrideReason);
    }

    [Theory]
    [InlineData("Amlodipine", "amlodipin")]
    [InlineData("Diclofenac", "diklofenak")]
    [InlineData("Oxycodone", "oxikodon")]
    [InlineData("Levothyroxine", "levotyroxin")]
    [InlineData("Quetiapine", "kvetiapin")]
    [InlineData("Hydrochlorothiazide", "hydroklortiazid")]
    [InlineData("Acetaminophen", "Paracetamol")]
    public void A_substance_in_the_international_spelling_has_the_spelling_key_of_the_catalogues_Swedish_name(string sent, string catalogue) =>
        Assert.Equal(ExternalMedications.SpellingKey(catalogue), ExternalMedications.SpellingKey(sent));

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_daily_dose_above_the_products_maximum_is_found_for_scheduled_and_as_needed_doses_in_any_unit(DatabaseEngine engine)
    {
        var f = await CreateAsync(engine);

        Assert.Empty(await f.Medication.CheckAsync(f.Region.Physician, f.PatientId, Scheduled(f["Alvedon"], 2, "tablett", "06:00", "12:00", "18:00", "23:00"), cancellationToken: Ct));
        var five = Assert.Single(await f.Medication.CheckAsync(f.Region.Physician, f.PatientId, Scheduled(f["Alvedon"], 2, "tablett", "06:00", "10:00", "14:00", "18:00", "22:00"), cancellationToken: Ct));
        var grams = Assert.Single(await f.Medication.CheckAsync(f.Region.Physician, f.PatientId, AsNeeded(f["Alvedon"], 1, "g", 6), cancellationToken: Ct));
        var interval = Assert.Single(await f.Medication.CheckAsync(f.Region.Physician, f.PatientId, Scheduled(f["Ibuprofen"], 400, "mg", []) with { TimesOfDay = [], IntervalHours = 6 }, cancellationToken: Ct));

        Assert.Equal(("MaxDose", "MaxDose", "MaxDose"), (five.Kind, grams.Kind, interval.Kind));
        Assert.Contains("5 g", five.Text);
        Assert.Contains("1600 mg", interval.Text);
        await Assert.ThrowsAsync<PrescribingChecksException>(() => f.Medication.PrescribeAsync(f.Region.Physician, f.PatientId, AsNeeded(f["Alvedon"], 1, "g", 6), cancellationToken: Ct));
        var order = await f.Medication.PrescribeAsync(f.Region.Physician, f.PatientId, AsNeeded(f["Alvedon"], 1, "g", 6), "Palliativ vård, leverprover normala", cancellationToken: Ct);
        Assert.Equal(("MaxDose", "Palliativ vård, leverprover normala"), (Assert.Single(order.Current.Findings).Kind, order.Current.OverrideReason));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Only_physicians_prescribe_nurses_as_needed_by_delegation_and_a_refusal_is_audited_with_nothing_written(DatabaseEngine engine)
    {
        var f = await CreateAsync(engine);
        var secretary = await f.Region.AddCallerAsync("sekr", Role.MedicalSecretary, f.Region.Ward);
        var nurse = await f.Region.AddCallerAsync("ssk", Role.Nurse, f.Region.Ward);

        await Assert.ThrowsAsync<ForbiddenException>(() => f.Medication.PrescribeAsync(secretary, f.PatientId, Scheduled(f["Alvedon"]), cancellationToken: Ct));
        await Assert.ThrowsAsync<ForbiddenException>(() => f.Medication.PrescribeAsync(secretary, f.PatientId, Scheduled(f["Alvedon"]), origin: MedicationOrigin.PatientOwn, cancellationToken: Ct));
        await Assert.ThrowsAsync<ForbiddenException>(() => f.Medication.PrescribeAsync(nurse, f.PatientId, Scheduled(f["Alvedon"]), cancellationToken: Ct));
        Assert.Equal(0, await OrdersAsync(f.Region, f.PatientId));
        Assert.Equal(3, await f.Region.AuditCountAsync(f.PatientId, "Write", "Denied"));

        var asNeeded = await f.Medication.PrescribeAsync(nurse, f.PatientId, AsNeeded(f["Alvedon"], 1, "tablett", 4), cancellationToken: Ct);
        var own = await f.Medication.PrescribeAsync(nurse, f.PatientId, Scheduled(f["Ibuprofen"], 1, "tablett", "08:00") with { PrescriberText = "Vårdcentralen Björkhagen" },
            "Patientens egen, läkare informerad", MedicationOrigin.PatientOwn, cancellationToken: Ct);
        Assert.Equal((nurse.StaffId, "Nurse"), (asNeeded.Current.PrescriberId!.Value, asNeeded.Current.RecordedRole));
        Assert.Equal(("PatientOwn", (Guid?)null, "Vårdcentralen Björkhagen"), (own.Origin, own.Current.PrescriberId, own.Current.PrescriberName));
        // The secretary reads the list, as the rest of the chart.
        Assert.Equal(2, (await f.Medication.ListAsync(secretary, f.PatientId, Ct)).Count);

        var strict = new MedicationList(f.Region.Services.Checkpoint, f.Region.Audit, new MedicationOptions { NursesPrescribeAsNeeded = false }, TimeProvider.System);
        await Assert.ThrowsAsync<ForbiddenException>(() => strict.PrescribeAsync(nurse, f.PatientId, AsNeeded(f["Alvedon"], 1, "tablett", 4), cancellationToken: Ct));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Reads_and_writes_are_audited_and_a_caller_without_care_relation_gets_nothing(DatabaseEngine engine)
    {
        var f = await CreateAsync(engine);
        var reads = await f.Region.AuditCountAsync(f.PatientId, "Read", "Allowed");
        var writes = await f.Region.AuditCountAsync(f.PatientId, "Write", "Allowed");

        var order = await f.Medication.PrescribeAsync(f.Region.Physician, f.PatientId, Scheduled(f["Alvedon"]), cancellationToken: Ct);
        await f.Medication.StopAsync(f.Region.Physician, order.Id, "Smärtfri", Ct);
        await f.Medication.ListAsync(f.Region.Physician, f.PatientId, Ct);
        await f.Medication.HistoryAsync(f.Region.Physician, order.Id, Ct);

        Assert.Equal(writes + 2, await f.Region.AuditCountAsync(f.PatientId, "Write", "Allowed"));
        Assert.Equal(reads + 2, await f.Region.AuditCountAsync(f.PatientId, "Read", "Allowed"));
        await using (var c = await f.Region.Database.OpenUnscopedAsync(Ct))
            Assert.True(await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM audit_event WHERE patient_id = @p AND resource = 'Medication'", new { p = f.PatientId }) >= 4);

        var stranger = await f.Region.AddCallerAsync("annan", Role.Physician, f.Region.Clinic);
        await Assert.ThrowsAsync<NotFoundException>(() => f.Medication.ListAsync(stranger, f.PatientId, Ct));
        await Assert.ThrowsAsync<NotFoundException>(() => f.Medication.HistoryAsync(stranger, order.Id, Ct));
        await Assert.ThrowsAsync<ForbiddenException>(() => f.Medication.PrescribeAsync(stranger, f.PatientId, Scheduled(f["Alvedon"]), cancellationToken: Ct));
        Assert.True(await f.Region.AuditCountAsync(f.PatientId, "Read", "Denied") >= 2);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Bad_input_names_the_field_and_nothing_is_saved(DatabaseEngine engine)
    {
        var f = await CreateAsync(engine);
        var m = f.Medication;
        async Task<string> FieldAsync(MedicationDraft draft) =>
            (await Assert.ThrowsAsync<InvalidInputException>(() => m.PrescribeAsync(f.Region.Physician, f.PatientId, draft, cancellationToken: Ct))).Field;

        Assert.Equal("productId", await FieldAsync(Scheduled(Guid.NewGuid())));
        Assert.Equal("doseValue", await FieldAsync(Scheduled(f["Alvedon"], 0)));
        Assert.Equal("doseUnit", await FieldAsync(Scheduled(f["Alvedon"], 1, " ")));
        Assert.Equal("timesOfDay", await FieldAsync(Scheduled(f["Alvedon"]) with { TimesOfDay = [] }));
        Assert.Equal("intervalHours", await FieldAsync(Scheduled(f["Alvedon"]) with { IntervalHours = 8 }));
        Assert.Equal("maxDosesPer24h", await FieldAsync(AsNeeded(f["Alvedon"], 1, "tablett", 0)));
        Assert.Equal("timesOfDay", await FieldAsync(AsNeeded(f["Alvedon"], 1, "tablett", 4) with { TimesOfDay = [new TimeOnly(8, 0)] }));
        Assert.Equal("durationDays", await FieldAsync(Scheduled(f["Alvedon"]) with { DurationDays = 0 }));
        Assert.Equal("indication", await FieldAsync(Scheduled(f["Alvedon"]) with { Indication = new string('x', MedicationList.MaxFieldLength + 1) }));
        Assert.Equal("prescriberText", await FieldAsync(Scheduled(f["Alvedon"]) with { PrescriberText = "Dr X" }));

        Assert.Equal(0, await OrdersAsync(f.Region, f.PatientId));
    }
}
