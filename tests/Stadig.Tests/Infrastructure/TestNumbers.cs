using Stadig.Patients.Identifiers;

namespace Stadig.Tests.Infrastructure;

/// <summary>
/// Personnummer for tests, with födelsenummer 980–999: the range set aside for test numbers, so a
/// test never carries a real person's number. 19121212-1212 is the well-known textbook example.
/// </summary>
public static class TestNumbers
{
    public static string Personnummer(int year, int month, int day, int serial = 982, bool coordination = false)
    {
        var nine = $"{year % 100:D2}{month:D2}{day + (coordination ? 60 : 0):D2}{serial:D3}";
        return $"{year / 100:D2}{nine[..6]}-{nine[6..]}{Luhn.CheckDigit(nine)}";
    }
}
