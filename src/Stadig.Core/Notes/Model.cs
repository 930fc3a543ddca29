namespace Stadig.Notes;

public static class NoteStatus
{
    public const string Draft = "Draft";
    public const string Signed = "Signed";
    /// <summary>An empty draft its author discarded: kept, not deleted, and shown nowhere.</summary>
    public const string Discarded = "Discarded";
}

/// <summary>A row of the unsigned-notes worklist: the note and whose it is.</summary>
public sealed record WorklistNote(Note Note, Patients.Patient Patient);

/// <summary>A keyword (sökord) of a note and the text written under it, exactly as typed (NFC).</summary>
public sealed record NoteKeyword(string Keyword, string Text);

public sealed record Note
{
    public Guid Id { get; init; }
    public Guid PatientId { get; init; }
    public Guid UnitId { get; init; }
    public string UnitName { get; init; } = "";
    public string NoteType { get; init; } = "";
    public string Status { get; init; } = "";
    public int Version { get; init; }
    public Guid AuthorId { get; init; }
    public string AuthorName { get; init; } = "";
    public Guid? ResponsibleSignerId { get; init; }
    public Guid? SignerId { get; init; }
    public string? SignerName { get; init; }
    public DateTimeOffset? SignedAt { get; init; }
    public Guid? CountersignerId { get; init; }
    public DateTimeOffset? CountersignedAt { get; init; }
    public string? ContentSha256 { get; init; }
    public Guid? AmendsNoteId { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? UpdatedAt { get; init; }
    public IReadOnlyList<NoteKeyword> Keywords { get; init; } = [];
    /// <summary>Set when the note was written on paper during a downtime and entered afterwards: its clinical time, who entered it, when, for which period.</summary>
    public Downtime.BackEntryMark? BackEntry { get; init; }

    public bool IsSigned => Status == NoteStatus.Signed;

    public bool IsDiscarded => Status == NoteStatus.Discarded;

    /// <summary>Nothing written under any keyword.</summary>
    public bool IsEmpty => Keywords.All(k => k.Text.Length == 0);

    /// <summary>
    /// For a signed note: whether the stored text still hashes to what was signed. A page that shows
    /// the note shows an integrity alarm instead of the text when this is false.
    /// </summary>
    public bool IntegrityIntact => !IsSigned || ContentSha256 == NoteContentHash.Compute(Keywords.Select(k => (k.Keyword, k.Text)));
}
