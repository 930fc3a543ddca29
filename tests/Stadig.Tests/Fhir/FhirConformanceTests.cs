using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Storage;

namespace Stadig.Tests.Fhir;

/// <summary>
/// What FHIR R4 itself requires of a server, case by case (issue 15, item 6): what R4 allows is
/// accepted and read back as sent, what it forbids is refused with 400 and an OperationOutcome,
/// and a parameter or interaction Stadig does not do is either honoured or answered as such.
/// </summary>
public class FhirConformanceTests
{
    private const string Subsetted = "SUBSETTED";

    private static string Number(int year, int month, int day, int serial) => TestNumbers.Personnummer(year, month, day, serial).Replace("-", "", StringComparison.Ordinal);

    private static JsonObject PatientWith(string personnummer, JsonArray? names, string? gender, string? birthDate)
    {
        var patient = new JsonObject
        {
            ["resourceType"] = "Patient",
            ["identifier"] = new JsonArray(new JsonObject { ["system"] = "http://electronichealth.se/identifier/personnummer", ["value"] = personnummer }),
        };
        if (names is not null) patient["name"] = names;
        if (gender is not null) patient["gender"] = gender;
        if (birthDate is not null) patient["birthDate"] = birthDate;
        return patient;
    }

    /// <summary>Everything the client sent comes back, and nothing else but id and meta.</summary>
    private static void AssertReadsBackAsSent(JsonObject sent, JsonObject read)
    {
        foreach (var (name, value) in sent)
            Assert.True(JsonNode.DeepEquals(value, read[name]), $"{name}: sent {value?.ToJsonString()}, read {read[name]?.ToJsonString()}");
        var added = read.Select(p => p.Key).Where(k => k is not ("id" or "meta") && !sent.ContainsKey(k)).ToList();
        Assert.True(added.Count == 0, $"Added on read-back: {string.Join(", ", added)} in {read.ToJsonString()}");
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_patient_with_only_name_text_is_accepted_and_reads_back_as_sent(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var client = fhir.Client();
        var sent = PatientWith(Number(1990, 3, 4, 982), new JsonArray(new JsonObject { ["text"] = "Maria Ljungberg" }), "female", "1990-03-04");

        var (status, created, _) = await client.PostFhirAsync("/fhir/Patient", sent.DeepClone());
        Assert.True(status == HttpStatusCode.Created, FhirCalls.Issues(created));
        var (_, read, _) = await client.GetFhirAsync($"/fhir/Patient/{created["id"]!.GetValue<string>()}");
        AssertReadsBackAsSent(sent, read);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_patient_with_no_name_is_accepted_and_nothing_is_invented_on_read_back(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var client = fhir.Client();

        // A newborn: the identity number is known, the name not yet.
        var newborn = PatientWith(Number(2026, 1, 2, 984), names: null, "female", "2026-01-02");
        var (status, created, _) = await client.PostFhirAsync("/fhir/Patient", newborn.DeepClone());
        Assert.True(status == HttpStatusCode.Created, FhirCalls.Issues(created));
        var (_, read, _) = await client.GetFhirAsync($"/fhir/Patient/{created["id"]!.GetValue<string>()}");
        AssertReadsBackAsSent(newborn, read);

        // An unknown patient: no number, no name, no gender. Stadig gives a reservnummer and nothing else.
        var unknown = new JsonObject { ["resourceType"] = "Patient" };
        var (unknownStatus, unknownCreated, _) = await client.PostFhirAsync("/fhir/Patient", unknown.DeepClone());
        Assert.True(unknownStatus == HttpStatusCode.Created, FhirCalls.Issues(unknownCreated));
        var (_, unknownRead, _) = await client.GetFhirAsync($"/fhir/Patient/{unknownCreated["id"]!.GetValue<string>()}");
        Assert.Null(unknownRead["gender"]);
        Assert.Null(unknownRead["name"]);
        Assert.Null(unknownRead["birthDate"]);
        Assert.Single(unknownRead["identifier"]!.AsArray());
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Malformed_bodies_are_refused_with_400_and_an_operation_outcome_and_store_nothing(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var client = fhir.Client();
        var (_, patient, _) = await client.PostFhirAsync("/fhir/Patient", FhirCalls.Patient(Number(1970, 5, 6, 982), "Öström", "Anna"));
        var patientId = patient["id"]!.GetValue<string>();
        // Each case its own number, so a case wrongly accepted cannot make the next one a duplicate.
        var numbers = Enumerable.Range(0, 3).Select(i => Number(1980, 7, 8 + i, 986)).ToArray();

        // Every case is tried, and all that fail are named together.
        var failures = new List<string>();
        async Task AssertRefused(string path, byte[] body, string expected)
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/fhir+json") { CharSet = "utf-8" };
            var response = await client.PostAsync(path, content, TestContext.Current.CancellationToken);
            var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
            if (response.StatusCode != HttpStatusCode.BadRequest || !text.Contains("\"OperationOutcome\"", StringComparison.Ordinal)
                || !text.Contains(expected, StringComparison.OrdinalIgnoreCase))
                failures.Add($"{expected}: {(int)response.StatusCode} {text}");
        }

        var name = "\"name\":[{\"family\":\"Berg\",\"given\":[\"Bo\"]}]";
        static string Identifier(string number) => $"\"identifier\":[{{\"system\":\"http://electronichealth.se/identifier/personnummer\",\"value\":\"{number}\"}}]";
        await AssertRefused("/fhir/Patient", Encoding.UTF8.GetBytes($"{{\"resourceType\":\"Patient\",{Identifier(numbers[0])},{name},\"gender\":\"male\",\"gender\":\"female\"}}"), "gender");
        byte[] invalidUtf8 = [.. Encoding.UTF8.GetBytes($"{{\"resourceType\":\"Patient\",{Identifier(numbers[1])},\"name\":[{{\"family\":\"B"), 0xC3, 0x28, .. Encoding.UTF8.GetBytes("rg\",\"given\":[\"Bo\"]}]}")];
        await AssertRefused("/fhir/Patient", invalidUtf8, "UTF-8");
        await AssertRefused("/fhir/Patient", Encoding.UTF8.GetBytes($"{{\"resourceType\":\"Patient\",{Identifier(numbers[2])},{name},\"birthDate\":\"2021-02-29\"}}"), "Patient.birthDate");
        var emptyQuantity = FhirCalls.Observation($"Patient/{patientId}", "2345-7", 5.4, "2026-03-01");
        emptyQuantity["valueQuantity"] = new JsonObject();
        await AssertRefused("/fhir/Observation", Encoding.UTF8.GetBytes(emptyQuantity.ToJsonString()), "Observation.valueQuantity");
        var emptyInArray = FhirCalls.Observation($"Patient/{patientId}", "2345-7", 5.4, "2026-03-01");
        emptyInArray["note"] = new JsonArray(new JsonObject());
        await AssertRefused("/fhir/Observation", Encoding.UTF8.GetBytes(emptyInArray.ToJsonString()), "Observation.note[0]");
        Assert.True(failures.Count == 0, string.Join("\n", failures));

        await using var connection = await fhir.Server.Database.OpenUnscopedAsync(TestContext.Current.CancellationToken);
        foreach (var number in numbers)
            Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM patient WHERE identifier = @number", new { number }));
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM fhir_resource WHERE resource_type = 'Observation'"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Everything_honours_type_since_start_and_end(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var client = fhir.Client();
        var (_, patient, _) = await client.PostFhirAsync("/fhir/Patient", FhirCalls.Patient(Number(1960, 2, 3, 982), "Öström", "Anna"));
        var id = patient["id"]!.GetValue<string>();
        var (_, old, _) = await client.PostFhirAsync("/fhir/Observation", FhirCalls.Observation($"Patient/{id}", "2345-7", 5.4, "2020-03-01T08:00:00+01:00"));
        var (_, recent, _) = await client.PostFhirAsync("/fhir/Observation", FhirCalls.Observation($"Patient/{id}", "2345-7", 6.1, "2026-03-01T08:00:00+01:00"));
        var condition = new JsonObject
        {
            ["resourceType"] = "Condition", ["subject"] = new JsonObject { ["reference"] = $"Patient/{id}" },
            ["code"] = new JsonObject { ["text"] = "Hypertoni" }, ["recordedDate"] = "2025-06-01",
        };
        var (conditionStatus, conditionCreated, _) = await client.PostFhirAsync("/fhir/Condition", condition);
        Assert.True(conditionStatus == HttpStatusCode.Created, FhirCalls.Issues(conditionCreated));

        static string[] Ids(JsonObject bundle) => bundle["entry"]!.AsArray()
            .Where(e => e!["search"]?["mode"]?.GetValue<string>() != "outcome")
            .Select(e => $"{e!["resource"]!["resourceType"]!.GetValue<string>()}/{e["resource"]!["id"]!.GetValue<string>()}").Order().ToArray();

        var (status, all, _) = await client.GetFhirAsync($"/fhir/Patient/{id}/$everything");
        Assert.True(status == HttpStatusCode.OK, FhirCalls.Issues(all));
        Assert.Equal(4, Ids(all).Length);

        var (_, observationsOnly, _) = await client.GetFhirAsync($"/fhir/Patient/{id}/$everything?_type=Observation");
        Assert.Equal(new[] { $"Observation/{old["id"]}", $"Observation/{recent["id"]}" }.Order().ToArray(), Ids(observationsOnly));
        var (_, withPatient, _) = await client.GetFhirAsync($"/fhir/Patient/{id}/$everything?_type=Patient,Condition");
        Assert.Equal(new[] { $"Condition/{conditionCreated["id"]}", $"Patient/{id}" }, Ids(withPatient));

        var (_, since, _) = await client.GetFhirAsync($"/fhir/Patient/{id}/$everything?_since=2999-01-01T00:00:00Z");
        Assert.Empty(Ids(since));

        // start and end bound the care dates: the 2020 result falls outside; the Patient is always in range.
        var (_, fromStart, _) = await client.GetFhirAsync($"/fhir/Patient/{id}/$everything?start=2025-01-01");
        Assert.Equal(new[] { $"Condition/{conditionCreated["id"]}", $"Observation/{recent["id"]}", $"Patient/{id}" }.Order().ToArray(), Ids(fromStart));
        var (_, untilEnd, _) = await client.GetFhirAsync($"/fhir/Patient/{id}/$everything?end=2021-01-01");
        Assert.Equal(new[] { $"Observation/{old["id"]}", $"Patient/{id}" }.Order().ToArray(), Ids(untilEnd));

        var (badType, badTypeOutcome, _) = await client.GetFhirAsync($"/fhir/Patient/{id}/$everything?_type=Spaceship");
        Assert.Equal(HttpStatusCode.BadRequest, badType);
        Assert.Contains("Spaceship", FhirCalls.Issues(badTypeOutcome));
        var (badStart, _, _) = await client.GetFhirAsync($"/fhir/Patient/{id}/$everything?start=yesterday");
        Assert.Equal(HttpStatusCode.BadRequest, badStart);
        // A parameter $everything does not know is reported, not silently dropped.
        var (unknownStatus, unknown, _) = await client.GetFhirAsync($"/fhir/Patient/{id}/$everything?colour=blue");
        Assert.Equal(HttpStatusCode.OK, unknownStatus);
        Assert.Contains("colour", unknown.ToJsonString());
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Elements_and_summary_subset_the_resource_and_tag_it_subsetted(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var client = fhir.Client();
        var (_, patient, _) = await client.PostFhirAsync("/fhir/Patient", FhirCalls.Patient(Number(1960, 2, 3, 982), "Öström", "Anna"));
        var id = patient["id"]!.GetValue<string>();
        var observation = FhirCalls.Observation($"Patient/{id}", "2345-7", 5.4, "2026-03-01T08:00:00+01:00");
        observation["text"] = new JsonObject { ["status"] = "generated", ["div"] = "<div xmlns=\"http://www.w3.org/1999/xhtml\">Glukos 5,4</div>" };
        observation["note"] = new JsonArray(new JsonObject { ["text"] = "Fastande" });
        var (_, created, _) = await client.PostFhirAsync("/fhir/Observation", observation);
        var observationId = created["id"]!.GetValue<string>();

        static bool IsSubsetted(JsonObject resource) =>
            resource["meta"]?["tag"] is JsonArray tags && tags.Any(t => t?["code"]?.GetValue<string>() == Subsetted);

        // _elements on search: the named elements, the mandatory ones, and the SUBSETTED tag.
        var (_, search, _) = await client.GetFhirAsync($"/fhir/Observation?patient={id}&_elements=valueQuantity");
        var found = search["entry"]![0]!["resource"]!.AsObject();
        Assert.NotNull(found["valueQuantity"]);
        Assert.NotNull(found["status"]);
        Assert.NotNull(found["code"]);
        Assert.Null(found["note"]);
        Assert.Null(found["effectiveDateTime"]);
        Assert.True(IsSubsetted(found), found.ToJsonString());

        // …and on read.
        var (_, read, _) = await client.GetFhirAsync($"/fhir/Observation/{observationId}?_elements=note");
        Assert.NotNull(read["note"]);
        Assert.Null(read["valueQuantity"]);
        Assert.True(IsSubsetted(read), read.ToJsonString());

        // _summary=true: only the elements R4 marks as summary (Observation.note is not one).
        var (_, summary, _) = await client.GetFhirAsync($"/fhir/Observation/{observationId}?_summary=true");
        Assert.Null(summary["note"]);
        Assert.Null(summary["text"]);
        Assert.NotNull(summary["valueQuantity"]);
        Assert.True(IsSubsetted(summary), summary.ToJsonString());
        var (_, text, _) = await client.GetFhirAsync($"/fhir/Observation/{observationId}?_summary=text");
        Assert.NotNull(text["text"]);
        Assert.Null(text["note"]);
        Assert.True(IsSubsetted(text));
        var (_, data, _) = await client.GetFhirAsync($"/fhir/Observation?patient={id}&_summary=data");
        var dataResource = data["entry"]![0]!["resource"]!.AsObject();
        Assert.Null(dataResource["text"]);
        Assert.NotNull(dataResource["note"]);
        Assert.True(IsSubsetted(dataResource));
        var (_, full, _) = await client.GetFhirAsync($"/fhir/Observation/{observationId}?_summary=false");
        Assert.NotNull(full["note"]);
        Assert.False(IsSubsetted(full));

        var (badSummary, _, _) = await client.GetFhirAsync($"/fhir/Observation/{observationId}?_summary=most");
        Assert.Equal(HttpStatusCode.BadRequest, badSummary);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Xml_is_answered_406_and_patch_405_with_an_operation_outcome(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var client = fhir.Client();
        var (_, patient, _) = await client.PostFhirAsync("/fhir/Patient", FhirCalls.Patient(Number(1960, 2, 3, 982), "Öström", "Anna"));
        var id = patient["id"]!.GetValue<string>();

        var (xml, xmlOutcome, xmlResponse) = await client.SendAsync(HttpMethod.Get, $"/fhir/Patient/{id}", configure: r => r.Headers.Accept.ParseAdd("application/fhir+xml"));
        Assert.Equal(HttpStatusCode.NotAcceptable, xml);
        Assert.Equal("OperationOutcome", xmlOutcome["resourceType"]?.GetValue<string>());
        Assert.Equal("application/fhir+json", xmlResponse.Content.Headers.ContentType?.MediaType);
        var (xmlFormat, _, _) = await client.GetFhirAsync($"/fhir/Patient/{id}?_format=xml");
        Assert.Equal(HttpStatusCode.NotAcceptable, xmlFormat);
        // What a JSON client or a browser sends is answered with JSON.
        foreach (var accept in new[] { "application/fhir+json", "application/json", "*/*", "application/fhir+xml;q=0.9, application/fhir+json" })
        {
            var (ok, _, _) = await client.SendAsync(HttpMethod.Get, $"/fhir/Patient/{id}", configure: r => r.Headers.TryAddWithoutValidation("Accept", accept));
            Assert.True(ok == HttpStatusCode.OK, accept);
        }
        var (metadata, _, _) = await client.SendAsync(HttpMethod.Get, "/fhir/metadata", configure: r => r.Headers.Accept.ParseAdd("application/fhir+xml"));
        Assert.Equal(HttpStatusCode.NotAcceptable, metadata);

        var patch = new JsonArray(new JsonObject { ["op"] = "replace", ["path"] = "/active", ["value"] = false });
        var (patchStatus, patchOutcome, _) = await client.SendAsync(HttpMethod.Patch, $"/fhir/Patient/{id}", patch,
            r => r.Content!.Headers.ContentType = new MediaTypeHeaderValue("application/json-patch+json"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, patchStatus);
        Assert.Equal("OperationOutcome", patchOutcome["resourceType"]?.GetValue<string>());
        Assert.Contains("PATCH", FhirCalls.Issues(patchOutcome));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Validate_answers_an_operation_outcome_and_stores_nothing(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var client = fhir.Client();
        var number = Number(1975, 4, 5, 982);
        var valid = FhirCalls.Patient(number, "Öström", "Anna");

        var (status, outcome, _) = await client.PostFhirAsync("/fhir/Patient/$validate", valid);
        Assert.True(status == HttpStatusCode.OK, FhirCalls.Issues(outcome));
        Assert.Equal("OperationOutcome", outcome["resourceType"]!.GetValue<string>());
        Assert.DoesNotContain(outcome["issue"]!.AsArray(), i => i!["severity"]!.GetValue<string>() is "error" or "fatal");

        var invalid = FhirCalls.Patient(number, "Öström", "Anna");
        invalid["birthDate"] = "2021-02-29";
        invalid["colour"] = "blue";
        var (invalidStatus, invalidOutcome, _) = await client.PostFhirAsync("/fhir/Patient/$validate", invalid);
        Assert.Equal(HttpStatusCode.OK, invalidStatus);
        var errors = invalidOutcome["issue"]!.AsArray().Where(i => i!["severity"]!.GetValue<string>() == "error").Select(i => i!["expression"]?[0]?.GetValue<string>()).ToList();
        Assert.Contains("Patient.birthDate", errors);
        Assert.Contains("Patient.colour", errors);

        // As a Parameters resource with the resource in "resource", as the operation defines.
        var parameters = new JsonObject
        {
            ["resourceType"] = "Parameters",
            ["parameter"] = new JsonArray(new JsonObject { ["name"] = "resource", ["resource"] = invalid.DeepClone() }),
        };
        var (parametersStatus, parametersOutcome, _) = await client.PostFhirAsync("/fhir/Patient/$validate", parameters);
        Assert.Equal(HttpStatusCode.OK, parametersStatus);
        Assert.Contains("Patient.colour", FhirCalls.Issues(parametersOutcome));

        var (wrongType, _, _) = await client.PostFhirAsync("/fhir/Observation/$validate", valid);
        Assert.Equal(HttpStatusCode.BadRequest, wrongType);

        await using var connection = await fhir.Server.Database.OpenUnscopedAsync(TestContext.Current.CancellationToken);
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM patient WHERE identifier = @number", new { number }));
    }
}
