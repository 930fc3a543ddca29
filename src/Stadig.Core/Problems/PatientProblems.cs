using System.Text;
using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Fhir.Records;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Problems;

/// <summary>A problem or diagnosis as recorded: an ICD-10-SE code with its text, active or resolved.</summary>
public sealed record PatientProblem
{
    public Guid Id { get; init; }
    public Guid PatientId { get; init; }
    public Guid UnitId { get; init; }
    public string UnitName { get; init; } = "";
    public string Code { get; init; } = "";
    public string Text { get; init; } = "";
    public string Status { get; init; } = "";
    public DateOnly? OnsetDate { get; init; }
    public DateTimeOffset RecordedAt { get; init; }
    public Guid RecordedBy { get; init; }
    public string RecordedByName { get; init; } = "";
    public DateTimeOffset? ResolvedAt { get; init; }
    public Guid? ResolvedBy { get; init; }
    public string? ResolvedByName { get; init; }

    public bool IsActive => Status == PatientProblems.Active;
}

/// <summary>
/// Problems and diagnoses (ICD-10-SE): recorded and resolved by physicians, read by everyone with
/// access; resolving keeps the entry. Every read and write goes through the checkpoint, and another
/// unit's entries the caller may not see are left out.
/// </summary>
public sealed class PatientProblems(PatientCheckpoint checkpoint, TimeProvider clock)
{
    public const string Active = "Active";
    public const string Resolved = "Resolved";
    public const int MaxTextLength = 500;

    public static bool MayWrite(Role role) => role == Role.Physician;

