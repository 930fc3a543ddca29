using System.Globalization;
using System.Text.RegularExpressions;
using Stadig.Common;

namespace Stadig.Patients.Identifiers;

public enum IdentifierKind
{
    Personnummer,
    Samordningsnummer,
    Reservnummer,
}

public enum Sex
{
    Unknown,
    Female,
    Male,
}

/// <summary>
/// A patient identity number in its stored form: personnummer and samordningsnummer as 12 digits
/// (century included), reservnummer as the region writes it. Birth date and sex are derived where
/// the number carries them.
/// </summary>
public sealed record PatientIdentifier(IdentifierKind Kind, string Value, DateOnly? BirthDate, Sex Sex)
{
    public const string PersonnummerSystem = "http://electronichealth.se/identifier/personnummer";
    public const string SamordningsnummerSystem = "http://electronichealth.se/identifier/samordningsnummer";
    public const string ReservnummerSystem = "http://electronichealth.se/identifier/nationelltReservnummer";

    /// <summary>The last ten digits, the form most people say aloud; searched as well as the full value.</summary>
    public string ShortForm => Kind == IdentifierKind.Reservnummer ? Value : Value[2..];

    /// <summary>YYYYMMDD-NNNN for display; reservnummer as stored.</summary>
    public string Display => Kind == IdentifierKind.Reservnummer ? Value : $"{Value[..8]}-{Value[8..]}";

    public string FhirSystem => Kind switch
    {
        IdentifierKind.Personnummer => PersonnummerSystem,
        IdentifierKind.Samordningsnummer => SamordningsnummerSystem,
        _ => ReservnummerSystem,
    };

    public override string ToString() => Display;

    /// <summary>A stored number as people read it: YYYYMMDD-NNNN for the twelve-digit national numbers, anything else as stored.</summary>
    public static string Format(string stored) =>
        stored.Length == 12 && stored.All(char.IsAsciiDigit) && !stored.StartsWith("99", StringComparison.Ordinal) ? $"{stored[..8]}-{stored[8..]}" : stored;
}

/// <summary>The rules for reading an identity number typed by a person or sent by a system.</summary>
public sealed class PatientIdentifierRules(TimeProvider clock, ReservnummerFormat reservnummer)
{
    public const string Field = "identifier";

    public PatientIdentifierRules(TimeProvider clock) : this(clock, ReservnummerFormat.Default) { }

    /// <summary>Parses or throws <see cref="InvalidInputException"/> naming what is wrong.</summary>
    /// <summary>True when the region uses the national default reservnummer format (Stadig can then allocate one).</summary>
    public bool ReservnummerIsDefault => reservnummer.Pattern == ReservnummerFormat.Default.Pattern;

    public PatientIdentifier Parse(string? input)
    {
        if (TryParse(input, out var identifier, out var problem)) return identifier!;
        throw new InvalidInputException(Field, problem!);
    }

