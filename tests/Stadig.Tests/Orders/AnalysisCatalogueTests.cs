using Stadig.LabResults;
using Stadig.Orders;
using Stadig.Patients.Identifiers;
using Stadig.Seeding;

namespace Stadig.Tests.Orders;

public class AnalysisCatalogueTests
{
    [Fact]
    public void Orders_seeded_results_and_the_mapping_table_use_one_NPU_code_per_analysis()
    {
        var codes = AnalysisCatalogue.All.Select(a => a.Code).ToList();
        Assert.Equal(codes.Count, codes.Distinct().Count());
        Assert.All(SwedishData.Analyses, a => Assert.Contains(a.Code, codes));
        Assert.All(AnalysisCatalogue.All, a => Assert.Equal(a.Code, AnalysisCodes.Canonical(a.Code)));
        // The codes the orders used to carry for the same analyses, and what they really are.
        Assert.Equal("NPU04998", AnalysisCodes.Canonical("NPU18016"));
        Assert.Equal("NPU04998", AnalysisCatalogue.Find("NPU18016")!.Code);
        foreach (var notTheSame in new[] { "NPU22089", "NPU19763", "NPU01370", "NPU02319" })
            Assert.Null(AnalysisCatalogue.Find(notTheSame));
        Assert.Equal("NPU02192", AnalysisCatalogue.Find("14749-6")!.Code);
        Assert.Equal("NPU19651", AnalysisCatalogue.Find("ALAT")!.Code);
    }

    [Theory]
    [InlineData("2823-3", "mmol/L", "NPU03230")]
    [InlineData("K", null, "NPU03230")]
    [InlineData("krea", "umol/L", "NPU04998")]
    [InlineData("14682-9", "µmol/L", "NPU04998")]
    [InlineData("1742-6", "U/L", "1742-6")]
    [InlineData("718-7", "g/dL", "718-7")]
    [InlineData("LOCAL9", "mmol/L", "LOCAL9")]
    public void A_code_joins_its_analysis_trend_only_in_the_analysis_unit(string code, string? unit, string expected) =>
        Assert.Equal(expected, AnalysisCodes.TrendKey(code, unit));

    [Theory]
    [InlineData("NPU28309", Sex.Female, 40, "117–153")]
    [InlineData("NPU28309", Sex.Male, 40, "134–170")]
    [InlineData("NPU28309", Sex.Unknown, 40, null)]
    [InlineData("NPU03429", Sex.Unknown, 40, "137–145")]
    [InlineData("NPU27300", Sex.Male, 49, "27–42")]
    [InlineData("NPU27300", Sex.Male, 50, "31–46")]
    [InlineData("NPU19673", Sex.Female, 75, "34–45")]
    [InlineData("NPU19651", Sex.Male, 30, "< 1,1")]
    [InlineData("NPU04998", Sex.Female, 12, null)]
    public void The_reference_interval_follows_sex_and_age(string code, Sex sex, int age, string? expected)
    {
        var interval = AnalysisCatalogue.Find(code)!.IntervalFor(sex, age);
        Assert.Equal(expected, interval is null ? null : LabFormat.Range(interval.Low, interval.High));
    }

    [Theory]
    [InlineData("10^9/L", "10⁹/L")]
    [InlineData("10*9/l", "10⁹/L")]
    [InlineData("x10(12)/L", "10¹²/L")]
    [InlineData("×10⁹/L", "10⁹/L")]
    [InlineData("10E12/L", "10¹²/L")]
    [InlineData("umol/L", "µmol/L")]
    [InlineData("mikromol/L", "µmol/L")]
    [InlineData("mmol/l", "mmol/L")]
    [InlineData("mikrokat/L", "µkat/L")]
    [InlineData("ukat/L", "µkat/L")]
    [InlineData("g/l", "g/L")]
    [InlineData("mIU/L", "mIE/L")]
    [InlineData("mmol/mol", "mmol/mol")]
    [InlineData(null, "")]
    // A power written in another script's digits is shown as sent: it made the superscript lookup throw, and every page showing the result answered 500.
    [InlineData("10^٣/l", "10^٣/L")]
    [InlineData("10*９/L", "10*９/L")]
    public void Units_are_written_as_Swedish_labs_print_them(string? sent, string shown) => Assert.Equal(shown, LabFormat.Unit(sent));

    [Fact]
    public void Values_and_ranges_are_written_with_a_decimal_comma_and_the_labs_precision()
    {
        Assert.Equal("4,10", LabFormat.Value(4.1, "4.10"));
        Assert.Equal("6,9", LabFormat.Value(6.9, null));
        Assert.Equal("<5", LabFormat.Value(null, "<5"));
        Assert.Equal("3,5–4,4", LabFormat.Range(3.5, 4.4));
        Assert.Equal("< 5", LabFormat.Range(null, 5));
        Assert.Equal("> 60", LabFormat.Range(60, null));
    }
}
