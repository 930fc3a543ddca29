namespace Stadig.Organisation;

public sealed class CareProvider
{
    public Guid Id { get; init; }
    public string HsaId { get; init; } = "";
    public string Name { get; init; } = "";
}

public sealed class CareUnit
{
    public Guid Id { get; init; }
    public Guid ProviderId { get; init; }
    public string HsaId { get; init; } = "";
    public string Name { get; init; } = "";
    public UnitKind Kind { get; init; }
}

public sealed class StaffMember
{
    public Guid Id { get; init; }
    public string HsaId { get; init; } = "";
    public string Username { get; init; } = "";
    public string DisplayName { get; init; } = "";
    public string Title { get; init; } = "";
    public string? PasswordHash { get; init; }
    public int FailedLogins { get; init; }
    public DateTimeOffset? LockedUntil { get; init; }
    public bool IsDemo { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>A medarbetaruppdrag: the unit, role and purpose a staff member works under.</summary>
public sealed class Assignment
{
    public Guid Id { get; init; }
    public Guid StaffId { get; init; }
    public Guid UnitId { get; init; }
    public string UnitHsaId { get; init; } = "";
    public string UnitName { get; init; } = "";
    public Role Role { get; init; }
    public Purpose Purpose { get; init; }
}
