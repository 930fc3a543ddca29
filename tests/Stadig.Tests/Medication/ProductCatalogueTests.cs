using Dapper;
using Stadig.Medication;
using Stadig.Storage;

namespace Stadig.Tests.Medication;

public class ProductCatalogueTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 5, 8, 0, 0, TimeSpan.Zero);

    private static async Task<(Database Database, ProductCatalogue Catalogue)> CreateAsync(DatabaseEngine engine, bool seeded = true)
    {
        var database = await TestDatabases.CreateAsync(engine);
        var catalogue = new ProductCatalogue(database, new FixedClock(Now));
        if (seeded) Assert.True(await catalogue.SeedIfEmptyAsync());
        return (database, catalogue);
    }

    private static IReadOnlyList<CatalogueLine> Read(string text) => CatalogueFile.Read(new StringReader(text));

    private const string Header = "npl_id;name;substances;strength;dose_form;route;atc_code;max_daily_dose;high_risk\n";

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_starter_catalogue_holds_over_200_products_across_the_common_ATC_groups_and_loads_once(DatabaseEngine engine)
    {
        var (database, catalogue) = await CreateAsync(engine);

        await using var c = await database.OpenUnscopedAsync();
        var atc = (await c.QueryAsync<string>("SELECT atc_code FROM medication_product")).ToList();
        Assert.True(atc.Count >= 200, $"{atc.Count} products");
        Assert.Superset(new HashSet<char>("ABCDGHJLMNRS"), atc.Select(a => a[0]).ToHashSet());
        Assert.Equal(0, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM medication_product WHERE npl_id IS NOT NULL"));
        Assert.False(await catalogue.SeedIfEmptyAsync());
        Assert.Equal(atc.Count, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM medication_product"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Search_ignores_case_and_diacritics_in_names_and_substances(DatabaseEngine engine)
    {
        var (_, catalogue) = await CreateAsync(engine);

        var iron = await catalogue.SearchAsync("JARNSULF");
        var penicillin = await catalogue.SearchAsync("kavepenin");
        var typed = await catalogue.SearchAsync("Kåvepenin");

        Assert.Contains(iron, p => p.Name == "Duroferon" && p.Substances == "Järnsulfat");
        Assert.Equal(["Kåvepenin"], penicillin.Select(p => p.Name).Distinct());
        Assert.Equal(penicillin.Select(p => p.Id), typed.Select(p => p.Id));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Search_by_substance_finds_every_product_of_it_and_a_second_word_narrows_to_the_strength(DatabaseEngine engine)
    {
        var (_, catalogue) = await CreateAsync(engine);

        var paracetamol = await catalogue.SearchAsync("paracetamol");
        var strength = await catalogue.SearchAsync("paracetamol 500");

        Assert.Contains(paracetamol, p => p.Name == "Alvedon");
        Assert.Contains(paracetamol, p => p.Name == "Citodon" && p.Substances == "Paracetamol + Kodein");
        Assert.All(paracetamol, p => Assert.Contains("Paracetamol", p.Substances, StringComparison.Ordinal));
        Assert.NotEmpty(strength);
        Assert.All(strength, p => Assert.StartsWith("500 mg", p.Strength, StringComparison.Ordinal));
        var alvedon = Assert.Single(paracetamol, p => p.Name == "Alvedon" && p.DoseForm == "filmdragerad tablett");
        Assert.Equal((500.0, "mg", 4.0, "g", "N02BE01", false), (alvedon.StrengthValue, alvedon.StrengthUnit, alvedon.MaxDailyValue, alvedon.MaxDailyUnit, alvedon.AtcCode, alvedon.HighRisk));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Search_by_ATC_prefix_finds_the_group_as_a_filter_or_as_a_typed_word(DatabaseEngine engine)
    {
        var (_, catalogue) = await CreateAsync(engine);

        var filtered = await catalogue.SearchAsync(null, atcPrefix: "b01a");
        var typed = await catalogue.SearchAsync("B01AF");
        var both = await catalogue.SearchAsync("apixaban", atcPrefix: "B01");

        Assert.Contains(filtered, p => p.Name == "Waran");
        Assert.All(filtered, p => Assert.StartsWith("B01A", p.AtcCode, StringComparison.Ordinal));
        Assert.Equal(["Apixaban", "Edoxaban", "Rivaroxaban"], typed.Select(p => p.Substances).Distinct().Order());
        Assert.All(both, p => Assert.True(p.HighRisk));
        Assert.Equal(["Eliquis"], both.Select(p => p.Name).Distinct());
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_two_letter_prefix_gives_at_most_a_page_in_name_order(DatabaseEngine engine)
    {
        var (_, catalogue) = await CreateAsync(engine);

        var found = await catalogue.SearchAsync("me");

        Assert.InRange(found.Count, 10, ProductCatalogue.MaxResults);
        Assert.All(found, p => Assert.Contains(Stadig.Patients.NameSearch.Words($"{p.Name} {p.Substances} {p.Strength}").Append(p.AtcCode.ToLowerInvariant()),
            w => w.StartsWith("me", StringComparison.Ordinal)));
        var names = found.Select(p => Stadig.Patients.NameSearch.Fold(p.Name)).ToList();
        Assert.Equal(names.Order(StringComparer.Ordinal), names);
        Assert.Empty(await catalogue.SearchAsync("   "));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_import_adds_the_products_of_a_file_and_a_second_import_of_it_changes_nothing(DatabaseEngine engine)
    {
        var (database, catalogue) = await CreateAsync(engine, seeded: false);
        var file = Header +
            "TEST-NPL-0001;Testamol;Paracetamol;500 mg;tablett;oral;N02BE01;4 g;nej\n" +
            "\"TEST-NPL-0002\";\"Kombinol; forte\";Levodopa + Karbidopa;100 mg + 25 mg;tablett;oral;N04BA02;;\n" +
            "TEST-NPL-0003;Testarin;Warfarin;2,5 mg;tablett;oral;B01AA03;;ja\n";
        var progress = new List<string>();

        var first = await catalogue.ImportAsync(Read(file), new SyncProgress(progress));
        var again = await catalogue.ImportAsync(Read(file));
        var changed = await catalogue.ImportAsync(Read(file.Replace("B01AA03;;ja", "B01AA03;10 mg;ja", StringComparison.Ordinal)));

        Assert.Equal(new CatalogueImportResult(3, 0, 0), first);
        Assert.Equal(new CatalogueImportResult(0, 0, 3), again);
        Assert.Equal(new CatalogueImportResult(0, 1, 2), changed);
        Assert.Contains(progress, p => p.StartsWith("3 of 3 products written", StringComparison.Ordinal));
        var combination = Assert.Single(await catalogue.SearchAsync("karbidopa"));
        Assert.Equal(("TEST-NPL-0002", "Kombinol; forte", "100 mg + 25 mg", (double?)null), (combination.NplId, combination.Name, combination.Strength, combination.StrengthValue));
        Assert.Equal([new ProductSubstance("Levodopa", new Amount(100, "mg")), new ProductSubstance("Karbidopa", new Amount(25, "mg"))],
            await catalogue.SubstancesAsync(combination.Id));
        var warfarin = Assert.Single(await catalogue.SearchAsync("testarin"));
        Assert.Equal((true, 10.0, "mg"), (warfarin.HighRisk, warfarin.MaxDailyValue, warfarin.MaxDailyUnit));
        await using var c = await database.OpenUnscopedAsync();
        Assert.Equal(3, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM medication_product"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_file_with_a_bad_line_is_refused_whole_naming_each_line_and_field(DatabaseEngine engine)
    {
        var (database, _) = await CreateAsync(engine, seeded: false);
        var file = Header +
            "TEST-NPL-0001;Testamol;Paracetamol;500 mg;tablett;oral;N02BE01;4 g;nej\n" +
            "TEST-NPL-0002;Testofen;Ibuprofen;400 mg;tablett;oral;M1AE01;;nej\n" +
            "TEST-NPL-0003;Testarin;Warfarin;två mg;tablett;oral;B01AA03;;kanske\n" +
            "TEST-NPL-0001;Testamol;Paracetamol;1 g;tablett;oral;N02BE01;;nej\n";

        var refused = Assert.Throws<CatalogueFileException>(() => Read(file));

        Assert.Equal([(3, "atc_code"), (4, "strength"), (4, "high_risk"), (5, "npl_id")], refused.Errors.Select(e => (e.LineNumber, e.Field)));
        Assert.Contains("line 3, field atc_code: 'M1AE01' is not an ATC code", refused.Message, StringComparison.Ordinal);
        Assert.Contains("line 5, field npl_id: the same product as line 2", refused.Message, StringComparison.Ordinal);
        Assert.Contains("nothing was imported", refused.Message, StringComparison.Ordinal);
        await using var c = await database.OpenUnscopedAsync();
        Assert.Equal(0, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM medication_product"));
    }

    [Fact]
    public void A_file_without_a_required_column_or_with_an_unclosed_quote_is_refused_with_the_line()
    {
        var missing = Assert.Throws<CatalogueFileException>(() => Read("npl_id;name;substances;strength;dose_form;route;max_daily_dose\n"));
        var unclosed = Assert.Throws<CatalogueFileException>(() => Read(Header + ";\"Testamol;Paracetamol;500 mg;tablett;oral;N02BE01;;\n"));
        var empty = Assert.Throws<CatalogueFileException>(() => Read(""));

        Assert.Equal([(1, "atc_code")], missing.Errors.Select(e => (e.LineNumber, e.Field)));
        Assert.Equal([(2, "line")], unclosed.Errors.Select(e => (e.LineNumber, e.Field)));
        Assert.Equal([(1, "header")], empty.Errors.Select(e => (e.LineNumber, e.Field)));
    }

    /// <summary>Progress reported on the caller's thread, in order (Progress&lt;T&gt; posts to the thread pool).</summary>
    private sealed class SyncProgress(List<string> lines) : IProgress<string>
    {
        public void Report(string value) => lines.Add(value);
    }
}
