namespace Stadig.Hl7;

/// <summary>
/// The delimiters a message declares in MSH-1 and MSH-2. A 2.7 truncation character, when sent,
/// is read past and otherwise ignored (Stadig never truncates).
/// </summary>
public sealed record Hl7Encoding(char Field, char Component, char Repetition, char Escape, char Subcomponent)
{
    public static Hl7Encoding Default { get; } = new('|', '^', '~', '\\', '&');

    /// <summary>MSH-2 as written: component, repetition, escape, subcomponent.</summary>
    public string EncodingCharacters => $"{Component}{Repetition}{Escape}{Subcomponent}";
}

/// <summary>
/// An HL7 v2 message: segments → fields → repetitions → components → subcomponents, with every
/// leaf value held decoded (escapes resolved). All positions are 1-based, as HL7 numbers them.
/// The model knows nothing of transport; see <c>Stadig.Hl7.Mllp</c>.
/// </summary>
public sealed class Hl7Message(Hl7Encoding encoding, IEnumerable<Hl7Segment> segments)
{
    public Hl7Encoding Encoding { get; } = encoding;
    public List<Hl7Segment> Segments { get; } = segments.ToList();

    /// <summary>The first segment with this id, or an empty one (reading a missing segment gives empty values).</summary>
    public Hl7Segment this[string segmentId] => Segments.FirstOrDefault(s => s.Id == segmentId) ?? new Hl7Segment(segmentId);

    public IEnumerable<Hl7Segment> All(string segmentId) => Segments.Where(s => s.Id == segmentId);

    /// <summary>
    /// The decoded value at a path such as <c>PID-3</c>, <c>PID-3.1</c>, <c>PID-3[2].4.2</c> (repetition 2,
    /// component 4, subcomponent 2) or <c>OBX[2]-5</c> (the second OBX). Missing parts read as "".
    /// </summary>
    public string Get(string path)
    {
        var p = Hl7Path.Parse(path);
        var segment = All(p.Segment).Skip(p.SegmentRepetition - 1).FirstOrDefault();
        return segment is null ? "" : segment[p.Field][p.Repetition][p.Component][p.Subcomponent];
    }

    public string MessageType => $"{Get("MSH-9.1")}^{Get("MSH-9.2")}";
    public string ControlId => Get("MSH-10");
    public string SendingApplication => Get("MSH-3.1");
    public string SendingFacility => Get("MSH-4.1");
    public string Version => Get("MSH-12.1");
}

/// <summary>One segment. <c>segment[n]</c> is field n (1-based); for MSH, field 1 is the field separator and field 2 the encoding characters.</summary>
public sealed class Hl7Segment(string id, IEnumerable<Hl7Field>? fields = null)
{
    public string Id { get; } = id;
    public List<Hl7Field> Fields { get; } = fields?.ToList() ?? [];

    public Hl7Field this[int field] => field >= 1 && field <= Fields.Count ? Fields[field - 1] : Hl7Field.Empty;

    /// <summary>Sets field n, growing the segment with empty fields as needed.</summary>
    public Hl7Segment Set(int field, Hl7Field value)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(field, 1);
        while (Fields.Count < field) Fields.Add(Hl7Field.Of(""));
        Fields[field - 1] = value;
        return this;
    }

    public Hl7Segment Set(int field, string value) => Set(field, Hl7Field.Of(value));

    /// <summary>A segment of simple fields: <c>Hl7Segment.Of("MSA", "AA", "123")</c>.</summary>
    public static Hl7Segment Of(string id, params string[] fields) => new(id, fields.Select(Hl7Field.Of));
}

/// <summary>One field: its repetitions (<c>field[1]</c> is the first).</summary>
public sealed class Hl7Field(IEnumerable<Hl7Repetition> repetitions)
{
    public static Hl7Field Empty { get; } = new([]);

    public List<Hl7Repetition> Repetitions { get; } = repetitions.ToList();

    public Hl7Repetition this[int repetition] =>
        repetition >= 1 && repetition <= Repetitions.Count ? Repetitions[repetition - 1] : Hl7Repetition.Empty;

    /// <summary>The first repetition's first component's first subcomponent.</summary>
    public string Value => this[1][1][1];

    public bool IsEmpty => Repetitions.All(r => r.IsEmpty);

    public static Hl7Field Of(string value) => new([Hl7Repetition.Of(value)]);

    /// <summary>One repetition made of these components.</summary>
    public static Hl7Field OfComponents(params string[] components) => new([new Hl7Repetition(components.Select(Hl7Component.Of))]);
}

/// <summary>One repetition of a field: its components (<c>repetition[1]</c> is the first).</summary>
public sealed class Hl7Repetition(IEnumerable<Hl7Component> components)
{
    public static Hl7Repetition Empty { get; } = new([]);

    public List<Hl7Component> Components { get; } = components.ToList();

    public Hl7Component this[int component] =>
        component >= 1 && component <= Components.Count ? Components[component - 1] : Hl7Component.Empty;

    public string Value => this[1][1];

    public bool IsEmpty => Components.All(c => c.IsEmpty);

    public static Hl7Repetition Of(string value) => new([Hl7Component.Of(value)]);
}

/// <summary>One component: its decoded subcomponents (<c>component[1]</c> is the first).</summary>
public sealed class Hl7Component(IEnumerable<string> subcomponents)
{
    public static Hl7Component Empty { get; } = new([]);

    public List<string> Subcomponents { get; } = subcomponents.ToList();

    public string this[int subcomponent] =>
        subcomponent >= 1 && subcomponent <= Subcomponents.Count ? Subcomponents[subcomponent - 1] : "";

    public string Value => this[1];

    public bool IsEmpty => Subcomponents.All(s => s.Length == 0);

    public static Hl7Component Of(string value) => new([value]);
}

/// <summary>A parsed location such as <c>PID-3[2].4.2</c>.</summary>
internal readonly record struct Hl7Path(string Segment, int SegmentRepetition, int Field, int Repetition, int Component, int Subcomponent)
{
    public static Hl7Path Parse(string path)
    {
        static (string Name, int Index) Indexed(string part)
        {
            var open = part.IndexOf('[', StringComparison.Ordinal);
            if (open < 0) return (part, 1);
            if (!part.EndsWith(']')) throw new ArgumentException($"Ogiltig HL7-sökväg: {part}");
            return (part[..open], int.Parse(part[(open + 1)..^1], System.Globalization.CultureInfo.InvariantCulture));
        }

        var dash = path.IndexOf('-', StringComparison.Ordinal);
        if (dash < 0) throw new ArgumentException($"Ogiltig HL7-sökväg (saknar '-'): {path}", nameof(path));
        var (segment, segmentRepetition) = Indexed(path[..dash]);
        var parts = path[(dash + 1)..].Split('.');
        var (fieldText, repetition) = Indexed(parts[0]);
        var field = int.Parse(fieldText, System.Globalization.CultureInfo.InvariantCulture);
        var component = parts.Length > 1 ? int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) : 1;
        var subcomponent = parts.Length > 2 ? int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture) : 1;
        return new Hl7Path(segment, segmentRepetition, field, repetition, component, subcomponent);
    }
}
