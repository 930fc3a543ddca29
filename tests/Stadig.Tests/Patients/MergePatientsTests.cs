using Dapper;
using Stadig.Common;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Tests.Patients;

public class MergePatientsTests
{
    private static PatientDetails Details(string family, string given) => new(family, given);

    /// <summary>Gives the patient an encounter, a note with a keyword, a lab result, a warning and a problem, straight in storage.</summary>
    private static async Task AddRecordsAsync(TestRegion region, Guid patientId)
    {
        await using var c = await region.Database.OpenUnscopedAsync();
        var now = DateTimeOffset.UtcNow;
        var encounter = Guid.NewGuid();
        var note = Guid.NewGuid();
        await c.ExecuteAsync("INSERT INTO encounter (id, patient_id, unit_id, kind, started_at) VALUES (@encounter, @patientId, @unit, 'Outpatient', @now)",
            new { encounter, patientId, unit = region.Ward.Id, now });
        await c.ExecuteAsync("INSERT INTO note (id, patient_id, encounter_id, unit_id, note_type, status, author_id, created_at) VALUES (@note, @patientId, @encounter, @unit, 'Besöksanteckning', 'Draft', @author, @now)",
            new { note, patientId, encounter, unit = region.Ward.Id, author = region.Physician.StaffId, now });
        await c.ExecuteAsync("INSERT INTO note_keyword (note_id, patient_id, position, keyword, text) VALUES (@note, @patientId, 0, 'Aktuellt', 'Ingen feber.')",
            new { note, patientId });
        await c.ExecuteAsync("INSERT INTO lab_result (id, patient_id, unit_id, analysis_code, analysis_name, value_numeric, unit, status, observed_at) VALUES (@id, @patientId, @unit, 'NPU02319', 'B-Hemoglobin', 131, 'g/L', 'Final', @now)",
            new { id = Guid.NewGuid(), patientId, unit = region.Ward.Id, now });
        await c.ExecuteAsync("INSERT INTO warning (id, patient_id, unit_id, category, text, created_at, created_by) VALUES (@id, @patientId, @unit, 'Hypersensitivity', 'Penicillin', @now, @by)",
            new { id = Guid.NewGuid(), patientId, unit = region.Ward.Id, now, by = region.Physician.StaffId });
        await c.ExecuteAsync("INSERT INTO problem (id, patient_id, unit_id, code, text, status, recorded_at, recorded_by) VALUES (@id, @patientId, @unit, 'I10', 'Essentiell hypertoni', 'Active', @now, @by)",
            new { id = Guid.NewGuid(), patientId, unit = region.Ward.Id, now, by = region.Physician.StaffId });
        var message = Guid.NewGuid();
        await c.ExecuteAsync(
            "INSERT INTO hl7_message (id, direction, control_id, sending_application, sending_facility, message_type, received_at, byte_count, raw_text, state, state_changed_at, patient_id) " +
            "VALUES (@message, 'Inbound', @control, 'LAB', 'KEMLAB', 'ORU^R01', @now, 10, 'MSH|^~\\&|', 'Filed', @now, @patientId)",
            new { message, control = message.ToString(), now, patientId });
        var report = Guid.NewGuid();
        await c.ExecuteAsync(
            "INSERT INTO diagnostic_report (id, patient_id, unit_id, message_id, service_code, service_name, status, created_at) VALUES (@report, @patientId, @unit, @message, 'NPU02319', 'B-Hb', 'Final', @now)",
            new { report, patientId, unit = region.Ward.Id, message, now });
        await c.ExecuteAsync("INSERT INTO result_view (report_id, staff_id, patient_id, viewed_at) VALUES (@report, @by, @patientId, @now)",
            new { report, by = region.Physician.StaffId, patientId, now });
        var order = Guid.NewGuid();
        await c.ExecuteAsync(
            "INSERT INTO lab_order (id, patient_id, unit_id, placer_order_number, ordered_by, ordered_at, status) VALUES (@order, @patientId, @unit, @placer, @by, @now, 'Queued')",
            new { order, patientId, unit = region.Ward.Id, placer = "ST" + order.ToString("N")[..16], by = region.Physician.StaffId, now });
        await c.ExecuteAsync(
            "INSERT INTO lab_order_item (order_id, patient_id, position, analysis_code, analysis_name, specimen) VALUES (@order, @patientId, 0, 'NPU03230', 'P-Kalium', 'Plasma')",
            new { order, patientId });
        var prescription = Guid.NewGuid();
        await c.ExecuteAsync(
            "INSERT INTO medication_order (id, patient_id, unit_id, origin, current_version, status, created_at, created_by) VALUES (@prescription, @patientId, @unit, 'Prescribed', 1, 'Active', @now, @by)",
            new { prescription, patientId, unit = region.Ward.Id, now, by = region.Physician.StaffId });
        await c.ExecuteAsync(
            "INSERT INTO medication_order_version (order_id, version, patient_id, action, status, product_text, as_needed, starts_at, recorded_at, recorded_by, recorded_role) " +
            "VALUES (@prescription, 1, @patientId, 'Prescribe', 'Active', 'Alvedon 500 mg tablett', @asNeeded, @now, @now, @by, 'Physician')",
            new { prescription, patientId, asNeeded = false, now, by = region.Physician.StaffId });
        await c.ExecuteAsync(
            "INSERT INTO medication_administration (id, patient_id, order_id, order_version, unit_id, outcome, given_by, recorded_at) VALUES (@id, @patientId, @prescription, 1, @unit, 'Given', @by, @now)",
            new { id = Guid.NewGuid(), patientId, prescription, unit = region.Ward.Id, by = region.Physician.StaffId, now });
        var (period, vital) = (Guid.NewGuid(), Guid.NewGuid());
        await c.ExecuteAsync(
            "INSERT INTO downtime_period (id, started_at, ended_at, description, cause, registered_by, registered_at) VALUES (@period, @now, @now, 'Strömavbrott', 'Manual', @by, @now)",
            new { period, by = region.Physician.StaffId, now });
        await c.ExecuteAsync(
            "INSERT INTO vital_sign (id, patient_id, unit_id, code, name, value_numeric, unit, observed_at, recorded_at, recorded_by) VALUES (@vital, @patientId, @unit, '8867-4', 'Puls', 72, '/min', @now, @now, @by)",
            new { vital, patientId, unit = region.Ward.Id, by = region.Physician.StaffId, now });
        await c.ExecuteAsync(
            "INSERT INTO discharge_external_medication (id, patient_id, encounter_id, resource_key, title, decision, reason, unit_id, recorded_at, recorded_by, recorded_role) " +
            "VALUES (@id, @patientId, @encounter, 'MedicationStatement/annat-system', 'Waran', 'Continue', 'Oförändrad', @unit, @now, @by, 'Physician')",
            new { id = Guid.NewGuid(), patientId, encounter, unit = region.Ward.Id, now, by = region.Physician.StaffId });
        await c.ExecuteAsync(
            "INSERT INTO back_entry (id, patient_id, record_type, record_id, event, downtime_period_id, clinical_at, entered_at, entered_by, unit_id) " +
            "VALUES (@id, @patientId, 'Observation', @vital, 'Observation', @period, @now, @now, @by, @unit)",
            new { id = Guid.NewGuid(), patientId, vital, period, unit = region.Ward.Id, by = region.Physician.StaffId, now });
    }

