using System.Text;
using Dapper;
using Stadig.Hl7;
using Stadig.LabResults;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Patients.Identifiers;
using Stadig.Storage;

namespace Stadig.Tests.Results;

/// <summary>
/// Generated messages of one to five patient groups, each group with a random identity defect, and
/// generated frames of one to three such messages (plain or as a batch): every observation must be
/// decided for the patient of its own group or for quarantine — never for another group's patient.
/// Ten thousand of each run through the real frame split and decision code (reads only, one SQLite
/// region); a smaller number go the whole way over MLLP into storage on both engines.
/// </summary>
public class PatientGroupPropertyTests
{
    private enum Defect { None, WrongCheckDigit, NameMismatch, UnknownPatient, BirthDateMismatch, MissingPid3, LabNumberOnly, ConflictingIdentifiers, SwappedNumber, MergedPatient, NoPid }

    private sealed record Registered(Guid Id, string Number, string Family, string Given, DateOnly Born);

    private sealed record World(TestRegion Region, IngestOruMessage Ingest, List<Registered> Patients, List<(string Reserv, Registered Target)> Merged);

    /// <summary>A generated group: its segments, the tag its observations carry (OBX-3.1) and the patient it must land on (null: quarantine).</summary>
    private sealed record GeneratedGroup(string Text, string Tag, Guid? Expected, Defect Defect);

    private sealed record GeneratedMessage(string ControlId, string Text, IReadOnlyList<GeneratedGroup> Groups);

    private static async Task<World> WorldAsync(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        var labUnit = await region.Staff.AddUnitAsync(region.Ward.ProviderId, "SE2321000016-0099", "Klinisk kemi", UnitKind.Lab);
        var ingest = new IngestOruMessage(region.Database, region.Audit, new PatientMatcher(new PatientIdentifierRules(TimeProvider.System)),
            await LabIntegration.CallerAsync(region.Staff, labUnit), TimeProvider.System);
        string[] families = ["Öberg", "Lind", "Åkesson", "Holm"];
        string[] givens = ["Lina", "Per", "Åsa"];
        var patients = new List<Registered>();
        for (var i = 0; i < 24; i++)
        {
            var born = new DateOnly(1930 + i * 2, 1 + i % 12, 1 + i % 28);
            var number = TestNumbers.Personnummer(born.Year, born.Month, born.Day, 980 + i % 20);
            // Names repeat on purpose: only the number and birth date tell these patients apart.
            var (family, given) = (families[i % families.Length], givens[i % givens.Length]);
            var id = (await region.Patients.RegisterAsync(region.Physician, number, new PatientDetails(family, given))).PatientId;
            patients.Add(new Registered(id, number.Replace("-", "", StringComparison.Ordinal), family, given, born));
        }
        var merged = new List<(string, Registered)>();
        for (var i = 0; i < 3; i++)
        {
            var target = patients[i * 5];
            var reserv = $"99{i + 50:D10}";
            var source = (await region.Patients.RegisterAsync(region.Physician, reserv, new PatientDetails(target.Family, target.Given, BirthDate: target.Born))).PatientId;
            await region.Patients.MergeAsync(region.Physician, source, target.Id, "Identifierad");
            merged.Add((reserv, target));
        }
        return new World(region, ingest, patients, merged);
    }

