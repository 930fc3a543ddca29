using System.Collections.Concurrent;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Stadig.Auth;

/// <summary>
/// The bearer tokens this node has already validated, so that an integration that sends the same
/// token with every request (as they do, until it expires) has its signature checked and its claims
/// parsed once, not per request: that was a tenth of a FHIR read's CPU (issue 23, docs/benchmarks.md).
/// An entry is keyed by the token's exact text, so a changed byte is validated afresh; it is kept
/// until the token expires (with the validation's clock skew, as the validator would allow it) and
/// never longer than <see cref="Lifetime"/>, so a signing key withdrawn by the identity provider
/// stops being honoured within that time. Only valid tokens are kept: a refused one is refused again
/// by the validator, and logged each time. Every request gets its own copy of the identity, so
/// nothing one request adds to its principal reaches another's.
/// </summary>
public sealed class ValidatedTokens(TokenHandler validator, TimeProvider clock) : TokenHandler
{
    /// <summary>Entries kept at most: a region has hundreds of integrations, each with a token or a few at a time.</summary>
    internal const int Capacity = 10_000;

    /// <summary>The longest a validation is trusted without being made again.</summary>
    internal static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);

    private readonly ConcurrentDictionary<string, Validated> _validated = new(StringComparer.Ordinal);

    private sealed record Validated(TokenValidationResult Result, DateTimeOffset Until);

    /// <summary>Over the JSON web token validator, with claim names as the token has them (as MapInboundClaims = false).</summary>
    public ValidatedTokens(TimeProvider clock) : this(new JsonWebTokenHandler { MapInboundClaims = false }, clock) { }

    public override async Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
    {
        var now = clock.GetUtcNow();
        if (_validated.TryGetValue(token, out var known))
        {
            if (known.Until > now) return CopyOf(known.Result);
            _validated.TryRemove(KeyValuePair.Create(token, known));
        }
        var result = await validator.ValidateTokenAsync(token, validationParameters);
        // A token without an expiry is never kept (RequireExpirationTime refuses it anyway).
        if (result.IsValid && result.SecurityToken is { ValidTo: var expires } && expires > DateTime.MinValue)
        {
            var until = new DateTimeOffset(DateTime.SpecifyKind(expires, DateTimeKind.Utc)) + validationParameters.ClockSkew;
            if (until > now + Lifetime) until = now + Lifetime;
            if (_validated.Count >= Capacity) _validated.Clear();
            _validated[token] = new Validated(result, until);
            return CopyOf(result);
        }
        return result;
    }

    private static TokenValidationResult CopyOf(TokenValidationResult result) => new()
    {
        IsValid = true,
        ClaimsIdentity = result.ClaimsIdentity.Clone(),
        SecurityToken = result.SecurityToken,
        Issuer = result.Issuer,
        TokenType = result.TokenType,
    };

    public override SecurityToken ReadToken(string token) => validator.ReadToken(token);

    public override int MaximumTokenSizeInBytes
    {
        get => validator.MaximumTokenSizeInBytes;
        set => validator.MaximumTokenSizeInBytes = value;
    }
}
