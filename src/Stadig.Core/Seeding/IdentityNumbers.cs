using System.Globalization;
using Stadig.Patients.Identifiers;

namespace Stadig.Seeding;

/// <summary>
/// Hands out identity numbers that can never belong to a real person.
/// <para>
/// Rule: the födelsenummer (digits 9–11 of the 12, the serial whose last digit is odd for men and
/// even for women) is always in 980–999, the range Skatteverket uses for its published test
/// personal identity numbers and never assigns to people. That leaves ten serials per date and
/// sex. When a date's serials for the sex are used up, the nearest free date within ±30 days is
/// used instead (as Skatteverket does when a day's numbers run out), so the birth date moves a
/// little. Failing that, a samordningsnummer is issued (day + 60) under the same 980–999 rule and
/// the same ±30-day search. The Luhn check digit is computed over the last ten digits' first nine.
/// Reservnummer follow the default regional format: twelve digits starting with "99".
/// </para>
/// </summary>
internal sealed class IdentityNumbers
{
    public const int FirstTestSerial = 980;
    public const int SerialsPerSex = 10;
    public const int MaxDateShift = 30;

    private readonly DateOnly _first;
    private readonly DateOnly _last;
    // Used serials per (day, sex, kind): index = ((day * 2) + sex) * 2 + kind. A byte each: ≤ 10.
    private readonly byte[] _used;
    private long _nextReserv;

    public IdentityNumbers(DateOnly first, DateOnly last)
    {
        _first = first;
        _last = last;
        _used = new byte[(last.DayNumber - first.DayNumber + 1) * 4];
    }

    /// <summary>
    /// A personnummer (or, when the neighbourhood of <paramref name="wanted"/> is full, a
    /// samordningsnummer) for someone of <paramref name="sex"/> born near <paramref name="wanted"/>.
    /// </summary>
    public PatientIdentifier Next(DateOnly wanted, Sex sex)
    {
        var male = sex == Sex.Male ? 1 : 0;
        for (var kind = 0; kind < 2; kind++)
        {
            for (var shift = 0; shift <= MaxDateShift; shift++)
            {
                for (var side = shift == 0 ? 1 : 0; side < 2; side++)
                {
                    var date = wanted.AddDays(side == 0 ? -shift : shift);
                    if (date < _first || date > _last) continue;
                    var slot = ((date.DayNumber - _first.DayNumber) * 2 + male) * 2 + kind;
                    if (_used[slot] >= SerialsPerSex) continue;
                    var serial = FirstTestSerial + 2 * _used[slot] + male;
                    _used[slot]++;
                    return Build(date, serial, kind == 1, sex);
                }
            }
        }
        throw new InvalidOperationException(
            $"No test identity number left near {wanted:yyyy-MM-dd}: the region is too large for the 980–999 serials.");
    }

    public PatientIdentifier NextReservnummer(DateOnly? birthDate, Sex sex)
    {
        var value = "99" + (1_000_000_000 + _nextReserv++).ToString("D10", CultureInfo.InvariantCulture);
        return new PatientIdentifier(IdentifierKind.Reservnummer, value, birthDate, sex);
    }

    private static PatientIdentifier Build(DateOnly date, int serial, bool samordning, Sex sex)
    {
        var day = date.Day + (samordning ? 60 : 0);
        var withoutCheck = string.Create(CultureInfo.InvariantCulture, $"{date.Year:D4}{date.Month:D2}{day:D2}{serial:D3}");
        var value = withoutCheck + Luhn.CheckDigit(withoutCheck[2..]).ToString(CultureInfo.InvariantCulture);
        return new PatientIdentifier(samordning ? IdentifierKind.Samordningsnummer : IdentifierKind.Personnummer, value, date, sex);
    }
}
