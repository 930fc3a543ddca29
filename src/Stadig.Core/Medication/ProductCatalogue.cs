using System.Data.Common;
using System.Text.RegularExpressions;
using Dapper;
using Stadig.Fhir.Search;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Medication;

/// <summary>What an import did: products added, changed, and found as they were.</summary>
public sealed record CatalogueImportResult(int Added, int Updated, int Unchanged);

/// <summary>
/// The medicinal product catalogue: search for prescribing, and the import that loads a region's
/// catalogue file (<see cref="CatalogueFile"/>). Reference data, read by anyone signed in; not patient
/// data, so it needs no checkpoint.
/// </summary>
public sealed partial class ProductCatalogue(Database database, TimeProvider clock)
{
    public const int MaxResults = 50;

    /// <summary>Products written a transaction at a time: SQLite's one write lock is free between them, as for large lab messages.</summary>
    public const int ImportBatch = 500;

    private const string Columns =
        """
        id AS Id, npl_id AS NplId, name AS Name, substances AS Substances, strength AS Strength, strength_value AS StrengthValue,
        strength_unit AS StrengthUnit, dose_form AS DoseForm, route AS Route, atc_code AS AtcCode, max_daily_value AS MaxDailyValue,
        max_daily_unit AS MaxDailyUnit, high_risk AS HighRisk
        """;

    /// <summary>
    /// Products every typed word of which begins a word of the name, a substance, the strength or the ATC
    /// code (case and diacritics ignored: "jarn" finds "Järnsulfat", "n02b" the ATC group N02B), within
    /// <paramref name="atcPrefix"/> when given; by name and strength, at most <paramref name="limit"/>.
    /// </summary>
    public async Task<IReadOnlyList<MedicationProduct>> SearchAsync(string? text, string? atcPrefix = null, int limit = MaxResults,
        CancellationToken cancellationToken = default)
    {
        var words = NameSearch.Words(text).Distinct().Take(6).ToList();
        var atc = (atcPrefix ?? "").Trim().ToUpperInvariant();
        if (words.Count == 0 && atc.Length == 0) return [];
        var sql = new System.Text.StringBuilder($"SELECT {Columns} FROM medication_product p WHERE 1 = 1");
        var parameters = new DynamicParameters();
        for (var i = 0; i < words.Count; i++)
        {
            // A range on the term index per word: what a short prefix reads grows with its matches, never with the catalogue.
            sql.Append($" AND p.id IN (SELECT product_id FROM medication_search_term WHERE term >= @from{i} AND term < @to{i})");
            parameters.AddText($"from{i}", words[i]);
            parameters.AddText($"to{i}", NameSearch.PrefixUpperBound(words[i]));
        }
        if (atc.Length > 0)
        {
            sql.Append(" AND p.atc_code >= @atcFrom AND p.atc_code < @atcTo");
            parameters.AddText("atcFrom", atc);
            parameters.AddText("atcTo", NameSearch.PrefixUpperBound(atc));
        }
        sql.Append(" ORDER BY p.sort_key, p.id LIMIT @limit");
        parameters.Add("limit", Math.Clamp(limit, 1, MaxResults));
        await using var c = await database.OpenUnscopedAsync(cancellationToken);
        return (await c.QueryAsync<MedicationProduct>(new CommandDefinition(sql.ToString(), parameters, cancellationToken: cancellationToken))).AsList();
    }

    public async Task<MedicationProduct?> FindAsync(Guid id, CancellationToken cancellationToken = default)
    {
        await using var c = await database.OpenUnscopedAsync(cancellationToken);
        return await c.QuerySingleOrDefaultAsync<MedicationProduct>(
            new CommandDefinition($"SELECT {Columns} FROM medication_product WHERE id = @id", new { id }, cancellationToken: cancellationToken));
    }

    /// <summary>A product and its substances, for a batch (parameter @productId): read with <see cref="ReadProductAsync"/>.</summary>
    internal const string ProductSql =
        $"""
        SELECT {Columns} FROM medication_product WHERE id = @productId;
        SELECT name AS Name, strength_value AS Value, strength_unit AS Unit FROM medication_substance WHERE product_id = @productId ORDER BY seq
        """;

    internal static async Task<(MedicationProduct? Product, IReadOnlyList<ProductSubstance> Substances)> ReadProductAsync(SqlMapper.GridReader grid)
    {
        var product = await grid.ReadSingleOrDefaultAsync<MedicationProduct>();
        var substances = (await grid.ReadAsync<(string Name, double? Value, string? Unit)>())
            .Select(r => new ProductSubstance(r.Name, r.Value is { } v ? new Amount(v, r.Unit ?? "") : null)).ToList();
        return (product, substances);
    }

