using Stadig.Hl7;

namespace Stadig.LabResults;

/// <summary>
/// One PATIENT_RESULT group of an ORU^R01: its PID (if any) and the segments up to the next PID,
/// as a message of its own (the original MSH first), so that matching and reading see only this
/// patient's segments. <see cref="Number"/> counts from 1 in message order.
/// </summary>
public sealed record OruGroup(int Number, Hl7Message Message, int FirstSegment)
{
    public bool HasPid => Message.Segments.Any(s => s.Id == "PID");
    public bool HasObservations => Message.Segments.Any(s => s.Id == "OBX");
}

/// <summary>
/// Splits an ORU^R01 into its patient groups. ORU_R01 is MSH [SFT] { [PID [PD1] [NTE] [NK1] [PV1 [PV2]]]
/// { [ORC] OBR … { OBX [NTE] } } } [DSC]: every PID starts a new patient, and order groups before the
/// first PID belong to no patient (they go to quarantine, never to a neighbour's patient). Segments
/// between MSH and the first PID or OBR (SFT, message-level NTE) are the header every group keeps.
/// </summary>
public static class OruGroups
{
    public static IReadOnlyList<OruGroup> Split(Hl7Message message)
    {
        var header = new List<Hl7Segment> { message.Segments[0] };
        var groups = new List<(List<Hl7Segment> Segments, int First)>();
        List<Hl7Segment>? current = null;
        for (var n = 1; n < message.Segments.Count; n++)
        {
            var segment = message.Segments[n];
            if (segment.Id == "PID" || (current is null && segment.Id is "ORC" or "OBR" or "OBX"))
            {
                current = [];
                groups.Add((current, n + 1));
            }
            if (current is null)
            {
                if (segment.Id != "DSC") header.Add(segment);
                continue;
            }
            if (segment.Id != "DSC") current.Add(segment);
        }
        return groups.Select((g, i) => new OruGroup(i + 1, new Hl7Message(message.Encoding, header.Concat(WithoutRepeatedObservations(g.Segments))), g.First))
            .ToList();
    }

    /// <summary>
    /// The same OBX (set id, code, sub-id and value) sent twice under one OBR is one observation:
    /// filing it twice would double a result in the chart and its trend. Notes (NTE) that follow
    /// the repeat belong to it and go with it.
    /// </summary>
    private static IEnumerable<Hl7Segment> WithoutRepeatedObservations(List<Hl7Segment> segments)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var skipping = false;
        foreach (var segment in segments)
        {
            if (segment.Id == "OBR")
            {
                seen.Clear();
                skipping = false;
            }
            else if (segment.Id == "OBX")
            {
                var key = string.Join('\u001f', new[] { 1, 3, 4, 5 }.Select(f => Canonical(segment[f])));
                skipping = !seen.Add(key);
            }
            else if (segment.Id != "NTE")
            {
                skipping = false;
            }
            if (!skipping) yield return segment;
        }
    }

    private static string Canonical(Hl7Field field) =>
        string.Join('\u001e', field.Repetitions.Select(r => string.Join('\u001d', r.Components.Select(c => string.Join('\u001c', c.Subcomponents)))));
}