    private static async Task<long> RowsOfAsync(TestRegion region, string table, Guid patientId)
    {
        await using var c = await region.Database.OpenUnscopedAsync();
        return await c.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM {table} WHERE patient_id = @patientId", new { patientId });
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Merging_a_reservnummer_patient_moves_every_record_and_is_visible_in_both(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        var unknown = (await region.Patients.RegisterAsync(region.Physician, "991234567890", Details("Okänd", "Man") with { Sex = Stadig.Patients.Identifiers.Sex.Male })).Patient!;
        var known = (await region.Patients.RegisterAsync(region.Physician, TestNumbers.Personnummer(1961, 4, 2, 983), Details("Holm", "Per"))).Patient!;
        await AddRecordsAsync(region, unknown.Id);
        await AddRecordsAsync(region, known.Id);

        var merge = await region.Patients.MergeAsync(region.Physician, unknown.Id, known.Id, "Identifierad via legitimation");

        foreach (var table in PatientOwnedTables.WithRole(PatientRowRole.ClinicalRecord).Select(t => t.Name))
        {
            Assert.Equal(0, await RowsOfAsync(region, table, unknown.Id));
            Assert.Equal(2, await RowsOfAsync(region, table, known.Id));
        }
        var source = await region.Patients.GetAsync(region.Physician, unknown.Id);
        Assert.Equal(known.Id, source.MergedIntoId);
        Assert.Equal(region.Physician.StaffId, merge.MergedBy);
        Assert.Equal("Identifierad via legitimation", merge.Reason);
        Assert.Equal([merge.Id], (await region.Patients.MergesOfAsync(region.Physician, unknown.Id)).Select(m => m.Id));
        Assert.Equal([merge.Id], (await region.Patients.MergesOfAsync(region.Physician, known.Id)).Select(m => m.Id));
        // The merged record no longer appears in searches: its patient does.
        Assert.Empty((await region.Patients.SearchAsync(region.Physician, "991234567890")).Patients);
        Assert.Equal([known.Id], (await region.Patients.SearchAsync(region.Physician, "holm")).Patients.Select(p => p.Id));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_merge_that_breaks_a_rule_changes_nothing(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        var unknown = (await region.Patients.RegisterAsync(region.Physician, "991234567890", Details("Okänd", "Kvinna"))).Patient!;
        var known = (await region.Patients.RegisterAsync(region.Physician, TestNumbers.Personnummer(1961, 4, 2, 984), Details("Holm", "Eva"))).Patient!;
        var other = (await region.Patients.RegisterAsync(region.Physician, TestNumbers.Personnummer(1972, 8, 30, 986), Details("Sand", "Lisa"))).Patient!;
        await AddRecordsAsync(region, unknown.Id);

        await Assert.ThrowsAsync<InvalidInputException>(() => region.Patients.MergeAsync(region.Physician, known.Id, other.Id, "fel håll"));
        await Assert.ThrowsAsync<InvalidInputException>(() => region.Patients.MergeAsync(region.Physician, unknown.Id, known.Id, " "));
        await Assert.ThrowsAsync<NotFoundException>(() => region.Patients.MergeAsync(region.Physician, unknown.Id, Guid.NewGuid(), "saknas"));
        Assert.Equal(1, await RowsOfAsync(region, "note", unknown.Id));

        await region.Patients.MergeAsync(region.Physician, unknown.Id, known.Id, "Identifierad");
        await Assert.ThrowsAsync<ConflictException>(() => region.Patients.MergeAsync(region.Physician, unknown.Id, other.Id, "igen"));
        Assert.Equal(1, await RowsOfAsync(region, "note", known.Id));
        Assert.Equal(0, await RowsOfAsync(region, "note", other.Id));
    }
}
