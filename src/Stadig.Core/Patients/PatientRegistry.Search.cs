using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Storage;

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
        var words = NameSearch.Words(text).Distinct(StringComparer.Ordinal).ToArray();
        if (words.Length == 0) return new PatientSearchResult([], false, "Skriv ett namn eller ett personnummer.");
        // A patient is a candidate when some word is a prefix of one of the indexed name columns:
        // family name, last part of a double family name (Lind-Öström), first and last given name;
        // and a match when every word starts some word of the whole name ("family given").
        //
        // The OR of those ranges can only be a bitmap scan, which loses index order and fetches and
        // sorts every match before the LIMIT (28,000 rows for "andersson" at 1,000,000 patients). So
        // the candidates are a UNION of branches, one per (word, column), each its own range scan on
        // a covering partial index (migration 0003) ordered by the result order and cut at limit + 1.
        // The first limit + 1 of the union of every branch's first limit + 1 are exactly the first
        // limit + 1 of all matches, so the result and MoreExist are the same as one ordered query
        // over everything. A branch on the name-order index stops after limit + 1 hits; a branch on
        // a given-name index reads its range (index only) and sorts it, unless the planner finds
        // walking the name order with the range as a filter cheaper (common given names: "anna").
        // Only then are the at most limit + 1 rows themselves fetched, by id. Two words or more get
        // branches of their own (AddPairBranches): one per pair of names two of them can start, so
        // that no word's whole range is read to filter by another.
        var parameters = new DynamicParameters();
        for (var i = 0; i < words.Length; i++)
        {
            parameters.Add($"lo{i}", words[i]);
            parameters.Add($"hi{i}", NameSearch.PrefixUpperBound(words[i]));
            parameters.Add($"w{i}", "% " + EscapeLike(words[i]) + "%");
        }
        var branches = new List<string>();
        var ctes = new List<string>();
        var pair = (from a in Enumerable.Range(0, words.Length)
                    from b in Enumerable.Range(a + 1, words.Length - a - 1)
                    where !words[a].StartsWith(words[b], StringComparison.Ordinal) && !words[b].StartsWith(words[a], StringComparison.Ordinal)
                    select (A: a, B: b)).FirstOrDefault((A: -1, B: -1));
        if (pair.A >= 0)
            AddPairBranches(branches, ctes, words, pair.A, pair.B, parameters, limit, FirstGivenName, listLongerNames: database.Engine == DatabaseEngine.Postgres);
        else
            AddBranches(branches, words, limit);
        var with = ctes.Count == 0 ? "" : $"WITH RECURSIVE {string.Join(",\n", ctes)}\n";
        var sql = $"""
            {with}SELECT {PatientColumns} FROM patient WHERE id IN (
                SELECT id FROM (
            {string.Join("\nUNION\n", branches)}
                ) AS candidate
                ORDER BY family_search, given_search, identifier LIMIT {limit + 1})
            ORDER BY family_search, given_search, identifier
            """;
        if (pair.A >= 0 && words[pair.A].Length >= GenericPlanWordLength && words[pair.B].Length >= GenericPlanWordLength)
            sql = OnGenericPlan(sql);
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        var rows = (await connection.QueryAsync<Patient>(sql, parameters)).ToList();
        var more = rows.Count > limit;
        if (more) rows.RemoveAt(rows.Count - 1);
        return new PatientSearchResult(rows, more, null);
    }

    /// <summary>
    /// The shortest pair words whose search runs on the generic plan (<see cref="OnGenericPlan"/>).
    /// That plan reads each "longer than x" range whole and sorts it: few rows when x is a name,
    /// tens of thousands when it is one or two letters ("ma an"), where a custom plan may walk the
    /// name order instead and stop early. At 1,000,000 patients, pairs of three letters or more read
    /// no more index entries on the generic plan than on custom plans (whole names: fewer), pairs of
    /// two letters up to four times as many (docs/benchmarks.md, "Two-word search on a generic plan").
    /// </summary>
    private const int GenericPlanWordLength = 3;

    /// <summary>
    /// On PostgreSQL, <paramref name="select"/> run on the generic plan of its prepared statement
    /// (<see cref="Database.OnGenericPlan"/>). Planning the pair search's 18 branches took longer than
    /// running them (2–12 ms against 1–3 ms), and the plan it needs hardly depends on the words: each
    /// branch is an index range bounded by parameters, walked in result order when an equality
    /// leads, else read whole and sorted, which is what the generic plan does.
    /// </summary>
    private string OnGenericPlan(string select) => database.OnGenericPlan(select);

    /// <summary>The first word of given_search, as migration 0014 indexes it.</summary>
    private string FirstGivenName => database.Engine == DatabaseEngine.Postgres
        ? "split_part(given_search, ' ', 1)"
        : "substr(given_search, 1, instr(given_search || ' ', ' ') - 1)";

    /// <summary>One branch per (word, indexed name column), each word's other words as LIKE filters.</summary>
    private static void AddBranches(List<string> branches, string[] words, int limit)
    {
        for (var i = 0; i < words.Length; i++)
        {
            // A word that another word is a prefix of finds no candidate the shorter one does not.
            if (words.Any(other => other != words[i] && words[i].StartsWith(other, StringComparison.Ordinal))) continue;
            // A range hit on a column starts a word of the name with this word (and with any prefix
            // of it), so only the other words need the LIKE filter.
            var filters = string.Concat(Enumerable.Range(0, words.Length)
                .Where(j => !words[i].StartsWith(words[j], StringComparison.Ordinal))
                .Select(j => $" AND (' ' || family_search || ' ' || given_search) LIKE @w{j} ESCAPE '\\'"));
            foreach (var (column, unlessSame, cut) in NameColumns)
            {
                // Where the last part equals the whole name, the whole-name branch finds the row.
                var distinct = unlessSame is null ? "" : $" AND {column} <> {unlessSame}";
                var order = cut ? $" ORDER BY family_search, given_search, identifier LIMIT {limit + 1}" : "";
                branches.Add($"""
                    SELECT id, family_search, given_search, identifier FROM (
                        SELECT id, family_search, given_search, identifier FROM patient
                        WHERE merged_into_id IS NULL AND {column} >= @lo{i} AND {column} < @hi{i}{distinct}{filters}{order}) AS b{branches.Count}
                    """);
            }
        }
    }

    /// <summary>Patients with a middle word: a given name between the first and the last, or a family name of three words.</summary>
    /// <remarks>
    /// Two spaces or more, counted rather than matched with LIKE '% % %': PostgreSQL estimates a LIKE
    /// on a column by running it over the column's statistics, 0.2 ms of planning per clause, and
    /// there are three such branches per word; the middle-word indexes are small enough to be
    /// chosen without the estimate.
    /// </remarks>
    private const string HasMiddleWord = "(length(given_search) - length(replace(given_search, ' ', '')) > 1 OR length(family_search) - length(replace(family_search, ' ', '')) > 1)";

    /// <summary>
    /// Two words a and b, neither a prefix of the other ("anna andersson", "lars erik"; any others
    /// are filters): the same matches as <see cref="AddBranches"/>, but one range scan per pair of
    /// names a and b can start, with both in the index condition (migration 0014), instead of
    /// reading a common word's whole range to filter by the other (20,000 "anna" given names at
    /// 1,000,000 patients). With x, y standing for a, b in both orders, x starts
    /// <list type="bullet">
    /// <item>the first given name and y the family name: the first given name is x (one range of
    /// patient_name_given_first), or one of the longer names x starts (<see cref="LongerNames"/>),
    /// each a range of the same index;</item>
    /// <item>the last given name and y the family name: likewise on patient_name_given_last;</item>
    /// <item>the first given name and y the second of two: the given names start with "x y", or with
    /// "n y" for each longer name n.</item>
    /// </list>
    /// A word of one or two letters starts too many names to list, and SQLite has no LATERAL join to
    /// take them one at a time (<paramref name="listLongerNames"/> false): a first given name longer than x
    /// is then the range [x + '!', x's upper bound) of the given names — '!' follows ' ' and precedes
    /// every letter and digit — filtered by the other words anywhere in the name, and a longer last
    /// given name likewise, with y's range beside it.
    /// Any word may start the last part of a double family name: its small partial index, as
    /// before. And a patient with a middle word (a given name between the first and the last, the
    /// middle of three family names), which no index starts with, is found by any word alone in
    /// partial indexes of only such patients (1.4 % of them). a and b cannot start the same name, or
    /// one would be a prefix of the other; without a middle word every word starts an indexed name;
    /// so these are every place a match can be.
    /// </summary>
    private static void AddPairBranches(List<string> branches, List<string> ctes, string[] words, int a, int b, DynamicParameters parameters, int limit, string firstGiven, bool listLongerNames)
    {
        var order = $" ORDER BY family_search, given_search, identifier LIMIT {limit + 1}";
        // Every word but these must start some word of the name.
        string Filters(params int[] found) => string.Concat(Enumerable.Range(0, words.Length).Where(j => !found.Contains(j))
            .Select(j => $" AND (' ' || family_search || ' ' || given_search) LIKE @w{j} ESCAPE '\\'"));
        var ranges = new List<(string? Names, string Where)>();
        foreach (var (x, y) in new[] { (a, b), (b, a) })
        {
            var family = $" AND family_search >= @lo{y} AND family_search < @hi{y}";
            parameters.Add($"pair{x}", words[x] + " " + words[y]);
            parameters.Add($"pairhi{x}", NameSearch.PrefixUpperBound(words[x] + " " + words[y]));
            ranges.Add((null, $"{firstGiven} = @lo{x}{family}{Filters(x, y)}{order}"));
            ranges.Add((null, $"given_last_search = @lo{x} AND given_last_search <> given_search{family}{Filters(x, y)}{order}"));
            ranges.Add((null, $"given_search >= @pair{x} AND given_search < @pairhi{x}{Filters(x, y)}{order}"));
            if (listLongerNames && words[x].Length >= LongerNamesWordLength)
            {
                // A first or last given name longer than x, one name at a time (LongerNames).
                var longerFirst = $"longer_first{x}";
                var longerLast = $"longer_last{x}";
                ctes.Add(LongerNames(longerFirst, firstGiven, "", x));
                ctes.Add(LongerNames(longerLast, "given_last_search", " AND given_last_search <> given_search", x));
                ranges.Add((longerFirst, $"{firstGiven} = l.name{family}{Filters(x, y)}{order}"));
                ranges.Add((longerFirst, $"given_search >= l.name || ' ' || @lo{y} AND given_search < l.name || ' ' || @hi{y}{Filters(x, y)}{order}"));
                ranges.Add((longerLast, $"given_last_search = l.name AND given_last_search <> given_search{family}{Filters(x, y)}{order}"));
            }
            else
            {
                parameters.Add($"longer{x}", words[x] + "!");
                ranges.Add((null, $"given_search >= @longer{x} AND given_search < @hi{x}{Filters(x)}{order}"));
                ranges.Add((null, $"given_last_search >= @longer{x} AND given_last_search < @hi{x} AND given_last_search <> given_search{family}{Filters(x, y)}{order}"));
            }
        }
        for (var w = 0; w < words.Length; w++)
        {
            ranges.Add((null, $"family_last_search >= @lo{w} AND family_last_search < @hi{w} AND family_last_search <> family_search{Filters(w)}"));
            ranges.Add((null, $"{HasMiddleWord} AND family_search >= @lo{w} AND family_search < @hi{w}{Filters(w)}{order}"));
            ranges.Add((null, $"{HasMiddleWord} AND given_search >= @lo{w} AND given_search < @hi{w}{Filters(w)}{order}"));
            ranges.Add((null, $"{HasMiddleWord} AND given_last_search >= @lo{w} AND given_last_search < @hi{w}{Filters(w)}{order}"));
        }
        foreach (var (names, where) in ranges)
        {
            var range = $"SELECT id, family_search, given_search, identifier FROM patient WHERE merged_into_id IS NULL AND {where}";
            // Each longer name its own range, cut at limit + 1 (LATERAL): as one join the planner
            // walked the whole name order to filter by the names (1,000,000 rows, 300 ms).
            branches.Add(names is null
                ? $"SELECT id, family_search, given_search, identifier FROM ({range}) AS b{branches.Count}"
                : $"SELECT b.id, b.family_search, b.given_search, b.identifier FROM {names} AS l CROSS JOIN LATERAL ({range}) AS b");
        }
    }

    /// <summary>
    /// The shortest word whose longer names are listed one by one (<see cref="LongerNames"/>): a word
    /// of one or two letters starts hundreds of different names, which would be hundreds of steps.
    /// </summary>
    private const int LongerNamesWordLength = 3;

    /// <summary>
    /// A recursive common table expression <paramref name="name"/>(name): the different values of
    /// <paramref name="column"/> that are longer than word <paramref name="x"/> and start with it, in
    /// order, each found by one step down the column's index from the one before (and a last row of
    /// NULL). "Anna", "Annika" and "Annelie" for "ann": the names a patient's first or last given name
    /// can be when x starts it without being it. A branch then takes each such name as an equality
    /// with y's range beside it in the same index, and reads only the patients that match; read as
    /// one range, "ann" was 29,000 index entries to filter by y's LIKE (7 of the 10 ms of "andersson
    /// ann" at 1,000,000 patients; docs/benchmarks.md, twelfth run).
    /// </summary>
    private static string LongerNames(string name, string column, string rows, int x) => $"""
        {name}(name) AS (
            SELECT (SELECT {column} FROM patient WHERE merged_into_id IS NULL{rows} AND {column} > @lo{x} AND {column} < @hi{x} ORDER BY {column} LIMIT 1)
            UNION ALL
            SELECT (SELECT {column} FROM patient WHERE merged_into_id IS NULL{rows} AND {column} > l.name AND {column} < @hi{x} ORDER BY {column} LIMIT 1)
            FROM {name} AS l WHERE l.name IS NOT NULL)
        """;

    /// <summary>
    /// The indexed name columns, each with the column it repeats for one-word names, and whether its
    /// branch is cut at limit + 1. The last part of a double family name is not: PostgreSQL takes
    /// "family_last_search &lt;&gt; family_search" to hold for nearly every row (it holds for ~4 %), so
    /// with an ORDER BY … LIMIT it walked the whole name order expecting a hit soon (75,000 rows, 250
    /// ms for "andersson"). Uncut, the branch reads its partial index, which holds double family names
    /// only: at most a few thousand rows for any prefix.
    /// </summary>
    private static readonly (string Column, string? UnlessSame, bool Cut)[] NameColumns =
    [
        ("family_search", null, true),
        ("family_last_search", "family_search", false),
        ("given_search", null, true),
        ("given_last_search", "given_search", true),
    ];

    private async Task<PatientSearchResult> RunAsync(string where, object parameters, int limit, CancellationToken cancellationToken, string? hintIfEmpty = null)
    {
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
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
