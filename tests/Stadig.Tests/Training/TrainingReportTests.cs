using System.Text.Json;
using Stadig.Access;
using Stadig.Common;
using Stadig.Organisation;
using Stadig.Storage;
using Stadig.Training;

namespace Stadig.Tests.Training;

public class TrainingReportTests
{
    private static IReadOnlyList<RosterLine> Directory(string text) => TrainingRoster.Read(new StringReader(text));

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    [Hazard("H-10")]
    public async Task The_report_counts_from_completed_exercises_per_unit_and_role_and_names_who_is_not_ready(DatabaseEngine engine)
    {
        var options = new TrainingOptions { Required = new RequiredExercises { Physician = ["physician-problem-diagnosis", "physician-lab-order"], Nurse = ["nurse-read-warnings"] } };
        var world = await TrainingWorld.CreateAsync(engine, options);
        var imported = await world.Roster.ImportAsync(Directory(
            """
            hsa_id;username;name;title;role;unit_hsa_id;unit_name
            SE2321000016-R001;rapp1;Ada Läkare;Överläkare;Physician;SE2321000016-RAV1;Rapportavdelningen
            SE2321000016-R002;rapp2;Bea Läkare;ST-läkare;Läkare;SE2321000016-RAV1;Rapportavdelningen
            SE2321000016-R003;rapp3;Cilla Sjuksköterska;Sjuksköterska;Nurse;SE2321000016-RAV2;Rapportmottagningen
            """), "not-a-real-hash");
        Assert.Equal(new RosterImportResult(3, 3, 2), imported);
        var units = (await world.Region.Staff.UnitsAsync()).ToDictionary(u => u.HsaId);
        async Task<Caller> AsAsync(string hsaId)
        {
            var (member, assignments) = (await world.Region.Staff.FindWithAssignmentsByHsaIdAsync(hsaId))!.Value;
            var a = assignments.Single();
            return new Caller(member.Id, member.HsaId, member.DisplayName, a.Role, a.UnitId, a.UnitHsaId, a.Purpose);
        }
        var ada = await AsAsync("SE2321000016-R001");
        var bea = await AsAsync("SE2321000016-R002");

        // Ada does both required exercises; Bea one, and only clicks through (starts) the other.
        foreach (var id in new[] { "physician-problem-diagnosis", "physician-lab-order" })
        {
            var (_, patients) = await world.StartAsync(ada, id);
            if (id == "physician-problem-diagnosis") await world.Region.Services.Problems.AddAsync(ada, patients["patient"].PatientId, "I10");
            else await world.Region.Services.Orders.PlaceAsync(ada, patients["patient"].PatientId, ["NPU03230"], null);
        }
        var (_, beaPatients) = await world.StartAsync(bea, "physician-problem-diagnosis");
        await world.Region.Services.Problems.AddAsync(bea, beaPatients["patient"].PatientId, "I10");
        await world.StartAsync(bea, "physician-lab-order");

        var report = await world.Report.BuildAsync(null);
        Assert.Equal(3, report.PeopleCount);
        Assert.Equal(1, report.ReadyCount);
        var ward = report.Units.Single(u => u.HsaId == "SE2321000016-RAV1");
        var physicians = Assert.Single(ward.Roles);
        Assert.Equal((Role.Physician, 2, 1, 2, 3, 0.75), (physicians.Role, physicians.People, physicians.Ready, physicians.RequiredExercises, physicians.RequiredCompleted, physicians.CompletionRate));
        Assert.NotNull(physicians.MedianSeconds);
        Assert.Equal(["physician-lab-order"], ward.People.Single(p => p.HsaId == "SE2321000016-R002").Missing);
        var nurses = report.Units.Single(u => u.HsaId == "SE2321000016-RAV2").Roles.Single();
        Assert.Equal((1, 0, 0.0), (nurses.People, nurses.Ready, nurses.CompletionRate));

        // The readiness gate's JSON: the documented shape, the same figures.
        using var json = JsonDocument.Parse(report.ToJson());
        var root = json.RootElement;
        Assert.Equal("stadig-training-report/1", root.GetProperty("format").GetString());
        Assert.Equal(3, root.GetProperty("totals").GetProperty("people").GetInt32());
        Assert.Equal(2, root.GetProperty("totals").GetProperty("notReady").GetInt32());
        Assert.Equal(3.0 / 5, root.GetProperty("totals").GetProperty("completionRate").GetDouble());
        var jsonWard = root.GetProperty("units").EnumerateArray().Single(u => u.GetProperty("hsaId").GetString() == "SE2321000016-RAV1");
        Assert.Equal("SE2321000016-R002", jsonWard.GetProperty("notReady").EnumerateArray().Single().GetProperty("hsaId").GetString());
        var csv = report.ToCsv().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, csv.Length);
        Assert.Contains("SE2321000016-R001;Ada Läkare;Physician;ja;2;2;", csv[1] + csv[2] + csv[3]);

