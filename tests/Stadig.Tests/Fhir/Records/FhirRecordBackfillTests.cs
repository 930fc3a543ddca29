using System.Text.Json.Nodes;
using Dapper;
using Stadig.Fhir;
using Stadig.Fhir.Records;
using Stadig.Seeding;
using Stadig.Storage;

namespace Stadig.Tests.Fhir.Records;

/// <summary>The backfill publishes records written before publishing existed (a seeded region), once.</summary>
public class FhirRecordBackfillTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Backfill_publishes_every_seeded_record_as_a_valid_resource_and_a_second_run_publishes_nothing(DatabaseEngine engine)
    {
        var database = await TestDatabases.CreateAsync(engine);
        await new RegionSeeder(database, TimeProvider.System).SeedAsync(new SeedOptions { Patients = 40, Seed = 7 }, Ct);
        // Kinds the seeder does not write (and a draft, which forty patients may lack), inserted the way an older Stadig left them: without FHIR resources.
        var (problemId, consentId) = await InsertUnpublishedAsync(database);

        // Small batches, so every kind is walked over several pages.
        var first = await FhirRecordBackfill.RunAsync(database, TimeProvider.System, null, batchSize: 7, Ct);

        await using var connection = await database.OpenUnscopedAsync(Ct);
        async Task<long> CountAsync(string sql) => await connection.ExecuteScalarAsync<long>(sql);
        var expected = new Dictionary<string, long>
        {
            ["Encounter"] = await CountAsync("SELECT COUNT(*) FROM encounter"),
            ["Warning"] = await CountAsync("SELECT COUNT(*) FROM warning"),
            ["Problem"] = await CountAsync("SELECT COUNT(*) FROM problem"),
            ["Note"] = await CountAsync("SELECT COUNT(*) FROM note WHERE status = 'Signed'"),
            ["Consent"] = await CountAsync("SELECT COUNT(*) FROM consent"),
            ["Medication order"] = await CountAsync("SELECT COUNT(*) FROM medication_order"),
            ["Medication administration"] = await CountAsync("SELECT COUNT(*) FROM medication_administration"),
        };
        // The directory and lab kinds: rows read per kind (a lab report publishes its report and its lines).
        var directoryAndLab = new Dictionary<string, long>
        {
            ["Care provider"] = await CountAsync("SELECT COUNT(*) FROM care_provider"),
            ["Care unit"] = await CountAsync("SELECT COUNT(*) FROM care_unit"),
            ["Staff"] = await CountAsync("SELECT COUNT(*) FROM staff"),
            ["Assignment"] = await CountAsync("SELECT COUNT(*) FROM assignment"),
            ["Lab order"] = await CountAsync("SELECT COUNT(*) FROM lab_order"),
            ["Lab report"] = await CountAsync("SELECT COUNT(*) FROM diagnostic_report"),
            ["Lab result without report"] = await CountAsync("SELECT COUNT(*) FROM lab_result WHERE report_id IS NULL"),
        };
        Assert.True(directoryAndLab["Care unit"] > 0 && directoryAndLab["Staff"] > 0 && directoryAndLab["Lab result without report"] > 0,
            "The seeded region has units, staff and lab results.");
        Assert.True(expected["Encounter"] > 0 && expected["Warning"] > 0 && expected["Note"] > 0, "The seeded region has records of each kind.");
        Assert.True(await CountAsync("SELECT COUNT(*) FROM note WHERE status = 'Draft'") > 0, "The seeded region has drafts, which stay unpublished.");
        Assert.Equal(expected.Count + directoryAndLab.Count, first.Kinds.Count);
        foreach (var kind in first.Kinds)
        {
            if (directoryAndLab.TryGetValue(kind.Kind, out var rows))
            {
                Assert.Equal(rows, kind.Read);
                Assert.True(kind.Published >= kind.Read, $"{kind.Kind}: {kind.Published} published for {kind.Read} read");
                continue;
            }
            Assert.Equal(expected[kind.Kind], kind.Read);
            Assert.Equal(expected[kind.Kind], kind.Published);
        }

        var all = (await connection.QueryAsync<(string Type, string Id, string? Patient, string Content)>(
            "SELECT resource_type, id, CAST(patient_id AS TEXT), content FROM fhir_resource")).ToList();
        Assert.Equal(directoryAndLab["Lab result without report"], all.Count(r => r.Type == "Observation"));
        Assert.Equal(directoryAndLab["Staff"], all.Count(r => r.Type == "Practitioner"));
        Assert.All(all.Where(r => r.Type is "Organization" or "Practitioner" or "PractitionerRole"), r => Assert.Null(r.Patient));
        foreach (var resource in all) ChartFhir.AssertValid(FhirJson.Parse(resource.Content));
        var resources = all.Where(r => r.Type is not ("Organization" or "Practitioner" or "PractitionerRole" or "ServiceRequest" or "Observation" or "DiagnosticReport")).ToList();
        Assert.Equal(expected.Values.Sum(), resources.Count);
        Assert.Equal(expected["Encounter"], resources.Count(r => r.Type == "Encounter"));
        Assert.Equal(expected["Warning"], resources.Count(r => r.Type is "Flag" or "AllergyIntolerance"));
        Assert.Equal(expected["Note"], resources.Count(r => r.Type == "DocumentReference"));
        Assert.Equal(expected["Medication order"], resources.Count(r => r.Type is "MedicationRequest" or "MedicationStatement"));
        Assert.Equal(expected["Medication administration"], resources.Count(r => r.Type == "MedicationAdministration"));
        foreach (var resource in resources)
        {
            var json = FhirJson.Parse(resource.Content);
            Assert.True(FhirRecordPublisher.IsPublished(json));
            Assert.NotNull(resource.Patient);
            ChartFhir.AssertValid(json);
        }
        Assert.Contains(resources, r => r.Id == problemId.ToString() && r.Type == "Condition");
        Assert.Contains(resources, r => r.Id == consentId.ToString() && r.Type == "Consent");
        // A seeded note's encounter is published too, so the note's context reference leads somewhere.
        var encounterIds = resources.Where(r => r.Type == "Encounter").Select(r => $"Encounter/{r.Id}").ToHashSet();
        foreach (var note in resources.Where(r => r.Type == "DocumentReference"))
        {
            if (FhirJson.Parse(note.Content)["context"]?["encounter"]?[0]?["reference"] is JsonValue reference)
                Assert.Contains(reference.GetValue<string>(), encounterIds);
        }

        var versions = await CountAsync("SELECT COUNT(*) FROM fhir_resource_version");
        var again = await FhirRecordBackfill.RunAsync(database, TimeProvider.System, Ct);
        Assert.Equal(0, again.Published);
        Assert.Equal(first.Read, again.Read);
        Assert.Equal(versions, await CountAsync("SELECT COUNT(*) FROM fhir_resource_version"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_demo_region_seeded_at_first_start_is_published(DatabaseEngine engine)
    {
        await using var server = await StadigServer.StartAsync(engine, "--Stadig:SeedDemoAtStart=true", "--Stadig:DemoPatients=8");
        await using var connection = await server.Database.OpenUnscopedAsync(Ct);
        var encounters = await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM encounter");
        var signedNotes = await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM note WHERE status = 'Signed'");
        Assert.True(encounters > 0);
        Assert.Equal(encounters, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM fhir_resource WHERE resource_type = 'Encounter'"));
        Assert.Equal(signedNotes, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM fhir_resource WHERE resource_type = 'DocumentReference'"));
    }

    private static async Task<(Guid Problem, Guid Consent)> InsertUnpublishedAsync(Database database)
    {
        await using var connection = await database.OpenUnscopedAsync(Ct);
        var patientId = await connection.QueryFirstAsync<Guid>("SELECT id FROM patient ORDER BY id");
        var unitId = await connection.QueryFirstAsync<Guid>("SELECT id FROM care_unit ORDER BY id");
        var staffId = await connection.QueryFirstAsync<Guid>("SELECT id FROM staff ORDER BY id");
        var now = DateTimeOffset.UtcNow;
        var problem = Guid.CreateVersion7();
        var consent = Guid.CreateVersion7();
        await connection.ExecuteAsync(
            """
            INSERT INTO problem (id, patient_id, unit_id, code, text, status, onset_date, recorded_at, recorded_by)
            VALUES (@problem, @patientId, @unitId, 'I10', 'Essentiell hypertoni', 'Active', @onset, @now, @staffId)
            """, new { problem, patientId, unitId, onset = new DateOnly(2020, 5, 1), now, staffId });
        await connection.ExecuteAsync(
            """
            INSERT INTO consent (id, patient_id, viewer_unit_id, source_unit_id, recorded_at, recorded_by, expires_at)
            VALUES (@consent, @patientId, @unitId, NULL, @now, @staffId, @expires)
            """, new { consent, patientId, unitId, now, staffId, expires = now.AddDays(90) });
        // A draft, which stays unpublished: the seeder's drafts are the last fortnight's, and forty patients may have none.
        var draft = Guid.CreateVersion7();
        await connection.ExecuteAsync(
            """
            INSERT INTO note (id, patient_id, unit_id, note_type, status, author_id, created_at, version, updated_at, updated_by)
            VALUES (@draft, @patientId, @unitId, 'Daganteckning', 'Draft', @staffId, @now, 1, @now, @staffId)
            """, new { draft, patientId, unitId, staffId, now });
        await connection.ExecuteAsync(
            "INSERT INTO note_keyword (note_id, patient_id, position, keyword, text) VALUES (@draft, @patientId, 1, 'Aktuellt', 'Ännu inte signerad.')",
            new { draft, patientId });
        return (problem, consent);
    }
}
