using System.Net;
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
    public sealed record Query(string Where, DynamicParameters Parameters, string OrderBy, FhirSearchRequest Request, IReadOnlyList<string> Ignored);

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

        foreach (var criterion in request.Criteria)
        {
            var name = criterion.Parameter.Name;
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
            if (strict) throw new FhirException(HttpStatusCode.BadRequest, "not-supported", key, $"Patient search does not support '{key}'.");
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
                _ => throw new FhirException(HttpStatusCode.BadRequest, "invalid", "_sort", $"Patient search cannot sort by '{s.Parameter.Name}'."),
            };
        })) + ", p.id";
        return new Query(string.Join(" AND ", where), values, orderBy, request, ignored);
    }

    private static string Any(FhirSearchCriterion criterion, Func<FhirSearchOperand, string> condition) =>
        "(" + string.Join(" OR ", criterion.Values.Select(o => $"({condition(o)})")) + ")";

    private static string IdentifierCondition(FhirSearchOperand operand, Func<object?, string> add)
    {
        var code = operand.Code ?? throw new FhirException(HttpStatusCode.BadRequest, "value", "identifier", "identifier needs a value (system|value or value).");
        var system = operand.NoSystem ? "" : operand.System;
        var swedish = system is null || FhirPatientMapping.IsSwedishSystem(system);
        var stored = $"""
            p.id IN (SELECT r.patient_id FROM fhir_resource r JOIN fhir_search s ON s.resource_type = r.resource_type AND s.id = r.id
                     WHERE r.resource_type = 'Patient' AND s.param = 'identifier' AND s.value = {add(code)}{(system is null ? "" : $" AND s.system = {add(system)}")})
            """;
        return swedish ? $"p.identifier = {add(code.Replace("-", "", StringComparison.Ordinal))} OR {stored}" : stored;
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
        _ => throw new FhirException(HttpStatusCode.BadRequest, "value", "gender", $"gender '{gender}' is not male, female, other or unknown."),
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
