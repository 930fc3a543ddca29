using System.Data.Common;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Fhir;
using Stadig.Fhir.Store;
using Stadig.Patients;
using Stadig.Storage;
using Stadig.Tests.Storage;
using Stadig.Warnings;

namespace Stadig.Tests.Patients;

/// <summary>
/// A merge against the whole registry of patient-owned tables: the tables are enumerated from
/// <see cref="PatientOwnedTables"/> at run time and a row is made in each from the migrated schema itself
/// (columns, types, foreign keys), so a table added to the registry is covered without anyone writing
/// its row here, and a table the merge does not handle as its role says fails.
/// </summary>
public class MergeMovesEveryTableTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Builds a row for a patient in any table from the schema: the patient where a column refers to one, the region's ward and physician, a fresh row where another table is referred to.</summary>
    private sealed class RowMaker(DbConnection connection, DatabaseEngine engine, MigratedSchema schema, TestRegion region)
    {
        private int counter;

        public async Task<Dictionary<string, object?>> InsertAsync(string table, string? patientColumn, Guid patientId)
        {
            var keys = schema.ForeignKeys.Where(k => k.Table == table).ToDictionary(k => k.Column);
            var values = new Dictionary<string, object?>();
            foreach (var column in schema.ColumnsOf(table))
            {
                if (column.Name == patientColumn) { values[column.Name] = patientId; continue; }
                if (keys.TryGetValue(column.Name, out var key))
                {
                    values[column.Name] = key.ReferencedTable switch
                    {
                        "patient" => patientId,
                        "care_unit" => region.Ward.Id,
                        "staff" => region.Physician.StaffId,
                        _ when column.Nullable => null,
                        var other => (await InsertAsync(other, PatientOwnedTables.All.FirstOrDefault(t => t.Name == other)?.PatientColumn, patientId))[key.ReferencedColumn],
                    };
                    continue;
                }
                if (column.Nullable || column.HasDefault) continue;
                values[column.Name] = ValueFor(column);
            }
            var parameters = new DynamicParameters();
            foreach (var (name, value) in values) parameters.Add("p_" + name, value);
            await connection.ExecuteAsync(
                $"INSERT INTO {table} ({string.Join(", ", values.Keys)}) VALUES ({string.Join(", ", values.Keys.Select(k => "@p_" + k))})", parameters);
            return values;
        }

        private object ValueFor(SchemaColumn column)
        {
            var n = ++counter;
            var type = column.Type.ToLowerInvariant();
            if (engine == DatabaseEngine.Postgres)
            {
                return type switch
                {
                    "uuid" => Guid.NewGuid(),
                    "timestamp with time zone" => DateTimeOffset.UtcNow,
                    "date" => new DateTime(2020, 1, 1),
                    "integer" or "smallint" => n,
                    "bigint" => (long)n,
                    "boolean" => false,
                    "double precision" or "real" or "numeric" => 1.5,
                    "bytea" => new byte[] { 1 },
                    _ => $"v{n}-{Guid.NewGuid():N}",
                };
            }
            // SQLite declares Guids and instants as TEXT: their names tell them apart (the house naming).
            return type switch
            {
                "integer" => n,
                "real" => 1.5,
                "blob" => new byte[] { 1 },
                _ when column.Name == "id" || column.Name.EndsWith("_id", StringComparison.Ordinal) => Guid.NewGuid(),
                _ when column.Name.EndsWith("_at", StringComparison.Ordinal) => DateTimeOffset.UtcNow,
                _ when column.Name.EndsWith("_date", StringComparison.Ordinal) => "2020-01-01",
                _ => $"v{n}-{Guid.NewGuid():N}",
            };
        }
    }

    /// <summary>The FHIR store's rows of a patient: a resource another system wrote, in two versions, which fills the resource, version and index tables alike.</summary>
    private static async Task AddFhirResourceAsync(TestRegion region, Guid patientId, string id)
    {
        await region.Database.InUnscopedTransactionAsync(async (connection, transaction) =>
        {
            var now = DateTimeOffset.UtcNow;
            JsonObject Allergy(string status) => new()
            {
                ["resourceType"] = "AllergyIntolerance",
                ["clinicalStatus"] = new JsonObject { ["coding"] = new JsonArray(new JsonObject { ["system"] = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", ["code"] = status }) },
                ["code"] = new JsonObject { ["text"] = "Jordnöt" },
                ["patient"] = new JsonObject { ["reference"] = $"Patient/{patientId}" },
            };
            await FhirResourceStore.PutAsync(connection, transaction, Allergy("inactive"), id, patientId, region.Ward.Id, now);
            await FhirResourceStore.PutAsync(connection, transaction, Allergy("active"), id, patientId, region.Ward.Id, now.AddSeconds(1));
            return 0;
        }, Ct);
    }

    /// <summary>Rows of the patient in a table; the FHIR store's Patient resources are the patient's identity, which a merge leaves with the source.</summary>
    private static async Task<long> CountAsync(DbConnection connection, PatientOwnedTable table, Guid patientId) =>
        await connection.ExecuteScalarAsync<long>(
            $"SELECT COUNT(*) FROM {table.Name} WHERE {table.PatientColumn} = @patientId" + (table.Role == PatientRowRole.FhirStore ? " AND resource_type <> 'Patient'" : ""),
            new { patientId });

    private static async Task<(TestRegion Region, Guid Source, Guid Target)> PatientsWithRowsInEveryTableAsync(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        var source = (await region.Patients.RegisterAsync(region.Physician, "991234567890", new PatientDetails("Okänd", "Kvinna"), Ct)).Patient!.Id;
        var target = (await region.Patients.RegisterAsync(region.Physician, TestNumbers.Personnummer(1961, 4, 2, 984), new PatientDetails("Holm", "Eva"), Ct)).Patient!.Id;
        await using var connection = await region.Database.OpenUnscopedAsync(Ct);
        var schema = await MigratedSchema.ReadAsync(connection, engine);
        var maker = new RowMaker(connection, engine, schema, region);
        foreach (var patient in new[] { source, target })
        {
            await AddFhirResourceAsync(region, patient, Guid.NewGuid().ToString());
            // Rows that move, and rows that stay but are not written by the merge or the audit log (a trainee's exercise patients).
            foreach (var table in PatientOwnedTables.All.Where(t => t.MergeAction == PatientMergeAction.RePoint || t.Role == PatientRowRole.Training))
                await maker.InsertAsync(table.Name, table.PatientColumn, patient);
        }
        // Everything the merge reads from: the audit log has the registration, the store its resource, every other table a row.
        foreach (var table in PatientOwnedTables.All.Where(t => t.MergeAction != PatientMergeAction.WrittenByMerge))
            Assert.True(await CountAsync(connection, table, source) > 0, $"no row of the source in {table.Name}.{table.PatientColumn}");
        return (region, source, target);
    }

    private static async Task<Dictionary<PatientOwnedTable, (long Source, long Target)>> CountsAsync(TestRegion region, Guid source, Guid target)
    {
        await using var connection = await region.Database.OpenUnscopedAsync(Ct);
        var counts = new Dictionary<PatientOwnedTable, (long, long)>();
        foreach (var table in PatientOwnedTables.All)
            counts[table] = (await CountAsync(connection, table, source), await CountAsync(connection, table, target));
        return counts;
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_merge_moves_the_rows_of_every_registered_table_as_its_role_says(DatabaseEngine engine)
    {
        var (region, source, target) = await PatientsWithRowsInEveryTableAsync(engine);
        var before = await CountsAsync(region, source, target);

        await region.Patients.MergeAsync(region.Physician, source, target, "Identifierad via legitimation", Ct);

        var after = await CountsAsync(region, source, target);
        var wrong = new List<string>();
        foreach (var table in PatientOwnedTables.All)
        {
            var (b, a) = (before[table], after[table]);
            var ok = table.MergeAction switch
            {
                PatientMergeAction.RePoint => a.Source == 0 && a.Target == b.Source + b.Target,
                // New versions and re-indexed rows come on top of the moved ones.
                PatientMergeAction.RewriteFhir => a.Source == 0 && a.Target >= b.Source + b.Target,
                // The audit log stays as written: the source's events stay the source's.
                PatientMergeAction.KeepWithLink => a.Source >= b.Source && b.Source > 0,
                PatientMergeAction.WrittenByMerge => a.Source + a.Target == b.Source + b.Target + 1,
                _ => false,
            };
            if (!ok) wrong.Add($"{table.Name}.{table.PatientColumn} ({table.MergeAction}): source {b.Source} → {a.Source}, target {b.Target} → {a.Target}");
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
        Assert.True((await new AuditVerifier(region.Database).VerifyAsync(Ct)).Intact);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_merge_that_fails_part_way_moves_nothing(DatabaseEngine engine)
    {
        var (region, source, target) = await PatientsWithRowsInEveryTableAsync(engine);
        // A stored resource that cannot be read: the FHIR store is moved after the clinical tables, so they have moved when it fails.
        await using (var connection = await region.Database.OpenUnscopedAsync(Ct))
        {
            await connection.ExecuteAsync(
                "INSERT INTO fhir_resource (resource_type, id, version_id, patient_id, unit_id, last_updated, deleted, content) VALUES ('Observation', 'trasig', 1, @source, @unit, @now, @no, '{trasig')",
                new { source, unit = region.Ward.Id, now = DateTimeOffset.UtcNow, no = false });
        }
        var before = await CountsAsync(region, source, target);

        await Assert.ThrowsAnyAsync<Exception>(() => region.Patients.MergeAsync(region.Physician, source, target, "Identifierad", Ct));

        var after = await CountsAsync(region, source, target);
        var audit = PatientOwnedTables.All.Where(t => t.MergeAction == PatientMergeAction.KeepWithLink).ToHashSet();
        Assert.All(PatientOwnedTables.All.Where(t => !audit.Contains(t)), t => Assert.Equal((t.Name, before[t]), (t.Name, after[t])));
        Assert.Null((await region.Patients.GetAsync(region.Physician, source, Ct)).MergedIntoId);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_merge_rewrites_the_FHIR_references_as_a_new_version_and_keeps_the_history(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        var source = (await region.Patients.RegisterAsync(region.Physician, "991234567891", new PatientDetails("Okänd", "Man"), Ct)).Patient!.Id;
        var target = (await region.Patients.RegisterAsync(region.Physician, TestNumbers.Personnummer(1958, 3, 14, 982), new PatientDetails("Berg", "Olof"), Ct)).Patient!.Id;
        var external = Guid.NewGuid().ToString();
        await AddFhirResourceAsync(region, source, external);
        var published = await region.Services.Warnings.AddAsync(region.Physician, source,
            new NewWarning("Hypersensitivity", "Penicillin: utslag.", "Penicillin", "Utslag", "Harmful", "Confirmed"), Ct);

        await region.Patients.MergeAsync(region.Physician, source, target, "Identifierad", Ct);

        await using var connection = await region.Database.OpenUnscopedAsync(Ct);
        var current = (await FhirResourceStore.CurrentAsync(connection, null, "AllergyIntolerance", external))!;
        Assert.Equal((3, target), (current.VersionId, current.PatientId));
        Assert.Equal($"Patient/{target}", FhirJson.String(FhirJson.Parse(current.Content)["patient"]!["reference"]));
        // The version before the merge stays as it was written; only its compartment follows the record.
        var beforeMerge = (await FhirResourceStore.VersionAsync(connection, null, "AllergyIntolerance", external, 2))!;
        Assert.Equal($"Patient/{source}", FhirJson.String(FhirJson.Parse(beforeMerge.Content)["patient"]!["reference"]));
        Assert.Equal(target, beforeMerge.PatientId);

        var chartCopy = (await FhirResourceStore.CurrentAsync(connection, null, "AllergyIntolerance", published.Id.ToString()))!;
        Assert.Equal($"Patient/{target}", FhirJson.String(FhirJson.Parse(chartCopy.Content)["patient"]!["reference"]));
        Assert.Equal(target, chartCopy.PatientId);

        var indexed = (await connection.QueryAsync<(string Id, Guid PatientId)>(
            "SELECT id, patient_id FROM fhir_search WHERE resource_type = 'AllergyIntolerance' AND param = 'patient' AND value = @value",
            new { value = $"Patient/{target}" })).Select(r => r.Id).Order().ToList();
        Assert.Equal(new[] { external, published.Id.ToString() }.Order(), indexed);
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM fhir_search WHERE value = @value", new { value = $"Patient/{source}" }));
    }
}
