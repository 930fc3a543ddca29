using System.Data;
using System.Text;
using Dapper;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Fhir.Search;

/// <summary>
/// SQL for a parsed search that both engines run: each criterion is an EXISTS over fhir_search
/// (AND between criteria, OR between a criterion's values), sorted, one page plus one row so that the
/// caller knows whether there is a next page.
/// </summary>
public static class FhirSearchSql
{
    internal const string Columns =
        "r.resource_type AS ResourceType, r.id AS Id, r.version_id AS VersionId, r.patient_id AS PatientId, r.unit_id AS UnitId, r.last_updated AS LastUpdated, r.content AS Content";

    /// <param name="visibleTo">The checkpoint's facts for the one patient searched: only the rows they let the caller see are paged.</param>
    public static (string Sql, DynamicParameters Parameters) Build(FhirSearchRequest request, DatabaseEngine engine, Guid? patientId,
        Access.PatientAccessContext? visibleTo = null)
    {
        var builder = new Builder(engine);
        var where = builder.Where(request, patientId, visibleTo);
        builder.Parameters.Add("limit", request.Count + 1, DbType.Int32);
        builder.Parameters.Add("offset", request.Offset, DbType.Int32);
        var sql = $"SELECT {Columns} FROM fhir_resource r WHERE {where} ORDER BY {builder.OrderBy(request)} LIMIT @limit OFFSET @offset";
        return (sql, builder.Parameters);
    }

    public static (string Sql, DynamicParameters Parameters) BuildCount(FhirSearchRequest request, DatabaseEngine engine, Guid? patientId,
        Access.PatientAccessContext? visibleTo = null)
    {
        var builder = new Builder(engine);
        var where = builder.Where(request, patientId, visibleTo);
        return ($"SELECT COUNT(*) FROM fhir_resource r WHERE {where}", builder.Parameters);
    }

    /// <summary>A count across patients, per patient and writing unit, for the checkpoint to decide per patient what counts.</summary>
    public static (string Sql, DynamicParameters Parameters) BuildCountPerPatient(FhirSearchRequest request, DatabaseEngine engine)
    {
        var builder = new Builder(engine);
        var where = builder.Where(request, null, null);
        return ($"SELECT r.patient_id AS PatientId, r.unit_id AS UnitId, COUNT(*) AS Count FROM fhir_resource r WHERE {where} GROUP BY r.patient_id, r.unit_id",
            builder.Parameters);
    }

    /// <summary>"s.value starts with @prefix" as a range, so that the (value) index is used.</summary>
    internal static string StartsWith(DynamicParameters parameters, string column, string name, string prefix)
    {
        parameters.AddText(name, prefix);
        parameters.AddText(name + "end", NameSearch.PrefixUpperBound(prefix));
        return $"{column} >= @{name} AND {column} < @{name}end";
    }

    /// <summary>
    /// A date criterion on an instant column (last_updated, the audit log's occurred_at): the column is
    /// the range [t, t], compared with the value's range [<paramref name="low"/>, <paramref name="high"/>).
    /// </summary>
    internal static string InstantCondition(string column, FhirSearchPrefix prefix, string low, string high) => prefix switch
    {
        FhirSearchPrefix.Eq or FhirSearchPrefix.Ap => $"({column} >= {low} AND {column} < {high})",
        FhirSearchPrefix.Ne => $"NOT ({column} >= {low} AND {column} < {high})",
        FhirSearchPrefix.Gt or FhirSearchPrefix.Sa => $"{column} >= {high}",
        FhirSearchPrefix.Ge => $"{column} >= {low}",
        FhirSearchPrefix.Lt or FhirSearchPrefix.Eb => $"{column} < {low}",
        _ => $"{column} < {high}",
    };

