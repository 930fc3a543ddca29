using System.Data.Common;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Access;
using Stadig.Chart;
using Stadig.Fhir;
using Stadig.Fhir.Records;
using Stadig.Fhir.Search;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Medication;

/// <summary>
/// A current medication another system sent, as the duplicate-therapy check reads it: the ATC groups
/// (<see cref="PrescribingChecks.GroupLength"/> characters, or the shorter code it was sent with) it
/// belongs to, and on what that rests. No groups: it could not be classified, and the check says so.
/// </summary>
public sealed record ForeignMedication(RecordEntry Entry, IReadOnlyList<string> Groups, string? Basis)
{
    public bool Classified => Groups.Count > 0;
}

/// <summary>
/// The medications other systems wrote over FHIR (MedicationRequest, MedicationStatement), as the medication
/// list shows them beside its own ordinations: read from the FHIR store as sent (never the list's published
/// copies), as the caller may see them, newest first. A product given only as a reference to a Medication
/// (contained, or stored on its own) is named by that Medication's code.
/// </summary>
public static class ExternalMedications
{
    internal static readonly string[] Types = ["MedicationRequest", "MedicationStatement"];

    /// <summary>Code systems that carry ATC codes: WHO's URI and HL7's OID for it.</summary>
    private static readonly HashSet<string> AtcSystems = new(StringComparer.OrdinalIgnoreCase)
    {
        MedicationOrderAsFhir.AtcSystem, "urn:oid:2.16.840.1.113883.6.73", "http://www.whocc.no/atc/",
    };

