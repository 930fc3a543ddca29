using System.Text;
using Stadig.Hl7;

namespace Stadig.Tests.Hl7;

/// <summary>MSH-18 decides how bytes and \Xhh\ escapes become letters: Swedish text never turns into "h�lsa".</summary>
public class Hl7CharsetTests
{
    private static string Message(string msh18, string obx5) =>
        $"MSH|^~\\&|LAB|KS|STADIG|REGION|20261123075500||ORU^R01|1|P|2.5|||AL|NE|SWE|{msh18}\rOBX|1|TX|KOM^Kommentar^L||{obx5}\r";

    [Theory]
    [InlineData("8859/1", "h\\XE4\\lsa \\XC5C4D6\\", "hälsa ÅÄÖ")]
    [InlineData("UNICODE UTF-8", "h\\XC3A4\\lsa \\XC385C384C396\\", "hälsa ÅÄÖ")]
    [InlineData("8859/15", "avgift 100 \\XA4\\ f\\XF6\\r h\\XE4\\lsa", "avgift 100 € för hälsa")]
    [InlineData("", "h\\XE4\\lsa och \\XC3A5\\", "hälsa och å")]
    [InlineData("ASCII", "h\\XE4\\lsa", "hälsa")]
    public void Hex_escapes_are_bytes_in_the_character_set_MSH_18_names(string msh18, string obx5, string expected)
    {
        Assert.Equal(expected, Hl7Parser.Parse(Message(msh18, obx5)).Get("OBX-5"));
    }

    [Theory]
    [InlineData("MSH\r|^~\\&|LAB|SITE")]
    [InlineData("MSH\n|^~\\&|LAB|SITE")]
    [InlineData("MSH")]
    [InlineData("xxMSH\r")]
    public void A_header_broken_right_after_MSH_names_no_character_set_and_never_throws(string message)
    {
        Assert.Equal("", Hl7Charset.Msh18(message));
        Assert.Equal("", Hl7Charset.Msh18(System.Text.Encoding.Latin1.GetBytes(message + "\rPID|1")));
    }

    [Fact]
    public void A_character_set_Stadig_does_not_read_is_refused_naming_MSH_18()
    {
        var error = Assert.Throws<Hl7ParseException>(() => Hl7Parser.Parse(Message("UNICODE UTF-16", "x")));

        Assert.Equal("MSH", error.SegmentId);
        Assert.Equal(18, error.Field);
        Assert.Contains("UNICODE UTF-16", error.Message);
    }

    [Fact]
    public void Bytes_declared_8859_1_are_read_as_Latin_1_even_where_they_would_pass_as_UTF_8()
    {
        // "Ã¥" in 8859/1 is the bytes C3 A5, which as UTF-8 would be "å": the declared set decides.
        var text = Message("8859/1", "Ã¥ och hälsa");

        Assert.Equal(text, Hl7Text.FromBytes(Encoding.Latin1.GetBytes(text)));
    }

    [Fact]
    public void Bytes_declared_8859_15_read_the_euro_sign_where_8859_1_has_another_character()
    {
        var text = Message("8859/15", "avgift 100 € för hälsa");
        var bytes = CodePagesEncodingProvider.Instance.GetEncoding(28605)!.GetBytes(text);

        Assert.Equal(text, Hl7Text.FromBytes(bytes));
    }

    [Fact]
    [Hazard("H-04")]
    public void Without_MSH_18_valid_UTF_8_is_read_as_UTF_8_and_anything_else_as_Latin_1_so_no_byte_is_lost()
    {
        var text = Message("", "hälsa ÅÄÖ µ");

        Assert.Equal(text, Hl7Text.FromBytes(Encoding.UTF8.GetBytes(text)));
        Assert.Equal(text, Hl7Text.FromBytes(Encoding.Latin1.GetBytes(text)));
    }

    [Fact]
    public void Text_goes_back_to_bytes_in_the_set_its_own_MSH_18_names()
    {
        var latin = Message("8859/1", "Meddelandet innehåller inga resultat");
        var unicode = Message("UNICODE UTF-8", "Meddelandet innehåller inga resultat");

        Assert.Equal(Encoding.Latin1.GetBytes(latin), Hl7Text.ToBytes(latin));
        Assert.Equal(Encoding.UTF8.GetBytes(unicode), Hl7Text.ToBytes(unicode));
    }
}
