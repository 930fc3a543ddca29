using Dapper;
using Stadig.Storage;

namespace Stadig.Tests.Storage;

/// <summary>
/// SQLite's planner without statistics took a unit's covering index over the patient's for the access
/// facts (every care relation and encounter of the caller's unit walked on every read); with them it
/// goes by the patient. PostgreSQL keeps its statistics by autovacuum, so this is SQLite's alone.
/// </summary>
public class SqliteStatisticsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task After_refreshing_statistics_a_patients_care_relations_and_encounters_are_found_by_the_patient_not_by_the_unit()
    {
        // The core alone, without a server: a server refreshes the statistics once it is ready (SqliteStatistics),
        // and on a busy machine that came after the rows below, so the plan before the refresh was already the one after.
        var region = await TestRegion.CreateAsync(DatabaseEngine.Sqlite);
        var server = region.Services;
        var eva = region.Physician;
        // One unit's many patients, each registered there (a care relation each): the unit-wide index looks selective only without statistics.
        // And a visit each, ended (a clinic's day).
        await using (var c = await server.Database.OpenUnscopedAsync(Ct))
        {
            for (var day = 1; day <= 60; day++)
            {
                var patient = (await server.Patients.RegisterAsync(eva, TestNumbers.Personnummer(1950 + day % 40, 1 + day % 12, 1 + day % 28), new("Berg", "Eva"), Ct)).PatientId;
                await c.ExecuteAsync("INSERT INTO encounter (id, patient_id, unit_id, kind, started_at, ended_at) VALUES (@id, @patient, @unit, 'Outpatient', @at, @at)",
                    new { id = Guid.NewGuid(), patient, unit = eva.UnitId, at = DateTimeOffset.UtcNow.AddDays(-day) });
            }
        }

        async Task<string> PlanAsync(string sql)
        {
            await using var connection = await server.Database.OpenUnscopedAsync(Ct);
            var rows = await connection.QueryAsync<(long Id, long Parent, long NotUsed, string Detail)>("EXPLAIN QUERY PLAN " + sql,
                new { patientId = Guid.NewGuid(), unitId = eva.UnitId, now = DateTimeOffset.UtcNow, since = DateTimeOffset.UtcNow });
            return string.Join(" | ", rows.Select(r => r.Detail));
        }
        const string careRelation = "SELECT COUNT(*) FROM care_relation WHERE patient_id = @patientId AND unit_id = @unitId AND ends_at > @now";
        const string encounter = "SELECT COUNT(*) FROM encounter WHERE patient_id = @patientId AND unit_id = @unitId AND (ended_at IS NULL OR ended_at >= @since)";
        Assert.Contains("care_relation_unit", await PlanAsync(careRelation));

        await server.Database.RefreshStatisticsAsync(Ct);

        Assert.Contains("care_relation_patient", await PlanAsync(careRelation));
        Assert.Contains("encounter_patient", await PlanAsync(encounter));
    }

    /// <summary>
    /// A registry patient's newest stored Patient (the FHIR read by registry id, a search's page, the audit
    /// log's patient reference) by one index, with or without statistics: without it SQLite walked every
    /// stored Patient in last_updated order until that patient's (20 ms a read at 20,000 patients).
    /// </summary>
    [Fact]
    public async Task A_patients_newest_stored_Patient_is_found_by_its_index_without_statistics()
    {
        var database = await TestDatabases.CreateAsync(DatabaseEngine.Sqlite);
        await using var connection = await database.OpenUnscopedAsync(Ct);
        var plan = string.Join(" | ", (await connection.QueryAsync<(long Id, long Parent, long NotUsed, string Detail)>(
            "EXPLAIN QUERY PLAN SELECT id FROM fhir_resource WHERE resource_type = 'Patient' AND patient_id = @patientId ORDER BY last_updated DESC LIMIT 1",
            new { patientId = Guid.NewGuid() })).Select(r => r.Detail));
        Assert.Contains("fhir_resource_patient_newest", plan);
        Assert.DoesNotContain("TEMP B-TREE", plan);
    }
}
