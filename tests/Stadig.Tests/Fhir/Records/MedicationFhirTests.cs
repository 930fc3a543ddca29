using System.Net;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Fhir;
using Stadig.Fhir.Records;
using Stadig.Medication;
using Stadig.Storage;

namespace Stadig.Tests.Fhir.Records;

/// <summary>
/// Medication over FHIR (issue #18 item 6): the list's ordinations are MedicationRequest and MedicationStatement,
/// eMAR rows MedicationAdministration, products a contained Medication; what other systems write of the four
/// types is kept as sent and stands in the medication list, marked with its system, once.
/// </summary>
public class MedicationFhirTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string Catalogue =
        """
        npl_id;name;substances;strength;dose_form;route;atc_code;max_daily_dose;high_risk
        19750101000011;Alvedon;Paracetamol;500 mg;filmdragerad tablett;oral;N02BE01;4 g;nej
        ;Morfin;Morfin;10 mg;tablett;oral;N02AA01;;ja

        """;

    private static async Task<Dictionary<string, Guid>> CatalogueAsync(ChartFhir chart)
    {
        var catalogue = chart.Get<ProductCatalogue>();
        await catalogue.ImportAsync(CatalogueFile.Read(new StringReader(Catalogue)), null, Ct);
        var products = new Dictionary<string, Guid>();
        // The server's starter catalogue has these names too, in other strengths: the file's lines are the ones with its NPL id, or its strength and form.
        products["Alvedon"] = (await catalogue.SearchAsync("Alvedon", cancellationToken: Ct)).Single(p => p.NplId == "19750101000011").Id;
        products["Morfin"] = (await catalogue.SearchAsync("Morfin", cancellationToken: Ct)).First(p => p.Display == "Morfin 10 mg tablett").Id;
        return products;
    }

    private static JsonObject Concept(string system, string code, string text) =>
        new() { ["coding"] = new JsonArray(new JsonObject { ["system"] = system, ["code"] = code }), ["text"] = text };

    private static async Task<long> StoredAsync(ChartFhir chart)
    {
        await using var c = await chart.Server.Database.OpenUnscopedAsync(Ct);
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM fhir_resource_version");
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_four_medication_types_round_trip_the_list_publishes_its_own_and_shows_other_systems_once_with_their_origin(DatabaseEngine engine)
    {
        await using var chart = await ChartFhir.StartAsync(engine);
        var products = await CatalogueAsync(chart);
        var medication = chart.Get<MedicationList>();
        var patient = chart.PatientReference;

        // The chart's own: a prescription is a MedicationRequest, the patient's own medication a MedicationStatement, each with the product contained.
        var prescribed = await medication.PrescribeAsync(chart.Caller, chart.PatientId, new MedicationDraft
        {
            ProductId = products["Alvedon"], DoseValue = 1, DoseUnit = "tablett", Indication = "Smärta",
            TimesOfDay = [new TimeOnly(8, 0), new TimeOnly(20, 0)], Instructions = "Med vatten.",
        }, cancellationToken: Ct);
        var own = await medication.PrescribeAsync(chart.Caller, chart.PatientId, new MedicationDraft
        {
            ProductId = products["Morfin"], DoseValue = 1, DoseUnit = "tablett", AsNeeded = true, MaxDosesPer24h = 3, PrescriberText = "Dr Annan, VC Norr",
        }, origin: MedicationOrigin.PatientOwn, cancellationToken: Ct);
        var request = await chart.ReadAsync($"/fhir/MedicationRequest/{prescribed.Id}");
        ChartFhir.AssertServedAsMapped(await chart.MappedAsync(MedicationOrderAsFhir.Instance, prescribed.Id), request, prescribed.Id);
        Assert.Equal(("active", "order", "#product"), (request["status"]!.GetValue<string>(), request["intent"]!.GetValue<string>(),
            request["medicationReference"]!["reference"]!.GetValue<string>()));
        var product = request["contained"]![0]!;
        Assert.Equal(("Medication", "19750101000011", "N02BE01"), (product["resourceType"]!.GetValue<string>(),
            product["code"]!["coding"]![0]!["code"]!.GetValue<string>(), product["code"]!["coding"]![1]!["code"]!.GetValue<string>()));
        Assert.Equal(["08:00:00", "20:00:00"], request["dosageInstruction"]![0]!["timing"]!["repeat"]!["timeOfDay"]!.AsArray().Select(t => t!.GetValue<string>()));
        var statement = await chart.ReadAsync($"/fhir/MedicationStatement/{own.Id}");
        ChartFhir.AssertServedAsMapped(await chart.MappedAsync(MedicationOrderAsFhir.Instance, own.Id), statement, own.Id);
        Assert.Equal(("patientspecified", patient), (statement["category"]!["coding"]![0]!["code"]!.GetValue<string>(),
            statement["informationSource"]!["reference"]!.GetValue<string>()));
        Assert.Equal(HttpStatusCode.NotFound, (await chart.Client.GetFhirAsync($"/fhir/MedicationRequest/{own.Id}")).Status);

        // Search: patient, subject, status, code (the contained product's ATC code), _id.
        Assert.Equal([prescribed.Id.ToString()], await chart.SearchIdsAsync($"/fhir/MedicationRequest?patient={chart.PatientId}"));
        Assert.Equal([prescribed.Id.ToString()], await chart.SearchIdsAsync($"/fhir/MedicationRequest?subject={patient}&status=active&code=http://www.whocc.no/atc|N02BE01"));
        Assert.Equal([own.Id.ToString()], await chart.SearchIdsAsync($"/fhir/MedicationStatement?patient={chart.PatientId}&_id={own.Id}&code=N02AA01"));
        Assert.Empty(await chart.SearchIdsAsync($"/fhir/MedicationRequest?patient={chart.PatientId}&status=stopped"));

        // A change is a new version of the same resource; the API cannot change what the chart owns.
        await medication.StopAsync(chart.Caller, prescribed.Id, "Smärtfri", Ct);
        Assert.Equal([prescribed.Id.ToString()], await chart.SearchIdsAsync($"/fhir/MedicationRequest?patient={chart.PatientId}&status=stopped"));
        Assert.Equal(2, await chart.VersionCountAsync("MedicationRequest", prescribed.Id));
        var stopped = await chart.ReadAsync($"/fhir/MedicationRequest/{prescribed.Id}");
        stopped["status"] = "active";
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await chart.Client.PutFhirAsync($"/fhir/MedicationRequest/{prescribed.Id}", stopped)).Status);

        // An administration recorded in eMAR (migration 0029's row), published on the recording transaction: given, then corrected.
        var given = Guid.CreateVersion7();
        var correction = Guid.CreateVersion7();
        var now = DateTimeOffset.UtcNow;
        await chart.Server.Database.InUnscopedTransactionAsync(async (connection, transaction) =>
        {
            await connection.ExecuteAsync(
                """
                INSERT INTO medication_administration (id, patient_id, order_id, order_version, unit_id, scheduled_at, outcome, dose_value, dose_unit, given_at,
                    reason, given_by, checked_by, checked_at, corrects_id, recorded_at)
                VALUES (@id, @patientId, @orderId, 1, @unitId, NULL, 'Given', 1, 'tablett', @now, 'Smärta 7/10', @staffId, @staffId, @now, @corrects, @now)
                """, new { id = given, patientId = chart.PatientId, orderId = own.Id, unitId = chart.Caller.UnitId, now, staffId = chart.Caller.StaffId, corrects = (Guid?)null }, transaction);
            Assert.True(await MedicationAdministrationAsFhir.PublishAsync(connection, transaction, given, now));
            return 0;
        }, Ct);
        var administration = await chart.ReadAsync($"/fhir/MedicationAdministration/{given}");
        ChartFhir.AssertServedAsMapped(await chart.MappedAsync(MedicationAdministrationAsFhir.Instance, given), administration, given);
        Assert.Equal(("completed", "Smärta 7/10", "verifier"), (administration["status"]!.GetValue<string>(),
            administration["reasonCode"]![0]!["text"]!.GetValue<string>(), administration["performer"]![1]!["function"]!["coding"]![0]!["code"]!.GetValue<string>()));
        await chart.Server.Database.InUnscopedTransactionAsync(async (connection, transaction) =>
        {
            await connection.ExecuteAsync(
                """
                INSERT INTO medication_administration (id, patient_id, order_id, order_version, unit_id, scheduled_at, outcome, dose_value, dose_unit, given_at,
                    reason, given_by, checked_by, checked_at, corrects_id, recorded_at)
                VALUES (@id, @patientId, @orderId, 1, @unitId, NULL, 'NotGiven', NULL, NULL, NULL, 'Patienten avböjde', @staffId, NULL, NULL, @corrects, @now)
                """, new { id = correction, patientId = chart.PatientId, orderId = own.Id, unitId = chart.Caller.UnitId, now, staffId = chart.Caller.StaffId, corrects = given }, transaction);
            await MedicationAdministrationAsFhir.PublishAsync(connection, transaction, correction, now);
            return 0;
        }, Ct);
        Assert.Equal("entered-in-error", (await chart.ReadAsync($"/fhir/MedicationAdministration/{given}"))["status"]!.GetValue<string>());
        Assert.Equal([correction.ToString()], await chart.SearchIdsAsync($"/fhir/MedicationAdministration?patient={chart.PatientId}&status=not-done"));
        ChartFhir.AssertValid(await chart.ReadAsync($"/fhir/MedicationAdministration/{correction}"));

        // Another system's four types: create, update and a transaction, each read back as sent.
        var foreignRequest = new JsonObject
        {
            ["resourceType"] = "MedicationRequest", ["meta"] = new JsonObject { ["source"] = "urn:system:vc-norr" },
            ["status"] = "active", ["intent"] = "order",
            ["medicationCodeableConcept"] = Concept("http://www.nlm.nih.gov/research/umls/rxnorm", "310798", "Hydrochlorothiazide 25 MG Oral Tablet"),
            ["subject"] = new JsonObject { ["reference"] = patient }, ["authoredOn"] = "2026-11-01",
            ["requester"] = new JsonObject { ["display"] = "Dr Annan" },
        };
        var (created, createdBody, _) = await chart.Client.PostFhirAsync("/fhir/MedicationRequest", foreignRequest);
        Assert.True(created == HttpStatusCode.Created, FhirCalls.Issues(createdBody));
        var foreignId = createdBody["id"]!.GetValue<string>();
        var updated = (JsonObject)createdBody.DeepClone();
        updated["dosageInstruction"] = new JsonArray(new JsonObject { ["text"] = "1 tablett på morgonen" });
        var (put, putBody, _) = await chart.Client.PutFhirAsync($"/fhir/MedicationRequest/{foreignId}", updated);
        Assert.True(put == HttpStatusCode.OK, FhirCalls.Issues(putBody));
        Assert.Equal("1 tablett på morgonen", (await chart.ReadAsync($"/fhir/MedicationRequest/{foreignId}"))["dosageInstruction"]![0]!["text"]!.GetValue<string>());

        var bundle = new JsonObject
        {
            ["resourceType"] = "Bundle", ["type"] = "transaction",
            ["entry"] = new JsonArray(
                Entry("urn:uuid:8f1f8f3c-0c55-4a57-9f0b-3a2bb1d3a001", new JsonObject
                {
                    ["resourceType"] = "Medication", ["code"] = Concept("http://www.whocc.no/atc", "C03AA03", "Hydroklortiazid 25 mg tablett"),
                    ["form"] = new JsonObject { ["text"] = "tablett" },
                }),
                Entry("urn:uuid:8f1f8f3c-0c55-4a57-9f0b-3a2bb1d3a002", new JsonObject
                {
                    ["resourceType"] = "MedicationStatement", ["meta"] = new JsonObject { ["source"] = "urn:system:vc-norr" }, ["status"] = "active",
                    ["medicationReference"] = new JsonObject { ["reference"] = "urn:uuid:8f1f8f3c-0c55-4a57-9f0b-3a2bb1d3a001" },
                    ["subject"] = new JsonObject { ["reference"] = patient }, ["effectiveDateTime"] = "2026-10-01",
                    ["dosage"] = new JsonArray(new JsonObject { ["text"] = "1 x 1" }),
                }),
                Entry("urn:uuid:8f1f8f3c-0c55-4a57-9f0b-3a2bb1d3a003", new JsonObject
                {
                    ["resourceType"] = "MedicationAdministration", ["status"] = "completed",
                    ["medicationReference"] = new JsonObject { ["reference"] = "urn:uuid:8f1f8f3c-0c55-4a57-9f0b-3a2bb1d3a001" },
                    ["subject"] = new JsonObject { ["reference"] = patient }, ["effectiveDateTime"] = "2026-11-02T08:00:00+01:00",
                    ["dosage"] = new JsonObject { ["dose"] = new JsonObject { ["value"] = 1, ["unit"] = "tablett" } },
                })),
        };
        var (transacted, response, _) = await chart.Client.PostFhirAsync("/fhir", bundle);
        Assert.True(transacted == HttpStatusCode.OK, FhirCalls.Issues(response));
        var locations = response["entry"]!.AsArray().Select(e => e!["response"]!["location"]!.GetValue<string>().Split("/_history")[0]).ToList();
        var medicationId = locations[0].Split('/')[1];
        foreach (var (location, sent) in locations.Zip(bundle["entry"]!.AsArray().Select(e => (JsonObject)e!["resource"]!)))
        {
            var read = await chart.ReadAsync($"/fhir/{location}");
            Assert.Equal(sent["resourceType"]!.GetValue<string>(), read["resourceType"]!.GetValue<string>());
            Assert.Equal(sent["status"]?.ToJsonString(), read["status"]?.ToJsonString());
            if (sent["medicationReference"] is not null) Assert.Equal($"Medication/{medicationId}", read["medicationReference"]!["reference"]!.GetValue<string>());
            if (sent["code"] is { } code) Assert.Equal(code.ToJsonString(), read["code"]!.ToJsonString());
        }
        Assert.Equal([medicationId], await chart.SearchIdsAsync("/fhir/Medication?code=C03AA03"));
        Assert.Equal([locations[1].Split('/')[1]], await chart.SearchIdsAsync($"/fhir/MedicationStatement?medication=Medication/{medicationId}&patient={chart.PatientId}"));
        Assert.Equal([foreignId], await chart.SearchIdsAsync("/fhir/MedicationRequest?code=310798"));

        // The list: the chart's ordinations, and beside them what other systems sent, once each, with the system and when; never the published copies.
        var view = await medication.ViewAsync(chart.Caller, chart.PatientId, Ct);
        Assert.Equal([own.Id], view.Current.Select(o => o.Id));
        Assert.Equal([prescribed.Id], view.Ended.Select(o => o.Id));
        Assert.Equal(2, view.External.Count);
        var hydro = Assert.Single(view.External, e => e.Key == $"MedicationRequest/{foreignId}");
        Assert.Equal(("Hydrochlorothiazide 25 MG Oral Tablet", "urn:system:vc-norr", "Dr Annan", "1 tablett på morgonen"), (hydro.Title, hydro.Source, hydro.Author, hydro.Detail));
        Assert.Contains(view.External, e => e.Key == $"MedicationStatement/{locations[1].Split('/')[1]}" && e.Source == "urn:system:vc-norr");
        Assert.Equal(2, view.ExternalCurrent.Count);

        // The CapabilityStatement names the four types with their searches.
        var capability = await chart.ReadAsync("/fhir/metadata");
        var resources = capability["rest"]![0]!["resource"]!.AsArray();
        foreach (var type in new[] { "MedicationRequest", "MedicationStatement", "MedicationAdministration", "Medication" })
        {
            var entry = resources.Single(r => r!["type"]!.GetValue<string>() == type)!;
            var names = entry["searchParam"]!.AsArray().Select(p => p!["name"]!.GetValue<string>()).ToList();
            Assert.Contains("_id", names);
            Assert.Contains("code", names);
            if (type != "Medication") Assert.Contains("patient", names);
        }

        // Through the checkpoint, audited: someone at another unit without a care relation sees none of it.
        var (member, assignments) = await chart.Server.AddUserAsync("annan", "x");
        var stranger = chart.Fhir.Client(assignment: assignments[0], member: member);
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.GetFhirAsync($"/fhir/MedicationRequest/{prescribed.Id}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.GetFhirAsync($"/fhir/MedicationAdministration/{given}")).Status);
        var (_, strangerSearch, _) = await stranger.GetFhirAsync($"/fhir/MedicationStatement?patient={chart.PatientId}");
        Assert.Empty(strangerSearch["entry"] as JsonArray ?? []);
        await using var audit = await chart.Server.Database.OpenUnscopedAsync(Ct);
        Assert.True(await audit.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM audit_event WHERE resource = 'FHIR MedicationRequest' AND outcome = 'Denied' AND staff_id = @staffId", new { staffId = member.Id }) >= 1);
        Assert.True(await audit.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM audit_event WHERE resource = 'FHIR MedicationAdministration' AND activity = 'Read' AND outcome = 'Allowed' AND staff_id = @staffId",
            new { staffId = chart.Caller.StaffId }) >= 1);
    }

    private static JsonObject Entry(string fullUrl, JsonObject resource) => new()
    {
        ["fullUrl"] = fullUrl, ["resource"] = resource,
        ["request"] = new JsonObject { ["method"] = "POST", ["url"] = resource["resourceType"]!.GetValue<string>() },
    };

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Bad_medication_resources_get_an_operation_outcome_naming_the_problem_and_a_transaction_with_one_stores_nothing(DatabaseEngine engine)
    {
        await using var chart = await ChartFhir.StartAsync(engine);
        var before = await StoredAsync(chart);
        var patient = new JsonObject { ["reference"] = chart.PatientReference };

        // No patient; an unknown status; no medication; a dose that is not a number.
        var cases = new (JsonObject Resource, string Expected)[]
        {
            (new JsonObject { ["resourceType"] = "MedicationStatement", ["status"] = "active", ["medicationCodeableConcept"] = new JsonObject { ["text"] = "Alvedon" } }, "subject"),
            (new JsonObject { ["resourceType"] = "MedicationAdministration", ["status"] = "given", ["subject"] = patient.DeepClone(),
                ["medicationCodeableConcept"] = new JsonObject { ["text"] = "Alvedon" }, ["effectiveDateTime"] = "2026-11-02" }, "status"),
            (new JsonObject { ["resourceType"] = "MedicationRequest", ["status"] = "active", ["intent"] = "order", ["subject"] = patient.DeepClone() }, "medication"),
            (new JsonObject { ["resourceType"] = "MedicationAdministration", ["status"] = "completed", ["subject"] = patient.DeepClone(),
                ["medicationCodeableConcept"] = new JsonObject { ["text"] = "Alvedon" }, ["effectiveDateTime"] = "2026-11-02",
                ["dosage"] = new JsonObject { ["dose"] = new JsonObject { ["value"] = "en" } } }, "dose"),
            (new JsonObject { ["resourceType"] = "Medication", ["code"] = new JsonObject { ["coding"] = new JsonArray(new JsonObject { ["system"] = "http://www.whocc.no/atc" }) },
                ["status"] = "påbörjad" }, "status"),
        };
        foreach (var (resource, expected) in cases)
        {
            var (status, outcome, _) = await chart.Client.PostFhirAsync($"/fhir/{resource["resourceType"]}", resource);
            Assert.True(status is HttpStatusCode.BadRequest or HttpStatusCode.UnprocessableEntity, $"{resource.ToJsonString()}: {status}");
            Assert.Equal("OperationOutcome", outcome["resourceType"]!.GetValue<string>());
            Assert.Contains(expected, FhirCalls.Issues(outcome), StringComparison.OrdinalIgnoreCase);
        }

        // A transaction whose last entry is bad: 4xx, and the good ones before it are not kept.
        var bundle = new JsonObject
        {
            ["resourceType"] = "Bundle", ["type"] = "transaction",
            ["entry"] = new JsonArray(
                Entry("urn:uuid:0b0e2c71-6a0e-4a43-8e55-8a6f3c2b1001", new JsonObject
                {
                    ["resourceType"] = "MedicationRequest", ["status"] = "active", ["intent"] = "order",
                    ["medicationCodeableConcept"] = new JsonObject { ["text"] = "Alvedon" }, ["subject"] = patient.DeepClone(),
                }),
                Entry("urn:uuid:0b0e2c71-6a0e-4a43-8e55-8a6f3c2b1002", (JsonObject)cases[1].Resource.DeepClone())),
        };
        var (transacted, response, _) = await chart.Client.PostFhirAsync("/fhir", bundle);
        Assert.True(transacted is HttpStatusCode.BadRequest or HttpStatusCode.UnprocessableEntity, $"{transacted} {FhirCalls.Issues(response)}");
        Assert.Contains("status", FhirCalls.Issues(response), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(before, await StoredAsync(chart));
        Assert.Empty((await chart.Get<MedicationList>().ViewAsync(chart.Caller, chart.PatientId, Ct)).External);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_synthea_bundles_medication_requests_show_in_the_medication_list_page_marked_with_their_origin(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var bundle = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(FhirSamples.Folder, "Synthea", "Edward_Gulgowski_43481611-2459-44f5-ab20-4b142dac160f.json"), Ct))!;
        var (status, response, _) = await fhir.Client().PostFhirAsync("/fhir", bundle);
        Assert.True(status == HttpStatusCode.OK, FhirCalls.Issues(response));
        Guid patientId;
        await using (var c = await fhir.Server.Database.OpenUnscopedAsync(Ct))
            patientId = await c.QuerySingleAsync<Guid>("SELECT DISTINCT patient_id FROM fhir_resource WHERE resource_type = 'MedicationRequest'");

        var browser = fhir.Server.CreateClient();
        await fhir.Server.PostLoginAsync(browser, "fhir", "x");
        var page = await browser.GetStringAsync($"/patients/{patientId}/medication", Ct);
        var external = page[page.IndexOf("id=\"external-medications\"", StringComparison.Ordinal)..];
        // Three requests, each once: the active one among the current, two stopped, each marked as from another system.
        Assert.Equal(3, external.Split("data-resource=\"MedicationRequest/").Length - 1);
        Assert.Contains("Hydrochlorothiazide 25 MG", external);
        Assert.Contains("Ibuprofen 200 MG Oral Tablet", external);
        Assert.Equal(3, external.Split("Från annat system").Length - 1);
        Assert.Contains("FHIR, mottaget", external);
        Assert.Contains("Utsatt", external);
        // The list's own ordinations are none: nothing was copied into it.
        Assert.Contains("id=\"current-h\"", page);
        await using var connection = await fhir.Server.Database.OpenUnscopedAsync(Ct);
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM medication_order WHERE patient_id = @patientId", new { patientId }));
    }
}
