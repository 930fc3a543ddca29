using System.Text;
using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Fhir.Records;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Warnings;

/// <summary>The national categories of uppmärksamhetsinformation.</summary>
public enum WarningCategory
{
    Hypersensitivity,
    SeriousDisease,
    Treatment,
    CommunicableDisease,
    RestrictionOfCare,
    Unstructured,
}

/// <summary>How severe a hypersensitivity reaction is.</summary>
public enum WarningSeverity
{
    LifeThreatening,
    Harmful,
    Mild,
}

/// <summary>Whether a hypersensitivity is confirmed or only suspected.</summary>
public enum WarningCertainty
{
    Confirmed,
    Suspected,
}

/// <summary>What a clinician enters for a new warning; the hypersensitivity fields are for that category only.</summary>
public sealed record NewWarning(string Category, string Text, string? Agent = null, string? Reaction = null, string? Severity = null, string? Certainty = null);

/// <summary>One warning as stored: active, or inactivated with who, when and why (never deleted).</summary>
public sealed record PatientWarning
{
    public Guid Id { get; init; }
    public Guid PatientId { get; init; }
    public Guid UnitId { get; init; }
    public string UnitName { get; init; } = "";
    public string Category { get; init; } = "";
    public string Text { get; init; } = "";
    public string? Agent { get; init; }
    public string? Reaction { get; init; }
    public string? Severity { get; init; }
    public string? Certainty { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public Guid CreatedBy { get; init; }
    public string CreatedByName { get; init; } = "";
    public DateTimeOffset? InactivatedAt { get; init; }
    public Guid? InactivatedBy { get; init; }
    public string? InactivatedByName { get; init; }
    public string? InactivationReason { get; init; }

    public bool IsActive => InactivatedAt is null;
}

/// <summary>
/// Warnings (uppmärksamhetsinformation): added by physicians and nurses, inactivated with a reason and
/// kept, listed active first. Every read and write goes through the checkpoint; another unit's
/// warnings the caller may not see (inner secrecy) are left out.
/// </summary>
public sealed class PatientWarnings(PatientCheckpoint checkpoint, TimeProvider clock)
{
    public const int MaxTextLength = 2_000;
    public const int MaxFieldLength = 200;
    public const int MaxReasonLength = 1_000;

    public static bool MayWrite(Role role) => role is Role.Physician or Role.Nurse;

    public async Task<PatientWarning> AddAsync(Caller caller, Guid patientId, NewWarning input, CancellationToken cancellationToken = default)
    {
        if (!MayWrite(caller.Role)) throw new ForbiddenException("Din roll får inte registrera uppmärksamhetsinformation.");
        var clean = Validate(input);
        var id = Guid.CreateVersion7();
        await checkpoint.WriteAsync(caller, patientId, "Warning", AuditActivity.Write, async (connection, transaction, _) =>
        {
            await connection.ExecuteAsync(
                """
                INSERT INTO warning (id, patient_id, unit_id, category, text, agent, reaction, severity, certainty, created_at, created_by)
                VALUES (@id, @patientId, @unitId, @Category, @Text, @Agent, @Reaction, @Severity, @Certainty, @now, @staffId)
                """,
                new { id, patientId, unitId = caller.UnitId, clean.Category, clean.Text, clean.Agent, clean.Reaction, clean.Severity, clean.Certainty,
                      now = clock.GetUtcNow(), staffId = caller.StaffId }, transaction);
            await WarningAsFhir.PublishAsync(connection, transaction, id, clock.GetUtcNow());
            return 0;
        }, cancellationToken);
        return (await LoadAsync(caller, id, cancellationToken))!;
    }

    /// <summary>Marks a warning as no longer valid, with a reason; it stays in the list as history.</summary>
    public async Task<PatientWarning> InactivateAsync(Caller caller, Guid warningId, string reason, CancellationToken cancellationToken = default)
    {
        if (!MayWrite(caller.Role)) throw new ForbiddenException("Din roll får inte inaktivera uppmärksamhetsinformation.");
        var why = Clean(reason);
        if (why.Length == 0) throw new InvalidInputException("reason", "Ange varför uppmärksamhetsinformationen inaktiveras.");
        if (why.Length > MaxReasonLength) throw new InvalidInputException("reason", $"Anledningen är längre än {MaxReasonLength} tecken.");
        var warning = await LoadAsync(caller, warningId, cancellationToken) ?? throw new NotFoundException("Uppmärksamhetsinformationen finns inte.");
        await checkpoint.WriteEntryAsync(caller, warning.PatientId, warning.UnitId, "Warning",
            "Uppmärksamhetsinformationen finns inte, eller så saknar du vårdrelation.", async (connection, transaction) =>
        {
            var done = await connection.ExecuteAsync(
                """
                UPDATE warning SET inactivated_at = @now, inactivated_by = @staffId, inactivation_reason = @why
                WHERE id = @warningId AND inactivated_at IS NULL
                """, new { warningId, now = clock.GetUtcNow(), staffId = caller.StaffId, why }, transaction);
            if (done == 0) throw new ConflictException("Uppmärksamhetsinformationen är redan inaktiverad.");
            await WarningAsFhir.PublishAsync(connection, transaction, warningId, clock.GetUtcNow());
        }, cancellationToken);
        return (await LoadAsync(caller, warningId, cancellationToken))!;
    }

