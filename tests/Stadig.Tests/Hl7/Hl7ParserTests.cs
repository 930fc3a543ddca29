using Stadig.Hl7;

namespace Stadig.Tests.Hl7;

public class Hl7ParserTests
{
    [Fact]
    public void A_lab_result_with_a_byte_order_mark_and_LF_line_ends_parses_into_segments_fields_and_components()
    {
        var message = Hl7Parser.Parse(Hl7Samples.Read("microsoft-fhir-converter/LAB-ORU-1.hl7"));

        Assert.Equal("ORU^R01", message.MessageType);
        Assert.Equal("182", message.ControlId);
        Assert.Equal("SomeSystem", message.SendingApplication);
        Assert.Equal("DUCK", message.Get("PID-5.1"));
        Assert.Equal("DONALD", message["PID"][5][1][2].Value);
        Assert.Equal("10006579", message.Get("PID-3.1"));
        Assert.Equal("MR", message.Get("PID-3.5"));
        Assert.Equal(10, message.All("OBX").Count());
        Assert.Equal("4.06", message.Get("OBX[2]-5"));
        Assert.Equal("tera.l-1", message.Get("OBX[2]-6"));
        Assert.Equal("CYTO", message.Get("OBR-33.1.2"));
    }

    [Fact]
    public void Every_sample_file_parses_and_each_message_has_a_header_and_a_type()
    {
        foreach (var file in Hl7Samples.Messages())
        {
            var messages = Hl7Parser.ParseBatch(File.ReadAllText(file));
            Assert.NotEmpty(messages);
            Assert.All(messages, m => Assert.Equal("MSH", m.Segments[0].Id));
            Assert.All(messages, m => Assert.NotEqual("^", m.MessageType));
        }
    }

    [Fact]
    public void A_file_with_several_CRLF_separated_messages_splits_at_each_MSH()
    {
        var messages = Hl7Parser.ParseBatch(Hl7Samples.Read("nhapi/OML_O21_messages.txt"));

        Assert.Equal(7, messages.Count);
        Assert.Equal("msgOP123", messages[0].ControlId);
        Assert.Equal("EVERYMAN", messages[0].Get("PID-5.1"));
        Assert.Equal("OML^O21", messages[0].MessageType);
    }

    [Fact]
    public void CR_LF_and_CRLF_between_segments_give_the_same_message()
    {
        string[] segments = ["MSH|^~\\&|LAB|KS|STADIG|REG|20261123080000||ORU^R01|1|P|2.5", "PID|1||191212121212^^^SE^PN||Öberg^Lina", "OBX|1|ST|X^Y||å ä ö"];
        var written = new[] { "\r", "\n", "\r\n" }.Select(sep => Hl7Writer.Write(Hl7Parser.Parse(string.Join(sep, segments) + sep))).Distinct().ToList();

        Assert.Single(written);
    }

    [Fact]
    public void The_delimiters_are_taken_from_MSH_1_and_MSH_2()
    {
        var message = Hl7Parser.Parse("MSH#*!?%#LAB#KS#####ORU*R01#42#P#2.5\rPID#1##1*2*3%4!5*6##Familj*Förnamn");

        Assert.Equal(new Hl7Encoding('#', '*', '!', '?', '%'), message.Encoding);
        Assert.Equal("ORU^R01", message.MessageType);
        Assert.Equal("42", message.ControlId);
        Assert.Equal("3", message.Get("PID-3.3"));
        Assert.Equal("4", message.Get("PID-3.3.2"));
        Assert.Equal("5", message.Get("PID-3[2].1"));
        Assert.Equal("6", message.Get("PID-3[2].2"));
        Assert.Equal("Förnamn", message.Get("PID-5.2"));
    }

    [Fact]
    public void A_v2_7_truncation_character_in_MSH_2_is_read_past()
    {
        var message = Hl7Parser.Parse("MSH|^~\\&#|LAB|KS|||||ORU^R01|7|P|2.7\rOBX|1|ST|A^B||x#y");

        Assert.Equal(Hl7Encoding.Default, message.Encoding);
        Assert.Equal("x#y", message.Get("OBX-5"));
        Assert.Equal("7", message.ControlId);
    }

