using Stadig.Organisation;

namespace Stadig.Seeding;

public sealed class SeedOptions
{
    public int Patients { get; init; }

    /// <summary>The same seed (and the same clock) gives the same region, byte for byte.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>One login per role with the password "demo" (see <see cref="RegionSeeder.DemoUsernames"/>).</summary>
    public bool DemoUsers { get; init; }

    /// <summary>Hashes the demo password; required when <see cref="DemoUsers"/> is set. The core holds no hashing policy.</summary>
    public Func<string, string>? HashPassword { get; init; }

    /// <summary>Patients generated and stored per transaction (and per COPY on PostgreSQL).</summary>
    public int BatchSize { get; init; } = 50_000;

    public IProgress<string>? Progress { get; init; }
}

public sealed record DemoLogin(string Username, Role Role, string Password);

public sealed record SeedReport(
    int Units,
    int Staff,
    int Patients,
    long Encounters,
    long Notes,
    long NoteKeywords,
    long Results,
    long Warnings,
    TimeSpan Elapsed,
    IReadOnlyList<DemoLogin> DemoLogins);

internal sealed record PatientRow(
    Guid Id, string IdentifierKind, string Identifier, string IdentifierShort, string FamilyName, string GivenNames,
    string FamilySearch, string FamilyLastSearch, string GivenSearch, string GivenLastSearch, DateOnly? BirthDate, string Sex,
    string? AddressLine, string? PostalCode, string? City, string? Phone, string? Email, string ProtectedIdentity,
    DateOnly? DeceasedDate, DateTimeOffset CreatedAt);

internal sealed record EncounterRow(Guid Id, Guid PatientId, Guid UnitId, string Kind, string? Bed, DateTimeOffset StartedAt, DateTimeOffset? EndedAt);

internal sealed record NoteRow(
    Guid Id, Guid PatientId, Guid? EncounterId, Guid UnitId, string NoteType, string Status, Guid AuthorId,
    Guid? SignerId, DateTimeOffset? SignedAt, string? ContentSha256, DateTimeOffset CreatedAt);

internal sealed record KeywordRow(Guid NoteId, Guid PatientId, int Position, string Keyword, string Text);

internal sealed record LabResultRow(
    Guid Id, Guid PatientId, Guid UnitId, string AnalysisCode, string AnalysisName, double? ValueNumeric, string? ValueText,
    string? Unit, double? ReferenceLow, double? ReferenceHigh, string? AbnormalFlag, string Status, DateTimeOffset ObservedAt);

internal sealed record WarningRow(
    Guid Id, Guid PatientId, Guid UnitId, string Category, string Text, string? Agent, string? Reaction, string? Severity,
    string? Certainty, DateTimeOffset CreatedAt, Guid CreatedBy);

/// <summary>The rows of a batch of patients, all tables, in insertion order.</summary>
internal sealed class Batch
{
    public List<PatientRow> Patients { get; } = [];
    public List<EncounterRow> Encounters { get; } = [];
    public List<NoteRow> Notes { get; } = [];
    public List<KeywordRow> Keywords { get; } = [];
    public List<LabResultRow> Results { get; } = [];
    public List<WarningRow> Warnings { get; } = [];
}
