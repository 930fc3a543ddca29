namespace Stadig.Notes;

public enum DiffKind
{
    Same,
    Added,
    Removed,
}

public sealed record DiffPart(DiffKind Kind, string Text);

/// <summary>
/// The difference between two versions of a text, word by word (whitespace kept with the word
/// before it), by longest common subsequence: enough to show what an amendment changed.
/// </summary>
public static class WordDiff
{
    public static IReadOnlyList<DiffPart> Between(string before, string after)
    {
        var a = Tokens(before);
        var b = Tokens(after);
        // Texts of notes are short enough for the quadratic table; cap it all the same.
        if ((long)a.Count * b.Count > 4_000_000)
            return [new DiffPart(DiffKind.Removed, before), new DiffPart(DiffKind.Added, after)];
        var lcs = new int[a.Count + 1, b.Count + 1];
        for (var i = a.Count - 1; i >= 0; i--)
            for (var j = b.Count - 1; j >= 0; j--)
                lcs[i, j] = a[i] == b[j] ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);
        var parts = new List<DiffPart>();
        int x = 0, y = 0;
        while (x < a.Count || y < b.Count)
        {
            if (x < a.Count && y < b.Count && a[x] == b[y]) { Add(DiffKind.Same, a[x]); x++; y++; }
            else if (y < b.Count && (x == a.Count || lcs[x, y + 1] >= lcs[x + 1, y])) { Add(DiffKind.Added, b[y]); y++; }
            else { Add(DiffKind.Removed, a[x]); x++; }
        }
        return parts;

        void Add(DiffKind kind, string text)
        {
            if (parts.Count > 0 && parts[^1].Kind == kind) parts[^1] = parts[^1] with { Text = parts[^1].Text + text };
            else parts.Add(new DiffPart(kind, text));
        }
    }

    private static List<string> Tokens(string text)
    {
        var tokens = new List<string>();
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsWhiteSpace(text[i]) && (i + 1 == text.Length || !char.IsWhiteSpace(text[i + 1])))
            {
                tokens.Add(text[start..(i + 1)]);
                start = i + 1;
            }
        }
        if (start < text.Length) tokens.Add(text[start..]);
        return tokens;
    }
}
