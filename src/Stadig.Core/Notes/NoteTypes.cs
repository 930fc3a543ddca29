namespace Stadig.Notes;

/// <summary>A note type and its template: the keywords (sökord) a note of the type is written under, in order.</summary>
public sealed record NoteType(string Name, IReadOnlyList<string> Keywords);

/// <summary>
/// The note types of the region. The templates follow common Swedish practice (Besöksanteckning with
/// Aktuellt–Anamnes–Status–Bedömning–Åtgärd and so on); a region's own catalogue would replace this.
/// </summary>
public static class NoteTypes
{
    public static readonly IReadOnlyList<NoteType> All =
    [
        new("Besöksanteckning", ["Aktuellt", "Anamnes", "Status", "Bedömning", "Åtgärd"]),
        new("Inskrivningsanteckning", ["Orsak till inskrivning", "Anamnes", "Status", "Bedömning", "Planering"]),
        new("Daganteckning", ["Aktuellt", "Status", "Bedömning", "Åtgärd"]),
        new("Epikris", ["Sammanfattning", "Diagnoser", "Läkemedel", "Uppföljning"]),
        new("Telefonkontakt", ["Kontaktorsak", "Bedömning", "Åtgärd"]),
    ];

    public static NoteType? Find(string? name) => All.FirstOrDefault(t => t.Name == name);
}
