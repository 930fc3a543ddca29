using Stadig.LabResults;
using Stadig.Patients.Identifiers;
using Stadig.Storage;
using static Stadig.Tests.Results.IngestLab;

namespace Stadig.Tests.Results;

/// <summary>An ORU^R01 with several patient groups (PID … OBR … OBX, PID … OBR … OBX): each group is matched, filed or quarantined on its own.</summary>
public class OruPatientGroupTests
{
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    [Hazard("H-01")]
    public async Task Two_patients_in_one_message_each_get_their_own_results(DatabaseEngine engine)
    {
        await using var lab = await CreateAsync(engine);
        var numberA = TestNumbers.Personnummer(1950, 3, 14);
        var numberB = TestNumbers.Personnummer(1961, 7, 1, serial: 983);
        var a = await lab.PatientAsync(numberA, "Öberg", "Lina");
        var b = await lab.PatientAsync(numberB, "Lind", "Per");

        var ack = await lab.SendAsync(Msh("two-1") + Group(Personnummer(numberA), "Öberg^Lina", "LA", "3.6") + Group(Personnummer(numberB), "Lind^Per", "LB", "4.2"));

        Assert.Equal(("AA", "two-1"), (ack.Get("MSA-1"), ack.Get("MSA-2")));
        Assert.Equal([3.6], await lab.QueryAsync<double>("SELECT value_numeric FROM lab_result WHERE patient_id = @a", new { a }));
        Assert.Equal([4.2], await lab.QueryAsync<double>("SELECT value_numeric FROM lab_result WHERE patient_id = @b", new { b }));
        Assert.Equal(["LA"], await lab.QueryAsync<string>("SELECT filler_order_number FROM diagnostic_report WHERE patient_id = @a", new { a }));
        Assert.Equal(["LB"], await lab.QueryAsync<string>("SELECT filler_order_number FROM diagnostic_report WHERE patient_id = @b", new { b }));
        var message = await lab.QueryOneAsync<(string State, Guid? PatientId)>("SELECT state, patient_id FROM hl7_message WHERE control_id = 'two-1'");
        Assert.Equal(("Filed", (Guid?)null), message);
        var audited = await lab.QueryAsync<Guid>("SELECT patient_id FROM audit_event WHERE staff_id = @StaffId AND resource = 'DiagnosticReport'", new { lab.Caller.StaffId });
        Assert.Equal(new[] { a, b }.Order(), audited.Order());
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_group_that_does_not_match_waits_in_quarantine_alone_and_is_filed_from_there_with_only_its_own_results(DatabaseEngine engine)
    {
        await using var lab = await CreateAsync(engine);
        var numberA = TestNumbers.Personnummer(1972, 5, 9, serial: 984);
        var numberB = TestNumbers.Personnummer(1980, 1, 2, serial: 986);
        var a = await lab.PatientAsync(numberA, "Öberg", "Lina");
        var b = await lab.PatientAsync(numberB, "Lind", "Per");

        // Group 1 has no PID at all (an order group before the first PID); group 3 names B's number with a name that is not B's.
        var ack = await lab.SendAsync(Msh("q-2") + "OBR|1||LC|K^Kalium^L\rOBX|1|NM|K^P-Kalium^L||4.9|mmol/L|||||F\r"
            + Group(Personnummer(numberA), "Öberg^Lina", "LA", "3.6")
            + Group(Personnummer(numberB), "Holm^Per", "LB", "4.2"));

        Assert.Equal("AA", ack.Get("MSA-1"));
        Assert.Equal([3.6], await lab.QueryAsync<double>("SELECT value_numeric FROM lab_result WHERE patient_id = @a", new { a }));
        Assert.Empty(await lab.QueryAsync<double>("SELECT value_numeric FROM lab_result WHERE patient_id = @b", new { b }));
        var items = await lab.QueryAsync<(Guid Id, int Group, string Reason)>(
            "SELECT q.id, q.patient_group, q.reason_code FROM result_quarantine q JOIN hl7_message m ON m.id = q.message_id WHERE m.control_id = 'q-2' ORDER BY q.patient_group");
        Assert.Equal([(1, "NoIdentifier"), (3, "NameMismatch")], items.Select(i => (i.Group, i.Reason)));
        Assert.Equal("Quarantined", await lab.QueryOneAsync<string>("SELECT state FROM hl7_message WHERE control_id = 'q-2'"));

        var labStaff = await lab.Region.AddCallerAsync("labb", Stadig.Organisation.Role.LabStaff, lab.Region.Ward);
        var quarantine = new ResultQuarantine(lab.Region.Database, lab.Region.Audit, new PatientIdentifierRules(lab.Clock), lab.Clock);
        var open = await quarantine.ListOpenAsync(labStaff);
        Assert.Contains(open, o => o.Id == items[1].Id && o.Name == "Holm, Per" && o.Identifiers.StartsWith(Digits(numberB), StringComparison.Ordinal));
        await quarantine.FileToPatientAsync(labStaff, items[1].Id, numberB, "Namnbyte kontrollerat med labbet");

        Assert.Equal([4.2], await lab.QueryAsync<double>("SELECT value_numeric FROM lab_result WHERE patient_id = @b", new { b }));
        Assert.Equal([3.6], await lab.QueryAsync<double>("SELECT value_numeric FROM lab_result WHERE patient_id = @a", new { a }));
        // Group 1 still waits, so the message is not decided yet; rejecting it settles the message as filed (groups 2 and 3 were).
        Assert.Equal("Quarantined", await lab.QueryOneAsync<string>("SELECT state FROM hl7_message WHERE control_id = 'q-2'"));
        await quarantine.RejectAsync(labStaff, items[0].Id, "Ingen patient angiven");
        Assert.Equal("Filed", await lab.QueryOneAsync<string>("SELECT state FROM hl7_message WHERE control_id = 'q-2'"));
        Assert.Equal(2, await lab.QueryOneAsync<long>("SELECT COUNT(*) FROM lab_result r JOIN hl7_message m ON m.id = r.message_id WHERE m.control_id = 'q-2'"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_same_observation_twice_under_one_order_is_filed_once(DatabaseEngine engine)
    {
        await using var lab = await CreateAsync(engine);
        var number = TestNumbers.Personnummer(1945, 6, 6, serial: 988);
        var patientId = await lab.PatientAsync(number);
        const string hb = "OBX|1|NM|HB^Hemoglobin^L||128|g/L|117-153|N|||F\r";

        var ack = await lab.SendAsync(Msh("dup-obx") + $"PID|1||{Personnummer(number)}||Öberg^Lina\rOBR|1||L9|BLOD^Blodstatus^L\r"
            + hb + hb + "OBX|2|NM|HB^Hemoglobin^L||128|g/L|117-153|N|||F\r"
            + "OBR|2||L10|BLOD^Blodstatus^L\r" + hb);

        Assert.Equal("AA", ack.Get("MSA-1"));
        // The exact repeat goes; set id 2 is another observation, and the same OBX under another order is that order's.
        Assert.Equal(3, await lab.QueryOneAsync<long>("SELECT COUNT(*) FROM lab_result WHERE patient_id = @patientId", new { patientId }));
    }
}
