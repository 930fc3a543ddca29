using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Rehearsal;

/// <summary>A patient the simulated users work with. Kept in memory only, never written to output.</summary>
public sealed class PoolPatient
{
    public Guid Id { get; init; }
    public string Identifier { get; init; } = "";
    public string IdentifierKind { get; init; } = "";
    public string FamilyName { get; init; } = "";
    public string GivenNames { get; init; } = "";
    public DateOnly? BirthDate { get; init; }
}

/// <summary>A unit the clinicians work in, the demo accounts' assignments there, and its patients.</summary>
public sealed record PoolUnit(Guid UnitId, string UnitHsaId, string UnitName, bool IsWard, Guid PhysicianAssignmentId, Guid NurseAssignmentId,
    IReadOnlyList<PoolPatient> Patients);

/// <summary>
/// Who works where and with whom, read once from the seeded database before the run (not timed):
/// the units the demo physician and nurse hold assignments in, and per unit a random sample of the
/// patients the unit has a care relation with (an open or recent encounter, or a recorded relation)
/// — the patients a clinician there would actually open. Everything else goes over HTTP and MLLP.
/// </summary>
public sealed class PatientPool
{
    public required IReadOnlyList<PoolUnit> Units { get; init; }
    public required string PhysicianHsaId { get; init; }

    /// <summary>The demo administrator and the unit of their administrator assignment (for the bulk export), when the region has one.</summary>
    public (string HsaId, string UnitHsaId)? Administrator { get; init; }

    public static async Task<PatientPool> LoadAsync(string connectionString, RehearsalConfig config, CancellationToken cancellationToken)
    {
        var database = Database.FromConnectionString(connectionString);
        var staff = new StaffDirectory(database, TimeProvider.System);
        var physician = await staff.FindByUsernameAsync(config.PhysicianUsername, cancellationToken)
            ?? throw new InvalidDataException($"No account '{config.PhysicianUsername}': seed the region with demo users (stadig seed --demo-users).");
        var nurse = await staff.FindByUsernameAsync(config.NurseUsername, cancellationToken)
            ?? throw new InvalidDataException($"No account '{config.NurseUsername}': seed the region with demo users (stadig seed --demo-users).");
        var physicianAssignments = await staff.AssignmentsOfAsync(physician.Id, cancellationToken);
        var nurseAssignments = await staff.AssignmentsOfAsync(nurse.Id, cancellationToken);
        var kinds = (await staff.UnitsAsync(cancellationToken)).ToDictionary(u => u.Id, u => u.Kind);
        var checkpoint = new PatientCheckpoint(database, new AuditLog(database, TimeProvider.System), new AccessOptions { CareRelationDays = config.CareRelationDays },
            TimeProvider.System);
        var units = new List<PoolUnit>();
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        foreach (var a in physicianAssignments.Where(a => a.Role == Role.Physician && a.Purpose == Purpose.CareAndTreatment))
        {
            var nurseAssignment = nurseAssignments.FirstOrDefault(n => n.UnitId == a.UnitId && n.Role == Role.Nurse);
            if (nurseAssignment is null) continue;
            // The checkpoint's own care-relation rule, so the pool is exactly the patients the server will open for this unit.
            var parameters = checkpoint.CareRelationParameters(new Caller(physician.Id, physician.HsaId, physician.DisplayName, a.Role, a.UnitId,
                a.UnitHsaId, a.Purpose));
            parameters.Add("limit", config.PoolPerUnit);
            var patients = (await connection.QueryAsync<PoolPatient>(new CommandDefinition(
                $"""
                SELECT p.id AS Id, p.identifier AS Identifier, p.identifier_kind AS IdentifierKind, p.family_name AS FamilyName,
                       p.given_names AS GivenNames, p.birth_date AS BirthDate
                FROM patient p
                WHERE p.merged_into_id IS NULL AND p.id IN ({PatientCheckpoint.CareRelationPatientsSql})
                ORDER BY random()
                LIMIT @limit
                """,
                parameters, cancellationToken: cancellationToken))).ToList();
            if (patients.Count == 0) continue;
            units.Add(new PoolUnit(a.UnitId, a.UnitHsaId, a.UnitName, kinds.GetValueOrDefault(a.UnitId) == UnitKind.Ward, a.Id, nurseAssignment.Id, patients));
        }
        if (units.Count == 0)
            throw new InvalidDataException("No unit of the demo accounts has patients with a care relation: seed a region with demo users first.");
        (string, string)? administrator = null;
        if (await staff.FindByUsernameAsync(config.AdminUsername, cancellationToken) is { } admin
            && (await staff.AssignmentsOfAsync(admin.Id, cancellationToken)).FirstOrDefault(a => a.Role == Role.Administrator) is { } adminAssignment)
            administrator = (admin.HsaId, adminAssignment.UnitHsaId);
        return new PatientPool { Units = units, PhysicianHsaId = physician.HsaId, Administrator = administrator };
    }
}
