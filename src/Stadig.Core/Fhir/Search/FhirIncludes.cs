using System.Data.Common;
using Dapper;
using Stadig.Storage;

using Stadig.Fhir.Store;

namespace Stadig.Fhir.Search;

/// <summary>
/// _include and _revinclude, read from the search index: the references the matches make, and the
/// resources that refer to the matches. Access to what is found is the caller's to decide.
/// </summary>
public static class FhirIncludes
{
    /// <summary>At most this many resources are added by _revinclude to one page.</summary>
    public const int MaxRevIncluded = 1000;
    private const int IdsPerQuery = 500;

    /// <summary>The "Type/id" references the matches make along the request's _include parameters.</summary>
    public static async Task<IReadOnlyList<string>> IncludeTargetsAsync(DbConnection connection, FhirSearchRequest request,
        IReadOnlyList<(string Type, string Id)> matches, CancellationToken cancellationToken = default)
    {
        var found = new SortedSet<string>(StringComparer.Ordinal);
        if (request.Includes.Count == 0) return [];
        foreach (var group in matches.GroupBy(m => m.Type))
        {
            var includes = request.Includes.Where(i => i.SourceType == group.Key).ToList();
            if (includes.Count == 0) continue;
            foreach (var chunk in group.Select(m => m.Id).Distinct().Chunk(IdsPerQuery))
            {
                var parameters = new DynamicParameters();
                parameters.AddText("type", group.Key);
                var ids = AddList(parameters, "id", chunk);
                var paths = includes.Select((include, i) =>
                {
                    parameters.AddText($"param{i}", include.Param);
                    return include.TargetType is null
                        ? $"s.param = @param{i}"
                        : $"(s.param = @param{i} AND {FhirSearchSql.StartsWith(parameters, "s.value", $"target{i}", include.TargetType + "/")})";
                });
                var sql = $"SELECT DISTINCT s.value FROM fhir_search s WHERE s.resource_type = @type AND s.id IN ({ids}) AND ({string.Join(" OR ", paths)})";
                found.UnionWith(await connection.QueryAsync<string>(new CommandDefinition(sql, parameters, cancellationToken: cancellationToken)));
            }
        }
        return [.. found];
    }

    /// <summary>The current, not deleted resources for "Type/id" references; the ones not stored are left out.</summary>
    public static async Task<IReadOnlyList<FhirResourceRow>> LoadAsync(DbConnection connection, IEnumerable<string> references,
        CancellationToken cancellationToken = default)
    {
        var rows = new List<FhirResourceRow>();
        var byType = references.Select(r => r.Split('/')).Where(p => p.Length == 2).GroupBy(p => p[0], p => p[1]);
        foreach (var group in byType)
        {
            foreach (var chunk in group.Distinct().Chunk(IdsPerQuery))
            {
                var parameters = new DynamicParameters();
                parameters.AddText("type", group.Key);
                var ids = AddList(parameters, "id", chunk);
                var sql = $"SELECT {FhirSearchSql.Columns} FROM fhir_resource r WHERE r.resource_type = @type AND r.id IN ({ids}) AND NOT r.deleted ORDER BY r.id";
                rows.AddRange(await connection.QueryAsync<FhirResourceRow>(new CommandDefinition(sql, parameters, cancellationToken: cancellationToken)));
            }
        }
        return rows;
    }

    /// <summary>The resources that refer to the matches along the request's _revinclude parameters (at most <see cref="MaxRevIncluded"/>).</summary>
    /// <param name="after">Keyset: only resources after this (type, id), so a caller that filters by access can read on until it has enough.</param>
    public static (string Sql, DynamicParameters Parameters) RevIncludeSql(FhirSearchRequest request, IReadOnlyList<(string Type, string Id)> matches,
        (string Type, string Id)? after = null)
    {
        var parameters = new DynamicParameters();
        var targets = AddList(parameters, "target", matches.Select(m => $"{m.Type}/{m.Id}").Distinct().ToList());
        var paths = request.RevIncludes.Select((include, i) =>
        {
            parameters.AddText($"source{i}", include.SourceType);
            parameters.AddText($"param{i}", include.Param);
            return $"(r.resource_type = @source{i} AND EXISTS (SELECT 1 FROM fhir_search s WHERE s.resource_type = r.resource_type AND s.id = r.id "
                + $"AND s.param = @param{i} AND s.value IN ({targets})))";
        });
        parameters.Add("limit", MaxRevIncluded);
        var keyset = "";
        if (after is { } last)
        {
            parameters.AddText("afterType", last.Type);
            parameters.AddText("afterId", last.Id);
            keyset = "AND (r.resource_type > @afterType OR (r.resource_type = @afterType AND r.id > @afterId)) ";
        }
        var sql = $"SELECT {FhirSearchSql.Columns} FROM fhir_resource r WHERE NOT r.deleted AND ({string.Join(" OR ", paths)}) {keyset}"
            + "ORDER BY r.resource_type, r.id LIMIT @limit";
        return (sql, parameters);
    }

    public static async Task<IReadOnlyList<FhirResourceRow>> RevIncludeAsync(DbConnection connection, FhirSearchRequest request,
        IReadOnlyList<(string Type, string Id)> matches, (string Type, string Id)? after = null, CancellationToken cancellationToken = default)
    {
        if (request.RevIncludes.Count == 0 || matches.Count == 0) return [];
        var (sql, parameters) = RevIncludeSql(request, matches, after);
        return [.. await connection.QueryAsync<FhirResourceRow>(new CommandDefinition(sql, parameters, cancellationToken: cancellationToken))];
    }

    private static string AddList(DynamicParameters parameters, string prefix, IReadOnlyList<string> values)
    {
        for (var i = 0; i < values.Count; i++) parameters.AddText($"{prefix}{i}", values[i]);
        return string.Join(", ", values.Select((_, i) => $"@{prefix}{i}"));
    }
}

/// <summary>One page of a search: the rows, and whether a next page exists.</summary>
public sealed record FhirSearchPage(IReadOnlyList<FhirResourceRow> Rows, bool HasNextPage);

/// <summary>Runs a parsed search: one page.</summary>
public static class FhirSearchRunner
{
    /// <summary>
    /// One page of the search; with <paramref name="visibleTo"/> (a search in one patient's compartment)
    /// only what the checkpoint lets the caller see is paged. Totals are the caller's to count (FhirService).
    /// </summary>
    public static async Task<FhirSearchPage> SearchAsync(DbConnection connection, FhirSearchRequest request, Guid? patientId,
        Access.PatientAccessContext? visibleTo = null, CancellationToken cancellationToken = default)
    {
        var engine = FhirSqlValues.EngineOf(connection);
        var (sql, parameters) = FhirSearchSql.Build(request, engine, patientId, visibleTo);
        var rows = (await connection.QueryAsync<FhirResourceRow>(new CommandDefinition(sql, parameters, cancellationToken: cancellationToken))).ToList();
        var hasNext = rows.Count > request.Count;
        return new FhirSearchPage(hasNext ? rows[..request.Count] : rows, hasNext);
    }
}
