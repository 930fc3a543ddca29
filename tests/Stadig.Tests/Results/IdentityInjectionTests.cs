using Dapper;
using Stadig.LabResults;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Patients.Identifiers;
using Stadig.Storage;

namespace Stadig.Tests.Results;

/// <summary>
/// The failure this system exists to prevent: results shown for the wrong patient, or for none.
/// Ten thousand generated results, a share of them with identity defects: none may be filed to the
/// wrong patient, none may be lost, and each defective one must wait in quarantine for the right reason.
/// </summary>
public class IdentityInjectionTests
{
    private enum Defect { None, WrongCheckDigit, NameMismatch, UnknownPatient, SwappedBirthDate, MergedPatient, UnknownOrder }

    private sealed record Registered(Guid Id, string Number, string Family, string Given, DateOnly Born);

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    [Hazard("H-01")]
    public async Task Ten_thousand_results_with_identity_defects_file_none_wrongly_lose_none_and_quarantine_each_defect_for_its_reason(DatabaseEngine engine)
    {
        const int messages = 10_000;
        var random = new Random(20261123);
        var region = await TestRegion.CreateAsync(engine);
        var labUnit = await region.Staff.AddUnitAsync(region.Ward.ProviderId, "SE2321000016-0099", "Klinisk kemi", UnitKind.Lab);
        var ingest = new IngestOruMessage(region.Database, region.Audit, new PatientMatcher(new PatientIdentifierRules(TimeProvider.System)),
            await LabIntegration.CallerAsync(region.Staff, labUnit), TimeProvider.System);

        // 150 registered patients, and 10 reservnummer patients merged into some of them.
        string[] families = ["Öberg", "Lind", "Åkesson", "Holm", "Ek", "Sandberg"];
        string[] givens = ["Lina", "Per", "Åsa", "Olof", "Märta", "Karl"];
        var patients = new List<Registered>();
        for (var i = 0; i < 150; i++)
        {
            var born = new DateOnly(1930 + i % 70, 1 + i % 12, 1 + i % 28);
            var number = TestNumbers.Personnummer(born.Year, born.Month, born.Day, 980 + i % 20);
            var (family, given) = (families[i % families.Length], givens[(i / families.Length) % givens.Length]);
            var id = (await region.Patients.RegisterAsync(region.Physician, number, new PatientDetails(family, given))).PatientId;
            patients.Add(new Registered(id, number.Replace("-", ""), family, given, born));
        }
        var merged = new List<(string Reserv, Registered Target)>();
        for (var i = 0; i < 10; i++)
        {
            var target = patients[i * 7];
            var reserv = $"99{i:D10}";
            var source = (await region.Patients.RegisterAsync(region.Physician, reserv,
                new PatientDetails(target.Family, target.Given, BirthDate: target.Born))).PatientId;
            await region.Patients.MergeAsync(region.Physician, source, target.Id, "Identifierad");
            merged.Add((reserv, target));
        }

        var expected = new Dictionary<string, (Defect Defect, Guid? Patient)>();
        var sent = new List<string>();
        for (var n = 0; n < messages; n++)
        {
            var controlId = $"INJ{n:D6}";
            var defect = random.NextDouble() < 0.8 ? Defect.None : (Defect)random.Next(1, 7);
            var p = patients[random.Next(patients.Count)];
            var (pid3, family, given, birth, patientId) = defect switch
            {
                Defect.WrongCheckDigit => ($"{p.Number[..11]}{(p.Number[11] - '0' + 1) % 10}^^^^PN", p.Family, p.Given, p.Born, (Guid?)null),
                Defect.NameMismatch => ($"{p.Number}^^^^PN", p.Family + "son", p.Given, p.Born, null),
                Defect.UnknownPatient => ($"{TestNumbers.Personnummer(1925, 2, 3, 990 + n % 10).Replace("-", "")}^^^^PN", p.Family, p.Given, new DateOnly(1925, 2, 3), null),
                Defect.SwappedBirthDate => ($"{p.Number}^^^^PN", p.Family, p.Given, new DateOnly(p.Born.Year, p.Born.Day <= 12 && p.Born.Day != p.Born.Month ? p.Born.Day : (p.Born.Month % 12) + 1, Math.Min(p.Born.Month, 28)), null),
                Defect.UnknownOrder => ($"{p.Number}^^^^PN", p.Family, p.Given, p.Born, null),
                Defect.MergedPatient => merged[n % merged.Count] is var m ? ($"{m.Reserv}^^^^RN", m.Target.Family, m.Target.Given, m.Target.Born, m.Target.Id) : default,
                _ => ($"{p.Number}^^^^PN", p.Family, p.Given, p.Born, p.Id),
            };
            expected[controlId] = (defect, patientId);
            sent.Add(
                $"MSH|^~\\&|LABSYS|KLINKEM|STADIG|REGION|20261123075500+0100||ORU^R01^ORU_R01|{controlId}|P|2.5\r" +
                $"PID|1||{pid3}||{family}^{given}||{birth:yyyyMMdd}\r" +
                $"OBR|1|{(defect == Defect.UnknownOrder ? $"ST{n:D16}" : $"P{n}")}|F{n}|K^Kalium^L\r" +
                $"OBX|1|NM|K^P-Kalium^L||{3.5 + n % 10 / 10.0:0.0}|mmol/L|3.5-4.4|N|||F\r");
        }
        // The lab's messages arrive on several connections at once, as over MLLP: on PostgreSQL four at a
        // time (each waits on the database most of its time, so the run takes a fraction as long, and
        // matching must hold while other messages file); SQLite has one writer, so one at a time there.
        var senders = engine == DatabaseEngine.Postgres ? 4 : 1;
        await Parallel.ForEachAsync(Enumerable.Range(0, senders), new ParallelOptions { MaxDegreeOfParallelism = senders }, async (sender, _) =>
        {
            for (var n = sender; n < sent.Count; n += senders)
            {
                var outcome = await ingest.IngestAsync(sent[n]);
                Assert.True(outcome.AckCode == "AA", outcome.AckText);
            }
        });

        await using var c = await region.Database.OpenUnscopedAsync();
        var stored = (await c.QueryAsync<(string ControlId, string State, Guid? PatientId, string? Reason)>(
            """
            SELECT m.control_id, m.state, m.patient_id, q.reason_code
            FROM hl7_message m LEFT JOIN result_quarantine q ON q.message_id = m.id
            WHERE m.control_id LIKE 'INJ%'
            """)).ToDictionary(r => r.ControlId);
        var filedTo = (await c.QueryAsync<(string ControlId, Guid PatientId)>(
            "SELECT m.control_id, r.patient_id FROM lab_result r JOIN hl7_message m ON m.id = r.message_id WHERE m.control_id LIKE 'INJ%'"))
            .ToDictionary(r => r.ControlId, r => r.PatientId);

        // Nothing lost: every message is stored with a decided state.
        Assert.Equal(messages, stored.Count);
        var misfiled = 0;
        foreach (var (controlId, (defect, patient)) in expected)
        {
            var row = stored[controlId];
            if (patient is { } rightPatient)
            {
                Assert.Equal("Filed", row.State);
                if (filedTo.GetValueOrDefault(controlId) != rightPatient) misfiled++;
            }
            else
            {
                Assert.Equal("Quarantined", row.State);
                Assert.False(filedTo.ContainsKey(controlId), $"{controlId} ({defect}) was filed");
                Assert.Equal(defect switch
                {
                    Defect.WrongCheckDigit => nameof(QuarantineReason.InvalidIdentifier),
                    Defect.NameMismatch => nameof(QuarantineReason.NameMismatch),
                    Defect.UnknownPatient => nameof(QuarantineReason.UnknownPatient),
                    Defect.UnknownOrder => nameof(QuarantineReason.UnknownOrder),
                    _ => nameof(QuarantineReason.BirthDateMismatch),
                }, row.Reason);
            }
        }
        Assert.Equal(0, misfiled);
        Assert.Contains(expected.Values, e => e.Defect == Defect.MergedPatient);
        Assert.Contains(expected.Values, e => e.Defect == Defect.SwappedBirthDate);
        Assert.Contains(expected.Values, e => e.Defect == Defect.UnknownOrder);
    }
}
