using Dapper;
using Stadig.Fhir.Search;
using Stadig.Patients;

namespace Stadig.Fhir.Patients;

/// <summary>
/// Patient search runs on the registry table, where every patient is (also the million registered
/// without a stored FHIR resource), with its indexes: folded-name prefixes, the identity number,
/// the birth date. The query is parsed by the shared <see cref="FhirSearchRequest"/>; this class
/// only turns its criteria into conditions on the registry's columns. Identifiers of other systems
/// that a sender stored are found through the FHIR search index of the linked Patient resource.
/// </summary>
public static class FhirPatientSearch
{
    /// <summary>
    /// The parsed search. <paramref name="Branches"/>, when set, are conditions whose union is
    /// <paramref name="Where"/>, one per name column of a name criterion: the page is then read
    /// through <see cref="PageSql"/> as a UNION of per-column range scans (see there).
    /// </summary>
    public sealed record Query(string Where, DynamicParameters Parameters, string OrderBy, FhirSearchRequest Request, IReadOnlyList<string> Ignored,
        IReadOnlyList<string>? Branches = null)
    {
        /// <summary>
        /// Whether every criterion finds its patients by key (identifier, _id: equalities on unique
        /// or nearly unique index entries), so that the best plan does not depend on the values and
        /// the search may run on its generic plan (<see cref="Storage.Database.OnGenericPlan"/>).
        /// </summary>
        public bool ByKey => Request.Sort.Count == 0 && Request.Criteria.Count > 0
            && Request.Criteria.All(c => c.Modifier is null && c.Parameter.Name is "identifier" or "_id");

        /// <summary>
        /// One page: @limit rows from @offset; with branches, @window must be @limit + @offset.
        /// A name criterion is an OR over up to four name columns, which PostgreSQL can only answer
        /// with a bitmap scan (fetch and sort every match: 28,000 rows for "andersson" at 1,000,000
        /// patients) or by walking the whole name order with the OR as a filter (400 ms). As in the
        /// registry's name search (PatientRegistry.SearchByNameAsync, migration 0003's indexes), the
        /// candidates are a UNION of one range scan per column, each cut at @window in result order
        /// (the last part of a double family name is not cut: its partial index is small, and with a
        /// LIMIT the planner walks the whole name order instead); the first @window of that union are
        /// the first @window of all matches, and only those rows are fetched.
        /// </summary>
        public string PageSql(string columns) => Branches is null
            ? $"SELECT {columns} FROM patient p WHERE {Where} ORDER BY {OrderBy} LIMIT @limit OFFSET @offset"
            : $"""
              SELECT {columns} FROM patient p WHERE p.id IN (
                  SELECT id FROM (
              {string.Join("\nUNION\n", Branches.Select((branch, i) =>
                  $"    SELECT id, family_search, given_search FROM (SELECT p.id, p.family_search, p.given_search FROM patient p WHERE {branch}) AS b{i}"))}
                  ) AS candidate
                  ORDER BY family_search, given_search, id LIMIT @window)
              ORDER BY {OrderBy} LIMIT @limit OFFSET @offset
              """;
    }

