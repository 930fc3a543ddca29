using CsCheck;
using Stadig.Common;
using Stadig.Patients.Identifiers;

namespace Stadig.Tests.Patients;

public class PatientIdentifierTests
{
    private static readonly TimeProvider Clock = new FixedClock(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));
    private static readonly PatientIdentifierRules Rules = new(Clock);

    /// <summary>A valid 12-digit personnummer (or samordningsnummer) with a correct check digit.</summary>
    private static readonly Gen<string> ValidNumber =
        from date in Gen.Date[new DateTime(1900, 1, 1), new DateTime(2026, 11, 23)]
        from serial in Gen.Int[0, 999]
        from coordination in Gen.Bool
        select Build(DateOnly.FromDateTime(date), serial, coordination);

    private static string Build(DateOnly date, int serial, bool coordination)
    {
        var day = date.Day + (coordination ? 60 : 0);
        var nine = $"{date.Year % 100:D2}{date.Month:D2}{day:D2}{serial:D3}";
        return $"{date.Year / 100:D2}{nine}{Luhn.CheckDigit(nine)}";
    }

    [Fact]
    public void Every_generated_valid_number_parses_to_itself_with_its_birth_date_and_sex() =>
        ValidNumber.Sample(number =>
        {
            var id = Rules.Parse(number);
            Assert.Equal(number, id.Value);
            var day = int.Parse(number[6..8]);
            Assert.Equal(day > 60 ? IdentifierKind.Samordningsnummer : IdentifierKind.Personnummer, id.Kind);
            Assert.Equal(new DateOnly(int.Parse(number[..4]), int.Parse(number[4..6]), day > 60 ? day - 60 : day), id.BirthDate);
            Assert.Equal((number[10] - '0') % 2 == 1 ? Sex.Male : Sex.Female, id.Sex);
        });

    [Fact]
    public void Any_single_digit_change_in_the_last_ten_digits_fails_the_check() =>
        Gen.Select(ValidNumber, Gen.Int[2, 11], Gen.Int[1, 9]).Sample((number, position, delta) =>
        {
            var changed = number.ToCharArray();
            changed[position] = (char)('0' + (changed[position] - '0' + delta) % 10);
            var text = new string(changed);
            // The change may also make the date impossible; either way it must not parse.
            Assert.False(Rules.TryParse(text, out _, out var problem), $"{text} was accepted");
            Assert.NotNull(problem);
        });

    [Fact]
    public void The_ten_digit_forms_with_dash_and_plus_resolve_the_century() =>
        ValidNumber.Where(n => n[6..8].CompareTo("60") < 0).Sample(number =>
        {
            var ten = number[2..8] + "-" + number[8..];
            var born = new DateOnly(int.Parse(number[..4]), int.Parse(number[4..6]), int.Parse(number[6..8]));
            var age = Clock.GetUtcNow().Year - born.Year;
            // With '-' the number is at most 100 years back; a person aged 100 or more is written with '+'.
            var written = age >= 100 ? number[2..8] + "+" + number[8..] : ten;
            if (age == 100 && born > DateOnly.FromDateTime(Clock.GetUtcNow().UtcDateTime).AddYears(-100)) return;
            Assert.Equal(number, Rules.Parse(written).Value);
        });

    [Theory]
    [InlineData("19121212-1212", "191212121212")]
    [InlineData("191212121212", "191212121212")]
    [InlineData("121212+1212", "191212121212")]
    [InlineData("121212-1212", "201212121212")]
    [InlineData("1212121212", "201212121212")]
    [InlineData("  19121212 1212 ", "191212121212")]
    public void Accepted_forms(string input, string stored) => Assert.Equal(stored, Rules.Parse(input).Value);

    [Theory]
    [InlineData("19121212-1213", "kontrollsiffra")]
    [InlineData("19191312-1214", "datum som inte finns")]
    [InlineData("19230229-1238", "datum som inte finns")]
    [InlineData("1912121212", "kontrollsiffra")]
    [InlineData("12121212", "10 eller 12 siffror")]
    [InlineData("1912121212121", "10 eller 12 siffror")]
    [InlineData("19121212-12a2", "bara innehålla siffror")]
    [InlineData("191212-121212", "Skiljetecknet")]
    [InlineData("19121212+1212", "'+'")]
    [InlineData("", "saknas")]
    [InlineData("20991231-1231", "framtiden")]
    public void Rejected_forms_name_the_problem(string input, string expected)
    {
        var error = Assert.Throws<InvalidInputException>(() => Rules.Parse(input));
        Assert.Equal("identifier", error.Field);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void A_samordningsnummer_carries_the_birth_day_plus_sixty()
    {
        var nine = "701063" + "239";
        var id = Rules.Parse($"19{nine}{Luhn.CheckDigit(nine)}");
        Assert.Equal(IdentifierKind.Samordningsnummer, id.Kind);
        Assert.Equal(new DateOnly(1970, 10, 3), id.BirthDate);
        Assert.Equal(Sex.Male, id.Sex);
    }

    [Fact]
    public void The_default_reservnummer_format_is_twelve_digits_starting_with_99_and_a_region_can_set_its_own()
    {
        var id = Rules.Parse("991234567890");
        Assert.Equal(IdentifierKind.Reservnummer, id.Kind);
        Assert.Null(id.BirthDate);

        var region = new PatientIdentifierRules(Clock, new ReservnummerFormat(@"^RES\d{6}$"));
        Assert.Equal(IdentifierKind.Reservnummer, region.Parse("res123456").Kind);
        Assert.Throws<InvalidInputException>(() => region.Parse("991234567890"));
    }

    /// <summary>
    /// A region's pattern is matched in linear time, so that no identifier a lab or a clerk sends can
    /// make a match run away, and no match is given up on the clock (a busy node once failed a lab
    /// message that way): a pattern that backtracks exponentially in a backtracking engine answers at
    /// once, and one the linear engine cannot run is refused when the node starts, naming the setting.
    /// </summary>
    [Fact]
    public void A_regions_reservnummer_pattern_is_matched_in_linear_time_and_a_pattern_it_cannot_run_is_refused_by_name()
    {
        var region = new PatientIdentifierRules(Clock, new ReservnummerFormat(@"^(9+)+$"));
        Assert.Equal(IdentifierKind.Reservnummer, region.Parse(new string('9', 40)).Kind);
        var problem = Assert.Throws<InvalidInputException>(() => region.Parse(new string('9', 5000) + "x"));
        Assert.Contains("siffror", problem.Message);

        var refused = Assert.Throws<InvalidOperationException>(() => new ReservnummerFormat(@"^(\d)\1{11}$"));
        Assert.Contains("Stadig:ReservnummerPattern", refused.Message);
        Assert.Throws<InvalidOperationException>(() => new ReservnummerFormat("^(99"));
    }
}