    private static GeneratedGroup Group(Random random, World world, bool first, string tag)
    {
        var defect = random.NextDouble() < 0.5 ? Defect.None : (Defect)random.Next(1, first ? 11 : 10);
        var p = world.Patients[random.Next(world.Patients.Count)];
        var q = world.Patients.Where(o => o.Id != p.Id).ElementAt(random.Next(world.Patients.Count - 1));
        string Pn(string number) => $"{number}^^^^PN";
        var (pid3, family, given, born, expected) = defect switch
        {
            Defect.WrongCheckDigit => (Pn($"{p.Number[..11]}{(p.Number[11] - '0' + 1) % 10}"), p.Family, p.Given, p.Born, (Guid?)null),
            Defect.NameMismatch => (Pn(p.Number), p.Family + "son", p.Given, p.Born, null),
            Defect.UnknownPatient => (Pn(TestNumbers.Personnummer(1925, 2, 3, 990 + random.Next(10)).Replace("-", "", StringComparison.Ordinal)), p.Family, p.Given, p.Born, null),
            Defect.BirthDateMismatch => (Pn(p.Number), p.Family, p.Given, p.Born.AddDays(1), null),
            Defect.MissingPid3 => ("", p.Family, p.Given, p.Born, null),
            Defect.LabNumberOnly => ("X123^^^LABB^MR", p.Family, p.Given, p.Born, null),
            Defect.ConflictingIdentifiers => ($"{Pn(p.Number)}~{Pn(q.Number)}", p.Family, p.Given, p.Born, null),
            // Another patient's number with this patient's name and birth date: the misfile this exists to stop.
            Defect.SwappedNumber => (Pn(q.Number), p.Family, p.Given, p.Born, null),
            Defect.MergedPatient => world.Merged[random.Next(world.Merged.Count)] is var m
                ? ($"{m.Reserv}^^^^RN", m.Target.Family, m.Target.Given, m.Target.Born, m.Target.Id) : default,
            Defect.NoPid => ("", "", "", p.Born, null),
            _ => (Pn(p.Number), p.Family, p.Given, p.Born, p.Id),
        };
        var text = new StringBuilder();
        if (defect != Defect.NoPid)
        {
            text.Append($"PID|1||{pid3}||{family}^{given}||{born:yyyyMMdd}\r");
            if (random.Next(3) == 0) text.Append("PD1|||Vårdcentralen\r");
            if (random.Next(3) == 0) text.Append("NTE|1||Patientkommentar\r");
            if (random.Next(3) == 0) text.Append("PV1|1|O\r");
        }
        for (var order = 0; order < 1 + random.Next(2); order++)
        {
            text.Append($"ORC|RE||{tag}-{order}\rOBR|{order + 1}||{tag}-{order}|K^Kalium^L\r");
            var obx = $"OBX|1|NM|{tag}^P-Kalium^L||{3.5 + random.Next(10) / 10.0:0.0}|mmol/L|3.5-4.4|N|||F\r";
            text.Append(obx);
            if (random.Next(4) == 0) text.Append(obx);
            if (random.Next(2) == 0) text.Append($"OBX|2|NM|{tag}^P-Natrium^L||140|mmol/L|||||F\r");
        }
        return new GeneratedGroup(text.ToString(), tag, expected, defect);
    }

    private static GeneratedMessage Message(Random random, World world, string controlId)
    {
        var groups = Enumerable.Range(1, 1 + random.Next(5)).Select(g => Group(random, world, g == 1, $"{controlId}.{g}")).ToList();
        var text = $"MSH|^~\\&|LABSYS|KLINKEM|STADIG|REGION|20261123075500+0100||ORU^R01^ORU_R01|{controlId}|P|2.5\r" + string.Concat(groups.Select(g => g.Text));
        return new GeneratedMessage(controlId, text, groups);
    }

    private static (string Text, bool Batch, IReadOnlyList<GeneratedMessage> Messages) Frame(Random random, World world, string id)
    {
        var messages = Enumerable.Range(1, 1 + random.Next(3)).Select(m => Message(random, world, $"{id}m{m}")).ToList();
        var batch = random.Next(2) == 0;
        var body = string.Concat(messages.Select(m => m.Text));
        return batch
            ? ((random.Next(2) == 0 ? "" : "FHS|^~\\&|LABSYS|KLINKEM||||||||F" + id + "\r") + $"BHS|^~\\&|LABSYS|KLINKEM||||||||B{id}\r" + body + $"BTS|{messages.Count}\r", true, messages)
            : (body, false, messages);
    }

    /// <summary>Checks the decisions for one message against what was generated; returns how many groups went to another patient.</summary>
    private static int Check(GeneratedMessage generated, IReadOnlyList<GroupDecision> decisions)
    {
        Assert.Equal(generated.Groups.Count, decisions.Count);
        var misfiled = 0;
        foreach (var decision in decisions)
        {
            var group = generated.Groups[decision.Group.Number - 1];
            // Every observation read for this group is this group's own.
            Assert.All(decision.Reports.SelectMany(r => r.Observations), o => Assert.Equal(group.Tag, o.Code));
            if (decision.Match.PatientId is { } patient && patient != group.Expected) misfiled++;
            Assert.True(decision.Match.PatientId == group.Expected, $"{group.Tag} ({group.Defect}): expected {group.Expected?.ToString() ?? "quarantine"}, decided {decision.Match.PatientId?.ToString() ?? decision.Match.Reason.ToString()}");
        }
        return misfiled;
    }

