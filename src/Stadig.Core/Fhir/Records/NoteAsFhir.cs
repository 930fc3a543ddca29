using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using static Stadig.Fhir.Records.FhirRecordParts;

namespace Stadig.Fhir.Records;

/// <summary>
/// A signed note (journalanteckning) as a FHIR <c>DocumentReference</c>. Drafts are not part of the record
/// and are not published; a note appears when it is signed. An amendment is a note of its own that
/// <c>replaces</c> the one it amends (docStatus amended); once it is signed the amended note turns
/// superseded. The type is the note type (with its LOINC document type); the author, the signer
/// (authenticator) and the unit (custodian) are HSA-id references.
/// <para>
/// The content is one attachment per keyword (sökord) that has text, titled with the keyword, as
/// text/plain in UTF-8: the bytes are exactly the text as stored (NFC, \n line breaks, every space kept),
/// base64 in <c>data</c>, with <c>size</c> and <c>hash</c> (SHA-1 of those bytes, base64, as R4 defines
/// Attachment.hash). Nothing is rendered or joined, so a client gets back every word exactly as signed.
/// </para>
/// </summary>
public sealed class NoteAsFhir : FhirRecordMapping<NoteAsFhir.Row>
{
    public const string NoteTypeSystem = "https://stadig.se/fhir/CodeSystem/note-type";
    public const string LoincSystem = "http://loinc.org";
    public const string ContentType = "text/plain;charset=utf-8";

    /// <summary>The LOINC document type nearest to each note type.</summary>
    public static readonly IReadOnlyDictionary<string, (string Code, string Display)> Loinc = new Dictionary<string, (string, string)>(StringComparer.Ordinal)
    {
        ["Besöksanteckning"] = ("34108-1", "Outpatient Note"),
        ["Inskrivningsanteckning"] = ("34117-2", "History and physical note"),
        ["Daganteckning"] = ("11506-3", "Progress note"),
        ["Epikris"] = ("18842-5", "Discharge summary"),
        ["Telefonkontakt"] = ("34748-4", "Telephone encounter Note"),
    };

    public static readonly NoteAsFhir Instance = new();

    protected override string? TypeOf(Row row) => "DocumentReference";

    /// <summary>The only attachment of a note whose stored text no longer matches its signature.</summary>
    public const string IntegrityWithheldTitle = "Texten visas inte: den stämmer inte med den signerade anteckningen (kontrollsumman skiljer sig). Kontakta systemförvaltningen.";

    /// <summary>Publishes a signed note, and the note it amends (which it supersedes). A draft publishes nothing.</summary>
    public static async Task<bool> PublishAsync(DbConnection connection, DbTransaction transaction, Guid noteId, DateTimeOffset now)
    {
        // The row names the note it amends, whose status (superseded) changes with this one's signing.
        var row = await Instance.ReadAsync(connection, transaction, noteId);
        if (row is null) return false;
        var published = await Instance.PublishRowAsync(connection, transaction, row, now);
        if (row.AmendsNoteId is { } older) published |= await Instance.PublishOneAsync(connection, transaction, older, now);
        return published;
    }

    public sealed class Row
    {
        public Guid Id { get; init; }
        public Guid PatientId { get; init; }
        public Guid UnitId { get; init; }
        public string UnitHsaId { get; init; } = "";
        public string UnitName { get; init; } = "";
        public Guid? EncounterId { get; init; }
        public string NoteType { get; init; } = "";
        public Guid AuthorId { get; init; }
        public string AuthorHsaId { get; init; } = "";
        public string AuthorName { get; init; } = "";
        public Guid? SignerId { get; init; }
        public string? SignerHsaId { get; init; }
        public string? SignerName { get; init; }
        public DateTimeOffset? SignedAt { get; init; }
        public DateTimeOffset CreatedAt { get; init; }
        public Guid? AmendsNoteId { get; init; }
        public long SignedAmendments { get; init; }
        public string? ContentSha256 { get; init; }
    }

