using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Identity;
using Stadig.Hosting;
using Stadig.Installation;
using Stadig.Organisation;

namespace Stadig.Auth;

public enum LoginOutcome
{
    Success,
    WrongCredentials,
    Locked,
    DemoUserNotAllowed,
}

public sealed record LoginResult(LoginOutcome Outcome, StaffMember? Staff = null, DateTimeOffset? LockedUntil = null);

/// <summary>Local accounts: password check with the framework's hasher, lockout after repeated failures.</summary>
public sealed class LoginService(StaffDirectory staff, IPasswordHasher<object> hasher, InstallationSettings installation, StadigOptions options, TimeProvider clock)
{
    // Verified when the username is unknown, so that a wrong username costs as much time as a wrong password.
    private static readonly string DummyHash = new PasswordHasher<object>().HashPassword(new object(), "not-a-password");

    public async Task<LoginResult> CheckAsync(string? username, string? password, CancellationToken cancellationToken = default)
    {
        var member = string.IsNullOrWhiteSpace(username) ? null : await staff.FindByUsernameAsync(username, cancellationToken);
        if (member?.PasswordHash is null)
        {
            hasher.VerifyHashedPassword(new object(), DummyHash, password ?? "");
            return new LoginResult(LoginOutcome.WrongCredentials);
        }
        if (member.LockedUntil is { } until && until > clock.GetUtcNow())
            return new LoginResult(LoginOutcome.Locked, LockedUntil: until);

        var verdict = hasher.VerifyHashedPassword(new object(), member.PasswordHash, password ?? "");
        if (verdict == PasswordVerificationResult.Failed)
        {
            await staff.RecordFailedLoginAsync(member.Id, options.MaxFailedLogins, TimeSpan.FromMinutes(options.LockoutMinutes), cancellationToken);
            var after = await staff.FindByIdAsync(member.Id, cancellationToken);
            return after?.LockedUntil is { } locked && locked > clock.GetUtcNow()
                ? new LoginResult(LoginOutcome.Locked, LockedUntil: locked)
                : new LoginResult(LoginOutcome.WrongCredentials);
        }
        if (member.IsDemo && await installation.ModeAsync(cancellationToken) == InstallationMode.Production)
            return new LoginResult(LoginOutcome.DemoUserNotAllowed);
        if (verdict == PasswordVerificationResult.SuccessRehashNeeded)
            await staff.SetPasswordHashAsync(member.Id, hasher.HashPassword(new object(), password!), cancellationToken);
        await staff.RecordSuccessfulLoginAsync(member.Id, cancellationToken);
        return new LoginResult(LoginOutcome.Success, member);
    }

    public static ClaimsPrincipal PrincipalFor(StaffMember member, Assignment? assignment)
    {
        var claims = new List<Claim>
        {
            new(StadigClaims.StaffId, member.Id.ToString()),
            new(StadigClaims.HsaId, member.HsaId),
            new(StadigClaims.Name, member.DisplayName),
        };
        if (assignment is not null)
        {
            claims.Add(new Claim(StadigClaims.AssignmentId, assignment.Id.ToString()));
            claims.Add(new Claim(StadigClaims.UnitId, assignment.UnitId.ToString()));
            claims.Add(new Claim(StadigClaims.UnitHsaId, assignment.UnitHsaId));
            claims.Add(new Claim(StadigClaims.UnitName, assignment.UnitName));
            claims.Add(new Claim(StadigClaims.Role, assignment.Role.ToString()));
            claims.Add(new Claim(StadigClaims.Purpose, assignment.Purpose.ToString()));
        }
        return new ClaimsPrincipal(new ClaimsIdentity(claims, CookieAuthenticationDefaults.AuthenticationScheme, StadigClaims.Name, StadigClaims.Role));
    }
}
