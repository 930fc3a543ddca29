using System.Globalization;
using Stadig.Common;

namespace Stadig.Components.Shared;

/// <summary>
/// Reads a page's numeric or yes/no query values from their text. Pages take them as strings: the
/// framework's own parsing fails with a 500 whose message, logged, carries the raw value (which
/// may be a personnummer typed in the wrong box). Here a bad value is a 400 naming the parameter.
/// </summary>
public static class QueryValues
{
    public static int? Int(string? value, string name) =>
        string.IsNullOrEmpty(value) ? null
        : int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number) ? number
        : throw new InvalidInputException(name, $"The address's parameter '{name}' is not a whole number.");

    public static bool Flag(string? value, string name) =>
        string.IsNullOrEmpty(value) ? false
        : bool.TryParse(value, out var flag) ? flag
        : value == "1" || (value == "0" ? false : throw new InvalidInputException(name, $"The address's parameter '{name}' is not true or false."));
}