    /// <summary>The substances of a product, in catalogue order.</summary>
    public async Task<IReadOnlyList<ProductSubstance>> SubstancesAsync(Guid productId, CancellationToken cancellationToken = default)
    {
        await using var c = await database.OpenUnscopedAsync(cancellationToken);
        var rows = await c.QueryAsync<(string Name, double? Value, string? Unit)>(new CommandDefinition(
            "SELECT name, strength_value, strength_unit FROM medication_substance WHERE product_id = @productId ORDER BY seq", new { productId },
            cancellationToken: cancellationToken));
        return rows.Select(r => new ProductSubstance(r.Name, r.Value is { } v ? new Amount(v, r.Unit ?? "") : null)).ToList();
    }

    /// <summary>Loads the starter catalogue shipped with Stadig (common Swedish products, no NPL ids) into an empty catalogue.</summary>
    public async Task<bool> SeedIfEmptyAsync(CancellationToken cancellationToken = default)
    {
        await using (var c = await database.OpenUnscopedAsync(cancellationToken))
        {
            if (await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM medication_product", cancellationToken: cancellationToken)) > 0)
                return false;
        }
        using var stream = typeof(ProductCatalogue).Assembly.GetManifestResourceStream("Stadig.Medication.catalogue.csv")
            ?? throw new InvalidOperationException("The starter catalogue is not embedded.");
        using var reader = new StreamReader(stream);
        await ImportAsync(CatalogueFile.Read(reader), null, cancellationToken);
        return true;
    }

    /// <summary>
    /// Adds and updates the products of a checked file (<see cref="CatalogueFile.Read"/>), by product
    /// key; products not in the file are left as they are. Idempotent: a second run changes nothing.
    /// </summary>
    public async Task<CatalogueImportResult> ImportAsync(IReadOnlyList<CatalogueLine> lines, IProgress<string>? progress = null,
        CancellationToken cancellationToken = default)
    {
        var (added, updated, unchanged, done) = (0, 0, 0, 0);
        foreach (var batch in lines.Chunk(ImportBatch))
        {
            var (a, u, n) = await database.InUnscopedTransactionAsync((c, t) => WriteAsync(c, t, batch), cancellationToken);
            (added, updated, unchanged, done) = (added + a, updated + u, unchanged + n, done + batch.Length);
            progress?.Report($"{done} of {lines.Count} products written ({added} added, {updated} updated, {unchanged} unchanged)");
        }
        return new CatalogueImportResult(added, updated, unchanged);
    }

    private async Task<(int Added, int Updated, int Unchanged)> WriteAsync(DbConnection c, DbTransaction t, IReadOnlyList<CatalogueLine> batch)
    {
        var engine = FhirSqlValues.EngineOf(c);
        var keys = new DynamicParameters();
        for (var i = 0; i < batch.Count; i++) keys.AddText($"k{i}", batch[i].ProductKey);
        var existing = (await c.QueryAsync<MedicationProduct, string, (MedicationProduct Product, string Key)>(
            $"SELECT {Columns}, product_key AS ProductKey FROM medication_product WHERE product_key IN ({string.Join(", ", batch.Select((_, i) => $"@k{i}"))})",
            (product, key) => (product, key), keys, t, splitOn: "ProductKey")).ToDictionary(p => p.Key, p => p.Product, StringComparer.Ordinal);
        var now = clock.GetUtcNow();
        var (added, updated, unchanged) = (0, 0, 0);
        foreach (var line in batch)
        {
            var product = ToProduct(line, existing.TryGetValue(line.ProductKey, out var stored) ? stored.Id : Guid.CreateVersion7());
            if (stored is not null && stored == product && await SameSubstancesAsync(c, t, stored.Id, line.Substances))
            {
                unchanged++;
                continue;
            }
            var parameters = new DynamicParameters(new
            {
                key = line.ProductKey, product.NplId, product.Name, product.Substances, product.Strength, product.StrengthValue, product.StrengthUnit,
                product.DoseForm, product.Route, product.AtcCode, product.MaxDailyValue, product.MaxDailyUnit, product.HighRisk,
                sortKey = NameSearch.Fold(product.Name) + " " + SortableStrength(product), now,
            });
            parameters.AddGuid(engine, "id", product.Id);
            if (stored is null)
            {
                await c.ExecuteAsync(
                    """
                    INSERT INTO medication_product (id, product_key, npl_id, name, substances, strength, strength_value, strength_unit, dose_form, route,
                        atc_code, max_daily_value, max_daily_unit, high_risk, sort_key, updated_at)
                    VALUES (@id, @key, @NplId, @Name, @Substances, @Strength, @StrengthValue, @StrengthUnit, @DoseForm, @Route, @AtcCode,
                        @MaxDailyValue, @MaxDailyUnit, @HighRisk, @sortKey, @now)
                    """, parameters, t);
                added++;
            }
            else
            {
                await c.ExecuteAsync(
                    """
                    UPDATE medication_product SET npl_id = @NplId, name = @Name, substances = @Substances, strength = @Strength,
                        strength_value = @StrengthValue, strength_unit = @StrengthUnit, dose_form = @DoseForm, route = @Route, atc_code = @AtcCode,
                        max_daily_value = @MaxDailyValue, max_daily_unit = @MaxDailyUnit, high_risk = @HighRisk, sort_key = @sortKey, updated_at = @now
                    WHERE id = @id
                    """, parameters, t);
                await c.ExecuteAsync("DELETE FROM medication_substance WHERE product_id = @id", parameters, t);
                await c.ExecuteAsync("DELETE FROM medication_search_term WHERE product_id = @id", parameters, t);
                updated++;
            }
            for (var i = 0; i < line.Substances.Count; i++)
            {
                var substance = line.Substances[i];
                var row = new DynamicParameters(new { seq = i + 1, substance.Name, search = NameSearch.Fold(substance.Name), value = substance.Strength?.Value, unit = substance.Strength?.Unit });
                row.AddGuid(engine, "id", product.Id);
                await c.ExecuteAsync(
                    "INSERT INTO medication_substance (product_id, seq, name, name_search, strength_value, strength_unit) VALUES (@id, @seq, @Name, @search, @value, @unit)",
                    row, t);
            }
            var terms = Terms(product).ToList();
            var termParameters = new DynamicParameters();
            termParameters.AddGuid(engine, "id", product.Id);
            for (var i = 0; i < terms.Count; i++) termParameters.AddText($"t{i}", terms[i]);
            await c.ExecuteAsync(
                $"INSERT INTO medication_search_term (term, product_id) VALUES {string.Join(", ", terms.Select((_, i) => $"(@t{i}, @id)"))}", termParameters, t);
        }
        return (added, updated, unchanged);
    }

    private static async Task<bool> SameSubstancesAsync(DbConnection c, DbTransaction t, Guid productId, IReadOnlyList<ProductSubstance> substances)
    {
        var stored = (await c.QueryAsync<(string Name, double? Value, string? Unit)>(
            "SELECT name, strength_value, strength_unit FROM medication_substance WHERE product_id = @productId ORDER BY seq", new { productId }, t)).ToList();
        return stored.Count == substances.Count && stored.Zip(substances).All(p =>
            p.First.Name == p.Second.Name && p.First.Value == p.Second.Strength?.Value && (p.First.Unit ?? "") == (p.Second.Strength?.Unit ?? ""));
    }

    private static MedicationProduct ToProduct(CatalogueLine line, Guid id)
    {
        var single = line.Substances.Count == 1 ? line.Substances[0].Strength : null;
        return new MedicationProduct
        {
            Id = id, NplId = line.NplId, Name = line.Name, Substances = line.SubstanceText, Strength = line.Strength,
            StrengthValue = single?.Value, StrengthUnit = single?.Unit, DoseForm = line.DoseForm, Route = line.Route, AtcCode = line.AtcCode,
            MaxDailyValue = line.MaxDaily?.Value, MaxDailyUnit = line.MaxDaily?.Unit, HighRisk = line.HighRisk,
        };
    }

    /// <summary>The words a product is found by: its folded name, substances and strength, and its ATC code.</summary>
    private static IEnumerable<string> Terms(MedicationProduct product) =>
        NameSearch.Words(product.Name).Concat(NameSearch.Words(product.Substances)).Concat(NameSearch.Words(product.Strength))
            .Append(product.AtcCode.ToLowerInvariant()).Where(w => w.Length > 0).Distinct(StringComparer.Ordinal);

    /// <summary>Strengths in numeric order within a name ("5 mg" before "10 mg"): the amount zero-padded.</summary>
    private static string SortableStrength(MedicationProduct product) =>
        (product.StrengthValue is { } v ? v.ToString("0000000000.####", System.Globalization.CultureInfo.InvariantCulture) : "") + " " + NameSearch.Fold(product.DoseForm);
}
