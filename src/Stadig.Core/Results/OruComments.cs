using Stadig.Hl7;

namespace Stadig.LabResults;

/// <summary>
/// NTE comments ("Hemolyserat prov, kalium kan vara falskt förhöjt") as stored with a result:
/// NTE-3 exactly as sent, escapes decoded, each repetition and each NTE one line.
/// </summary>
public static class OruComments
{
    /// <summary>The lines of one NTE: NTE-3's repetitions; stray component or subcomponent delimiters go back in as sent.</summary>
    public static IReadOnlyList<string> Of(Hl7Segment nte, Hl7Encoding encoding) =>
        nte[3].Repetitions.Select(r => OruObservations.Rejoin(r, encoding)).DefaultIfEmpty("").ToList();

    /// <summary>The stored comment: the lines joined by \n; null when there is no text at all (empty NTEs only).</summary>
    public static string? Lines(IReadOnlyList<string> lines) =>
        lines.Any(l => l.Length > 0) ? string.Join('\n', lines) : null;

    public static string? Append(string? comment, IReadOnlyList<string> lines) =>
        Lines(comment is null ? lines : [.. comment.Split('\n'), .. lines]);
}
