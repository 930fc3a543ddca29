using Microsoft.AspNetCore.Http.HttpResults;
using Stadig.Auth;
using Stadig.Common;

namespace Stadig.Notes;

/// <summary>Notes as JSON: the browser's autosave and sign calls, and integrations.</summary>
public static class NoteApi
{
    /// <param name="BackEnteredClinicalAt">Set for a note written on paper during a downtime: the time on the paper (efterregistrering).</param>
    public sealed record CreateRequest(string? NoteType, Guid? ResponsibleSignerId, string? ClientRequestId, DateTimeOffset? BackEnteredClinicalAt = null);
    public sealed record KeywordDto(string? Keyword, string? Text);
    public sealed record SaveRequest(int Version, IReadOnlyList<KeywordDto>? Keywords);
    public sealed record SignRequest(int Version);

    public sealed record NoteDto(Guid Id, Guid PatientId, string NoteType, string Status, int Version, string AuthorName, string? SignerName,
        DateTimeOffset? SignedAt, Guid? AmendsNoteId, bool IntegrityIntact, IReadOnlyList<NoteKeyword>? Keywords, Downtime.BackEntryMark? BackEntry = null)
    {
        /// <summary>A signed note whose text no longer matches its hash is sent without the text.</summary>
        public static NoteDto From(Note n) => new(n.Id, n.PatientId, n.NoteType, n.Status, n.Version, n.AuthorName, n.SignerName, n.SignedAt,
            n.AmendsNoteId, n.IntegrityIntact, n.IntegrityIntact ? n.Keywords : null, n.BackEntry);
    }

    public static void MapNoteApi(this WebApplication app)
    {
        var api = app.MapGroup("/api").DisableAntiforgery();
        api.MapPost("/patients/{id:guid}/notes", CreateAsync);
        api.MapGet("/notes/{noteId:guid}", GetAsync);
        api.MapPut("/notes/{noteId:guid}/draft", SaveAsync);
        api.MapPost("/notes/{noteId:guid}/sign", SignAsync);
        api.MapPost("/notes/{noteId:guid}/amend", AmendAsync);
        api.MapGet("/notes/{noteId:guid}/history", HistoryAsync);
        api.MapGet("/notes/worklist", WorklistAsync);
    }

    private static async Task<Created<NoteDto>> CreateAsync(Guid id, CreateRequest request, ClinicalNotes notes, CallerAccessor caller, CancellationToken ct)
    {
        var note = await notes.CreateDraftAsync(await caller.CurrentAsync(ct), id, request.NoteType ?? "", request.ResponsibleSignerId, request.ClientRequestId,
            request.BackEnteredClinicalAt is { } clinicalAt ? new Downtime.BackEntryClaim(clinicalAt) : null, ct);
        return TypedResults.Created($"/api/notes/{note.Id}", NoteDto.From(note));
    }

    private static async Task<Ok<NoteDto>> GetAsync(Guid noteId, ClinicalNotes notes, CallerAccessor caller, CancellationToken ct) =>
        TypedResults.Ok(NoteDto.From(await notes.GetAsync(await caller.CurrentAsync(ct), noteId, ct)));

    /// <summary>200 with the saved note, or 409 carrying the stored note so the writer sees both texts.</summary>
    private static async Task<Results<Ok<NoteDto>, Conflict<NoteDto>>> SaveAsync(Guid noteId, SaveRequest request, ClinicalNotes notes, CallerAccessor caller, CancellationToken ct)
    {
        var keywords = (request.Keywords ?? []).Select(k => new NoteKeyword(k.Keyword ?? "", k.Text ?? "")).ToList();
        try
        {
            return TypedResults.Ok(NoteDto.From(await notes.SaveDraftAsync(await caller.CurrentAsync(ct), noteId, request.Version, keywords, ct)));
        }
        catch (NoteConflictException conflict)
        {
            return TypedResults.Conflict(NoteDto.From(conflict.Current));
        }
    }

    private static async Task<Ok<NoteDto>> SignAsync(Guid noteId, SignRequest request, ClinicalNotes notes, CallerAccessor caller, CancellationToken ct) =>
        TypedResults.Ok(NoteDto.From(await notes.SignAsync(await caller.CurrentAsync(ct), noteId, request.Version, ct)));

    private static async Task<Created<NoteDto>> AmendAsync(Guid noteId, ClinicalNotes notes, CallerAccessor caller, CancellationToken ct)
    {
        var note = await notes.AmendAsync(await caller.CurrentAsync(ct), noteId, null, ct);
        return TypedResults.Created($"/api/notes/{note.Id}", NoteDto.From(note));
    }

    private static async Task<Ok<IReadOnlyList<NoteDto>>> HistoryAsync(Guid noteId, ClinicalNotes notes, CallerAccessor caller, CancellationToken ct) =>
        TypedResults.Ok<IReadOnlyList<NoteDto>>((await notes.HistoryAsync(await caller.CurrentAsync(ct), noteId, ct)).Select(NoteDto.From).ToList());

    private static async Task<Ok<IReadOnlyList<NoteDto>>> WorklistAsync(ClinicalNotes notes, CallerAccessor caller, CancellationToken ct) =>
        TypedResults.Ok<IReadOnlyList<NoteDto>>((await notes.UnsignedForSignerAsync(await caller.CurrentAsync(ct), ct)).Select(NoteDto.From).ToList());
}
