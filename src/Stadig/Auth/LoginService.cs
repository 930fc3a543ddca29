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
    /// <summary>Too many failures from this address for this account: it must wait a little before the next try.</summary>
    TooSoon,
    DemoUserNotAllowed,
    /// <summary>This installation takes no local passwords: staff sign in through the region's IdP.</summary>
    LocalPasswordsOff,
}

public sealed record LoginResult(LoginOutcome Outcome, StaffMember? Staff = null, TimeSpan? RetryAfter = null);

/// <summary>Local accounts: password check with the framework's hasher, growing delays after repeated failures (<see cref="LoginThrottle"/>).</summary>
public sealed class LoginService(StaffDirectory staff, IPasswordHasher<object> hasher, InstallationSettings installation, LoginThrottle throttle, StadigOptions options)
{
    // Verified when the username is unknown, so that a wrong username costs as much time as a wrong password.
    private static readonly string DummyHash = new PasswordHasher<object>().HashPassword(new object(), "not-a-password");

    /// <param name="source">The client's address: failures slow only this address's next tries of this account.</param>
    public async Task<LoginResult> CheckAsync(string? username, string? password, string source, CancellationToken cancellationToken = default)
    {
        if (!await OidcSignIn.LocalPasswordsAllowedAsync(options.Oidc, installation, cancellationToken)) return new LoginResult(LoginOutcome.LocalPasswordsOff);
        if (throttle.WaitFor(username, source) is { } wait) return new LoginResult(LoginOutcome.TooSoon, RetryAfter: wait);
        var member = string.IsNullOrWhiteSpace(username) ? null : await staff.FindByUsernameAsync(username, cancellationToken);
        if (member?.PasswordHash is null)
        {
            hasher.VerifyHashedPassword(new object(), DummyHash, password ?? "");
            throttle.Failed(username, source);
            return new LoginResult(LoginOutcome.WrongCredentials);
        }

        var verdict = hasher.VerifyHashedPassword(new object(), member.PasswordHash, password ?? "");
        if (verdict == PasswordVerificationResult.Failed)
        {
            throttle.Failed(username, source);
            return new LoginResult(LoginOutcome.WrongCredentials);
        }
        if (member.IsDemo && await installation.ModeAsync(cancellationToken) == InstallationMode.Production)
            return new LoginResult(LoginOutcome.DemoUserNotAllowed);
        if (verdict == PasswordVerificationResult.SuccessRehashNeeded)
            await staff.SetPasswordHashAsync(member.Id, hasher.HashPassword(new object(), password!), cancellationToken);
        throttle.Succeeded(username, source);
        await staff.RecordSuccessfulLoginAsync(member.Id, cancellationToken);
        return new LoginResult(LoginOutcome.Success, member);
    }

    /// <param name="throughIdp">Signed in through the region's IdP: signing out then also ends the IdP's session.</param>
    public static ClaimsPrincipal PrincipalFor(StaffMember member, Assignment? assignment, bool throughIdp = false)
    {
        var claims = new List<Claim>
        {
            new(StadigClaims.StaffId, member.Id.ToString()),
            new(StadigClaims.HsaId, member.HsaId),
            new(StadigClaims.Name, member.DisplayName),
        };
        if (throughIdp) claims.Add(new Claim(StadigClaims.SignedInWith, OidcSignIn.ThroughIdp));
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
