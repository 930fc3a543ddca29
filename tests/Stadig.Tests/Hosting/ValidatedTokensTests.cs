using System.Net;
using System.Security.Claims;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Stadig.Auth;
using Stadig.Storage;
using Stadig.Tests.Fhir;

namespace Stadig.Tests.Hosting;

/// <summary>
/// A bearer token is validated once and then remembered (issue 23), but never past its expiry, never
/// longer than five minutes, never when it failed, and never by another token's text; and no request
/// shares its principal with another.
/// </summary>
public class ValidatedTokensTests
{
    private const string Key = "validated-tokens-test-key-long-enough-for-hs256";

    private static readonly TokenValidationParameters Parameters = new()
    {
        ValidIssuer = "idp", ValidAudience = "stadig", IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(Key)),
        RequireExpirationTime = true, ValidateLifetime = true, ClockSkew = TimeSpan.Zero,
    };

    /// <summary>Counts the validations that reach the real validator.</summary>
    private sealed class CountingValidator : TokenHandler
    {
        private readonly JsonWebTokenHandler _inner = new() { MapInboundClaims = false };
        public int Validations;

        public override Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
        {
            Interlocked.Increment(ref Validations);
            return _inner.ValidateTokenAsync(token, validationParameters);
        }
    }

    private static string Token(TimeSpan expiresIn, string subject = "SE2321000016-1001") => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Issuer = "idp", Audience = "stadig", Expires = DateTime.UtcNow + expiresIn, NotBefore = DateTime.UtcNow.AddMinutes(-1),
        Claims = new Dictionary<string, object> { ["hsa_id"] = subject, ["scope"] = "user/*.read" },
        SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(Key)), SecurityAlgorithms.HmacSha256),
    });

    [Fact]
    public async Task A_token_sent_again_is_not_validated_again_and_each_request_gets_its_own_identity()
    {
        var validator = new CountingValidator();
        var tokens = new ValidatedTokens(validator, new FixedClock(DateTimeOffset.UtcNow));
        var token = Token(TimeSpan.FromHours(1));

        var first = await tokens.ValidateTokenAsync(token, Parameters);
        var second = await tokens.ValidateTokenAsync(token, Parameters);

        Assert.True(first.IsValid);
        Assert.True(second.IsValid);
        Assert.Equal(1, validator.Validations);
        Assert.Equal("SE2321000016-1001", second.ClaimsIdentity.FindFirst("hsa_id")?.Value);
        Assert.NotSame(first.ClaimsIdentity, second.ClaimsIdentity);
        // What one request adds to its identity does not reach the next one's.
        first.ClaimsIdentity.AddClaim(new Claim("role", "Administrator"));
        var third = await tokens.ValidateTokenAsync(token, Parameters);
        Assert.Null(third.ClaimsIdentity.FindFirst("role"));
    }

    [Fact]
    public async Task A_remembered_token_is_validated_again_once_it_has_expired()
    {
        var validator = new CountingValidator();
        var clock = new FixedClock(DateTimeOffset.UtcNow);
        var tokens = new ValidatedTokens(validator, clock);
        var token = Token(TimeSpan.FromMinutes(1));
        Assert.True((await tokens.ValidateTokenAsync(token, Parameters)).IsValid);

        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.True((await tokens.ValidateTokenAsync(token, Parameters)).IsValid);
        Assert.Equal(1, validator.Validations);

        clock.Advance(TimeSpan.FromMinutes(1));
        await tokens.ValidateTokenAsync(token, Parameters);
        Assert.Equal(2, validator.Validations);
    }

    [Fact]
    public async Task A_long_lived_token_is_validated_again_after_five_minutes()
    {
        var validator = new CountingValidator();
        var clock = new FixedClock(DateTimeOffset.UtcNow);
        var tokens = new ValidatedTokens(validator, clock);
        var token = Token(TimeSpan.FromHours(8));
        await tokens.ValidateTokenAsync(token, Parameters);

        clock.Advance(ValidatedTokens.Lifetime - TimeSpan.FromSeconds(1));
        await tokens.ValidateTokenAsync(token, Parameters);
        Assert.Equal(1, validator.Validations);

        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.True((await tokens.ValidateTokenAsync(token, Parameters)).IsValid);
        Assert.Equal(2, validator.Validations);
    }

    [Fact]
    public async Task A_refused_token_is_refused_every_time_and_a_changed_signature_is_not_taken_for_the_valid_token()
    {
        var validator = new CountingValidator();
        var tokens = new ValidatedTokens(validator, new FixedClock(DateTimeOffset.UtcNow));
        var token = Token(TimeSpan.FromHours(1));
        Assert.True((await tokens.ValidateTokenAsync(token, Parameters)).IsValid);

        var tampered = token[..^2] + (token[^2] == 'A' ? 'B' : 'A') + token[^1];
        Assert.False((await tokens.ValidateTokenAsync(tampered, Parameters)).IsValid);
        Assert.False((await tokens.ValidateTokenAsync(tampered, Parameters)).IsValid);
        var expired = Token(TimeSpan.FromSeconds(-30));
        Assert.False((await tokens.ValidateTokenAsync(expired, Parameters)).IsValid);
        Assert.False((await tokens.ValidateTokenAsync(expired, Parameters)).IsValid);
        Assert.Equal(5, validator.Validations);
    }

    /// <summary>Through the real server: the same token across requests keeps working, and a token signed with another key is refused after it.</summary>
    [Theory]
    [InlineData(DatabaseEngine.Sqlite)]
    [InlineData(DatabaseEngine.Postgres)]
    public async Task The_server_answers_a_reused_token_each_time_and_refuses_a_forged_one_after_it(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var client = fhir.Client("user/*.read");
        for (var i = 0; i < 3; i++)
            Assert.Equal(HttpStatusCode.OK, (await client.GetFhirAsync("/fhir/Patient?_count=1")).Status);

        var forged = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "test-idp", Audience = "stadig", Expires = DateTime.UtcNow.AddMinutes(10),
            Claims = new Dictionary<string, object> { ["hsa_id"] = fhir.Member.HsaId, ["unit_hsa_id"] = fhir.Assignment.UnitHsaId, ["scope"] = "user/*.read" },
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(Key)), SecurityAlgorithms.HmacSha256),
        });
        var attacker = fhir.Server.CreateClient();
        attacker.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", forged);
        Assert.Equal(HttpStatusCode.Unauthorized, (await attacker.GetFhirAsync("/fhir/Patient?_count=1")).Status);
        Assert.Equal(HttpStatusCode.OK, (await client.GetFhirAsync("/fhir/Patient?_count=1")).Status);
    }
}