    /// <summary>The patient's warnings the caller may see: active first (newest first), then inactivated ones.</summary>
    public async Task<IReadOnlyList<PatientWarning>> ListAsync(Caller caller, Guid patientId, CancellationToken cancellationToken = default)
    {
        var rows = await checkpoint.ListVisibleAsync<PatientWarning>(caller, patientId, "Warning", $"{Select} WHERE w.patient_id = @patientId", w => w.UnitId, cancellationToken);
        return rows.OrderBy(w => w.IsActive ? 0 : 1).ThenByDescending(w => w.CreatedAt).ToList();
    }

    /// <summary>The warnings <paramref name="context"/> lets its caller see, on a grant's connection, ordered as <see cref="ListAsync"/>.</summary>
    internal static async Task<IReadOnlyList<PatientWarning>> ListInAsync(System.Data.Common.DbConnection connection, PatientAccessContext context) =>
        (await connection.QueryAsync<PatientWarning>($"{Select} WHERE w.patient_id = @patientId", new { patientId = context.PatientId }))
            .Where(w => context.MaySee(w.UnitId)).OrderBy(w => w.IsActive ? 0 : 1).ThenByDescending(w => w.CreatedAt).ToList();

    private const string Select =
        """
        SELECT w.id AS Id, w.patient_id AS PatientId, w.unit_id AS UnitId, u.name AS UnitName, w.category AS Category, w.text AS Text,
               w.agent AS Agent, w.reaction AS Reaction, w.severity AS Severity, w.certainty AS Certainty, w.created_at AS CreatedAt,
               w.created_by AS CreatedBy, c.display_name AS CreatedByName, w.inactivated_at AS InactivatedAt, w.inactivated_by AS InactivatedBy,
               i.display_name AS InactivatedByName, w.inactivation_reason AS InactivationReason
        FROM warning w JOIN care_unit u ON u.id = w.unit_id JOIN staff c ON c.id = w.created_by LEFT JOIN staff i ON i.id = w.inactivated_by
        """;

    /// <summary>A warning by its id, in the caller's scope: its patient and unit are what the checkpoint then decides on.</summary>
    private async Task<PatientWarning?> LoadAsync(Caller caller, Guid warningId, CancellationToken cancellationToken)
    {
        await using var connection = await checkpoint.Scope(caller).OpenAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<PatientWarning>($"{Select} WHERE w.id = @warningId", new { warningId });
    }

    /// <summary>Checks the input per category and names the field at fault; text is normalised to NFC.</summary>
    public static NewWarning Validate(NewWarning input)
    {
        if (!Enum.TryParse<WarningCategory>(input.Category, ignoreCase: false, out var category) || !Enum.IsDefined(category) || int.TryParse(input.Category, out _))
            throw new InvalidInputException("category", $"Okänd kategori \"{input.Category}\".");
        var text = Clean(input.Text);
        var agent = Optional(input.Agent);
        var reaction = Optional(input.Reaction);
        var severity = Optional(input.Severity);
        var certainty = Optional(input.Certainty);
        if (category == WarningCategory.Hypersensitivity)
        {
            if (agent is null) throw new InvalidInputException("agent", "Ange vad patienten är överkänslig mot.");
            if (agent.Length > MaxFieldLength) throw new InvalidInputException("agent", $"Ämnet är längre än {MaxFieldLength} tecken.");
            if (reaction is { Length: > MaxFieldLength }) throw new InvalidInputException("reaction", $"Reaktionen är längre än {MaxFieldLength} tecken.");
            if (severity is not null && !Enum.GetNames<WarningSeverity>().Contains(severity))
                throw new InvalidInputException("severity", $"Okänd allvarlighetsgrad \"{severity}\".");
            if (certainty is not null && !Enum.GetNames<WarningCertainty>().Contains(certainty))
                throw new InvalidInputException("certainty", $"Okänd visshet \"{certainty}\".");
            if (text.Length == 0) text = reaction is null ? $"Överkänslighet mot {agent}." : $"Överkänslighet mot {agent}: {reaction}.";
        }
        else
        {
            // The hypersensitivity fields belong to that category only.
            agent = reaction = severity = certainty = null;
        }
        if (text.Length == 0) throw new InvalidInputException("text", "Ange en text.");
        if (text.Length > MaxTextLength) throw new InvalidInputException("text", $"Texten är längre än {MaxTextLength} tecken.");
        if (text.Any(c => char.IsControl(c) && c is not '\n' and not '\t')) throw new InvalidInputException("text", "Texten innehåller otillåtna tecken.");
        return new NewWarning(category.ToString(), text, agent, reaction, severity, certainty);
    }

    private static string Clean(string? text) =>
        (text ?? "").Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n').Trim().NormalizeText(NormalizationForm.FormC);

    private static string? Optional(string? text) => Clean(text) is { Length: > 0 } value ? value : null;
}
