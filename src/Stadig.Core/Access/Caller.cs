using Stadig.Organisation;

namespace Stadig.Access;

/// <summary>
/// Who is asking, in which assignment and for what purpose. Every use case that touches patient
/// data takes one, so that the access checkpoint can decide and audit in one place.
/// </summary>
public sealed record Caller(Guid StaffId, string HsaId, string DisplayName, Role Role, Guid UnitId, string UnitHsaId, Purpose Purpose)
{
    /// <summary>The system itself (seeding, migrations, background jobs); never a person.</summary>
    public static Caller System { get; } = new(Guid.Empty, "SYSTEM", "Stadig", Role.Administrator, Guid.Empty, "SYSTEM", Purpose.Administration);

    /// <summary>
    /// Set when this caller came from the cache of bearer tokens' callers, not from the staff directory:
    /// the token's claims, which the checkpoint confirms in the statement that decides (<see cref="TokenClaims"/>).
    /// </summary>
    public TokenClaims? Unconfirmed { get; init; }
}
