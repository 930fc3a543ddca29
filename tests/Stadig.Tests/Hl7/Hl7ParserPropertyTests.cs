using CsCheck;
using Stadig.Hl7;

namespace Stadig.Tests.Hl7;

/// <summary>Random and mutated input never gets anything but the parser's own error out of it; values round-trip.</summary>
public class Hl7ParserPropertyTests
{
    private const string Tricky = "|^~\\&#\r\n\u000b\u001cMSHPIDOBX0123456789abcåäöÅÄÖµ±≥ .XF\\S\\E\\";

    private static readonly Gen<string> AnyText = Gen.String[Gen.Char, 0, 40];

    private static readonly Gen<string> Values = Gen.OneOf(
        Gen.String[Gen.Char[Tricky], 0, 30],
        Gen.String[Gen.Char, 0, 20],
        Gen.Const("Provsvar:\nrad två\r\nµmol/L ± 5 ≥ 3 åäö |^~\\&"));

    private static void ParseOnlyThrowsItsOwnError(string text)
    {
        try { Hl7Parser.ParseBatch(text); } catch (Hl7ParseException) { }
        try { Hl7Parser.Parse(text); } catch (Hl7ParseException) { }
    }

    [Fact]
    public void Random_text_never_throws_anything_but_the_parse_error()
    {
        Gen.OneOf(AnyText, Gen.String[Gen.Char[Tricky], 0, 200], Gen.String[Gen.Char[Tricky], 0, 20].Select(s => "MSH" + s))
            .Sample(ParseOnlyThrowsItsOwnError, iter: 20_000);
    }

    [Fact]
    public void Mutated_sample_messages_and_bad_inputs_never_throw_anything_but_the_parse_error()
    {
        var seeds = Hl7Samples.Messages().Concat(Hl7Samples.BadInputs()).Select(File.ReadAllText).Where(s => s.Length > 0).ToArray();
        var mutation =
            from seed in Gen.Int[0, seeds.Length - 1].Select(i => seeds[i])
            from edits in Gen.Select(Gen.Int[0, 3], Gen.UInt, Gen.String[Gen.Char[Tricky], 0, 5]).Array[1, 8]
            select Mutate(seed, edits);
        mutation.Sample(ParseOnlyThrowsItsOwnError, iter: 5_000);
    }

    private static string Mutate(string seed, (int Kind, uint At, string Text)[] edits)
    {
        var text = seed;
        foreach (var (kind, at, insert) in edits)
        {
            var position = text.Length == 0 ? 0 : (int)(at % (uint)text.Length);
            text = kind switch
            {
                0 => text.Insert(position, insert),
                1 => text.Remove(position, Math.Min(insert.Length + 1, text.Length - position)),
                2 => text[..position] + text[Math.Min(text.Length, position + insert.Length)..] + insert,
                _ => text[..position],
            };
        }
        return text;
    }

    [Fact]
    public void Any_value_round_trips_through_the_writer_and_the_parser()
    {
        Values.Sample(value =>
        {
            var message = new Hl7Message(Hl7Encoding.Default,
            [
                new Hl7Segment("MSH", [Hl7Field.Of("|"), Hl7Field.Of("^~\\&"), Hl7Field.Of(value)]),
                new Hl7Segment("OBX", [Hl7Field.Of(value), new Hl7Field([new Hl7Repetition([new Hl7Component([value, value]), Hl7Component.Of(value)]), Hl7Repetition.Of(value)])]),
            ]);
            var parsed = Hl7Parser.Parse(Hl7Writer.Write(message));
            Assert.Equal(value, parsed.Get("MSH-3"));
            Assert.Equal(value, parsed.Get("OBX-1"));
            Assert.Equal(value, parsed.Get("OBX-2.1.2"));
            Assert.Equal(value, parsed.Get("OBX-2.2"));
            Assert.Equal(value, parsed.Get("OBX-2[2]"));
            Assert.Equal(Hl7Writer.Write(message), Hl7Writer.Write(parsed));
        }, iter: 5_000);
    }

    [Fact]
    public void Whole_random_messages_round_trip_with_any_delimiters()
    {
        var delimiters = Gen.Shuffle("|^~\\&#*!%$@/".ToCharArray()).Select(d => new Hl7Encoding(d[0], d[1], d[2], d[3], d[4]));
        var component = Values.Array[1, 3].Select(s => new Hl7Component(s));
        var repetition = component.Array[1, 3].Select(c => new Hl7Repetition(c));
        var field = repetition.Array[1, 2].Select(r => new Hl7Field(r));
        var segment = Gen.Select(Gen.OneOf(Gen.Const("PID"), Gen.Const("OBX"), Gen.Const("ZLB")), field.Array[0, 5], (id, fields) => new Hl7Segment(id, fields));
        Gen.Select(delimiters, segment.Array[0, 4], field.Array[0, 4]).Sample((encoding, segments, header) =>
        {
            var msh = new Hl7Segment("MSH", new[] { Hl7Field.Of(encoding.Field.ToString()), Hl7Field.Of(encoding.EncodingCharacters) }.Concat(header));
            var message = new Hl7Message(encoding, segments.Prepend(msh));
            var written = Hl7Writer.Write(message);
            Assert.Equal(written, Hl7Writer.Write(Hl7Parser.Parse(written)));
        }, iter: 3_000);
    }
}
