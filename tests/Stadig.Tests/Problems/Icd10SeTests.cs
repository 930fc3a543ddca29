using Stadig.Problems;

namespace Stadig.Tests.Problems;

public class Icd10SeTests
{
    [Theory]
    [InlineData("hypert", "I10")]
    [InlineData("HYPERTONI", "I10")]
    [InlineData("lunginflammation", "J18.9")]
    [InlineData("pneumoni", "J18.9")]
    [InlineData("Pneumoni ospecificerad", "J18.9")]
    [InlineData("J18", "J18.9")]
    [InlineData("j18.9", "J18.9")]
    [InlineData("e11", "E11.9")]
    [InlineData("forMAKSflimmer", "I48.9")]
    [InlineData("förmaksflimmer", "I48.9")]
    [InlineData("urinvagsinfektion", "N39.0")]
    [InlineData("kol", "J44.9")]
    public void The_lookup_finds_codes_by_prefix_or_by_words_of_the_title_ignoring_case_and_diacritics(string query, string code)
    {
        Assert.Contains(code, Icd10Se.Search(query).Select(c => c.Code));
    }

    [Fact]
    public void A_code_prefix_lists_the_codes_under_it_first()
    {
        var found = Icd10Se.Search("J18");
        Assert.Equal("J18.9", found[0].Code);
        Assert.All(Icd10Se.Search("I2").TakeWhile(c => c.Code.StartsWith('I')), c => Assert.StartsWith("I2", c.Code, StringComparison.Ordinal));
    }

    [Fact]
    public void An_empty_or_unknown_query_finds_nothing()
    {
        Assert.Empty(Icd10Se.Search(""));
        Assert.Empty(Icd10Se.Search("   "));
        Assert.Empty(Icd10Se.Search("xyzzy"));
    }

    [Fact]
    public void Every_code_in_the_list_is_syntactically_valid_unique_and_titled()
    {
        Assert.InRange(Icd10Se.All.Count, 120, 400);
        Assert.All(Icd10Se.All, c => Assert.True(Icd10Se.IsValidSyntax(c.Code), c.Code));
        Assert.All(Icd10Se.All, c => Assert.False(string.IsNullOrWhiteSpace(c.Title), c.Code));
        Assert.Equal(Icd10Se.All.Count, Icd10Se.All.Select(c => c.Code).Distinct().Count());
    }

    [Theory]
    [InlineData("I10", true)]
    [InlineData("J18.9", true)]
    [InlineData("F43.8A", true)]
    [InlineData("S72.01", true)]
    [InlineData("J189", false)]
    [InlineData("18.9", false)]
    [InlineData("J18.", false)]
    [InlineData("j18.9", false)]
    public void The_code_syntax_is_a_letter_two_digits_an_optional_decimal_part_and_an_optional_letter(string code, bool valid)
    {
        Assert.Equal(valid, Icd10Se.IsValidSyntax(code));
    }
}
