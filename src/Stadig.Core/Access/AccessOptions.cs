namespace Stadig.Access;

public sealed class AccessOptions
{
    /// <summary>How long after an encounter ends its unit keeps the care relation; also the life of a recorded relation.</summary>
    public int CareRelationDays { get; set; } = 90;

    /// <summary>How long an emergency opening lasts.</summary>
    public int EmergencyAccessHours { get; set; } = 4;
}