    public static Query Build(FhirSearchRequest request, bool strict)
    {
        var where = new List<string> { "p.merged_into_id IS NULL" };
        var values = new DynamicParameters();
        var ignored = request.Ignored.Select(i => i.Expression ?? i.Diagnostics).ToList();
        var n = 0;
        string Add(object? value)
        {
            var name = $"p{n++}";
            values.Add(name, value);
            return "@" + name;
        }

        // The one name criterion read by branches (see Query.PageSql): its position in where and its per-column conditions.
        (int At, IReadOnlyList<(string Condition, bool Cut)> Columns)? named = null;
        foreach (var criterion in request.Criteria)
        {
            var name = criterion.Parameter.Name;
            if (name is "name" or "family" or "given" && criterion.Modifier is null && criterion.Values.Count == 1 && named is null && request.Sort.Count == 0)
            {
                var columns = NameColumns(name, NameSearch.Fold(criterion.Values[0].Code), Add);
                named = (where.Count, columns);
                where.Add("(" + string.Join(" OR ", columns.Select(c => $"({c.Condition})")) + ")");
                continue;
            }
            var condition = (name, criterion.Modifier) switch
            {
                ("birthdate", "missing") => criterion.Missing == true ? "p.birth_date IS NULL" : "p.birth_date IS NOT NULL",
                (_, "missing" or "not") => null,
                ("_id", _) => Any(criterion, o => $"(CAST(p.id AS text) = {Add(o.Code)} OR p.id IN (SELECT r.patient_id FROM fhir_resource r WHERE r.resource_type = 'Patient' AND r.id = {Add(o.Code)}))"),
                ("identifier", _) => Any(criterion, o => IdentifierCondition(o, Add)),
                ("name" or "family" or "given", "exact") => Any(criterion, o => ExactNameCondition(name, o.Code, Add)),
                ("name" or "family" or "given", _) => Any(criterion, o => NameCondition(name, criterion.Modifier, NameSearch.Fold(o.Code), Add)),
                ("gender", _) => Any(criterion, o => $"p.sex = {Add(SexOf(o.Code))}"),
                ("birthdate", _) => Any(criterion, o => DateCondition("p.birth_date", o, DateOnly.FromDateTime(o.Low.UtcDateTime), DateOnly.FromDateTime(o.High.UtcDateTime), Add)),
                ("_lastUpdated", _) => Any(criterion, o => DateCondition("p.updated_at", o, o.Low, o.High, Add)),
                _ => null,
            };
            if (condition is not null)
            {
                where.Add(condition);
                continue;
            }
            var key = criterion.Modifier is null ? name : $"{name}:{criterion.Modifier}";
            if (strict) throw new FhirException(FhirFailureKind.Invalid, "not-supported", key, $"Patient search does not support '{key}'.");
            ignored.Add(key);
        }

        var orderBy = request.Sort.Count == 0 ? "p.family_search, p.given_search, p.id" : string.Join(", ", request.Sort.Select(s =>
        {
            var direction = s.Descending ? " DESC" : "";
            return s.Parameter.Name switch
            {
                "family" or "name" => $"p.family_search{direction}, p.given_search{direction}",
                "given" => $"p.given_search{direction}",
                "birthdate" => $"p.birth_date{direction}",
                "_lastUpdated" => $"p.updated_at{direction}",
                "_id" => $"p.id{direction}",
                _ => throw new FhirException(FhirFailureKind.Invalid, "invalid", "_sort", $"Patient search cannot sort by '{s.Parameter.Name}'."),
            };
        })) + ", p.id";
        IReadOnlyList<string>? branches = null;
        if (named is { } branched)
        {
            var others = where.Where((_, i) => i != branched.At).ToList();
            branches = branched.Columns.Select(c => string.Join(" AND ", others.Append(c.Condition))
                + (c.Cut ? " ORDER BY p.family_search, p.given_search, p.id LIMIT @window" : "")).ToList();
        }
        return new Query(string.Join(" AND ", where), values, orderBy, request, ignored, branches);
    }

    /// <summary>
    /// A name prefix on each indexed name column (whole folded name, and its last word, so "lind"
    /// finds "Öström-Lind" too). A last-word column only where it differs from the whole: otherwise
    /// the whole-name column finds the row, and the condition matches the partial indexes of
    /// migration 0003. Cut: whether the column's branch may stop at the page's end (see Query.PageSql).
    /// </summary>
    private static List<(string Condition, bool Cut)> NameColumns(string parameter, string folded, Func<object?, string> add)
    {
        (string Column, string? UnlessSame, bool Cut)[] columns = parameter switch
        {
            "family" => [("p.family_search", null, true), ("p.family_last_search", "p.family_search", false)],
            "given" => [("p.given_search", null, true), ("p.given_last_search", "p.given_search", true)],
            _ => [("p.family_search", null, true), ("p.family_last_search", "p.family_search", false), ("p.given_search", null, true), ("p.given_last_search", "p.given_search", true)],
        };
        var (low, high) = (add(folded), add(NameSearch.PrefixUpperBound(folded)));
        return columns.Select(c => ($"{(c.UnlessSame is null ? "" : $"{c.Column} <> {c.UnlessSame} AND ")}{c.Column} >= {low} AND {c.Column} < {high}", c.Cut)).ToList();
    }

