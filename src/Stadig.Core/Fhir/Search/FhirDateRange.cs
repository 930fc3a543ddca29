using System.Globalization;
using System.Text.RegularExpressions;

namespace Stadig.Fhir.Search;

/// <summary>
/// A FHIR date, dateTime or instant as the [Low, High) range of time it covers at its precision:
/// "2013" is the whole year, "2013-01-14T10:00:05Z" that one second. Values without a time zone
/// are taken as UTC. Both ends are in UTC.
/// </summary>
public readonly record struct FhirDateRange(DateTimeOffset Low, DateTimeOffset High)
{
    // [0-9], not \d: .NET's \d takes any script's digits (٢٠١٣), which int.Parse below cannot read (the fuzz runner's 500).
    private static readonly Regex Pattern = new(
        @"^(?<y>[0-9]{4})(-(?<m>[0-9]{2})(-(?<d>[0-9]{2})(T(?<h>[0-9]{2}):(?<mi>[0-9]{2})(:(?<s>[0-9]{2})(\.(?<f>[0-9]{1,9}))?)?(?<z>Z|[+-][0-9]{2}:[0-9]{2})?)?)?)?$",
        RegexOptions.CultureInvariant | RegexOptions.ExplicitCapture);

    public static bool TryParse(string? text, out FhirDateRange range)
    {
        range = default;
        if (text is null) return false;
        var match = Pattern.Match(text.Trim());
        if (!match.Success) return false;
        int Part(string name, int absent) => match.Groups[name].Success ? int.Parse(match.Groups[name].Value, CultureInfo.InvariantCulture) : absent;

        var offset = TimeSpan.Zero;
        var zone = match.Groups["z"].Value;
        if (zone.Length > 1)
        {
            offset = new TimeSpan(int.Parse(zone[1..3], CultureInfo.InvariantCulture), int.Parse(zone[4..6], CultureInfo.InvariantCulture), 0);
            if (zone[0] == '-') offset = -offset;
            if (offset.Duration() > TimeSpan.FromHours(14)) return false;
        }
        try
        {
            var (year, month, day, hour, minute, second) = (Part("y", 1), Part("m", 1), Part("d", 1), Part("h", 0), Part("mi", 0), Part("s", 0));
            if (year < 1) return false;
            var fraction = match.Groups["f"].Value;
            var ticks = fraction.Length == 0 ? 0 : long.Parse(fraction.PadRight(7, '0')[..7], CultureInfo.InvariantCulture);
            var low = new DateTimeOffset(year, month, day, hour, minute, second, offset).AddTicks(ticks);
            var high = fraction.Length > 0 ? low.AddTicks(fraction.Length >= 7 ? 1 : (long)Math.Pow(10, 7 - fraction.Length))
                : match.Groups["s"].Success ? low.AddSeconds(1)
                : match.Groups["mi"].Success ? low.AddMinutes(1)
                : match.Groups["d"].Success ? low.AddDays(1)
                : match.Groups["m"].Success ? low.AddMonths(1)
                : low.AddYears(1);
            range = new FhirDateRange(low.ToUniversalTime(), high.ToUniversalTime());
            return true;
        }
        catch (ArgumentOutOfRangeException)
        {
            // Month 13, 31 February, hour 25: not a date.
            return false;
        }
    }
}
