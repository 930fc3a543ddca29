using Stadig.Storage;
using Stadig.Tests.Results;
using static Stadig.Tests.Results.IngestLab;

namespace Stadig.Tests.Downtime;

/// <summary>
/// Results the lab held or resent during a downtime (issue 19 item 3), over real MLLP on both
/// engines: a resend under a new MSH-10 files nothing twice; a corrected value is filed as a correction.
/// </summary>
public class LabResendTests
{
    private static string Oru(string controlId, string pid3, string value, string status, string sent = "20261123075500+0100") =>
        Msh(controlId, sent: sent) +
        $"PID|1||{pid3}||Öberg^Lina\r" +
        "ORC|RE|P900|L900\r" +
        "OBR|1|P900|L900|K^Kalium^L|||20261123070000+0100|||||||||||||||20261123075000+0100|||F\r" +
        $"OBX|1|NM|K^P-Kalium^L||{value}|mmol/L|3.5-4.4|N|||{status}|||20261123070000+0100\r";

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_result_resent_after_a_downtime_under_a_new_control_id_is_filed_once_and_a_corrected_value_is_filed_as_a_correction(DatabaseEngine engine)
    {
        await using var lab = await CreateAsync(engine);
        var number = TestNumbers.Personnummer(1972, 5, 17, serial: 991);
        var patientId = await lab.PatientAsync(number);
        var pid = Personnummer(number);
        async Task<(long Reports, long Lines, long Current, long Observations)> CountsAsync() => (
            await lab.QueryOneAsync<long>("SELECT COUNT(*) FROM diagnostic_report WHERE patient_id = @patientId", new { patientId }),
            await lab.QueryOneAsync<long>("SELECT COUNT(*) FROM lab_result WHERE patient_id = @patientId", new { patientId }),
            await lab.QueryOneAsync<long>("SELECT COUNT(*) FROM lab_result WHERE patient_id = @patientId AND superseded_by IS NULL", new { patientId }),
            await lab.QueryOneAsync<long>("SELECT COUNT(*) FROM fhir_resource WHERE patient_id = @patientId AND resource_type = 'Observation'", new { patientId }));

        var first = await lab.SendAsync(Oru("dt-1", pid, "4.1", "F"));
        var filedOnce = await CountsAsync();
        // The lab held it during the outage and sends it again after, as a new message with a new send time.
        var resent = await lab.SendAsync(Oru("dt-2", pid, "4.1", "F", sent: "20261123101500+0100"));
        var afterResend = await CountsAsync();
        var corrected = await lab.SendAsync(Oru("dt-3", pid, "4.6", "C", sent: "20261123103000+0100"));
        var correctionResent = await lab.SendAsync(Oru("dt-4", pid, "4.6", "C", sent: "20261123104500+0100"));
        var afterCorrection = await CountsAsync();

        Assert.Equal(["AA", "AA", "AA", "AA"], new[] { first, resent, corrected, correctionResent }.Select(a => a.Get("MSA-1")));
        Assert.Equal((1L, 1L, 1L), (filedOnce.Reports, filedOnce.Lines, filedOnce.Current));
        Assert.Equal(filedOnce, afterResend);
        Assert.Equal((2L, 2L, 1L), (afterCorrection.Reports, afterCorrection.Lines, afterCorrection.Current));
        var current = await lab.QueryOneAsync<(double Value, string Status)>(
            "SELECT value_numeric, status FROM lab_result WHERE patient_id = @patientId AND superseded_by IS NULL", new { patientId });
        Assert.Equal((4.6, "Corrected"), current);
        // Each resend is accounted for: filed as a message, saying why nothing new was stored.
        var reasons = await lab.QueryAsync<(string ControlId, string? Reason)>(
            """
            SELECT m.control_id, s.reason FROM hl7_message_state s JOIN hl7_message m ON m.id = s.message_id
            WHERE s.state = 'Filed' AND m.control_id IN ('dt-2', 'dt-3', 'dt-4') ORDER BY m.control_id
            """);
        Assert.Equal(["dt-2", "dt-3", "dt-4"], reasons.Select(r => r.ControlId));
        Assert.Contains("Omsänt", reasons[0].Reason);
        Assert.Null(reasons[1].Reason);
        Assert.Contains("Omsänt", reasons[2].Reason);
    }
}
