namespace Stadig.Hosting;

/// <summary>
/// The one check for every redirect to an address the request carried (returnUrl on login,
/// assignment and language switch): only a path on this site, so a link can never send a user
/// elsewhere after they sign in.
/// </summary>
public static class ReturnUrls
{
    /// <summary>
    /// <paramref name="returnUrl"/> if it is a path on this site, otherwise "/". Browsers skip tabs
    /// and line breaks in a Location and read '\' as '/', so "/\t/evil.example" and "/\evil.example"
    /// lead to another host just as "//evil.example" does; a CR/LF would also break the header.
    /// </summary>
    public static string Safe(string? returnUrl)
    {
        if (string.IsNullOrEmpty(returnUrl) || returnUrl[0] != '/' || returnUrl.Length > 2048) return "/";
        foreach (var c in returnUrl)
            if (char.IsControl(c) || c == '\\' || char.IsWhiteSpace(c) || c is '\u200b' or '\ufeff') return "/";
        return returnUrl.StartsWith("//", StringComparison.Ordinal) ? "/" : returnUrl;
    }
}
