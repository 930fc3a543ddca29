using Stadig.Organisation;

namespace Stadig.Notes;

/// <summary>
/// A note type and its template: the keywords (sökord) a note of the type is written under, in order,
/// and the roles whose profession writes it.
/// </summary>
public sealed record NoteType(string Name, IReadOnlyList<string> Keywords, IReadOnlyList<Role> WrittenBy)
{
    public bool MayBeWrittenBy(Role role) => WrittenBy.Contains(role);
}

/// <summary>
/// The note types of the region. The physicians' templates follow common Swedish practice
/// (Besöksanteckning with Aktuellt–Anamnes–Status–Bedömning–Åtgärd and so on). The nurses' follow the
/// VIPS model (Ehnfors, Ehrenberg, Thorell-Ekstrand): its name is its four guiding concepts, Välbefinnande,
/// Integritet, Prevention and Säkerhet; what a nurse writes under are its main keywords, the steps of
/// the nursing process (omvårdnadsanamnes, -status, -diagnos, mål, -åtgärd, -resultat, -epikris).
/// A medical secretary writes administrative notes, and physicians' notes only as dictation for a
/// named physician to sign. Lab staff write no notes. A region's own catalogue would replace this.
/// </summary>
public static class NoteTypes
{
    private static readonly Role[] Physicians = [Role.Physician];
    private static readonly Role[] Nurses = [Role.Nurse];
    private static readonly Role[] Clinicians = [Role.Physician, Role.Nurse];

    public static readonly IReadOnlyList<NoteType> All =
    [
        new("Besöksanteckning", ["Aktuellt", "Anamnes", "Status", "Bedömning", "Åtgärd"], Physicians),
        new("Inskrivningsanteckning", ["Orsak till inskrivning", "Anamnes", "Status", "Bedömning", "Planering"], Physicians),
        new("Daganteckning", ["Aktuellt", "Status", "Bedömning", "Åtgärd"], Physicians),
        new("Epikris", ["Sammanfattning", "Diagnoser", "Läkemedel", "Uppföljning"], Physicians),
        new("Omvårdnadsanteckning", ["Omvårdnadsstatus", "Omvårdnadsdiagnos", "Mål", "Omvårdnadsåtgärd", "Omvårdnadsresultat"], Nurses),
        new("Inskrivning omvårdnad", ["Omvårdnadsanamnes", "Omvårdnadsstatus", "Omvårdnadsdiagnos", "Mål", "Omvårdnadsåtgärd"], Nurses),
        new("Omvårdnadsepikris", ["Omvårdnadsresultat", "Omvårdnadsepikris"], Nurses),
        new("Telefonkontakt", ["Kontaktorsak", "Bedömning", "Åtgärd"], Clinicians),
        new(Administrative, ["Administrativ uppgift"], [Role.Physician, Role.Nurse, Role.MedicalSecretary]),
    ];

    /// <summary>The discharge summary (Epikris): its absence for an admission is warned about at discharge.</summary>
    public const string DischargeSummary = "Epikris";

    /// <summary>An administrative note (a summons sent, a copy of the record requested): the one kind a secretary writes and signs.</summary>
    public const string Administrative = "Administrativ anteckning";

    public static NoteType? Find(string? name) => All.FirstOrDefault(t => t.Name == name);

    /// <summary>The templates a role's new-note menu offers: those its profession writes.</summary>
    public static IReadOnlyList<NoteType> For(Role role) => All.Where(t => t.MayBeWrittenBy(role)).ToList();

    /// <summary>
    /// Whether the role may start a note of the type. A secretary starts a physician's note only as
    /// dictation, that is with a responsible physician named to sign it.
    /// </summary>
    public static bool MayStart(Role role, NoteType type, bool forNamedSigner) =>
        type.MayBeWrittenBy(role) || (role == Role.MedicalSecretary && forNamedSigner && type.MayBeWrittenBy(Role.Physician));
}
