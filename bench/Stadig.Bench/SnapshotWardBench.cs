using Dapper;
using Stadig.Access;
using Stadig.Common;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Bench;

/// <summary>
/// Sets up the ward bench/snapshot.sh measures (issue 19: snapshot generation time for a 30-bed unit):
/// a ward of its own in the seeded region, its beds filled with patients drawn at random from the whole
/// registry (with whatever record the seed gave them), admitted as a physician of the ward would.
/// Safe to run again: a bed already taken stays as it is.
/// </summary>
public static class SnapshotWardBench
{
    public const string WardHsaId = "SE2321000016-BENCHW";

    public static async Task<int> RunAsync(Database database, int beds)
    {
        var services = CoreServices.Create(database, TimeProvider.System);
        var units = await services.Staff.UnitsAsync();
        if (units.Count == 0) { Console.Error.WriteLine("no units: run the seed verb first"); return 1; }
        var ward = units.FirstOrDefault(u => u.HsaId == WardHsaId)
            ?? await services.Staff.AddUnitAsync(units[0].ProviderId, WardHsaId, "Bänkavdelningen", UnitKind.Ward);
        const string staffHsaId = "SE2321000016-BENCHW1";
        var member = await services.Staff.FindByHsaIdAsync(staffHsaId)
            ?? await services.Staff.AddStaffAsync(staffHsaId, "benchward", "Bänk Avdelningsläkare", "Läkare", null, isDemo: false);
        if (!(await services.Staff.AssignmentsOfAsync(member.Id)).Any(a => a.UnitId == ward.Id))
            await services.Staff.AddAssignmentAsync(member.Id, ward.Id, Role.Physician, Purpose.CareAndTreatment);
        var caller = new Caller(member.Id, member.HsaId, member.DisplayName, Role.Physician, ward.Id, ward.HsaId, Purpose.CareAndTreatment);

        List<Guid> candidates;
        await using (var connection = await database.OpenUnscopedAsync())
            candidates = (await connection.QueryAsync<Guid>(
                $"""
                SELECT p.id FROM patient p WHERE p.merged_into_id IS NULL AND p.deceased_date IS NULL
                AND NOT EXISTS (SELECT 1 FROM encounter e WHERE e.patient_id = p.id AND e.kind = 'Inpatient' AND e.ended_at IS NULL)
                ORDER BY random() LIMIT {beds * 2}
                """)).ToList();
        var admitted = 0;
        var next = 0;
        for (var bed = 1; bed <= beds && next < candidates.Count; bed++)
        {
            try
            {
                await services.Encounters.AdmitAsync(caller, candidates[next++], ward.Id, bed.ToString(System.Globalization.CultureInfo.InvariantCulture));
                admitted++;
            }
            catch (ConflictException)
            {
                // The bed is taken from an earlier run (or the patient was admitted meanwhile): keep it.
            }
        }
        Console.WriteLine($"{WardHsaId} (Bänkavdelningen): {admitted} patients admitted now, {beds} beds.");
        return 0;
    }
}
