namespace Stadig.Access;

/// <summary>
/// What a bearer token names its caller by: the person's HSA id and, where the person holds several
/// assignments, the unit's HSA id and the role. A <see cref="Caller"/> taken from the web host's
/// cache of recent tokens' callers carries them as <see cref="Caller.Unconfirmed"/>: the checkpoint
/// then confirms, in the statement that decides and audits, that these claims still name exactly
/// that assignment of that person (issue 23: the directory's round trip saved, a removed assignment,
/// a renamed person or a second matching assignment still seen at once).
/// </summary>
public sealed record TokenClaims(string HsaId, string? UnitHsaId, string? Role);

/// <summary>
/// A cached caller the checkpoint could not confirm in its one statement (see <see cref="TokenClaims"/>):
/// nothing was audited or shown; the caller is looked up in the staff directory again and the request
/// made again with it.
/// </summary>
public sealed class CallerUnconfirmedException() : Exception("The cached caller could not be confirmed in the checkpoint's statement: look it up again.");
