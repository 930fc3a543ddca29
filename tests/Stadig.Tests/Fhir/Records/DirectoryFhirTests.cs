using System.Net;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Fhir;
using Stadig.Fhir.Records;
using Stadig.Fhir.Validation;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Tests.Fhir.Records;

/// <summary>The staff directory as FHIR Organization, Practitioner and PractitionerRole, on both engines.</summary>
public class DirectoryFhirTests
{
    private static IEnumerable<JsonObject> Entries(JsonObject bundle) =>
        (bundle["entry"] as JsonArray ?? []).Select(e => (JsonObject)e!["resource"]!);

    private static string Hsa(string value) => Uri.EscapeDataString($"{DirectoryAsFhir.HsaSystem}|{value}");

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Units_staff_and_assignments_are_readable_and_searchable_by_HSA_id_and_cannot_be_changed_through_the_API(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var client = fhir.Client();
        var staff = fhir.Server.Staff;
        var provider = await staff.AddProviderAsync("SE2321000016-0777", "Region Prov");
        var unit = await staff.AddUnitAsync(provider.Id, "SE2321000016-0778", "Hjärtmottagningen", UnitKind.OutpatientClinic);
        var member = await staff.AddStaffAsync("SE2321000016-P0779", "karin", "Karin Lund", "Sjuksköterska", fhir.Server.HashPassword("hemligt"), isDemo: false);
        var assignment = await staff.AddAssignmentAsync(member.Id, unit.Id, Role.Nurse, Purpose.CareAndTreatment);

        var (status, organization, _) = await client.GetFhirAsync($"/fhir/Organization/{unit.Id}");
        Assert.True(status == HttpStatusCode.OK, FhirCalls.Issues(organization));
        Assert.Equal(("Hjärtmottagningen", DirectoryAsFhir.HsaSystem, "SE2321000016-0778"),
            (organization["name"]!.GetValue<string>(), organization["identifier"]![0]!["system"]!.GetValue<string>(), organization["identifier"]![0]!["value"]!.GetValue<string>()));
        Assert.Equal($"Organization/{provider.Id}", organization["partOf"]!["reference"]!.GetValue<string>());
        var (_, providerResource, _) = await client.GetFhirAsync($"/fhir/Organization/{provider.Id}");
        Assert.Equal("Region Prov", providerResource["name"]!.GetValue<string>());

        var (_, byHsa, _) = await client.GetFhirAsync($"/fhir/Organization?identifier={Hsa("SE2321000016-0778")}");
        Assert.Equal(unit.Id.ToString(), Assert.Single(Entries(byHsa))["id"]!.GetValue<string>());

        var (_, practitioners, _) = await client.GetFhirAsync($"/fhir/Practitioner?identifier={Hsa("SE2321000016-P0779")}");
        var practitioner = Assert.Single(Entries(practitioners));
        Assert.Equal(member.Id.ToString(), practitioner["id"]!.GetValue<string>());
        Assert.Equal("Karin Lund", practitioner["name"]![0]!["text"]!.GetValue<string>());
        // A directory shows who someone is, nothing about their account.
        var text = practitioner.ToJsonString();
        Assert.DoesNotContain("karin\"", text);
        Assert.DoesNotContain("hemligt", text);
        Assert.DoesNotContain("Sjuksköterska", text);
        Assert.Null(practitioner["telecom"]);

        var (_, roles, _) = await client.GetFhirAsync($"/fhir/PractitionerRole?practitioner=Practitioner/{member.Id}&_include=PractitionerRole:organization");
        var role = Assert.Single(Entries(roles), r => r["resourceType"]!.GetValue<string>() == "PractitionerRole");
        Assert.Equal(assignment.Id.ToString(), role["id"]!.GetValue<string>());
        Assert.Equal(("Nurse", "Sjuksköterska"), (role["code"]![0]!["coding"]![0]!["code"]!.GetValue<string>(), role["code"]![0]!["coding"]![0]!["display"]!.GetValue<string>()));
        Assert.Equal($"Organization/{unit.Id}", role["organization"]!["reference"]!.GetValue<string>());
        Assert.Contains(Entries(roles), r => r["id"]!.GetValue<string>() == unit.Id.ToString());
        var (_, byRole, _) = await client.GetFhirAsync($"/fhir/PractitionerRole?role={Uri.EscapeDataString(DirectoryAsFhir.RoleSystem)}|Nurse");
        Assert.Equal(assignment.Id.ToString(), Assert.Single(Entries(byRole))["id"]!.GetValue<string>());

        organization["name"] = "Något annat";
        var (put, outcome, _) = await client.PutFhirAsync($"/fhir/Organization/{unit.Id}", organization);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, put);
        Assert.Equal("OperationOutcome", outcome["resourceType"]!.GetValue<string>());

