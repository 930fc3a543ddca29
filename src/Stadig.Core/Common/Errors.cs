namespace Stadig.Common;

/// <summary>The expected failures of a use case; the web layer maps each once to an HTTP answer.</summary>
public abstract class StadigException(string message) : Exception(message);

/// <summary>
/// Input that breaks a rule. <see cref="Field"/> names the field so the UI can point at it;
/// <see cref="MaxLength"/> is the limit a too long text broke, so the UI can say it in the user's language.
/// </summary>
public sealed class InvalidInputException(string field, string message, int? maxLength = null) : StadigException(message)
{
    public string Field { get; } = field;

    public int? MaxLength { get; } = maxLength;
}

public sealed class NotFoundException(string message) : StadigException(message)
{
    /// <summary>
    /// No patient has this id at all (as opposed to one the caller may not see): the page can say
    /// so instead of offering a care relation.
    /// </summary>
    public bool NoSuchPatient { get; init; }

    public static NotFoundException NoPatient() => new("Patienten finns inte.") { NoSuchPatient = true };
}

public class ConflictException(string message) : StadigException(message);

public sealed class ForbiddenException(string message) : StadigException(message);
