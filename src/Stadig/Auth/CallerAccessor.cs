using Stadig.Access;
using Stadig.Common;
using Stadig.Organisation;

namespace Stadig.Auth;

/// <summary>
/// Turns the signed-in principal into a <see cref="Caller"/>. A session carries its chosen
/// assignment; a bearer token names the person (hsa_id or sub) and, where the person has several,
/// the unit (unit_hsa_id) and role; the assignment is then looked up, never taken on trust.
/// </summary>
public sealed class CallerAccessor(IHttpContextAccessor http, StaffDirectory staff, BearerCallers known)
{
    private Caller? _caller;

    public Task<Caller> CurrentAsync(CancellationToken cancellationToken = default) => CurrentAsync(mayBeUnconfirmed: false, cancellationToken);

    /// <summary>
    /// With <paramref name="mayBeUnconfirmed"/>, a bearer token's caller may come from <see cref="BearerCallers"/>
    /// (marked <see cref="Caller.Unconfirmed"/>): only for work that has the checkpoint confirm it, and that
    /// calls <see cref="Forget"/> and asks again when it throws <see cref="CallerUnconfirmedException"/>.
    /// </summary>
    public async Task<Caller> CurrentAsync(bool mayBeUnconfirmed, CancellationToken cancellationToken = default)
    {
        if (_caller is not null && (mayBeUnconfirmed || _caller.Unconfirmed is null)) return _caller;
        var user = http.HttpContext?.User ?? throw new ForbiddenException("Ingen inloggad användare.");
        if (user.FindFirst(StadigClaims.AssignmentId) is not null && user.FindFirst(StadigClaims.StaffId) is not null)
        {
            return _caller = new Caller(
                Guid.Parse(user.FindFirst(StadigClaims.StaffId)!.Value),
                user.FindFirst(StadigClaims.HsaId)!.Value,
                user.FindFirst(StadigClaims.Name)?.Value ?? "",
                Enum.Parse<Role>(user.FindFirst(StadigClaims.Role)!.Value),
                Guid.Parse(user.FindFirst(StadigClaims.UnitId)!.Value),
                user.FindFirst(StadigClaims.UnitHsaId)!.Value,
                Enum.Parse<Purpose>(user.FindFirst(StadigClaims.Purpose)!.Value));
        }

        var hsaId = user.FindFirst(StadigClaims.HsaId)?.Value ?? user.FindFirst("sub")?.Value;
        if (hsaId is null) throw new ForbiddenException("Inloggningen saknar medarbetaruppdrag. Välj uppdrag först.");
        var claims = new TokenClaims(hsaId, user.FindFirst(StadigClaims.UnitHsaId)?.Value, user.FindFirst(StadigClaims.Role)?.Value);
        if (mayBeUnconfirmed && known.Find(claims) is { } cached) return _caller = cached;
        var (member, assignments) = await staff.FindWithAssignmentsByHsaIdAsync(hsaId, cancellationToken)
            ?? throw new ForbiddenException("Token names a person who is not in the staff directory.");
        var unit = user.FindFirst(StadigClaims.UnitHsaId)?.Value;
        var role = user.FindFirst(StadigClaims.Role)?.Value;
        var matching = assignments
            .Where(a => unit is null || a.UnitHsaId == unit)
            .Where(a => role is null || string.Equals(a.Role.ToString(), role, StringComparison.OrdinalIgnoreCase))
            .ToList();
        if (matching.Count != 1)
            throw new ForbiddenException(matching.Count == 0
                ? "Token names no assignment the person holds."
                : "The person holds several assignments: the token must name unit_hsa_id (and role).");
        var assignment = matching[0];
        _caller = new Caller(member.Id, member.HsaId, member.DisplayName, assignment.Role, assignment.UnitId, assignment.UnitHsaId, assignment.Purpose);
        known.Remember(claims, _caller);
        return _caller;
    }

    /// <summary>The checkpoint could not confirm the cached caller: it leaves the cache, and the next call looks it up.</summary>
    public void Forget()
    {
        if (_caller?.Unconfirmed is { } claims) known.Forget(claims);
        _caller = null;
    }
}