    [Fact]
    public async Task Ten_thousand_messages_of_one_to_five_patients_decide_every_group_for_its_own_patient_or_quarantine()
    {
        var world = await WorldAsync(DatabaseEngine.Sqlite);
        var random = new Random(20261204);
        var misfiled = 0;
        var defects = new HashSet<Defect>();
        await world.Region.Database.InUnscopedTransactionAsync(async (c, t) =>
        {
            for (var n = 0; n < 10_000; n++)
            {
                var generated = Message(random, world, $"PG{n:D5}");
                misfiled += Check(generated, await world.Ingest.DecideAsync(Hl7Parser.Parse(generated.Text), c, t));
                defects.UnionWith(generated.Groups.Select(g => g.Defect));
            }
            return 0;
        });
        Assert.Equal(0, misfiled);
        Assert.Equal(Enum.GetValues<Defect>().Length, defects.Count);
    }

    [Fact]
    public async Task Ten_thousand_frames_of_one_to_three_messages_are_taken_apart_only_as_batches_and_each_group_decided_for_its_own_patient()
    {
        var world = await WorldAsync(DatabaseEngine.Sqlite);
        var random = new Random(20261205);
        var misfiled = 0;
        await world.Region.Database.InUnscopedTransactionAsync(async (c, t) =>
        {
            for (var n = 0; n < 10_000; n++)
            {
                var (text, batch, messages) = Frame(random, world, $"F{n:D5}");
                var frame = Hl7Frame.Split(text);
                Assert.Equal(batch, frame.IsBatch);
                if (!batch && messages.Count > 1)
                {
                    // Refused as a whole: nothing of it is decided for any patient.
                    Assert.NotNull(frame.Problem);
                    continue;
                }
                Assert.Null(frame.Problem);
                Assert.Equal(messages.Count, frame.Messages.Count);
                for (var m = 0; m < messages.Count; m++)
                {
                    var parsed = Hl7Parser.Parse(frame.Messages[m]);
                    Assert.Equal(messages[m].ControlId, parsed.ControlId);
                    misfiled += Check(messages[m], await world.Ingest.DecideAsync(parsed, c, t));
                }
            }
            return 0;
        });
        Assert.Equal(0, misfiled);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Generated_frames_sent_over_MLLP_file_every_observation_on_its_own_patient_or_quarantine_and_leave_nothing_Received(DatabaseEngine engine)
    {
        var world = await WorldAsync(engine);
        var random = new Random(20261206);
        await using var listener = new Stadig.Hl7.Mllp.MllpListener(world.Ingest, new Stadig.Hl7.Mllp.MllpOptions { Port = 0, Address = System.Net.IPAddress.Loopback });
        listener.Start();
        await using var client = await Stadig.Hl7.Mllp.MllpClient.ConnectAsync("127.0.0.1", listener.Port, IngestLab.Patience);
        var expected = new Dictionary<string, (Guid? Patient, string ControlId, int Group, bool Refused)>();
        for (var n = 0; n < 40; n++)
        {
            var (text, batch, messages) = Frame(random, world, $"E{n:D3}");
            var ack = await client.SendAsync(text, IngestLab.Patience);
            var refused = !batch && messages.Count > 1;
            Assert.Equal(refused ? "AR" : "AA", ack.Split('\r').First(l => l.StartsWith("MSA", StringComparison.Ordinal)).Split('|')[1]);
            foreach (var m in messages)
                foreach (var (g, i) in m.Groups.Select((g, i) => (g, i + 1)))
                    expected[g.Tag] = (g.Expected, m.ControlId, i, refused);
        }

        await using var c = await world.Region.Database.OpenUnscopedAsync();
        var filed = (await c.QueryAsync<(string Code, Guid PatientId)>("SELECT analysis_code, patient_id FROM lab_result")).ToList();
        var quarantined = (await c.QueryAsync<(string ControlId, int Group)>(
            "SELECT m.control_id, q.patient_group FROM result_quarantine q JOIN hl7_message m ON m.id = q.message_id")).ToHashSet();
        Assert.Equal(0, filed.Count(f => expected[f.Code].Patient != f.PatientId));
        foreach (var (tag, e) in expected)
        {
            var filedHere = filed.Where(f => f.Code == tag).ToList();
            if (e.Refused || e.Patient is null) Assert.Empty(filedHere);
            else Assert.NotEmpty(filedHere);
            Assert.Equal(!e.Refused && e.Patient is null, quarantined.Contains((e.ControlId, e.Group)));
        }
        Assert.Contains(expected.Values, e => e.Refused);
        Assert.Equal(0, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM hl7_message WHERE state = 'Received'"));
    }
}