        await using var c = await fhir.Server.Database.OpenUnscopedAsync();
        var published = (await c.QueryAsync<(string Type, string Id, string Content, Guid? PatientId)>(
            "SELECT resource_type, id, content, patient_id FROM fhir_resource WHERE resource_type IN ('Organization', 'Practitioner', 'PractitionerRole')")).ToList();
        Assert.All(published, p => Assert.Null(p.PatientId));
        Assert.All(published, p => Assert.True(FhirRecordPublisher.IsPublished(p.Content)));
        foreach (var p in published)
        {
            var errors = FhirValidator.Validate(FhirJson.Parse(p.Content)).Where(i => i.Severity is "error" or "fatal").ToList();
            Assert.True(errors.Count == 0, $"{p.Type}/{p.Id}: {string.Join("; ", errors.Select(e => $"{e.Expression}: {e.Diagnostics}"))}");
        }
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_directory_write_rolled_back_leaves_no_FHIR_resource(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        // A second unit with the ward's HSA-id breaks the unique constraint after nothing else: nothing is stored or published.
        await Assert.ThrowsAnyAsync<Exception>(() => region.Staff.AddUnitAsync(region.Ward.ProviderId, region.Ward.HsaId, "Dubblett", UnitKind.Ward));
        await using var c = await region.Database.OpenUnscopedAsync();
        Assert.Equal(0, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM fhir_resource WHERE resource_type = 'Organization' AND content LIKE '%Dubblett%'"));

        // The publish runs on the write's transaction: rolled back together.
        var unitId = Guid.NewGuid();
        await using (var t = await region.Database.BeginAsync(c, TestContext.Current.CancellationToken))
        {
            await c.ExecuteAsync("INSERT INTO care_unit (id, provider_id, hsa_id, name, kind) VALUES (@unitId, @ProviderId, 'SE2321000016-0555', 'Tillfällig', 'Ward')",
                new { unitId, region.Ward.ProviderId }, t);
            await DirectoryAsFhir.PublishUnitAsync(c, t, unitId, DateTimeOffset.UtcNow);
            Assert.Equal(1, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM fhir_resource WHERE id = @id", new { id = unitId.ToString() }, t));
            await t.RollbackAsync(TestContext.Current.CancellationToken);
        }
        Assert.Equal(0, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM fhir_resource WHERE id = @id", new { id = unitId.ToString() }));
        Assert.Equal(0, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM fhir_search WHERE id = @id", new { id = unitId.ToString() }));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_directory_backfill_publishes_every_row_once_and_is_idempotent(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        await region.AddCallerAsync("ssk", Role.Nurse, region.Clinic);
        string[] types = ["Organization", "Practitioner", "PractitionerRole"];
        async Task<List<(string Type, string Id, int Version, string Content)>> PublishedAsync()
        {
            await using var c = await region.Database.OpenUnscopedAsync();
            return (await c.QueryAsync<(string, string, int, string)>(
                "SELECT resource_type, id, version_id, content FROM fhir_resource WHERE resource_type IN ('Organization', 'Practitioner', 'PractitionerRole') ORDER BY resource_type, id")).ToList();
        }
        static string WithoutMeta(string content) { var r = FhirJson.Parse(content); r.Remove("meta"); return FhirJson.Serialize(r); }
        var live = (await PublishedAsync()).ToDictionary(r => (r.Type, r.Id), r => WithoutMeta(r.Content));
        Assert.Equal(3 + 2 + 2, live.Count); // provider + 2 units, 2 people, 2 assignments

        await KeysetBackfill.ForgetAsync(region.Database, "Organization", "Practitioner", "PractitionerRole");

        Task<int> RunAsync(Func<System.Data.Common.DbConnection, System.Data.Common.DbTransaction, Guid?, Task<(int Rows, Guid? Next)>> batch) =>
            KeysetBackfill.RunAsync(region.Database, batch);
        var now = DateTimeOffset.UtcNow;
        async Task<int[]> BackfillAsync() =>
        [
            await RunAsync((c, t, after) => DirectoryAsFhir.BackfillProvidersBatchAsync(c, t, after, 1, now)),
            await RunAsync((c, t, after) => DirectoryAsFhir.BackfillUnitsBatchAsync(c, t, after, 1, now)),
            await RunAsync((c, t, after) => DirectoryAsFhir.BackfillStaffBatchAsync(c, t, after, 1, now)),
            await RunAsync((c, t, after) => DirectoryAsFhir.BackfillAssignmentsBatchAsync(c, t, after, 1, now)),
        ];

        Assert.Equal(new[] { 1, 2, 2, 2 }, await BackfillAsync());
        var backfilled = await PublishedAsync();
        Assert.Equal(live.Keys.Order(), backfilled.Select(r => (r.Type, r.Id)).Order());
        Assert.All(backfilled, r => Assert.Equal(live[(r.Type, r.Id)], WithoutMeta(r.Content)));
        Assert.All(backfilled, r => Assert.Equal(1, r.Version));

        Assert.Equal(new[] { 1, 2, 2, 2 }, await BackfillAsync());
        Assert.Equal(backfilled, await PublishedAsync());
    }
}