    [Theory]
    [InlineData(@"a\F\b", "a|b")]
    [InlineData(@"a\S\b\T\c\R\d\E\e", "a^b&c~d\\e")]
    [InlineData(@"rad 1\.br\rad 2", "rad 1\nrad 2")]
    [InlineData(@"\XC3A5C3A4C3B6\ \XC2B5\", "åäö µ")]
    [InlineData(@"\X0D0A\", "\r\n")]
    [InlineData(@"\H\viktigt\N\", "viktigt")]
    [InlineData(@"\Zokänd\ kvar", @"\Zokänd\ kvar")]
    [InlineData(@"ensamt \ tecken", @"ensamt \ tecken")]
    [InlineData(@"\XZZ\", @"\XZZ\")]
    public void Escapes_are_decoded_and_unknown_sequences_are_kept_as_sent(string raw, string expected)
    {
        var message = Hl7Parser.Parse("MSH|^~\\&|LAB|KS|||||ORU^R01|1|P|2.5\rOBX|1|TX|A^B||" + raw);

        Assert.Equal(expected, message.Get("OBX-5"));
    }

    [Fact]
    public void A_long_value_of_hex_escaped_line_breaks_decodes_every_escape()
    {
        // nHapi's sample: a uuencoded payload whose line breaks travel as \X0D\\X0A\.
        var raw = Hl7Samples.Read("nhapi/uuencoded_escaped.txt").TrimEnd('\r', '\n');

        var decoded = Hl7Parser.Decode(raw, Hl7Encoding.Default);

        Assert.StartsWith("begin 644 WAV.DAT\r\n", decoded);
        Assert.DoesNotContain("\\X0D\\", decoded);
        Assert.Equal(raw.Split("\\X0D\\\\X0A\\").Length - 1, decoded.Split("\r\n").Length - 1);
    }

    [Fact]
    public void Z_segments_are_kept_and_trailing_empty_fields_are_tolerated()
    {
        var message = Hl7Parser.Parse("MSH|^~\\&|LAB|KS|||||ORU^R01|1|P|2.5|||||\rZLB|1|lokalt^värde|||\rPID|||\r");

        Assert.Equal(["MSH", "ZLB", "PID"], message.Segments.Select(s => s.Id));
        Assert.Equal("värde", message.Get("ZLB-2.2"));
        Assert.Equal("", message.Get("PID-40.3"));
        Assert.Equal("", message.Get("NTE-1"));
    }

    [Theory]
    [InlineData("", 1, null, null)]
    [InlineData("PID|1||x", 1, "PID", null)]
    [InlineData("MSH", 1, "MSH", 1)]
    [InlineData("MSH|^~|LAB", 1, "MSH", 2)]
    [InlineData("MSH|^^\\&|LAB", 1, "MSH", 2)]
    [InlineData("MSHa^~\\&aLAB", 1, "MSH", 1)]
    [InlineData("MSH|^~\\&|LAB\rPI|x", 2, null, null)]
    [InlineData("MSH|^~\\&|LAB\rOBX|1\rpid|x", 3, null, null)]
    public void A_message_that_cannot_be_read_throws_the_parse_error_naming_segment_and_field(string text, int position, string? segmentId, int? field)
    {
        var error = Assert.Throws<Hl7ParseException>(() => Hl7Parser.Parse(text));

        Assert.Equal(position, error.SegmentPosition);
        Assert.Equal(segmentId, error.SegmentId);
        Assert.Equal(field, error.Field);
        Assert.False(Hl7Parser.TryParse(text, out _, out var problem));
        Assert.NotNull(problem);
    }

    [Fact]
    public void The_writer_escapes_delimiters_line_breaks_and_control_characters_so_a_message_round_trips()
    {
        var text = "Hb|Hct^x~y&z\\ rad 1\nrad 2\r\n\u000b\u001c slut: µ ± ≥ åäö ÅÄÖ";
        var message = new Hl7Message(Hl7Encoding.Default,
        [
            new Hl7Segment("MSH", [Hl7Field.Of("|"), Hl7Field.Of("^~\\&"), Hl7Field.Of("LAB")]),
            Hl7Segment.Of("OBX", "1", "FT", "").Set(5, Hl7Field.Of(text)),
        ]);

        var written = Hl7Writer.Write(message);

        Assert.DoesNotContain('\n', written);
        Assert.DoesNotContain('\u000b', written);
        Assert.Equal(2, written.Count(c => c == '\r'));
        Assert.Equal(text, Hl7Parser.Parse(written).Get("OBX-5"));
    }

    [Fact]
    public void Every_fuzzer_found_bad_input_either_parses_or_fails_with_the_parse_error()
    {
        var inputs = Hl7Samples.BadInputs().ToList();
        Assert.NotEmpty(inputs);
        foreach (var file in inputs)
        {
            var text = File.ReadAllText(file);
            var thrown = Record.Exception(() => Hl7Parser.ParseBatch(text));
            Assert.True(thrown is null or Hl7ParseException, $"{Path.GetFileName(file)}: {thrown}");
            thrown = Record.Exception(() => Hl7Parser.Parse(text));
            Assert.True(thrown is null or Hl7ParseException, $"{Path.GetFileName(file)}: {thrown}");
        }
    }
}