    private static string Any(FhirSearchCriterion criterion, Func<FhirSearchOperand, string> condition) =>
        "(" + string.Join(" OR ", criterion.Values.Select(o => $"({condition(o)})")) + ")";

    private static string IdentifierCondition(FhirSearchOperand operand, Func<object?, string> add)
    {
        var code = operand.Code ?? throw new FhirException(FhirFailureKind.Invalid, "value", "identifier", "identifier needs a value (system|value or value).");
        var system = operand.NoSystem ? "" : operand.System;
        var swedish = system is null || FhirPatientMapping.IsSwedishSystem(system);
        var stored = $"""
            SELECT r.patient_id FROM fhir_resource r JOIN fhir_search s ON s.resource_type = r.resource_type AND s.id = r.id
                     WHERE r.resource_type = 'Patient' AND s.param = 'identifier' AND s.value = {add(code)}{(system is null ? "" : $" AND s.system = {add(system)}")}
            """;
        // One IN over a UNION, not "p.identifier = … OR p.id IN (…)": with the OR, PostgreSQL walks all
        // 1,000,000 patients testing both (630 ms); as a UNION each side is its own index lookup (2 ms).
        return swedish
            ? $"p.id IN (SELECT x.id FROM patient x WHERE x.identifier = {add(code.Replace("-", "", StringComparison.Ordinal))} UNION ALL {stored})"
            : $"p.id IN ({stored})";
    }

    private static string NameCondition(string parameter, string? modifier, string folded, Func<object?, string> add)
    {
        // Each name has its whole folded form and its last word indexed, so "lind" finds "Öström-Lind" too.
        string[] columns = parameter switch
        {
            "family" => ["p.family_search", "p.family_last_search"],
            "given" => ["p.given_search", "p.given_last_search"],
            _ => ["p.family_search", "p.family_last_search", "p.given_search", "p.given_last_search"],
        };
        var low = add(folded);
        if (modifier == "contains") return string.Join(" OR ", columns.Select(c => $"{c} LIKE '%' || {low} || '%'"));
        var high = add(NameSearch.PrefixUpperBound(folded));
        return string.Join(" OR ", columns.Select(c => $"({c} >= {low} AND {c} < {high})"));
    }

    /// <summary>:exact is the name as written, letter for letter (FHIR: case and accents count).</summary>
    private static string ExactNameCondition(string parameter, string? text, Func<object?, string> add)
    {
        var value = add(text);
        return parameter switch
        {
            "family" => $"p.family_name = {value}",
            "given" => $"p.given_names = {value}",
            _ => $"p.family_name = {value} OR p.given_names = {value}",
        };
    }

    private static string SexOf(string? gender) => gender switch
    {
        "female" => "Female",
        "male" => "Male",
        "unknown" or "other" => "Unknown",
        _ => throw new FhirException(FhirFailureKind.Invalid, "value", "gender", $"gender '{gender}' is not male, female, other or unknown."),
    };

    /// <summary>A date prefix against a date or timestamp column holding one value (a day, an instant): FHIR's range rules reduce to these.</summary>
    private static string DateCondition<T>(string column, FhirSearchOperand operand, T low, T high, Func<object?, string> add)
    {
        var (from, to) = (add(low), add(high));
        return operand.Prefix switch
        {
            FhirSearchPrefix.Ne => $"({column} < {from} OR {column} >= {to})",
            FhirSearchPrefix.Lt or FhirSearchPrefix.Eb => $"{column} < {from}",
            FhirSearchPrefix.Le => $"{column} < {to}",
            FhirSearchPrefix.Gt or FhirSearchPrefix.Sa => $"{column} >= {to}",
            FhirSearchPrefix.Ge => $"{column} >= {from}",
            _ => $"{column} >= {from} AND {column} < {to}",
        };
    }
}
