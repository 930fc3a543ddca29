using System.Globalization;
using System.Net;
using System.Text;
using Dapper;
using Stadig.Fhir.Search;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Fhir.Patients;

/// <summary>
/// Patient search runs on the registry table, where every patient is (also the million registered
/// without a stored FHIR resource), with its indexes: folded-name prefixes, the identity number,
/// the birth date. Identifiers of other systems that a sender stored are found through the FHIR
/// search index of the linked Patient resource.
/// </summary>
public static class FhirPatientSearch
{
    public sealed record Query(string Where, DynamicParameters Parameters, string OrderBy, int Count, int Offset, IReadOnlyList<string> Ignored, bool CountOnly);

    private static readonly HashSet<string> Known = ["_id", "identifier", "name", "family", "given", "birthdate", "gender", "_lastUpdated",
        "_count", "_offset", "_sort", "_total", "_summary", "_format", "_pretty", "_elements", "_include", "_revinclude"];

    public static Query Parse(IEnumerable<KeyValuePair<string, string>> parameters, bool strict, DatabaseEngine engine)
    {
        var where = new List<string> { "p.merged_into_id IS NULL" };
        var values = new DynamicParameters();
        var ignored = new List<string>();
        int count = 20, offset = 0;
        var orderBy = "p.family_search, p.given_search, p.id";
        var countOnly = false;
        var n = 0;
        string Name() => $"p{n++}";

        foreach (var (rawName, value) in parameters)
        {
            var modifier = rawName.Contains(':') ? rawName[(rawName.IndexOf(':') + 1)..] : null;
            var name = modifier is null ? rawName : rawName[..rawName.IndexOf(':')];
            if (!Known.Contains(name) || modifier is not (null or "exact" or "contains"))
            {
                if (strict) throw new FhirException(HttpStatusCode.BadRequest, "not-supported", rawName, $"Patient search does not support the parameter '{rawName}'.");
                ignored.Add(rawName);
                continue;
            }
            var alternatives = new List<string>();
            foreach (var one in value.Split(','))
            {
                switch (name)
                {
                    case "_id":
                        var idName = Name();
                        values.Add(idName, one);
                        // A stored Patient's own id, or the registry id of a patient registered in Stadig.
                        alternatives.Add($"(CAST(p.id AS text) = @{idName} OR p.id IN (SELECT r.patient_id FROM fhir_resource r WHERE r.resource_type = 'Patient' AND r.id = @{idName}))");
                        break;
                    case "identifier":
                        var (system, code) = one.Contains('|') ? (one[..one.IndexOf('|')], one[(one.IndexOf('|') + 1)..]) : (null, one);
                        var valueName = Name();
                        values.Add(valueName, code.Replace("-", "", StringComparison.Ordinal));
                        var rawName2 = Name();
                        values.Add(rawName2, code);
                        var systemName = Name();
                        values.Add(systemName, system);
                        var swedish = system is null or "" || system is PatientIdentifierSystems.Personnummer or PatientIdentifierSystems.PersonnummerOid
                            or PatientIdentifierSystems.Samordningsnummer or PatientIdentifierSystems.SamordningsnummerOid or PatientIdentifierSystems.Reservnummer;
                        alternatives.Add((swedish ? $"p.identifier = @{valueName} OR " : "") +
                            $"""
                             p.id IN (SELECT r.patient_id FROM fhir_resource r JOIN fhir_search s ON s.resource_type = r.resource_type AND s.id = r.id
                                      WHERE r.resource_type = 'Patient' AND s.param = 'identifier' AND s.value = @{rawName2}{(system is null ? "" : $" AND s.system = @{systemName}")})
                             """);
                        break;
                    case "name" or "family" or "given":
                        var folded = NameSearch.Fold(one);
                        if (folded.Length == 0) throw new FhirException(HttpStatusCode.BadRequest, "value", rawName, $"{rawName} needs a name to search for.");
                        var (low, high) = (Name(), Name());
                        values.Add(low, folded);
                        values.Add(high, modifier == "exact" ? folded + "\u0000" : NameSearch.PrefixUpperBound(folded));
                        string Range(string column) => modifier == "exact" ? $"{column} = @{low}" : $"({column} >= @{low} AND {column} < @{high})";
                        var columns = name switch
                        {
                            "family" => new[] { "p.family_search", "p.family_last_search" },
                            "given" => ["p.given_search", "p.given_last_search"],
                            _ => ["p.family_search", "p.family_last_search", "p.given_search", "p.given_last_search"],
                        };
                        alternatives.Add(modifier == "contains"
                            ? string.Join(" OR ", columns.Take(name == "name" ? 4 : 1).Where((_, i) => i % 2 == 0).Select(c => $"{c} LIKE '%' || @{low} || '%'"))
                            : string.Join(" OR ", columns.Select(Range)));
                        break;
                    case "gender":
                        var sex = one switch
                        {
                            "female" => "Female", "male" => "Male", "unknown" or "other" => "Unknown",
                            _ => throw new FhirException(HttpStatusCode.BadRequest, "value", "gender", $"gender '{one}' is not male, female, other or unknown."),
                        };
                        var sexName = Name();
                        values.Add(sexName, sex);
                        alternatives.Add($"p.sex = @{sexName}");
                        break;
                    case "birthdate":
                        alternatives.Add(DateCondition("p.birth_date", one, "birthdate", values, Name, asDate: true, engine));
                        break;
                    case "_lastUpdated":
                        alternatives.Add(DateCondition("p.updated_at", one, "_lastUpdated", values, Name, asDate: false, engine));
                        break;
                    case "_count":
                        if (!int.TryParse(one, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count > 1000)
                            throw new FhirException(HttpStatusCode.BadRequest, "value", "_count", $"_count '{one}' is not a number from 0 to 1000.");
                        break;
                    case "_offset":
                        if (!int.TryParse(one, NumberStyles.None, CultureInfo.InvariantCulture, out offset))
                            throw new FhirException(HttpStatusCode.BadRequest, "value", "_offset", $"_offset '{one}' is not a non-negative number.");
                        break;
                    case "_summary":
                        countOnly = one == "count";
                        break;
                    case "_sort":
                        orderBy = string.Join(", ", value.Split(',').Select(key => (key.TrimStart('-'), key.StartsWith('-') ? " DESC" : "") switch
                        {
                            ("family" or "name", var d) => $"p.family_search{d}, p.given_search{d}",
                            ("given", var d) => $"p.given_search{d}",
                            ("birthdate", var d) => $"p.birth_date{d}",
                            ("_lastUpdated", var d) => $"p.updated_at{d}",
                            ("_id", var d) => $"p.id{d}",
                            _ => throw new FhirException(HttpStatusCode.BadRequest, "value", "_sort", $"Patient search cannot sort by '{key}'."),
                        })) + ", p.id";
                        goto done;
                }
            }
            if (alternatives.Count > 0) where.Add("(" + string.Join(" OR ", alternatives.Select(a => $"({a})")) + ")");
            done:;
        }
        return new Query(string.Join(" AND ", where), values, orderBy, count, offset, ignored, countOnly);
    }

    /// <summary>A date parameter with its prefix (eq, ne, lt, le, gt, ge, sa, eb) against a date or timestamp column.</summary>
    private static string DateCondition(string column, string text, string parameter, DynamicParameters values, Func<string> name, bool asDate, DatabaseEngine engine)
    {
        var prefix = text.Length > 2 && char.IsAsciiLetterLower(text[0]) && char.IsAsciiLetterLower(text[1]) ? text[..2] : "eq";
        var date = prefix == "eq" && !text.StartsWith("eq", StringComparison.Ordinal) ? text : text[2..];
        if (!FhirDateRange.TryParse(date, out var range))
            throw new FhirException(HttpStatusCode.BadRequest, "value", parameter, $"{parameter} '{text}' is not a FHIR date (yyyy, yyyy-MM, yyyy-MM-dd or a dateTime).");
        var (low, high) = (name(), name());
        if (asDate)
        {
            values.Add(low, DateOnly.FromDateTime(range.Low.UtcDateTime));
            values.Add(high, DateOnly.FromDateTime(range.High.UtcDateTime));
        }
        else
        {
            values.Add(low, range.Low);
            values.Add(high, range.High);
        }
        _ = engine;
        return prefix switch
        {
            "eq" => $"{column} >= @{low} AND {column} < @{high}",
            "ne" => $"({column} < @{low} OR {column} >= @{high})",
            "lt" or "eb" => $"{column} < @{low}",
            "le" => $"{column} < @{high}",
            "gt" or "sa" => $"{column} >= @{high}",
            "ge" => $"{column} >= @{low}",
            _ => throw new FhirException(HttpStatusCode.BadRequest, "value", parameter, $"'{prefix}' is not a date prefix (eq, ne, lt, le, gt, ge, sa, eb)."),
        };
    }
}

/// <summary>The identifier systems a Swedish patient's number may come with.</summary>
public static class PatientIdentifierSystems
{
    public const string Personnummer = Stadig.Patients.Identifiers.PatientIdentifier.PersonnummerSystem;
    public const string PersonnummerOid = FhirPatientMapping.PersonnummerOid;
    public const string Samordningsnummer = FhirPatientMapping.SamordningsnummerSystem;
    public const string SamordningsnummerOid = FhirPatientMapping.SamordningsnummerOid;
    public const string Reservnummer = Stadig.Patients.Identifiers.PatientIdentifier.ReservnummerSystem;
}