    protected override string Select =>
        """
        SELECT r.id AS Id, r.patient_id AS PatientId, r.unit_id AS UnitId, u.hsa_id AS UnitHsaId, u.name AS UnitName, r.encounter_id AS EncounterId,
               r.note_type AS NoteType, r.author_id AS AuthorId, a.hsa_id AS AuthorHsaId, a.display_name AS AuthorName, r.signer_id AS SignerId,
               s.hsa_id AS SignerHsaId, s.display_name AS SignerName, r.signed_at AS SignedAt, r.created_at AS CreatedAt, r.amends_note_id AS AmendsNoteId,
               (SELECT COUNT(*) FROM note n WHERE n.amends_note_id = r.id AND n.status = 'Signed') AS SignedAmendments,
               r.content_sha256 AS ContentSha256
        FROM note r JOIN care_unit u ON u.id = r.unit_id JOIN staff a ON a.id = r.author_id LEFT JOIN staff s ON s.id = r.signer_id
        """;

    protected override string Filter => "r.status = 'Signed'";

    protected override Guid IdOf(Row row) => row.Id;
    protected override Guid PatientOf(Row row) => row.PatientId;
    protected override Guid UnitOf(Row row) => row.UnitId;

    /// <summary>An attachment holding <paramref name="text"/> exactly: UTF-8 bytes, base64, with their size and SHA-1.</summary>
    public static JsonObject Attachment(string title, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        return new JsonObject
        {
            ["contentType"] = ContentType,
            ["language"] = "sv",
            ["data"] = Convert.ToBase64String(bytes),
            ["size"] = bytes.Length,
            ["hash"] = Convert.ToBase64String(SHA1.HashData(bytes)),
            ["title"] = title,
        };
    }

    public override async Task<JsonObject> ToFhirAsync(DbConnection connection, DbTransaction? transaction, Row row, string patientReference)
    {
        var keywords = await connection.QueryAsync<(string Keyword, string Text)>(
            "SELECT keyword, text FROM note_keyword WHERE note_id = @id ORDER BY position", new { id = row.Id }, transaction);
        var type = Loinc.TryGetValue(row.NoteType, out var loinc)
            ? Concept(row.NoteType, Coding(NoteTypeSystem, row.NoteType), Coding(LoincSystem, loinc.Code, loinc.Display))
            : Concept(row.NoteType, Coding(NoteTypeSystem, row.NoteType));
        var resource = new JsonObject
        {
            ["resourceType"] = "DocumentReference",
            ["status"] = row.SignedAmendments > 0 ? "superseded" : "current",
            ["docStatus"] = row.AmendsNoteId is null ? "final" : "amended",
            ["type"] = type,
            ["subject"] = Reference(patientReference),
            ["date"] = Instant(row.SignedAt ?? row.CreatedAt),
            ["author"] = new JsonArray(await StaffAsync(connection, transaction, row.AuthorId, row.AuthorHsaId, row.AuthorName)),
        };
        if (row.SignerId is { } signer) resource["authenticator"] = await StaffAsync(connection, transaction, signer, row.SignerHsaId ?? "", row.SignerName);
        resource["custodian"] = await UnitAsync(connection, transaction, row.UnitId, row.UnitHsaId, row.UnitName);
        if (row.AmendsNoteId is { } amends)
            resource["relatesTo"] = new JsonArray(new JsonObject { ["code"] = "replaces", ["target"] = Reference($"DocumentReference/{amends}") });
        // FHIR strings may not be empty, so a keyword left without text has no attachment (it holds no words).
        resource["content"] = new JsonArray(keywords.Where(k => k.Text.Length > 0)
            .Select(k => (JsonNode)new JsonObject { ["attachment"] = Attachment(k.Keyword, k.Text) }).ToArray());
        // Text that no longer matches what was signed is not served as the signed note (the chart
        // refuses to show it too): the reference stays, its content says why it is withheld.
        if (row.ContentSha256 is { } signedHash && signedHash != Notes.NoteContentHash.Compute(keywords.Select(k => (k.Keyword, k.Text))))
        {
            resource["content"] = new JsonArray(new JsonObject
            {
                ["attachment"] = new JsonObject
                {
                    ["contentType"] = ContentType, ["language"] = "sv",
                    ["title"] = IntegrityWithheldTitle,
                },
            });
            resource["securityLabel"] = new JsonArray(Concept("Innehållet stämmer inte med det signerade",
                Coding("https://stadig.se/fhir/CodeSystem/note-integrity", "hash-mismatch", "Text differs from the signed content")));
        }
        if (row.EncounterId is { } encounter)
            resource["context"] = new JsonObject { ["encounter"] = new JsonArray(Reference($"Encounter/{encounter}")) };
        return resource;
    }
}
