using Stadig.Hl7;
using Stadig.Hl7.Mllp;
using Stadig.Storage;
using static Stadig.Tests.Results.IngestLab;

namespace Stadig.Tests.LabResults;

/// <summary>ORU^R01 over real MLLP into storage, on both engines: filing, idempotency, quarantine, corrections, text fidelity, ACKs.</summary>
public class IngestOruMessageTests
{
    // The registry holds two given names; the lab sends the first: it must still match.
    private const string Given = "Lina Maria";

    private static string Oru(string controlId, string pid3, string name = "Öberg^Lina", string birth = "", string filler = "L100",
        string? obx = null, string type = "ORU^R01^ORU_R01") =>
        $"MSH|^~\\&|LABSYS|KLINKEM|STADIG|REGION|20261123075500+0100||{type}|{controlId}|P|2.5|||AL|NE|SWE||8859/1\r" +
        $"PID|1||{pid3}||{name}||{birth}|F\r" +
        $"ORC|RE|P200|{filler}\r" +
        $"OBR|1|P200|{filler}|BLODSTATUS^Blodstatus^L|||20261123070000+0100|||||||||||||||20261123075000+0100|||F\r" +
        (obx ?? "OBX|1|NM|HB^Hemoglobin^L||128|g/L|117-153|N|||F|||20261123070000+0100|||||||||Klinisk kemi Lund\r");

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_result_for_a_known_patient_is_filed_with_its_observations_acknowledged_AA_and_audited(DatabaseEngine engine)
    {
        await using var lab = await CreateAsync(engine);
        var number = TestNumbers.Personnummer(1950, 3, 14);
        var patientId = await lab.PatientAsync(number, given: Given);

        var ack = await lab.SendAsync(Oru("c1", $"X123^^^LABB^MR~{Digits(number)}^^^SE&1.2.752.129.2.1.3.1&ISO^NNSWE", birth: "19500314"));

        Assert.Equal("AA", ack.Get("MSA-1"));
        Assert.Equal("c1", ack.Get("MSA-2"));
        Assert.Equal("ACK", ack.Get("MSH-9.1"));
        Assert.Empty(ack.All("ERR"));
        var message = await lab.QueryOneAsync<(string State, Guid PatientId)>("SELECT state, patient_id FROM hl7_message WHERE control_id = 'c1'");
        Assert.Equal(("Filed", patientId), message);
        var result = await lab.QueryOneAsync<(double Value, string Unit, string Range, double Low, double High, string Flag, string Status, string Performer)>(
            "SELECT value_numeric, unit, reference_range, reference_low, reference_high, abnormal_flag, status, performer FROM lab_result WHERE patient_id = @patientId",
            new { patientId });
        Assert.Equal((128d, "g/L", "117-153", 117d, 153d, "N", "Final", "Klinisk kemi Lund"), result);
        var report = await lab.QueryOneAsync<(string Placer, string Filler, string Code)>(
            "SELECT placer_order_number, filler_order_number, service_code FROM diagnostic_report WHERE patient_id = @patientId", new { patientId });
        Assert.Equal(("P200", "L100", "BLODSTATUS"), report);
        var states = await lab.QueryAsync<string>("SELECT s.state FROM hl7_message_state s JOIN hl7_message m ON m.id = s.message_id WHERE m.control_id = 'c1' ORDER BY s.seq");
        Assert.Equal(["Received", "Filed"], states);
        var audited = await lab.QueryAsync<string>("SELECT resource FROM audit_event WHERE patient_id = @patientId AND staff_id = @staffId",
            new { patientId, staffId = lab.Caller.StaffId });
        Assert.Equal(["DiagnosticReport"], audited);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_repeated_control_id_gets_the_same_ACK_and_stores_nothing_twice_also_when_sent_concurrently(DatabaseEngine engine)
    {
        await using var lab = await CreateAsync(engine);
        var number = TestNumbers.Personnummer(1961, 7, 1, serial: 983);
        var patientId = await lab.PatientAsync(number, given: Given);
        var message = Oru("dup-1", Personnummer(number));

        var acks = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            await using var client = await MllpClient.ConnectAsync("127.0.0.1", lab.Listener.Port, Patience);
            return await client.SendAsync(message, Patience);
        }));
        var again = await lab.SendAsync(message);

        Assert.Single(acks.Distinct());
        Assert.Equal(acks[0], Hl7Writer.Write(again));
        Assert.Equal("AA", again.Get("MSA-1"));
        Assert.Equal(1, await lab.QueryOneAsync<long>("SELECT COUNT(*) FROM hl7_message WHERE control_id = 'dup-1'"));
        Assert.Equal(1, await lab.QueryOneAsync<long>("SELECT COUNT(*) FROM lab_result WHERE patient_id = @patientId", new { patientId }));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    [Hazard("H-01")]
    public async Task Each_identity_defect_sends_the_result_to_quarantine_with_its_reason_and_files_nothing(DatabaseEngine engine)
    {
        await using var lab = await CreateAsync(engine);
        var number = TestNumbers.Personnummer(1972, 5, 9, serial: 984);
        var patientId = await lab.PatientAsync(number, given: Given);
        var digits = Digits(number);
        var wrongCheckDigit = digits[..^1] + (char)('0' + (digits[^1] - '0' + 1) % 10);
        var unknown = Digits(TestNumbers.Personnummer(1972, 5, 9, serial: 985));
        (string Id, string Pid3, string Name, string Birth, string Reason)[] cases =
        [
            ("q-check", $"{wrongCheckDigit}^^^^PN", "Öberg^Lina", "", "InvalidIdentifier"),
            ("q-name", Personnummer(number), "Berg^Lina", "", "NameMismatch"),
            ("q-given", Personnummer(number), "Öberg^Anna", "", "NameMismatch"),
            ("q-unknown", $"{unknown}^^^^PN", "Öberg^Lina", "", "UnknownPatient"),
            ("q-birth", Personnummer(number), "Öberg^Lina", "19720905", "BirthDateMismatch"),
            ("q-none", "X123^^^LABB^MR", "Öberg^Lina", "", "NoIdentifier"),
            ("q-kind", $"{digits}^^^SE&1.2.752.129.2.1.3.3&ISO^SAMNR", "Öberg^Lina", "", "InvalidIdentifier"),
        ];

        foreach (var c in cases)
        {
            var ack = await lab.SendAsync(Oru(c.Id, c.Pid3, c.Name, c.Birth));

            Assert.Equal("AA", ack.Get("MSA-1"));
            Assert.Equal(c.Id, ack.Get("MSA-2"));
            var quarantined = await lab.QueryOneAsync<(string State, string Reason, string QuarantineState)>(
                "SELECT m.state, q.reason_code, q.state FROM hl7_message m JOIN result_quarantine q ON q.message_id = m.id WHERE m.control_id = @Id", new { c.Id });
            Assert.Equal(("Quarantined", c.Reason, "Open"), quarantined);
        }
        Assert.Equal(0, await lab.QueryOneAsync<long>("SELECT COUNT(*) FROM lab_result WHERE patient_id = @patientId", new { patientId }));
        // Folding: case and diacritics do not make a mismatch, and further given names may differ.
        Assert.Equal("AA", (await lab.SendAsync(Oru("q-fold", Personnummer(number), "OBERG^lina^x", "19720509"))).Get("MSA-1"));
        Assert.Equal("Filed", await lab.QueryOneAsync<string>("SELECT state FROM hl7_message WHERE control_id = 'q-fold'"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_result_sent_to_a_merged_reservnummer_is_filed_to_the_surviving_patient(DatabaseEngine engine)
    {
        await using var lab = await CreateAsync(engine);
        var survivor = await lab.PatientAsync(TestNumbers.Personnummer(1980, 1, 2, serial: 986), given: Given);
        var reserve = await lab.PatientAsync("990000000001", given: Given);
        await lab.Region.Patients.MergeAsync(lab.Region.Physician, reserve, survivor, "Identiteten fastställd");

        var ack = await lab.SendAsync(Oru("m1", "990000000001^^^RESERVNUMMER^RN"));

        Assert.Equal("AA", ack.Get("MSA-1"));
        Assert.Equal(survivor, await lab.QueryOneAsync<Guid>("SELECT patient_id FROM hl7_message WHERE control_id = 'm1'"));
        Assert.Equal(1, await lab.QueryOneAsync<long>("SELECT COUNT(*) FROM lab_result WHERE patient_id = @survivor", new { survivor }));
        Assert.Equal(0, await lab.QueryOneAsync<long>("SELECT COUNT(*) FROM lab_result WHERE patient_id = @reserve", new { reserve }));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_corrected_result_supersedes_the_earlier_one_which_is_kept(DatabaseEngine engine)
    {
        await using var lab = await CreateAsync(engine);
        var number = TestNumbers.Personnummer(1990, 12, 24, serial: 987);
        var patientId = await lab.PatientAsync(number, given: Given);

        await lab.SendAsync(Oru("k1", Personnummer(number), filler: "L555", obx: "OBX|1|NM|HB^Hemoglobin^L||128|g/L|117-153|N|||F\r"));
        await lab.SendAsync(Oru("k2", Personnummer(number), filler: "L555", obx: "OBX|1|NM|HB^Hemoglobin^L||112|g/L|117-153|L|||C\r"));

        var rows = await lab.QueryAsync<(Guid Id, double Value, string Status, Guid? SupersededBy)>(
            "SELECT id, value_numeric, status, superseded_by FROM lab_result WHERE patient_id = @patientId ORDER BY value_numeric DESC", new { patientId });
        Assert.Equal(2, rows.Count);
        Assert.Equal((128d, "Final"), (rows[0].Value, rows[0].Status));
        Assert.Equal(rows[1].Id, rows[0].SupersededBy);
        Assert.Equal((112d, "Corrected", (Guid?)null), (rows[1].Value, rows[1].Status, rows[1].SupersededBy));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_narrative_report_keeps_its_text_exactly_with_escapes_decoded_and_line_breaks_kept(DatabaseEngine engine)
    {
        await using var lab = await CreateAsync(engine);
        var number = TestNumbers.Personnummer(1945, 6, 6, serial: 988);
        var patientId = await lab.PatientAsync(number, given: Given);
        const string raw = @"Utlåtande: inga tecken på malignitet.\.br\Ingenting anmärkningsvärt. Värde \T\ enhet: 5 µg/L ≥ 3 ± 1\.br\\.br\Tecken: \F\ \S\ \R\ \E\ å ä ö Å Ä Ö";
        const string expected = "Utlåtande: inga tecken på malignitet.\nIngenting anmärkningsvärt. Värde & enhet: 5 µg/L ≥ 3 ± 1\n\nTecken: | ^ ~ \\ å ä ö Å Ä Ö";

        var ack = await lab.SendAsync(Oru("t1", Personnummer(number), obx: $"OBX|1|FT|PAT^Patologiutlåtande^L||{raw}||||||F\rOBX|2|TX|KOM^Kommentar^L||rad ett~rad två||||||F\r"));

        Assert.Equal("AA", ack.Get("MSA-1"));
        var texts = await lab.QueryAsync<string>("SELECT value_text FROM lab_result WHERE patient_id = @patientId ORDER BY analysis_code DESC", new { patientId });
        Assert.Equal([expected, "rad ett\nrad två"], texts);
        Assert.Equal(expected + "\nrad ett\nrad två", await lab.QueryOneAsync<string>("SELECT report_text FROM diagnostic_report WHERE patient_id = @patientId", new { patientId }));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Messages_that_cannot_be_processed_get_AE_or_AR_with_an_ERR_and_are_stored_as_rejected(DatabaseEngine engine)
    {
        await using var lab = await CreateAsync(engine);

        var unsupported = await lab.SendAsync(Oru("adt-1", "X^^^^MR", type: "ADT^A01"));
        var malformed = await lab.SendAsync("MSH|^~|LABSYS|KLINKEM|||||ORU^R01|bad-1|P|2.5\rPID|1");
        var noControlId = await lab.SendAsync(Oru("", "X^^^^MR"));
        var noResults = await lab.SendAsync(Oru("empty-1", "X^^^^MR", obx: ""));

        Assert.Equal(("AE", "adt-1", "200"), (unsupported.Get("MSA-1"), unsupported.Get("MSA-2"), unsupported.Get("ERR-3.1")));
        Assert.Contains("ADT^A01", unsupported.Get("ERR-8"), StringComparison.Ordinal);
        Assert.Equal(("AR", "bad-1", "100"), (malformed.Get("MSA-1"), malformed.Get("MSA-2"), malformed.Get("ERR-3.1")));
        Assert.Contains("MSH-2", malformed.Get("ERR-8"), StringComparison.Ordinal);
        Assert.Equal(("AR", "101"), (noControlId.Get("MSA-1"), noControlId.Get("ERR-3.1")));
        Assert.Equal(("AE", "101"), (noResults.Get("MSA-1"), noResults.Get("ERR-3.1")));

        var stored = await lab.QueryAsync<(string State, string AckCode, string Raw)>("SELECT state, ack_code, raw_text FROM hl7_message");
        Assert.Equal(4, stored.Count(s => s.State == "Rejected"));
        Assert.Contains(stored, s => s.Raw.StartsWith("MSH|^~|LABSYS", StringComparison.Ordinal) && s.AckCode == "AR");
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_same_control_id_for_different_content_is_kept_and_rejected_not_dropped_as_a_duplicate(DatabaseEngine engine)
    {
        await using var lab = await CreateAsync(engine);
        var number = TestNumbers.Personnummer(1955, 2, 2, serial: 989);
        await lab.PatientAsync(number, given: Given);

        await lab.SendAsync(Oru("same", Personnummer(number)));
        var second = await lab.SendAsync(Oru("same", Personnummer(number), obx: "OBX|1|NM|HB^Hemoglobin^L||99|g/L|||||F\r"));

        Assert.Equal(("AR", "same", "205"), (second.Get("MSA-1"), second.Get("MSA-2"), second.Get("ERR-3.1")));
        Assert.Contains(await lab.QueryAsync<string>("SELECT raw_text FROM hl7_message WHERE state = 'Rejected'"), r => r.Contains("||99|", StringComparison.Ordinal));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_stalled_connection_and_garbage_bytes_do_not_stop_another_connection_from_filing(DatabaseEngine engine)
    {
        await using var lab = await CreateAsync(engine);
        var number = TestNumbers.Personnummer(1966, 8, 8, serial: 990);
        await lab.PatientAsync(number, given: Given);
        await using var stalled = await MllpClient.ConnectAsync("127.0.0.1", lab.Listener.Port, Patience);
        await stalled.Stream.WriteAsync(new byte[] { MllpFraming.StartBlock, (byte)'M', (byte)'S' }, Patience);
        await using var garbage = await MllpClient.ConnectAsync("127.0.0.1", lab.Listener.Port, Patience);
        await garbage.Stream.WriteAsync("\u0000\u00ffjunk"u8.ToArray(), Patience);

        var ack = await lab.SendAsync(Oru("while-stalled", Personnummer(number)));

        Assert.Equal("AA", ack.Get("MSA-1"));
        Assert.True(await garbage.IsClosedByPeerAsync(Patience));
        Assert.Equal("Filed", await lab.QueryOneAsync<string>("SELECT state FROM hl7_message WHERE control_id = 'while-stalled'"));
    }
}
