using Microsoft.AspNetCore.Http.HttpResults;
using Stadig.Auth;
using Stadig.Patients.Identifiers;

namespace Stadig.Patients;

/// <summary>The registry as JSON under /api/patients, for integrations holding a bearer token and for the UI's scripts.</summary>
public static class PatientApi
{
    public sealed record PatientDto(
        Guid Id, string IdentifierKind, string Identifier, string IdentifierDisplay, string FamilyName, string GivenNames,
        DateOnly? BirthDate, string Sex, string? AddressLine, string? PostalCode, string? City, string? Phone, string? Email,
        string ProtectedIdentity, DateOnly? DeceasedDate, Guid? MergedIntoId, int Version)
    {
        public static PatientDto From(Patient p) => new(
            p.Id, p.IdentifierKind.ToString(), p.Identifier, p.IdentifierDisplay, p.FamilyName, p.GivenNames, p.BirthDate,
            p.Sex.ToString(), p.AddressLine, p.PostalCode, p.City, p.Phone, p.Email, p.ProtectedIdentity.ToString(),
            p.DeceasedDate, p.MergedIntoId, p.Version);
    }

    public sealed record RegisterRequest(string? Identifier, string? FamilyName, string? GivenNames, string? AddressLine, string? PostalCode,
        string? City, string? Phone, string? Email, ProtectedIdentity? ProtectedIdentity, DateOnly? DeceasedDate, DateOnly? BirthDate, Sex? Sex)
    {
        public PatientDetails ToDetails() => new(FamilyName ?? "", GivenNames ?? "", AddressLine, PostalCode, City, Phone, Email,
            ProtectedIdentity ?? Patients.ProtectedIdentity.None, DeceasedDate, BirthDate, Sex);
    }

    public sealed record UpdateRequest(int Version, string? FamilyName, string? GivenNames, string? AddressLine, string? PostalCode,
        string? City, string? Phone, string? Email, ProtectedIdentity? ProtectedIdentity, DateOnly? DeceasedDate, DateOnly? BirthDate, Sex? Sex)
    {
        public PatientDetails ToDetails() => new(FamilyName ?? "", GivenNames ?? "", AddressLine, PostalCode, City, Phone, Email,
            ProtectedIdentity ?? Patients.ProtectedIdentity.None, DeceasedDate, BirthDate, Sex);
    }

    public sealed record MergeRequest(Guid TargetPatientId, string? Reason);

    public sealed record SearchResponse(IReadOnlyList<PatientDto> Patients, bool MoreExist, string? Hint);

    public static void MapPatientApi(this WebApplication app)
    {
        var api = app.MapGroup("/api/patients").DisableAntiforgery();
        api.MapGet("/", SearchAsync);
        api.MapGet("/{id:guid}", GetAsync);
        api.MapPost("/", RegisterAsync);
        api.MapPut("/{id:guid}", UpdateAsync);
        api.MapPost("/{id:guid}/merge", MergeAsync);
        api.MapGet("/{id:guid}/merges", MergesAsync);
    }

    private static async Task<Ok<SearchResponse>> SearchAsync(string? q, int? limit, PatientRegistry registry, CallerAccessor caller, CancellationToken ct)
    {
        var result = await registry.SearchAsync(await caller.CurrentAsync(ct), q, limit ?? PatientRegistry.DefaultSearchLimit, ct);
        return TypedResults.Ok(new SearchResponse(result.Patients.Select(PatientDto.From).ToList(), result.MoreExist, result.Hint));
    }

    private static async Task<Ok<PatientDto>> GetAsync(Guid id, PatientRegistry registry, CallerAccessor caller, CancellationToken ct) =>
        TypedResults.Ok(PatientDto.From(await registry.GetAsync(await caller.CurrentAsync(ct), id, ct)));

    public sealed record AlreadyRegistered(Guid Id, bool Created);

    /// <summary>
    /// 201 with the new patient, or 200 with the id of the patient who already has the number (read
    /// the rest with GET, through the access rules like any read).
    /// </summary>
    private static async Task<Results<Created<PatientDto>, Ok<AlreadyRegistered>>> RegisterAsync(RegisterRequest request, PatientRegistry registry, CallerAccessor caller, CancellationToken ct)
    {
        var result = await registry.RegisterAsync(await caller.CurrentAsync(ct), request.Identifier ?? "", request.ToDetails(), ct);
        return result.Patient is { } created
            ? TypedResults.Created($"/api/patients/{created.Id}", PatientDto.From(created))
            : TypedResults.Ok(new AlreadyRegistered(result.PatientId, false));
    }

    private static async Task<Ok<PatientDto>> UpdateAsync(Guid id, UpdateRequest request, PatientRegistry registry, CallerAccessor caller, CancellationToken ct) =>
        TypedResults.Ok(PatientDto.From(await registry.UpdateAsync(await caller.CurrentAsync(ct), id, request.Version, request.ToDetails(), ct)));

    private static async Task<Ok<PatientMerge>> MergeAsync(Guid id, MergeRequest request, PatientRegistry registry, CallerAccessor caller, CancellationToken ct) =>
        TypedResults.Ok(await registry.MergeAsync(await caller.CurrentAsync(ct), id, request.TargetPatientId, request.Reason ?? "", ct));

    private static async Task<Ok<IReadOnlyList<PatientMerge>>> MergesAsync(Guid id, PatientRegistry registry, CallerAccessor caller, CancellationToken ct) =>
        TypedResults.Ok(await registry.MergesOfAsync(await caller.CurrentAsync(ct), id, ct));
}