    /// <summary>
    /// Records a problem. A code from the curated list takes its title when no text is given; any other
    /// code must look like an ICD-10 code and needs a text.
    /// </summary>
    public async Task<PatientProblem> AddAsync(Caller caller, Guid patientId, string code, string? text = null, DateOnly? onsetDate = null, CancellationToken cancellationToken = default)
    {
        if (!MayWrite(caller.Role)) throw new ForbiddenException("Bara läkare får registrera diagnoser.");
        var (cleanCode, cleanText) = Validate(code, text, onsetDate, DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime).AddDays(1));
        var id = Guid.CreateVersion7();
        await checkpoint.WriteAsync(caller, patientId, "Problem", AuditActivity.Write, async (connection, transaction, _) =>
        {
            await connection.ExecuteAsync(
                """
                INSERT INTO problem (id, patient_id, unit_id, code, text, status, onset_date, recorded_at, recorded_by)
                VALUES (@id, @patientId, @unitId, @cleanCode, @cleanText, 'Active', @onsetDate, @now, @staffId)
                """,
                new { id, patientId, unitId = caller.UnitId, cleanCode, cleanText, onsetDate, now = clock.GetUtcNow(), staffId = caller.StaffId }, transaction);
            await ProblemAsFhir.PublishAsync(connection, transaction, id, clock.GetUtcNow());
            return 0;
        }, cancellationToken);
        return (await LoadAsync(caller, id, cancellationToken))!;
    }

    /// <summary>Marks a problem as resolved; it stays in the list with who and when.</summary>
    public async Task<PatientProblem> ResolveAsync(Caller caller, Guid problemId, CancellationToken cancellationToken = default)
    {
        if (!MayWrite(caller.Role)) throw new ForbiddenException("Bara läkare får avsluta diagnoser.");
        var problem = await LoadAsync(caller, problemId, cancellationToken) ?? throw new NotFoundException("Diagnosen finns inte.");
        await checkpoint.WriteEntryAsync(caller, problem.PatientId, problem.UnitId, "Problem",
            "Diagnosen finns inte, eller så saknar du vårdrelation.", async (connection, transaction) =>
        {
            var done = await connection.ExecuteAsync(
                "UPDATE problem SET status = 'Resolved', resolved_at = @now, resolved_by = @staffId WHERE id = @problemId AND status = 'Active'",
                new { problemId, now = clock.GetUtcNow(), staffId = caller.StaffId }, transaction);
            if (done == 0) throw new ConflictException("Diagnosen är redan avslutad.");
            await ProblemAsFhir.PublishAsync(connection, transaction, problemId, clock.GetUtcNow());
        }, cancellationToken);
        return (await LoadAsync(caller, problemId, cancellationToken))!;
    }

    /// <summary>The patient's problems the caller may see: active first (newest first), then resolved ones.</summary>
    /// <summary>The problems <paramref name="context"/> lets its caller see, on a grant's connection, ordered as <see cref="ListAsync"/>.</summary>
    internal static async Task<IReadOnlyList<PatientProblem>> ListInAsync(System.Data.Common.DbConnection connection, PatientAccessContext context) =>
        (await connection.QueryAsync<PatientProblem>($"{Select} WHERE p.patient_id = @patientId", new { patientId = context.PatientId }))
            .Where(p => context.MaySee(p.UnitId)).OrderBy(p => p.IsActive ? 0 : 1).ThenByDescending(p => p.RecordedAt).ToList();

    public async Task<IReadOnlyList<PatientProblem>> ListAsync(Caller caller, Guid patientId, CancellationToken cancellationToken = default)
    {
        var rows = await checkpoint.ListVisibleAsync<PatientProblem>(caller, patientId, "Problem", $"{Select} WHERE p.patient_id = @patientId", p => p.UnitId, cancellationToken);
        return rows.OrderBy(p => p.IsActive ? 0 : 1).ThenByDescending(p => p.RecordedAt).ToList();
    }

    /// <summary>Checks code, text and onset date, naming the field at fault.</summary>
    public static (string Code, string Text) Validate(string? code, string? text, DateOnly? onsetDate, DateOnly notAfter)
    {
        var normalized = Icd10Se.Normalize(code);
        var cleanText = (text ?? "").Trim().NormalizeText(NormalizationForm.FormC);
        if (normalized.Length == 0) throw new InvalidInputException("code", "Ange en diagnoskod.");
        var known = Icd10Se.Find(normalized);
        if (known is null && !Icd10Se.IsValidSyntax(normalized))
            throw new InvalidInputException("code", $"\"{code}\" är inte en ICD-10-kod (t.ex. J18.9).");
        if (cleanText.Length == 0)
        {
            if (known is null) throw new InvalidInputException("text", "Koden finns inte i listan: skriv diagnosens text.");
            cleanText = known.Title;
        }
        if (cleanText.Length > MaxTextLength) throw new InvalidInputException("text", $"Texten är längre än {MaxTextLength} tecken.");
        if (cleanText.Any(char.IsControl)) throw new InvalidInputException("text", "Texten innehåller otillåtna tecken.");
        if (onsetDate is { } onset && (onset > notAfter || onset.Year < 1850)) throw new InvalidInputException("onsetDate", "Debutdatumet är inte rimligt.");
        return (normalized, cleanText);
    }

    private const string Select =
        """
        SELECT p.id AS Id, p.patient_id AS PatientId, p.unit_id AS UnitId, u.name AS UnitName, p.code AS Code, p.text AS Text, p.status AS Status,
               p.onset_date AS OnsetDate, p.recorded_at AS RecordedAt, p.recorded_by AS RecordedBy, r.display_name AS RecordedByName,
               p.resolved_at AS ResolvedAt, p.resolved_by AS ResolvedBy, s.display_name AS ResolvedByName
        FROM problem p JOIN care_unit u ON u.id = p.unit_id JOIN staff r ON r.id = p.recorded_by LEFT JOIN staff s ON s.id = p.resolved_by
        """;

    /// <summary>A problem by its id, in the caller's scope: its patient and unit are what the checkpoint then decides on.</summary>
    private async Task<PatientProblem?> LoadAsync(Caller caller, Guid problemId, CancellationToken cancellationToken)
    {
        await using var connection = await checkpoint.Scope(caller).OpenAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<PatientProblem>($"{Select} WHERE p.id = @problemId", new { problemId });
    }
}