    /// <summary>
    /// International names the senders use where the Swedish catalogue has another substance name; the
    /// spelling differences (c/k, ph/f, th/t, a final e) are folded by <see cref="SpellingKey"/>.
    /// </summary>
    private static readonly IReadOnlyDictionary<string, string> Synonyms = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["acetaminophen"] = "paracetamol", ["apap"] = "paracetamol", ["aspirin"] = "acetylsalicylsyra",
        ["epinephrine"] = "adrenalin", ["norepinephrine"] = "noradrenalin", ["salicylic"] = "acetylsalicylsyra",
        ["clavulanate"] = "klavulansyra", ["valproate"] = "valproinsyra", ["valproic"] = "valproinsyra",
        ["alendronate"] = "alendronsyra", ["tranexamic"] = "tranexamsyra", ["folic"] = "folsyra",
        ["hydrochlorothiazide"] = "hydroklortiazid", ["phytonadione"] = "fytomenadion", ["glyceryl"] = "glyceryltrinitrat",
        ["nitroglycerin"] = "glyceryltrinitrat", ["lithium"] = "litium", ["colecalciferol"] = "kolekalciferol", ["cholecalciferol"] = "kolekalciferol",
    };

    /// <summary>A medication another system sent that still holds (R4 request and statement statuses).</summary>
    public static bool IsCurrent(RecordEntry e) => e.Status is null or "active" or "on-hold" or "intended" or "draft" or "unknown";

    internal static async Task<IReadOnlyList<RecordEntry>> ReadAsync(DbConnection connection, DatabaseEngine engine, PatientAccessContext context) =>
        (await ReadWithProductsAsync(connection, engine, context)).Select(e => e.Entry).ToList();

    /// <summary>
    /// The current ones, classified for the duplicate-therapy check, in order: an ATC coding as sent; an
    /// NPL id the catalogue knows; else the substance the name or a coding's display names, by the
    /// catalogue's substance names (single-substance products first). None of these: not classified.
    /// </summary>
    internal static async Task<IReadOnlyList<ForeignMedication>> CurrentClassifiedAsync(DbConnection connection, DatabaseEngine engine, PatientAccessContext context,
        IEnumerable<PatientRecordQueries.ExternalRow> rows, DbTransaction? transaction = null)
    {
        var current = (await WithProductsAsync(connection, engine, context, rows, transaction)).Where(e => IsCurrent(e.Entry)).ToList();
        if (current.Count == 0) return [];
        var result = new ForeignMedication?[current.Count];
        var npl = new Dictionary<int, string>();
        for (var i = 0; i < current.Count; i++)
        {
            var codings = Codings(current[i].Product);
            var atc = codings.Where(c => AtcSystems.Contains(c.System)).Select(c => c.Code.ToUpperInvariant()).FirstOrDefault(PrescribingChecks.IsAtcCode);
            if (atc is not null)
                result[i] = new ForeignMedication(current[i].Entry, [PrescribingChecks.Group(atc)], $"ATC {atc}");
            else if (codings.Where(c => c.System == MedicationOrderAsFhir.NplSystem).Select(c => c.Code).FirstOrDefault() is { } nplCode)
                npl[i] = nplCode;
        }
        if (npl.Count > 0)
        {
            var known = (await connection.QueryAsync<(string Npl, string Atc)>(
                    "SELECT npl_id, atc_code FROM medication_product WHERE " + (engine == DatabaseEngine.Postgres ? "npl_id = ANY(@ids)" : "npl_id IN @ids"),
                    new { ids = npl.Values.Distinct().ToArray() }, transaction))
                .ToDictionary(r => r.Npl, r => r.Atc, StringComparer.Ordinal);
            foreach (var (i, id) in npl)
                if (known.TryGetValue(id, out var atc) && atc.Length > 0)
                    result[i] = new ForeignMedication(current[i].Entry, [PrescribingChecks.Group(atc)], $"NPL-id {id}, ATC {atc}");
        }
        if (result.Any(r => r is null))
        {
            var texts = Enumerable.Range(0, current.Count).Where(i => result[i] is null).ToDictionary(i => i, i => NameTexts(current[i]));
            var substances = await SubstanceGroupsAsync(connection, texts.Values.SelectMany(t => t), transaction);
            for (var i = 0; i < current.Count; i++)
            {
                if (result[i] is not null) continue;
                var words = texts[i].Select(SpellingKey).ToList();
                var named = substances.Where(s => Names(words, s.Key)).Select(s => s.Value).ToList();
                result[i] = named.Count == 0
                    ? new ForeignMedication(current[i].Entry, [], null)
                    : new ForeignMedication(current[i].Entry, named.SelectMany(s => s.Groups).Distinct().ToList(),
                        "substans " + string.Join(", ", named.Select(s => s.Name)));
            }
        }
        return result.Select(r => r!).ToList();
    }

    /// <summary>The folded spelling key of a substance name: "amlodipine" and "amlodipin", "diclofenac" and "diklofenak" are one.</summary>
    public static string SpellingKey(string word)
    {
        var w = NameSearch.Fold(word);
        if (Synonyms.TryGetValue(w, out var swedish)) w = swedish;
        w = w.Replace("ph", "f", StringComparison.Ordinal).Replace("th", "t", StringComparison.Ordinal).Replace("ch", "k", StringComparison.Ordinal)
            .Replace("qu", "kv", StringComparison.Ordinal).Replace('c', 'k').Replace('y', 'i').Replace('z', 's');
        var collapsed = new System.Text.StringBuilder(w.Length);
        foreach (var c in w)
            if (collapsed.Length == 0 || collapsed[^1] != c) collapsed.Append(c);
        if (collapsed.Length > 4 && collapsed[^1] == 'e') collapsed.Length--;
        return collapsed.ToString();
    }

    /// <summary>The folded words naming the product, in order: the text and every coding's display.</summary>
    private static IReadOnlyList<string> NameTexts((RecordEntry Entry, JsonNode? Product) e)
    {
        var texts = new List<string> { e.Entry.Title };
        if (FhirJson.String(e.Product?["text"]) is { } text) texts.Add(text);
        if (e.Product?["coding"] is JsonArray codings)
            texts.AddRange(codings.Select(c => FhirJson.String(c?["display"])).OfType<string>());
        return texts.SelectMany(NameSearch.Words).ToList();
    }

    /// <summary>The substance's words stand in order among the name's words (whole words: "insulin glargin", never "statin" in "nystatin").</summary>
    private static bool Names(IReadOnlyList<string> words, string substanceKey)
    {
        var parts = substanceKey.Split(' ');
        for (var i = 0; i + parts.Length <= words.Count; i++)
        {
            var j = 0;
            while (j < parts.Length && words[i + j] == parts[j]) j++;
            if (j == parts.Length) return true;
        }
        return false;
    }

    /// <summary>
    /// Each catalogue substance (by its spelling key) with the ATC groups of the products that hold it,
    /// those of single-substance products where there are any: paracetamol is N02BE, not also N02AJ for
    /// the codeine combination.
    /// </summary>
    /// <remarks>
    /// Only substances beginning as one of <paramref name="words"/> does, as sent or by its spelling key ("clo…"
    /// and "klo…" for clopidogrel), are read — a range on the substance index each, so a region's full
    /// catalogue is never read whole for one prescription.
    /// </remarks>
    private static async Task<IReadOnlyDictionary<string, (string Name, IReadOnlyList<string> Groups)>> SubstanceGroupsAsync(DbConnection connection,
        IEnumerable<string> words, DbTransaction? transaction)
    {
        var prefixes = words.Where(w => w.Length >= 4 && !w.All(char.IsDigit))
            .SelectMany(w => new[] { w, Synonyms.GetValueOrDefault(w) ?? w, SpellingKey(w) })
            .Where(w => w.Length >= 3).Select(w => w[..3]).Distinct(StringComparer.Ordinal).Take(40).ToList();
        if (prefixes.Count == 0) return new Dictionary<string, (string, IReadOnlyList<string>)>();
        var sql = new System.Text.StringBuilder(
            """
            SELECT s.name_search, p.atc_code, (SELECT COUNT(*) FROM medication_substance o WHERE o.product_id = p.id)
            FROM medication_substance s JOIN medication_product p ON p.id = s.product_id
            WHERE p.atc_code <> '' AND (
            """);
        var parameters = new DynamicParameters();
        for (var i = 0; i < prefixes.Count; i++)
        {
            sql.Append(i == 0 ? "" : " OR ").Append($"(s.name_search >= @from{i} AND s.name_search < @to{i})");
            parameters.AddText($"from{i}", prefixes[i]);
            parameters.AddText($"to{i}", NameSearch.PrefixUpperBound(prefixes[i]));
        }
        sql.Append(')');
        var rows = await connection.QueryAsync<(string Name, string Atc, long Count)>(sql.ToString(), parameters, transaction);
        return rows.Where(r => r.Name.Length >= 4)
            .GroupBy(r => string.Join(' ', r.Name.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(SpellingKey)), StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g =>
            {
                var single = g.Where(r => r.Count == 1).ToList();
                return (g.First().Name, (IReadOnlyList<string>)(single.Count > 0 ? single : g.ToList()).Select(r => PrescribingChecks.Group(r.Atc)).Distinct().ToList());
            }, StringComparer.Ordinal);
    }

    private static IReadOnlyList<(string System, string Code)> Codings(JsonNode? concept) =>
        (concept?["coding"] as JsonArray)?.Select(c => (System: FhirJson.String(c?["system"]) ?? "", Code: FhirJson.String(c?["code"]) ?? ""))
            .Where(c => c.Code.Length > 0).ToList() ?? [];

    /// <summary>Each resource's entry with the CodeableConcept naming its product (its own, or its Medication's).</summary>
    private static async Task<IReadOnlyList<(RecordEntry Entry, JsonNode? Product)>> ReadWithProductsAsync(DbConnection connection, DatabaseEngine engine,
        PatientAccessContext context) =>
        await WithProductsAsync(connection, engine, context, await PatientRecordQueries.ExternalAsync(connection, engine, context.PatientId, Types));

    /// <summary>As <see cref="ReadWithProductsAsync"/> from rows already read (those of <see cref="Types"/> among them), as the caller may see them.</summary>
    private static async Task<IReadOnlyList<(RecordEntry Entry, JsonNode? Product)>> WithProductsAsync(DbConnection connection, DatabaseEngine engine,
        PatientAccessContext context, IEnumerable<PatientRecordQueries.ExternalRow> external, DbTransaction? transaction = null)
    {
        var rows = external.Where(r => Types.Contains(r.ResourceType) && context.MaySee(r.UnitId ?? Guid.Empty)).ToList();
        var entries = new List<(RecordEntry Entry, JsonNode? Product)>(rows.Count);
        var referenced = new Dictionary<int, string>();
        foreach (var row in rows)
        {
            var resource = FhirJson.Parse(row.Content);
            var entry = FhirRecordReader.Read(resource, row.Row, row.UnitName);
            var product = resource["medicationCodeableConcept"];
            var reference = FhirJson.String(resource["medicationReference"]?["reference"]);
            if (reference is { Length: > 1 } && reference[0] == '#')
            {
                var contained = (resource["contained"] as JsonArray)?.OfType<JsonObject>()
                    .FirstOrDefault(c => FhirJson.String(c["id"]) == reference[1..]);
                product = contained?["code"];
                if (entry.Title.Length == 0) entry = entry with { Title = Name(product) ?? "", Code = FirstCode(product) };
            }
            else if (reference?.StartsWith("Medication/", StringComparison.Ordinal) == true)
            {
                referenced[entries.Count] = reference["Medication/".Length..];
            }
            entries.Add((entry, product));
        }
        if (referenced.Count > 0)
        {
            var products = (await connection.QueryAsync<(string Id, string Content)>(
                    "SELECT id, content FROM fhir_resource WHERE resource_type = 'Medication' AND NOT deleted AND "
                    + (engine == DatabaseEngine.Postgres ? "id = ANY(@ids)" : "id IN @ids"), new { ids = referenced.Values.Distinct().ToArray() }, transaction))
                .ToDictionary(p => p.Id, p => FhirJson.Parse(p.Content)["code"], StringComparer.Ordinal);
            foreach (var (index, id) in referenced)
            {
                if (!products.TryGetValue(id, out var code)) continue;
                var entry = entries[index].Entry;
                if (entry.Title.Length == 0) entry = entry with { Title = Name(code) ?? "", Code = FirstCode(code) };
                entries[index] = (entry, code);
            }
        }
        return entries.OrderByDescending(e => e.Entry.At).ToList();
    }

    private static string? Name(JsonNode? concept) =>
        FhirJson.String(concept?["text"]) ?? FhirJson.String(concept?["coding"]?[0]?["display"]) ?? FhirJson.String(concept?["coding"]?[0]?["code"]);

    private static string? FirstCode(JsonNode? concept) => FhirJson.String(concept?["coding"]?[0]?["code"]);
}
