using Stadig.Access;
using Stadig.Organisation;

namespace Stadig.LabResults;

/// <summary>
/// Who the lab integration acts as: a staff row "Laboratoriesystem" with a LabStaff assignment at
/// the lab unit, so its writes are audited as a named actor with a unit like any other.
/// </summary>
public static class LabIntegration
{
    public const string DisplayName = "Laboratoriesystem";

    /// <summary>The integration's caller at <paramref name="labUnit"/>, created on first use.</summary>
    public static async Task<Caller> CallerAsync(StaffDirectory staff, CareUnit labUnit, CancellationToken cancellationToken = default)
    {
        var username = "laboratoriesystem-" + labUnit.HsaId.ToLowerInvariant();
        var member = await staff.FindByUsernameAsync(username, cancellationToken);
        if (member is null)
        {
            try
            {
                var hsaId = labUnit.HsaId.Length > 13 ? $"{labUnit.HsaId[..12]}-LAB{labUnit.HsaId[13..]}" : labUnit.HsaId + "LAB";
                member = await staff.AddStaffAsync(hsaId, username, DisplayName, DisplayName, passwordHash: null, isDemo: false, cancellationToken);
                await staff.AddAssignmentAsync(member.Id, labUnit.Id, Role.LabStaff, Purpose.CareAndTreatment, cancellationToken);
            }
            catch (Exception)
            {
                // Another node may have created it at the same moment; if not, this was a real failure.
                member = await staff.FindByUsernameAsync(username, cancellationToken);
                if (member is null) throw;
            }
        }
        return new Caller(member!.Id, member.HsaId, member.DisplayName, Role.LabStaff, labUnit.Id, labUnit.HsaId, Purpose.CareAndTreatment);
    }

    /// <summary>The lab unit by HSA-id, or the first unit of kind Lab when none is named.</summary>
    public static async Task<CareUnit> UnitAsync(StaffDirectory staff, string? unitHsaId, CancellationToken cancellationToken = default)
    {
        var units = await staff.UnitsAsync(cancellationToken);
        return (string.IsNullOrEmpty(unitHsaId) ? units.FirstOrDefault(u => u.Kind == UnitKind.Lab) : units.FirstOrDefault(u => u.HsaId == unitHsaId))
            ?? throw new InvalidOperationException(string.IsNullOrEmpty(unitHsaId) ? "No care unit of kind Lab for the lab integration." : $"No care unit {unitHsaId} for the lab integration.");
    }
}
