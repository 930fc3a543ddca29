using Dapper;
using Stadig.Fhir;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Tests.Fhir;

public class FhirExportPatientsTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_region_export_walks_every_unmerged_patient_once_in_keyset_batches(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        var registered = new List<Guid>();
        for (var day = 1; day <= 7; day++)
            registered.Add((await region.Patients.RegisterAsync(region.Physician, TestNumbers.Personnummer(1970, 2, day), new PatientDetails("Ek", "Test"))).PatientId);
        await using var connection = await region.Database.OpenUnscopedAsync();
        await connection.ExecuteAsync("UPDATE patient SET merged_into_id = @into WHERE id = @merged", new { into = registered[0], merged = registered[1] });
        var expected = (await connection.QueryAsync<Guid>("SELECT id FROM patient WHERE merged_into_id IS NULL")).ToHashSet();

        var walked = new List<Guid>();
        // Batches of 2 over 6 or more patients: several full batches, and the last one short or empty.
        await foreach (var id in FhirService.PatientsToExportAsync(connection, null, TestContext.Current.CancellationToken, batchSize: 2))
            walked.Add(id);

        Assert.Equal(walked.Count, walked.Distinct().Count());
        Assert.Equal(expected, walked.ToHashSet());
        Assert.DoesNotContain(registered[1], walked);
    }
}
