namespace Stadig.Hl7;

/// <summary>
/// What one MLLP frame holds: one message, or a batch — a frame that starts with FHS or BHS, whose
/// envelope segments (FHS, BHS, BTS, FTS) are set aside and whose messages are returned one by one,
/// each as its own text (segments joined by CR). Several messages without a batch envelope are a
/// <see cref="Problem"/>: one frame gets one ACK, so they are refused as a whole rather than split
/// (only one could be answered) or merged (one patient's results would be read as another's). So is a
/// batch with a segment outside its messages, or with no message at all: nothing in it is dropped unanswered.
/// </summary>
public sealed record Hl7Frame(IReadOnlyList<string> Messages, bool IsBatch, string? FileHeader, string? BatchHeader, string? Problem)
{
    public static Hl7Frame Split(string text)
    {
        var lines = text.TrimStart('\uFEFF').Split('\r', '\n').Where(l => !string.IsNullOrWhiteSpace(l)).ToList();
        var isBatch = lines.Count > 0 && (lines[0].StartsWith("FHS", StringComparison.Ordinal) || lines[0].StartsWith("BHS", StringComparison.Ordinal));
        var messages = new List<string>();
        List<string>? current = null;
        string? fileHeader = null, batchHeader = null, problem = null;
        for (var n = 0; n < lines.Count; n++)
        {
            var line = lines[n];
            var id = line.Length >= 3 ? line[..3] : line;
            if (isBatch && id is "FHS" or "BHS" or "BTS" or "FTS")
            {
                if (id == "FHS") fileHeader ??= line;
                if (id == "BHS") batchHeader ??= line;
                Close();
                continue;
            }
            if (id == "MSH")
            {
                Close();
                current = [line];
            }
            else if (current is not null)
            {
                current.Add(line);
            }
            else if (isBatch)
            {
                problem ??= $"Segment {n + 1} ({Printable(id)}) står i batchen utanför ett meddelande (före MSH).";
            }
        }
        Close();
        // An empty batch answered BTS|0 would tell the sender all is well while whatever it held is dropped unread.
        if (isBatch && messages.Count == 0)
            problem ??= $"Batchen innehåller inget meddelande (inget MSH-segment bland {lines.Count} segment); inget är taget emot.";
        if (!isBatch && messages.Count > 1)
        {
            var controlIds = string.Join(", ", messages.Select(m => Hl7Ack.Salvage(m).ControlId));
            problem = $"MLLP-ramen innehåller {messages.Count} meddelanden (MSH-10 {controlIds}) utan batchhuvud (BHS); skicka ett meddelande per ram.";
        }
        return new Hl7Frame(messages, isBatch, fileHeader, batchHeader, problem);

        void Close()
        {
            if (current is not null) messages.Add(string.Join('\r', current) + "\r");
            current = null;
        }
    }

    // The first three characters can cut a surrogate pair in half: the problem is stored and sent in the ACK.
    private static string Printable(string id) => UnicodeText.WellFormed(new(id.Select(c => char.IsControl(c) ? '?' : c).ToArray()));
}
