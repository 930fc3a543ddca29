using System.Text.Json.Nodes;
using Dapper;
using Stadig.Fhir.Search;
using Stadig.Storage;

namespace Stadig.Tests.Fhir.Search;

public class FhirSearchStorageTests
{
    private static readonly DateTimeOffset Base = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly Guid AnnaId = Guid.Parse("0b4e7a52-1111-4c57-9b5b-8c2a8e4f2b11");

    private static async Task<Database> SeedAsync(DatabaseEngine engine)
    {
        var database = await TestDatabases.CreateAsync(engine);
        await using (var c = await database.OpenUnscopedAsync())
        {
            await c.ExecuteAsync(
                """
                INSERT INTO patient (id, identifier_kind, identifier, identifier_short, family_name, given_names, family_search,
                    family_last_search, given_search, given_last_search, birth_date, sex, protected_identity, version, created_at, updated_at)
                VALUES (@id, 'Personnummer', '191212121212', '1212121212', 'Öström', 'Anna', 'ostrom', 'ostrom', 'anna', 'anna',
                    @born, 'Female', 'None', 1, @created, @created)
                """, new { id = AnnaId, born = new DateOnly(1912, 12, 12), created = Base });
        }
        const string Pnr = "http://electronichealth.se/identifier/personnummer";
        const string Loinc = "http://loinc.org";
        const string Category = "http://terminology.hl7.org/CodeSystem/observation-category";
        await StoreAsync(database, 0, AnnaId, $$"""
            {"resourceType":"Patient","id":"p1","identifier":[{"system":"{{Pnr}}","value":"191212121212"}],
             "name":[{"family":"Öström","given":["Anna","Maria"]}],"birthDate":"1912-12-12"}
            """);
        await StoreAsync(database, 0, null, $$"""
            {"resourceType":"Patient","id":"p2","identifier":[{"system":"{{Pnr}}","value":"199001011234"}],"name":[{"family":"Lind","given":["Per"]}]}
            """);
        await StoreAsync(database, 0, null, """{"resourceType":"Practitioner","id":"pr1","name":[{"family":"Åberg","given":["Élise"]}]}""");
        await StoreAsync(database, 0, null, """{"resourceType":"Practitioner","id":"pr2","name":[{"family":"Berg","given":["Olof"]}]}""");
        await StoreAsync(database, 1, AnnaId, $$"""
            {"resourceType":"Observation","id":"o1","status":"final","identifier":[{"system":"urn:lab","value":"L-1"}],
             "category":[{"coding":[{"system":"{{Category}}","code":"vital-signs"}]}],
             "code":{"coding":[{"system":"{{Loinc}}","code":"8867-4"}]},"subject":{"reference":"Patient/p1"},
             "effectiveDateTime":"2013-01-14T10:00:00Z"}
            """);
        await StoreAsync(database, 2, null, $$"""
            {"resourceType":"Observation","id":"o2","status":"preliminary",
             "category":[{"coding":[{"system":"{{Category}}","code":"laboratory"}]}],
             "code":{"coding":[{"system":"{{Loinc}}","code":"2345-7"}]},"subject":{"reference":"Patient/p2"},"effectiveDateTime":"2013-06-01"}
            """);
        await StoreAsync(database, 3, AnnaId, """
            {"resourceType":"Observation","id":"o3","status":"final","code":{"coding":[{"system":"urn:other","code":"8867-4"}]},
             "subject":{"reference":"Patient/p1"},"performer":[{"reference":"Practitioner/pr1"}],
             "effectivePeriod":{"start":"2014-03-01T00:00:00Z","end":"2014-03-02T00:00:00Z"}}
            """);
        await StoreAsync(database, 4, AnnaId, $$"""
            {"resourceType":"Observation","id":"o4","status":"final","code":{"coding":[{"system":"{{Loinc}}","code":"8867-4"}]},
             "subject":{"reference":"Patient/p1"},"effectiveDateTime":"2013-01-14"}
            """, deleted: true);
        await StoreAsync(database, 5, AnnaId, $$"""
            {"resourceType":"DiagnosticReport","id":"dr1","status":"final","subject":{"reference":"Patient/p1"},
             "code":{"coding":[{"system":"{{Loinc}}","code":"24331-1"}]},"result":[{"reference":"Observation/o1"},{"reference":"Observation/o3"}]}
            """);
        await StoreAsync(database, 6, AnnaId, """
            {"resourceType":"Encounter","id":"e1","status":"in-progress","subject":{"reference":"Patient/p1"},"period":{"start":"2013-01-14T08:00:00Z"}}
            """);
        return database;
    }