        // Practice what changed: the release's new exercise is listed for whoever has not done it.
        var changed = new TrainingOptions { Required = options.Required, Release = "1.1" };
        var newReport = await new TrainingReport(world.Region.Database, world.Exercises, changed, world.Region.Audit, TimeProvider.System).BuildAsync(null);
        Assert.All(newReport.People.Where(p => p.Role == Role.Physician), p => Assert.Equal(["physician-attest-critical-potassium"], p.NewNotDone));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_unit_manager_sees_their_unit_the_training_lead_every_unit_and_a_trainee_no_report(DatabaseEngine engine)
    {
        var world = await TrainingWorld.CreateAsync(engine);
        var ward = await world.TraineeAsync(Role.Nurse, world.Region.Ward);
        var clinic = await world.TraineeAsync(Role.Nurse, world.Region.Clinic);
        await world.Roster.AddAsync(ward.StaffId, ward.UnitId, Role.Nurse);
        await world.Roster.AddAsync(clinic.StaffId, clinic.UnitId, Role.Nurse);
        var manager = await world.Region.AddCallerAsync("chef", Role.UnitManager, world.Region.Ward, Purpose.Administration);
        var lead = await world.Region.AddCallerAsync("ledare", Role.TrainingLead, world.Region.Clinic, Purpose.Administration);

        var managers = await world.Report.ForAsync(manager, unitHsaId: world.Region.Clinic.HsaId);
        Assert.Equal([world.Region.Ward.HsaId], managers.Units.Select(u => u.HsaId));
        var leads = await world.Report.ForAsync(lead);
        Assert.Equal(2, leads.Units.Count);
        await Assert.ThrowsAsync<ForbiddenException>(() => world.Report.ForAsync(ward));
        Assert.Equal(1L, await world.QueryOneAsync<long>(
            "SELECT COUNT(*) FROM audit_event WHERE staff_id = @StaffId AND resource = 'TrainingReport' AND outcome = 'Denied'", new { ward.StaffId }));
    }

    [Fact]
    public void A_staff_directory_file_with_errors_names_each_by_line_and_column_and_imports_nothing()
    {
        var e = Assert.Throws<RosterFileException>(() => Directory(
            """
            hsa_id;username;name;title;role;unit_hsa_id;unit_name
            SE2321000016-R001;a;Ada;Läkare;Physician;SE2321000016-RAV1;Avd
            SE2321000016-R001;b;Bea;Läkare;Kirurg;SE2321000016-RAV1;Avd
            nope;c;;Läkare;Nurse;SE2321000016-RAV1;Avd
            """));
        Assert.Contains("line 3, column hsa_id: SE2321000016-R001 is on an earlier line too", e.Message);
        Assert.Contains("line 3, column role: \"Kirurg\" is not a role", e.Message);
        Assert.Contains("line 4, column name: empty", e.Message);
        Assert.Contains("line 4, column hsa_id: \"nope\" is not an HSA-id", e.Message);
    }
}
