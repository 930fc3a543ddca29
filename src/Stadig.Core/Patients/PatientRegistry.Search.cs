using Dapper;
using Stadig.Access;
using Stadig.Audit;

namespace Stadig.Patients;

public sealed record PatientSearchResult(IReadOnlyList<Patient> Patients, bool MoreExist, string? Hint);

public sealed partial class PatientRegistry
{
    public const int DefaultSearchLimit = 50;

    /// <summary>
    /// Finds patients by full or partial identity number (digits, with or without '-'/'+') or by
    /// name words, each a prefix of a word of the name, case- and diacritic-insensitive. Merged
    /// records are not listed: their patient is. Every query is an index range scan.
    /// </summary>
    public async Task<PatientSearchResult> SearchAsync(Caller caller, string? query, int limit = DefaultSearchLimit, CancellationToken cancellationToken = default)
    {
        var result = await FindAsync(query, limit, cancellationToken);
        // Lists show protected identities masked, except to a unit with a care relation.
        var shown = new List<Patient>(result.Patients.Count);
        var flags = AuditFlags.None;
        foreach (var patient in result.Patients)
        {
            if (patient.ProtectedIdentity == ProtectedIdentity.None) { shown.Add(patient); continue; }
            var context = await checkpoint.ContextAsync(caller, patient.Id, cancellationToken);
            shown.Add(context?.HasCareRelation == true ? patient : patient.AsMasked());
            flags |= AuditFlags.ProtectedIdentity;
        }
        // Audited before anything is shown; if the event cannot be written, the search fails.
        await checkpoint.AuditRegistryAsync(caller, "PatientSearch", $"{shown.Count} träffar", flags, cancellationToken);
        return result with { Patients = shown };
    }

    private async Task<PatientSearchResult> FindAsync(string? query, int limit, CancellationToken cancellationToken)
    {
        var text = (query ?? "").Trim();
        limit = Math.Clamp(limit, 1, 200);
        if (text.Length == 0) return new PatientSearchResult([], false, null);

        var compact = text.Replace("-", "", StringComparison.Ordinal).Replace("+", "", StringComparison.Ordinal).Replace(" ", "", StringComparison.Ordinal);
        if (compact.Length > 0 && compact.All(char.IsAsciiDigit))
            return await SearchByNumberAsync(text, compact, limit, cancellationToken);
        if (identifiers.TryParse(text, out var reserv, out _) && reserv!.Kind == Identifiers.IdentifierKind.Reservnummer)
            return await RunAsync("identifier = @value", new { value = reserv.Value }, limit, cancellationToken);
        return await SearchByNameAsync(text, limit, cancellationToken);
    }

    private async Task<PatientSearchResult> SearchByNumberAsync(string text, string digits, int limit, CancellationToken cancellationToken)
    {
        if (digits.Length is 10 or 12 && identifiers.TryParse(text, out var identifier, out _))
            return await RunAsync("identifier = @value", new { value = identifier!.Value }, limit, cancellationToken);
        if (digits.Length < 4)
            return new PatientSearchResult([], false, "Skriv minst fyra siffror av personnumret.");
        // Up to ten digits may be the start of the short form (YYMMDD...) or of the full one (YYYYMM...).
        var where = digits.Length > 10
            ? "identifier >= @low AND identifier < @high"
            : "((identifier_short >= @low AND identifier_short < @high) OR (identifier >= @low AND identifier < @high))";
        return await RunAsync(where, new { low = digits, high = NameSearch.PrefixUpperBound(digits) }, limit, cancellationToken);
    }

    private async Task<PatientSearchResult> SearchByNameAsync(string text, int limit, CancellationToken cancellationToken)
    {
        var words = NameSearch.Words(text);
        if (words.Length == 0) return new PatientSearchResult([], false, "Skriv ett namn eller ett personnummer.");
        // Each word is a prefix range on the indexed name columns: family name, last part of a double
        // family name (Lind-Öström), first and last given name. A patient is a candidate when any word
        // hits one of them, and a match when every word starts some word of the whole name.
        var parameters = new DynamicParameters();
        var ranges = new List<string>();
        var filters = new List<string>();
        for (var i = 0; i < words.Length; i++)
        {
            parameters.Add($"lo{i}", words[i]);
            parameters.Add($"hi{i}", NameSearch.PrefixUpperBound(words[i]));
            foreach (var column in (string[])["family_search", "family_last_search", "given_search", "given_last_search"])
                ranges.Add($"({column} >= @lo{i} AND {column} < @hi{i})");
            parameters.Add($"w{i}", "% " + EscapeLike(words[i]) + "%");
            filters.Add($"(' ' || family_search || ' ' || given_search) LIKE @w{i} ESCAPE '\\'");
        }
        var where = $"({string.Join(" OR ", ranges)}) AND {string.Join(" AND ", filters)}";
        return await RunAsync(where, parameters, limit, cancellationToken, hintIfEmpty: null);
    }

    private async Task<PatientSearchResult> RunAsync(string where, object parameters, int limit, CancellationToken cancellationToken, string? hintIfEmpty = null)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var sql = $"""
            SELECT {PatientColumns} FROM patient
            WHERE merged_into_id IS NULL AND {where}
            ORDER BY family_search, given_search, identifier
            LIMIT {limit + 1}
            """;
        var rows = (await connection.QueryAsync<Patient>(sql, parameters)).ToList();
        var more = rows.Count > limit;
        if (more) rows.RemoveAt(rows.Count - 1);
        return new PatientSearchResult(rows, more, rows.Count == 0 ? hintIfEmpty : null);
    }

    private static string EscapeLike(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);
}