    private static Task StoreAsync(Database database, int hour, Guid? patientId, string json, bool deleted = false)
    {
        var resource = JsonNode.Parse(json)!.AsObject();
        var (type, id) = ((string)resource["resourceType"]!, (string)resource["id"]!);
        return database.InUnscopedTransactionAsync(async (c, t) =>
        {
            await c.ExecuteAsync(
                """
                INSERT INTO fhir_resource (resource_type, id, version_id, patient_id, last_updated, deleted, content)
                VALUES (@type, @id, 1, @patientId, @lastUpdated, @deleted, @json)
                """, new { type, id, patientId, lastUpdated = Base.AddHours(hour), deleted, json }, t);
            await FhirSearchIndexWriter.ReplaceAsync(c, t, type, id, patientId, FhirSearchIndexer.Extract(resource), TestContext.Current.CancellationToken);
            return 0;
        }, TestContext.Current.CancellationToken);
    }

    private static async Task<FhirSearchPage> SearchAsync(Database database, string type, string query, Guid? patientId = null)
    {
        var request = FhirSearchRequest.Parse(type, FhirSearchRequestTests.Query(query), strict: true);
        await using var c = await database.OpenUnscopedAsync(TestContext.Current.CancellationToken);
        return await FhirSearchRunner.SearchAsync(c, request, patientId, cancellationToken: TestContext.Current.CancellationToken);
    }

    private static async Task<long> CountAsync(Database database, string type, string query)
    {
        var request = FhirSearchRequest.Parse(type, FhirSearchRequestTests.Query(query), strict: true);
        var (sql, parameters) = FhirSearchSql.BuildCount(request, database.Engine, null);
        await using var c = await database.OpenUnscopedAsync(TestContext.Current.CancellationToken);
        return await c.ExecuteScalarAsync<long>(sql, parameters);
    }

    private static async Task<string[]> Ids(Database database, string type, string query, Guid? patientId = null) =>
        [.. (await SearchAsync(database, type, query, patientId)).Rows.Select(r => r.Id).Order(StringComparer.Ordinal)];

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Token_string_and_reference_parameters_find_exactly_their_resources(DatabaseEngine engine)
    {
        var db = await SeedAsync(engine);
        Assert.Equal(["o1", "o3"], await Ids(db, "Observation", "_id=o1,o3,o4"));
        Assert.Equal(["p1"], await Ids(db, "Patient", "identifier=http://electronichealth.se/identifier/personnummer|191212121212"));
        Assert.Equal(["p2"], await Ids(db, "Patient", "identifier=199001011234"));
        Assert.Empty(await Ids(db, "Patient", "identifier=urn:other|191212121212"));
        Assert.Equal(["p1"], await Ids(db, "Patient", "name=ostr"));
        Assert.Equal(["p1"], await Ids(db, "Patient", "name=MARIA"));
        Assert.Equal(["p2"], await Ids(db, "Patient", "family=Lind"));
        Assert.Equal(["pr1"], await Ids(db, "Practitioner", "family=åberg"));
        Assert.Equal(["pr1", "pr2"], await Ids(db, "Practitioner", "family:contains=berg"));
        Assert.Equal(["pr1"], await Ids(db, "Practitioner", "given=elise"));
        Assert.Empty(await Ids(db, "Practitioner", "given:exact=Elise"));
        Assert.Equal(["pr1"], await Ids(db, "Practitioner", "given:exact=Élise"));
        Assert.Equal(["o1", "o3"], await Ids(db, "Observation", "patient=p1"));
        Assert.Equal(["o2"], await Ids(db, "Observation", "patient=Patient/p2"));
        Assert.Equal(["o1", "o3"], await Ids(db, "Observation", "subject=Patient/p1"));
        Assert.Equal(["o1", "o3"], await Ids(db, "Observation", "subject:Patient=p1"));
        Assert.Equal(["o3"], await Ids(db, "Observation", "performer=Practitioner/pr1"));
        Assert.Equal(["o1"], await Ids(db, "Observation", "code=http://loinc.org|8867-4"));
        Assert.Equal(["o1", "o3"], await Ids(db, "Observation", "code=8867-4"));
        Assert.Equal(["o1", "o2"], await Ids(db, "Observation", "code=http://loinc.org|8867-4,http://loinc.org|2345-7"));
        Assert.Equal(["o1", "o3"], await Ids(db, "Observation", "status=final"));
        Assert.Equal(["o2"], await Ids(db, "Observation", "status:not=final"));
        Assert.Equal(["o1"], await Ids(db, "Observation", "category=vital-signs"));
        Assert.Equal(["o2"], await Ids(db, "Observation", "category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"));
        Assert.Equal(["o3"], await Ids(db, "Observation", "category:missing=true"));
        Assert.Equal(["o1"], await Ids(db, "Observation", "code=8867-4&status=final&category:missing=false"));
        Assert.Equal(["dr1"], await Ids(db, "DiagnosticReport", "result=o3"));
    }