    internal static string LikeEscape(string text) =>
        text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);

    private sealed class Builder(DatabaseEngine engine)
    {
        private int _next;
        public DynamicParameters Parameters { get; } = new();

        private string Add(string? text)
        {
            var name = "p" + _next++;
            Parameters.AddText(name, text);
            return "@" + name;
        }

        private string AddUnit(Guid unit)
        {
            var name = "p" + _next++;
            Parameters.AddGuid(engine, name, unit);
            return "@" + name;
        }

        private string AddTime(DateTimeOffset time)
        {
            var name = "p" + _next++;
            Parameters.AddTime(engine, name, time);
            return "@" + name;
        }

        private string AddNumber(double number)
        {
            var name = "p" + _next++;
            Parameters.Add(name, number, DbType.Double);
            return "@" + name;
        }

        public string Where(FhirSearchRequest request, Guid? patientId, Access.PatientAccessContext? visibleTo)
        {
            var conditions = new List<string> { $"r.resource_type = {Add(request.ResourceType)}", "NOT r.deleted" };
            if (patientId is not null)
            {
                Parameters.AddGuid(engine, "patientId", patientId);
                conditions.Add("r.patient_id = @patientId");
            }
            if (visibleTo is not null) conditions.Add(visibleTo.VisibleUnitsSql("r.unit_id", AddUnit));
            conditions.AddRange(request.Criteria.Select(Condition));
            return string.Join(" AND ", conditions);
        }

        private string Condition(FhirSearchCriterion criterion)
        {
            var parameter = criterion.Parameter;
            if (parameter.Name == "_id") return $"r.id IN ({string.Join(", ", criterion.Values.Select(v => Add(v.Code)))})";
            if (parameter.Name == "_lastUpdated") return Or(criterion.Values.Select(v => InstantCondition("r.last_updated", v)));

            var index = $"SELECT 1 FROM fhir_search s WHERE s.resource_type = r.resource_type AND s.id = r.id AND s.param = {Add(parameter.Name)}";
            if (criterion.Missing is { } missing) return $"{(missing ? "NOT " : "")}EXISTS ({index})";
            var values = Or(criterion.Values.Select(v => ValueCondition(criterion, v)));
            // :not is "no value of the parameter matches", which also takes resources without the parameter.
            return $"{(criterion.Modifier == "not" ? "NOT " : "")}EXISTS ({index} AND {values})";
        }

        private static string Or(IEnumerable<string> alternatives)
        {
            var list = alternatives.ToList();
            return list.Count == 1 ? list[0] : "(" + string.Join(" OR ", list.Select(a => $"({a})")) + ")";
        }

        private string ValueCondition(FhirSearchCriterion criterion, FhirSearchOperand value)
        {
            switch (criterion.Parameter.Type)
            {
                case FhirSearchParamType.Token:
                {
                    var parts = new List<string>();
                    if (value.System is not null) parts.Add($"s.system = {Add(value.System)}");
                    else if (value.NoSystem) parts.Add("s.system IS NULL");
                    if (value.Code is not null) parts.Add($"s.value = {Add(value.Code)}");
                    return string.Join(" AND ", parts);
                }
                case FhirSearchParamType.String:
                    return criterion.Modifier switch
                    {
                        "exact" => $"s.system = {Add(value.Code)}",
                        "contains" => $"s.value LIKE {Add("%" + LikeEscape(value.Code!) + "%")} ESCAPE '\\'",
                        _ => StartsWith(Parameters, "s.value", "p" + _next++, value.Code!),
                    };
                case FhirSearchParamType.Reference:
                    return value.References.Count > 0
                        ? $"s.value IN ({string.Join(", ", value.References.Select(Add))})"
                        : $"s.value LIKE {Add("%/" + LikeEscape(value.Code!))} ESCAPE '\\'";
                case FhirSearchParamType.Date:
                    return RangeCondition(value);
                case FhirSearchParamType.Number or FhirSearchParamType.Quantity:
                {
                    var parts = new List<string> { NumberCondition(value) };
                    if (value.System is not null) parts.Add($"s.system = {Add(value.System)}");
                    if (value.Code is not null) parts.Add($"s.value = {Add(value.Code)}");
                    return string.Join(" AND ", parts);
                }
                default:
                    return $"s.value = {Add(value.Code)}";
            }
        }

        /// <summary>
        /// FHIR date comparison between the value's range [pLow, pHigh) and the indexed range [low, high)
        /// (a null end is open): eq means within, gt/ge/lt/le that the range reaches beyond the bound,
        /// sa/eb that it lies wholly after/before, ap that the two overlap.
        /// </summary>
        private string RangeCondition(FhirSearchOperand value)
        {
            var (low, high) = (AddTime(value.Low), AddTime(value.High));
            var within = $"(s.low IS NOT NULL AND s.high IS NOT NULL AND s.low >= {low} AND s.high <= {high})";
            return value.Prefix switch
            {
                FhirSearchPrefix.Eq => within,
                FhirSearchPrefix.Ne => $"NOT {within}",
                FhirSearchPrefix.Gt => $"(s.high IS NULL OR s.high > {high})",
                FhirSearchPrefix.Ge => $"(s.high IS NULL OR s.high > {low})",
                FhirSearchPrefix.Lt => $"(s.low IS NULL OR s.low < {low})",
                FhirSearchPrefix.Le => $"(s.low IS NULL OR s.low < {high})",
                FhirSearchPrefix.Sa => $"(s.low IS NOT NULL AND s.low >= {high})",
                FhirSearchPrefix.Eb => $"(s.high IS NOT NULL AND s.high <= {low})",
                _ => $"((s.low IS NULL OR s.low < {high}) AND (s.high IS NULL OR s.high > {low}))",
            };
        }

        /// <summary>The same comparison for an instant column such as last_updated: the range [t, t].</summary>
        private string InstantCondition(string column, FhirSearchOperand value) =>
            FhirSearchSql.InstantCondition(column, value.Prefix, AddTime(value.Low), AddTime(value.High));

        private string NumberCondition(FhirSearchOperand value)
        {
            var number = AddNumber(value.Number);
            return value.Prefix switch
            {
                FhirSearchPrefix.Eq => $"(s.number >= {AddNumber(value.NumberLow)} AND s.number < {AddNumber(value.NumberHigh)})",
                FhirSearchPrefix.Ne => $"NOT (s.number >= {AddNumber(value.NumberLow)} AND s.number < {AddNumber(value.NumberHigh)})",
                FhirSearchPrefix.Gt or FhirSearchPrefix.Sa => $"s.number > {number}",
                FhirSearchPrefix.Ge => $"s.number >= {number}",
                FhirSearchPrefix.Lt or FhirSearchPrefix.Eb => $"s.number < {number}",
                FhirSearchPrefix.Le => $"s.number <= {number}",
                // Approximately: within 10 % either way.
                _ => $"(s.number >= {AddNumber(value.Number - Math.Abs(value.Number) * 0.1)} AND s.number <= {AddNumber(value.Number + Math.Abs(value.Number) * 0.1)})",
            };
        }

        public string OrderBy(FhirSearchRequest request)
        {
            if (request.Sort.Count == 0) return "r.last_updated DESC, r.id";
            var keys = new List<string>();
            foreach (var key in request.Sort)
            {
                var direction = key.Descending ? "DESC" : "ASC";
                switch (key.Parameter.Name)
                {
                    case "_id": keys.Add($"r.id {direction}"); break;
                    case "_lastUpdated": keys.Add($"r.last_updated {direction}"); break;
                    default:
                    {
                        // Ascending by the earliest value, descending by the latest; resources without one last on both engines.
                        var column = key.Parameter.Type switch
                        {
                            FhirSearchParamType.Date => "s.low",
                            FhirSearchParamType.Number or FhirSearchParamType.Quantity => "s.number",
                            _ => "s.value",
                        };
                        var value = $"(SELECT {(key.Descending ? "MAX" : "MIN")}({column}) FROM fhir_search s "
                            + $"WHERE s.resource_type = r.resource_type AND s.id = r.id AND s.param = {Add(key.Parameter.Name)})";
                        keys.Add($"CASE WHEN {value} IS NULL THEN 1 ELSE 0 END, {value} {direction}");
                        break;
                    }
                }
            }
            if (!request.Sort.Any(k => k.Parameter.Name == "_id")) keys.Add("r.id");
            return string.Join(", ", keys);
        }
    }
}