    public bool TryParse(string? input, out PatientIdentifier? identifier, out string? problem)
    {
        identifier = null;
        var text = (input ?? "").Trim().Replace(" ", "", StringComparison.Ordinal);
        if (text.Length == 0) { problem = "Personnummer saknas."; return false; }

        if (reservnummer.Matches(text))
        {
            identifier = new PatientIdentifier(IdentifierKind.Reservnummer, text.ToUpperInvariant(), null, Sex.Unknown);
            problem = null;
            return true;
        }

        var plus = text.Contains('+');
        var digits = text.Replace("-", "", StringComparison.Ordinal).Replace("+", "", StringComparison.Ordinal);
        var separatorAt = text.IndexOfAny(['-', '+']);
        if (!digits.All(char.IsAsciiDigit))
        {
            problem = $"Personnumret får bara innehålla siffror och '-' eller '+' (fick \"{text}\").";
            return false;
        }
        if (digits.Length != 10 && digits.Length != 12)
        {
            problem = $"Personnumret ska ha 10 eller 12 siffror (fick {digits.Length}).";
            return false;
        }
        if (separatorAt >= 0 && separatorAt != text.Length - 5 || text.Count(c => c is '-' or '+') > 1)
        {
            problem = "Skiljetecknet ska stå före de fyra sista siffrorna (ÅÅMMDD-NNNN).";
            return false;
        }
        if (plus && digits.Length == 12)
        {
            problem = "'+' används bara med tiosiffrigt personnummer (ÅÅMMDD+NNNN).";
            return false;
        }

        string full;
        if (digits.Length == 12)
        {
            full = digits;
        }
        else
        {
            var today = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
            var yy = int.Parse(digits[..2], CultureInfo.InvariantCulture);
            // The latest year ending in yy that is not in the future; '+' means a hundred years before that.
            var year = today.Year - ((today.Year - yy) % 100 + 100) % 100;
            if (plus) year -= 100;
            full = year.ToString("D4", CultureInfo.InvariantCulture) + digits[2..];
        }

        if (!Luhn.IsValid(full[2..]))
        {
            problem = "Personnumrets kontrollsiffra stämmer inte.";
            return false;
        }

        var y = int.Parse(full[..4], CultureInfo.InvariantCulture);
        var m = int.Parse(full[4..6], CultureInfo.InvariantCulture);
        var d = int.Parse(full[6..8], CultureInfo.InvariantCulture);
        var kind = IdentifierKind.Personnummer;
        if (d > 60) { kind = IdentifierKind.Samordningsnummer; d -= 60; }
        if (y < 1800 || m is < 1 or > 12 || d < 1 || d > DateTime.DaysInMonth(y, m))
        {
            problem = $"Personnumret innehåller ett datum som inte finns ({full[..8]}).";
            return false;
        }
        var birthDate = new DateOnly(y, m, d);
        if (birthDate > DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime))
        {
            problem = $"Personnumrets födelsedatum ligger i framtiden ({birthDate:yyyy-MM-dd}).";
            return false;
        }
        var sex = (full[10] - '0') % 2 == 1 ? Sex.Male : Sex.Female;
        identifier = new PatientIdentifier(kind, full, birthDate, sex);
        problem = null;
        return true;
    }
}

/// <summary>
/// The region's reservnummer format: a regular expression, configurable because every region has
/// its own. The default is twelve characters starting with "99", which can never be a personnummer
/// or samordningsnummer (those start with the century 18, 19 or 20).
/// </summary>
public sealed class ReservnummerFormat
{
    public static readonly ReservnummerFormat Default = new(@"^99[0-9]{10}$");

    private readonly Regex _regex;

    public ReservnummerFormat(string pattern)
    {
        Pattern = pattern;
        // Matched without backtracking, in time linear in the input whatever pattern the region gives,
        // so no match can run away and none needs a time limit. The limit there was (100 ms, measured on
        // the clock) failed a lab message's twelve-character identifier when a busy node paused the
        // thread (CI, 2026-12-06): an HL7 ingest must not fail because the machine was slow.
        try
        {
            _regex = new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.IgnoreCase | RegexOptions.NonBacktracking);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException)
        {
            throw new InvalidOperationException(
                $"Stadig:ReservnummerPattern \"{pattern}\" is not a usable regular expression: {e.Message} (back-references and look-arounds are not supported).", e);
        }
    }

    public string Pattern { get; }

    public bool Matches(string text) => _regex.IsMatch(text);
}

public static class Luhn
{
    /// <summary>Modulus-10 with weights 2,1,2,1… over all digits; valid when the sum ends in 0.</summary>
    public static bool IsValid(string digits) => digits.Length > 1 && Sum(digits, doubleFirst: digits.Length % 2 == 0) % 10 == 0;

    /// <summary>The check digit to append to <paramref name="digitsWithoutCheck"/>.</summary>
    public static int CheckDigit(string digitsWithoutCheck) =>
        (10 - Sum(digitsWithoutCheck, doubleFirst: digitsWithoutCheck.Length % 2 == 1) % 10) % 10;

    private static int Sum(string digits, bool doubleFirst)
    {
        var sum = 0;
        for (var i = 0; i < digits.Length; i++)
        {
            var v = digits[i] - '0';
            if ((i % 2 == 0) == doubleFirst) { v *= 2; if (v > 9) v -= 9; }
            sum += v;
        }
        return sum;
    }
}