    [Theory]
    [InlineData("date=eq2013-01-14", "o1")]
    [InlineData("date=2013-01-14", "o1")]
    [InlineData("date=lt2013-06-01", "o1")]
    [InlineData("date=le2013-06-01", "o1 o2")]
    [InlineData("date=gt2013-06-01", "o3")]
    [InlineData("date=ge2013-06-01", "o2 o3")]
    [InlineData("date=eq2013", "o1 o2")]
    [InlineData("date=eq2014", "o3")]
    [InlineData("date=lt2014", "o1 o2")]
    [InlineData("date=le2013", "o1 o2")]
    [InlineData("date=gt2013", "o3")]
    [InlineData("date=ge2013", "o1 o2 o3")]
    [InlineData("date=ge2014", "o3")]
    [InlineData("date=ne2013", "o3")]
    [InlineData("date=sa2013-01-14", "o2 o3")]
    [InlineData("date=eb2013-06", "o1")]
    [InlineData("date=ge2013-01-01&date=lt2013-12-31", "o1 o2")]
    [InlineData("date=2014-03-01", "")]
    [InlineData("date=2014-03", "o3")]
    [InlineData("_lastUpdated=gt2024-01-01T01:30:00Z", "o2 o3")]
    [InlineData("_lastUpdated=le2024-01-01T02:00:00Z", "o1 o2")]
    public async Task Date_prefixes_compare_ranges_as_FHIR_defines(string query, string expected)
    {
        foreach (var engine in new[] { DatabaseEngine.Sqlite, DatabaseEngine.Postgres })
        {
            var db = await SeedAsync(engine);
            Assert.Equal(expected.Split(' ', StringSplitOptions.RemoveEmptyEntries), await Ids(db, "Observation", query));
        }
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_open_period_reaches_into_every_later_date(DatabaseEngine engine)
    {
        var db = await SeedAsync(engine);
        Assert.Equal(["e1"], await Ids(db, "Encounter", "date=ge2030"));
        Assert.Equal(["e1"], await Ids(db, "Encounter", "date=le2013-01-14"));
        Assert.Empty(await Ids(db, "Encounter", "date=lt2013-01-14"));
        Assert.Empty(await Ids(db, "Encounter", "date=eq2013-01-14"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Pages_follow_the_sort_and_say_whether_another_page_exists(DatabaseEngine engine)
    {
        var db = await SeedAsync(engine);
        var first = await SearchAsync(db, "Observation", "_count=2&_sort=_id");
        Assert.Equal(["o1", "o2"], first.Rows.Select(r => r.Id));
        Assert.True(first.HasNextPage);
        var second = await SearchAsync(db, "Observation", "_count=2&_offset=2&_sort=_id");
        Assert.Equal(["o3"], second.Rows.Select(r => r.Id));
        Assert.False(second.HasNextPage);

        Assert.Equal(["o3", "o2", "o1"], (await SearchAsync(db, "Observation", "")).Rows.Select(r => r.Id));
        Assert.Equal(["o1", "o2", "o3"], (await SearchAsync(db, "Observation", "_sort=date")).Rows.Select(r => r.Id));
        Assert.Equal(["o3", "o2", "o1"], (await SearchAsync(db, "Observation", "_sort=-date")).Rows.Select(r => r.Id));
        Assert.Equal(["o1", "o2", "o3"], (await SearchAsync(db, "Observation", "_sort=_lastUpdated")).Rows.Select(r => r.Id));
        Assert.Equal(["o2", "o1", "o3"], (await SearchAsync(db, "Observation", "_sort=-status,_id")).Rows.Select(r => r.Id));
        Assert.Equal(["pr2", "pr1"], (await SearchAsync(db, "Practitioner", "_sort=-family")).Rows.Select(r => r.Id));

        Assert.Equal(2L, await CountAsync(db, "Observation", "status=final&_summary=count"));
        Assert.Equal(3L, await CountAsync(db, "Observation", "_count=1&_total=accurate"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_patient_scope_keeps_to_one_patients_compartment(DatabaseEngine engine)
    {
        var db = await SeedAsync(engine);
        Assert.Equal(["o1", "o3"], await Ids(db, "Observation", "", AnnaId));
        Assert.Equal(["o3"], await Ids(db, "Observation", "date=2014", AnnaId));
        Assert.Equal(AnnaId, (await SearchAsync(db, "Observation", "_id=o1")).Rows.Single().PatientId);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Includes_follow_references_out_and_revincludes_follow_them_back(DatabaseEngine engine)
    {
        var db = await SeedAsync(engine);
        await using var c = await db.OpenUnscopedAsync(TestContext.Current.CancellationToken);
        var ct = TestContext.Current.CancellationToken;

        var observations = FhirSearchRequest.Parse("Observation", FhirSearchRequestTests.Query("_id=o1,o2&_include=Observation:patient"), true);
        Assert.Equal(["Patient/p1", "Patient/p2"], await FhirIncludes.IncludeTargetsAsync(c, observations, [("Observation", "o1"), ("Observation", "o2")], ct));
        var typed = FhirSearchRequest.Parse("Observation", FhirSearchRequestTests.Query("_include=Observation:subject:Group"), true);
        Assert.Empty(await FhirIncludes.IncludeTargetsAsync(c, typed, [("Observation", "o1")], ct));

        var reports = FhirSearchRequest.Parse("DiagnosticReport", FhirSearchRequestTests.Query("_include=DiagnosticReport:result"), true);
        var results = await FhirIncludes.IncludeTargetsAsync(c, reports, [("DiagnosticReport", "dr1")], ct);
        Assert.Equal(["Observation/o1", "Observation/o3"], results);
        var loaded = await FhirIncludes.LoadAsync(c, [.. results, "Observation/o4", "Observation/missing"], ct);
        Assert.Equal(["o1", "o3"], loaded.Select(r => r.Id));
        Assert.Contains("\"8867-4\"", loaded[0].Content, StringComparison.Ordinal);

        var patients = FhirSearchRequest.Parse("Patient", FhirSearchRequestTests.Query("_id=p1&_revinclude=Observation:patient&_revinclude=DiagnosticReport:patient"), true);
        var referring = await FhirIncludes.RevIncludeAsync(c, patients, [("Patient", "p1")], cancellationToken: ct);
        Assert.Equal([("DiagnosticReport", "dr1"), ("Observation", "o1"), ("Observation", "o3")], referring.Select(r => (r.ResourceType, r.Id)));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Replacing_the_index_forgets_the_old_values_and_deleting_removes_them(DatabaseEngine engine)
    {
        var db = await SeedAsync(engine);
        var ct = TestContext.Current.CancellationToken;
        await db.InUnscopedTransactionAsync(async (c, t) =>
        {
            var changed = JsonNode.Parse("""{"resourceType":"Observation","id":"o1","status":"amended"}""")!.AsObject();
            await FhirSearchIndexWriter.ReplaceAsync(c, t, "Observation", "o1", AnnaId, FhirSearchIndexer.Extract(changed), ct);
            await FhirSearchIndexWriter.DeleteAsync(c, t, "Observation", "o2", ct);
            return 0;
        }, ct);
        Assert.Equal(["o1"], await Ids(db, "Observation", "status=amended"));
        Assert.Equal(["o3"], await Ids(db, "Observation", "status=final"));
        Assert.Empty(await Ids(db, "Observation", "code=2345-7"));

        var many = Enumerable.Range(0, 250).Select(i => new FhirSearchValue("identifier", "urn:many", $"v{i}")).ToList();
        await db.InUnscopedTransactionAsync(async (c, t) => { await FhirSearchIndexWriter.ReplaceAsync(c, t, "Observation", "o3", AnnaId, many, ct); return 0; }, ct);
        Assert.Equal(["o3"], await Ids(db, "Observation", "identifier=urn:many|v249"));
    }
}
