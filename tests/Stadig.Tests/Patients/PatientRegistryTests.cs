using Stadig.Access;
using Stadig.Common;
using Stadig.Patients;
using Stadig.Patients.Identifiers;
using Stadig.Storage;

namespace Stadig.Tests.Patients;

public class PatientRegistryTests
{
    private static PatientDetails Details(string family = "Öström", string given = "Anna Maria") =>
        new(family, given, "Storgatan 1", "123 45", "Ankeborg", "070-123 45 67", "anna@example.se");

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Registering_a_valid_personnummer_stores_the_patient_with_birth_date_and_sex(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        var result = await region.Patients.RegisterAsync(region.Physician, "19121212-1212", Details());

        Assert.True(result.Created);
        var patient = await region.Patients.GetAsync(region.Physician, result.PatientId);
        Assert.Equal("191212121212", patient.Identifier);
        Assert.Equal(IdentifierKind.Personnummer, patient.IdentifierKind);
        Assert.Equal(new DateOnly(1912, 12, 12), patient.BirthDate);
        Assert.Equal(Sex.Male, patient.Sex);
        Assert.Equal("Öström", patient.FamilyName);
        Assert.Equal("12345", patient.PostalCode);
        Assert.Equal(1, patient.Version);
        Assert.Equal(result.Patient!.CreatedAt, patient.CreatedAt);
    }

    private static int _serial;

    /// <summary>Registers a patient under a fresh test personnummer.</summary>
    private static async Task<Guid> AddAsync(TestRegion region, string family, string given)
    {
        var k = Interlocked.Increment(ref _serial);
        var number = TestNumbers.Personnummer(1920 + k % 80, 1 + k % 12, 1 + k % 28, 980 + k % 20);
        var result = await region.Patients.RegisterAsync(region.Physician, number, Details(family, given));
        Assert.True(result.Created);
        return result.PatientId;
    }

    private static async Task<Guid[]> FindAsync(TestRegion region, string query, int limit = PatientRegistry.DefaultSearchLimit) =>
        (await region.Patients.SearchAsync(region.Physician, query, limit)).Patients.Select(p => p.Id).ToArray();

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Name_search_orders_matches_from_every_name_column_by_family_then_given_name(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        // "anna" hits a different column for each; registered out of order.
        var zander = await AddAsync(region, "Zander", "Anna");               // first given name
        var lindAnnasson = await AddAsync(region, "Lind-Annasson", "Olle");  // last part of the family name
        var annalund = await AddAsync(region, "Annalund", "Per");            // family name
        var bergEva = await AddAsync(region, "Berg", "Eva Anna");            // last given name
        var oberg = await AddAsync(region, "Öberg", "Anna Karin");           // first of two given names
        var ahlberg = await AddAsync(region, "Ahlberg", "Annalena");         // first given name, longer
        var bergAnna = await AddAsync(region, "Berg", "Anna");               // same family name: given name decides
        await AddAsync(region, "Ek", "Hanna");                               // "anna" inside a word: no match
        await AddAsync(region, "Berg", "Olle");

        Assert.Equal([ahlberg, annalund, bergAnna, bergEva, lindAnnasson, oberg, zander], await FindAsync(region, "anna"));

        var firstThree = await region.Patients.SearchAsync(region.Physician, "anna", limit: 3);
        Assert.Equal([ahlberg, annalund, bergAnna], firstThree.Patients.Select(p => p.Id));
        Assert.True(firstThree.MoreExist);
        var all = await region.Patients.SearchAsync(region.Physician, "anna", limit: 7);
        Assert.Equal(7, all.Patients.Count);
        Assert.False(all.MoreExist);

        // Two words: each must start a word of the name, whichever column either one hits.
        Assert.Equal([bergAnna, bergEva], await FindAsync(region, "berg anna"));
        Assert.Equal([bergAnna, bergEva], await FindAsync(region, "anna berg"));
        Assert.Equal([lindAnnasson], await FindAsync(region, "olle anna"));
    }

    public static TheoryData<DatabaseEngine, string, string, string> MoreThanTheLimitThroughOneColumn => new()
    {
        { DatabaseEngine.Sqlite, "Strand", "Olle", "strand" },           // family name
        { DatabaseEngine.Postgres, "Strand", "Olle", "strand" },
        { DatabaseEngine.Sqlite, "Lind-Strand", "Olle", "strand" },      // last part of the family name
        { DatabaseEngine.Postgres, "Lind-Strand", "Olle", "strand" },
        { DatabaseEngine.Sqlite, "Ek", "Sten Olle", "sten" },            // first given name
        { DatabaseEngine.Postgres, "Ek", "Sten Olle", "sten" },
        { DatabaseEngine.Sqlite, "Ek", "Olle Sten", "sten" },            // last given name
        { DatabaseEngine.Postgres, "Ek", "Olle Sten", "sten" },
    };

    [Theory, MemberData(nameof(MoreThanTheLimitThroughOneColumn))]
    public async Task Name_search_says_more_exist_when_more_than_the_limit_match_through_any_column(DatabaseEngine engine, string family, string given, string query)
    {
        var region = await TestRegion.CreateAsync(engine);
        for (var i = 0; i < 3; i++) await AddAsync(region, family, given);

        var limited = await region.Patients.SearchAsync(region.Physician, query, limit: 2);
        Assert.Equal(2, limited.Patients.Count);
        Assert.True(limited.MoreExist);
        var exact = await region.Patients.SearchAsync(region.Physician, query, limit: 3);
        Assert.Equal(3, exact.Patients.Count);
        Assert.False(exact.MoreExist);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Name_search_leaves_out_merged_patients_whichever_column_matches(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        var unknown = (await region.Patients.RegisterAsync(region.Physician, "991234567890", Details("Lind-Ek", "Sten Olle"))).Patient!;
        var known = await AddAsync(region, "Lind-Ek", "Sten Olle");
        Assert.Equal(2, (await FindAsync(region, "lind")).Length);

        await region.Patients.MergeAsync(region.Physician, unknown.Id, known, "Identifierad via legitimation");

        foreach (var query in new[] { "lind", "ek", "sten", "olle", "lind olle", "ek sten" })
        {
            var result = await region.Patients.SearchAsync(region.Physician, query, limit: 1);
            Assert.Equal([known], result.Patients.Select(p => p.Id));
            Assert.False(result.MoreExist);
        }
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Name_search_finds_double_family_names_by_their_last_part(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        var hyphen = await AddAsync(region, "Lind-Åkesson", "Eva");
        var space = await AddAsync(region, "Berg Öström", "Per");
        var single = await AddAsync(region, "Åkesson", "Lisa");

        Assert.Equal([space], await FindAsync(region, "ostrom"));
        Assert.Equal([space], await FindAsync(region, "öst per"));
        Assert.Equal([single, hyphen], await FindAsync(region, "akesson")); // "akesson" sorts before "lind akesson"
        Assert.Equal([hyphen], await FindAsync(region, "ÅKES eva"));
        Assert.Equal([hyphen], await FindAsync(region, "lind-akesson"));
        Assert.Empty(await FindAsync(region, "kesson"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Name_search_finds_given_names_by_first_and_last_given_name(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        var annaMaria = await AddAsync(region, "Holm", "Anna Maria");
        var maria = await AddAsync(region, "Sand", "Maria");
        var three = await AddAsync(region, "Ek", "Karin Maria Lovisa");

        Assert.Equal([annaMaria], await FindAsync(region, "anna"));
        Assert.Equal([annaMaria, maria], await FindAsync(region, "mari"));
        Assert.Equal([annaMaria], await FindAsync(region, "maria anna"));
        Assert.Equal([annaMaria], await FindAsync(region, "anna maria"));
        Assert.Equal([three], await FindAsync(region, "lovisa"));
        Assert.Equal([three], await FindAsync(region, "karin"));
        // A middle given name is found together with a word that hits an indexed name.
        Assert.Equal([three], await FindAsync(region, "maria ek"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Search_by_several_name_words_finds_the_same_patients_in_any_order_whichever_name_each_word_starts(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        // Every position a word can take: family name, last part of a double or triple family name,
        // first, last and middle given name, a first given name longer than the word, a given name
        // as family name; with diacritics and hyphens.
        (string Family, string Given)[] names =
        [
            ("Andersson", "Anna"), ("Andersson", "Anna Maria"), ("Andersson", "Maria Anna"), ("Andersson", "Karin Anna Maria"),
            ("Andersson", "Annalena"), ("Anna", "Per"), ("Lind-Andersson", "Eva"), ("Lind Åkesson Berg", "Per"),
            ("Öberg", "Åsa"), ("Larsson", "Erik"), ("Erik", "Lars"), ("Berg", "Lars Erik"), ("Berg", "Lars Olof Erik"),
            ("Berg", "Larsolof Erika"), ("Ek", "Erika Lars"), ("Holm", "Anna-Karin"), ("Annasdotter", "Erik Lars"),
            ("Lind", "Anna Karin Maria Lovisa"), ("Lind-Berg", "Per Erik"),
            ("Berg", "Annalena Maria"), ("Holm", "Per Annalena"), ("Holm", "Annika"), ("Holm", "Per Annika Lars"),
        ];
        var patients = new List<(Guid Id, string Family, string Given)>();
        foreach (var (family, given) in names) patients.Add((await AddAsync(region, family, given), family, given));
        var identifiers = new Dictionary<Guid, string>();
        foreach (var (id, _, _) in patients) identifiers[id] = (await region.Patients.GetAsync(region.Physician, id)).Identifier;

        // What the search promises: some word starts the family name, its last part, the first or
        // the last given name, and every word starts some word of the name; in name order.
        Guid[] Expected(string query)
        {
            var words = NameSearch.Words(query);
            return [.. patients
                .Where(p =>
                {
                    var family = NameSearch.Fold(p.Family);
                    var given = NameSearch.Fold(p.Given);
                    string[] indexed = [family, NameSearch.LastWord(p.Family), given, NameSearch.LastWord(p.Given)];
                    var all = NameSearch.Words(p.Family).Concat(NameSearch.Words(p.Given)).ToArray();
                    return words.Any(w => indexed.Any(c => c.StartsWith(w, StringComparison.Ordinal)))
                        && words.All(w => all.Any(n => n.StartsWith(w, StringComparison.Ordinal)));
                })
                .OrderBy(p => NameSearch.Fold(p.Family), StringComparer.Ordinal)
                .ThenBy(p => NameSearch.Fold(p.Given), StringComparer.Ordinal)
                .ThenBy(p => identifiers[p.Id], StringComparer.Ordinal)
                .Select(p => p.Id)];
        }

        string[] vocabulary = ["andersson", "anna", "ann", "maria", "karin", "annal", "lind", "åkesson", "berg", "holm", "öberg", "asa", "lars", "erik", "olof", "erika", "per", "er", "la"];
        string[] three = ["lind", "andersson", "berg", "anna", "karin", "maria", "per", "erik", "an"];
        var queries = vocabulary.SelectMany(a => vocabulary.Where(b => b != a).Select(b => $"{a} {b}"))
            .Concat(three.SelectMany(a => three.Where(b => b != a).SelectMany(b => three.Where(c => c != a && c != b).Select(c => $"{a} {b} {c}"))))
            .Concat(["Anna Andersson", "ANDERSSON ANNA", "Åsa Öberg", "oberg asa", "anna-karin holm", "lind-åkesson per", "lind-berg per erik", "anna lovisa"]);
        foreach (var query in queries)
        {
            var found = await FindAsync(region, query);
            Assert.True(Expected(query).AsEnumerable().SequenceEqual(found), query);
        }

        // The cases found only in the smaller indexes, spelled out.
        var byName = patients.ToDictionary(p => $"{p.Given} {p.Family}", p => p.Id);
        Assert.Contains(byName["Karin Anna Maria Andersson"], await FindAsync(region, "anna andersson"));  // middle given name
        Assert.Contains(byName["Per Lind Åkesson Berg"], await FindAsync(region, "akesson per"));          // middle family name
        Assert.Contains(byName["Lars Olof Erik Berg"], await FindAsync(region, "lars erik"));              // first and last of three
        Assert.Contains(byName["Larsolof Erika Berg"], await FindAsync(region, "lars erik"));              // both longer than the words
        Assert.Contains(byName["Per Anna"], await FindAsync(region, "per anna"));                          // a given name as family name
        Assert.Contains(byName["Anna Karin Maria Lovisa Lind"], await FindAsync(region, "karin maria lind")); // two middle given names
        Assert.NotEmpty(Expected("lars erik"));
        Assert.Contains(byName["Annalena Maria Berg"], await FindAsync(region, "anna maria"));            // first given name longer, then the second
        Assert.Contains(byName["Per Annalena Holm"], await FindAsync(region, "anna holm"));               // last given name longer
        Assert.Contains(byName["Annika Holm"], await FindAsync(region, "ann holm"));                     // longer names of two kinds: Annika,
        Assert.Contains(byName["Per Annalena Holm"], await FindAsync(region, "ann holm"));               // Annalena
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Two_name_search_says_more_exist_when_the_matches_come_through_several_longer_names(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        foreach (var given in new[] { "Anna", "Annika", "Anneli Sara", "Sara Annika" }) await AddAsync(region, "Holm", given);
        await AddAsync(region, "Holmberg", "Ann");

        // "ann" is the first given name of one, starts the first given name of three (Anna, Anneli,
        // Annika) and the last of one; "holm" starts both family names.
        var limited = await region.Patients.SearchAsync(region.Physician, "ann holm", limit: 4);
        Assert.Equal(4, limited.Patients.Count);
        Assert.True(limited.MoreExist);
        var all = await region.Patients.SearchAsync(region.Physician, "holm ann", limit: 5);
        Assert.Equal(["Holm Anna", "Holm Anneli Sara", "Holm Annika", "Holm Sara Annika", "Holmberg Ann"], all.Patients.Select(p => $"{p.FamilyName} {p.GivenNames}"));
        Assert.False(all.MoreExist);
        Assert.Equal(all.Patients.Take(4).Select(p => p.Id), limited.Patients.Select(p => p.Id));
    }

    [Fact]
    public async Task On_PostgreSQL_a_search_by_two_names_is_planned_once_per_connection_and_leaves_the_session_as_it_was()
    {
        // One connection in the pool, so that every search below runs in the same session.
        var database = new Database(DatabaseEngine.Postgres, await TestDatabases.CreateConnectionStringAsync(DatabaseEngine.Postgres) + ";Maximum Pool Size=1");
        await new Migrator(database).MigrateAsync();
        var registry = CoreServices.Create(database, TimeProvider.System).Patients;
        foreach (var (number, family, given) in new[] { ("19121212-1212", "Andersson", "Anna"), (TestNumbers.Personnummer(1950, 1, 1), "Andersson", "Anna Maria"), (TestNumbers.Personnummer(1980, 1, 1), "Berg", "Anna") })
            await registry.RegisterAsync(Caller.System, number, Details(family, given));

        // Npgsql prepares a statement from its fifth run on; then names get the generic plan, and
        // words of one or two letters (which may start thousands of names) a plan for their values.
        for (var i = 0; i < 7; i++)
        {
            Assert.Equal(2, (await registry.SearchAsync(Caller.System, "anna andersson")).Patients.Count);
            Assert.Single((await registry.SearchAsync(Caller.System, "be an")).Patients);
        }

        await using var connection = await database.OpenUnscopedAsync(TestContext.Current.CancellationToken);
        var plans = (await Dapper.SqlMapper.QueryAsync<(bool ListsLongerNames, long Generic, long Custom)>(connection,
            "SELECT statement LIKE '%longer_first%', generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE '%UNION%' AND statement NOT LIKE 'BEGIN%'")).ToList();
        // Whole names list the longer names they start (one statement), short words read ranges (another).
        Assert.Equal(2, plans.Count);
        var names = Assert.Single(plans, p => p.ListsLongerNames);
        Assert.True(names.Generic >= 1, $"generic plans: {names.Generic}");
        Assert.Equal(0, names.Custom);
        var shortWords = Assert.Single(plans, p => !p.ListsLongerNames);
        Assert.True(shortWords.Custom >= 1, $"custom plans: {shortWords.Custom}");
        Assert.Equal(0, shortWords.Generic);
        // SET LOCAL lasts until its transaction ends: the search's has, and left the session's setting.
        Assert.Equal("force_custom_plan", await Dapper.SqlMapper.ExecuteScalarAsync<string>(connection, "SHOW plan_cache_mode"));
    }
}

public class PatientRegistryRulesTests
{
    private static PatientDetails Details(string family = "Öström", string given = "Anna Maria") =>
        new(family, given, "Storgatan 1", "123 45", "Ankeborg", "070-123 45 67", "anna@example.se");

    private static async Task<long> CountAsync(TestRegion region, string table)
    {
        await using var connection = await region.Database.OpenUnscopedAsync();
        return await Dapper.SqlMapper.ExecuteScalarAsync<long>(connection, $"SELECT COUNT(*) FROM {table}");
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Registering_a_number_that_exists_leads_to_the_existing_patient(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        var first = await region.Patients.RegisterAsync(region.Physician, "19121212-1212", Details());
        // Registered again from another unit: no patient made, and so no care relation for that unit (the registering unit has one).
        var second = await region.Patients.RegisterAsync(region.Physician with { UnitId = region.Clinic.Id }, "121212+1212", Details("Annat", "Namn"));

        Assert.False(second.Created);
        await using (var connection = await region.Database.OpenUnscopedAsync())
        {
            var units = (await Dapper.SqlMapper.QueryAsync<Guid>(connection, "SELECT unit_id FROM care_relation WHERE patient_id = @id", new { id = first.PatientId })).ToList();
            Assert.Equal([region.Physician.UnitId], units);
        }
        Assert.Equal(first.PatientId, second.PatientId);
        Assert.Null(second.Patient); // the caller learns the id, and reads the rest through the checkpoint
        Assert.Equal("Öström", (await region.Patients.GetAsync(region.Physician, second.PatientId)).FamilyName);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Concurrent_registrations_of_one_number_create_exactly_one_patient(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        var attempts = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ =>
            Task.Run(() => region.Patients.RegisterAsync(region.Physician, "19121212-1212", Details()))));

        Assert.Single(attempts, a => a.Created);
        Assert.Single(attempts.Select(a => a.PatientId).Distinct());
        Assert.Equal(1, await CountAsync(region, "patient"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_invalid_number_names_the_field_and_stores_nothing(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        var error = await Assert.ThrowsAsync<InvalidInputException>(() => region.Patients.RegisterAsync(region.Physician, "19121212-1213", Details()));
        Assert.Equal("identifier", error.Field);
        var missingName = await Assert.ThrowsAsync<InvalidInputException>(() => region.Patients.RegisterAsync(region.Physician, "19121212-1212", Details(family: " ")));
        Assert.Equal("familyName", missingName.Field);
        var badPostalCode = await Assert.ThrowsAsync<InvalidInputException>(() =>
            region.Patients.RegisterAsync(region.Physician, "19121212-1212", Details() with { PostalCode = "12" }));
        Assert.Equal("postalCode", badPostalCode.Field);
        Assert.Equal(0, await CountAsync(region, "patient"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Search_finds_by_name_without_diacritics_and_by_full_or_partial_number(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        var anna = (await region.Patients.RegisterAsync(region.Physician, "19121212-1212", Details())).Patient!;
        var double_ = (await region.Patients.RegisterAsync(region.Physician, TestNumbers.Personnummer(1950, 1, 1), Details("Lind-Åkesson", "Eva"))).Patient!;
        await region.Patients.RegisterAsync(region.Physician, TestNumbers.Personnummer(1980, 1, 1), Details("Berg", "Olle"));

        async Task<Guid[]> Find(string q) => (await region.Patients.SearchAsync(region.Physician, q)).Patients.Select(p => p.Id).ToArray();

        Assert.Equal([anna.Id], await Find("ostrom"));
        Assert.Equal([anna.Id], await Find("ÖSTRÖM"));
        Assert.Equal([anna.Id], await Find("maria ostr"));
        Assert.Equal([anna.Id], await Find("anna öström"));
        Assert.Equal([double_.Id], await Find("akesson"));
        Assert.Equal([double_.Id], await Find("lind eva"));
        Assert.Equal([anna.Id], await Find("19121212-1212"));
        Assert.Empty(await Find("121212-1212")); // with "-" that is a child born 2012
        Assert.Equal([anna.Id], await Find("121212+1212"));
        Assert.Equal([anna.Id], await Find("191212"));
        Assert.Equal([anna.Id], await Find("1212"));
        Assert.Empty(await Find("nobody"));
        Assert.Empty(await Find("50%"));
        Assert.NotNull((await region.Patients.SearchAsync(region.Physician, "19")).Hint);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Search_stops_at_the_limit_and_says_more_exist(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        foreach (var n in new[] { "19121212-1212", TestNumbers.Personnummer(1950, 1, 1), TestNumbers.Personnummer(1980, 1, 1) })
            await region.Patients.RegisterAsync(region.Physician, n, Details("Berg", "Olle"));
        var result = await region.Patients.SearchAsync(region.Physician, "berg", limit: 2);
        Assert.Equal(2, result.Patients.Count);
        Assert.True(result.MoreExist);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_update_from_a_stale_version_is_a_conflict_and_changes_nothing(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        var patient = (await region.Patients.RegisterAsync(region.Physician, "19121212-1212", Details())).Patient!;
        var updated = await region.Patients.UpdateAsync(region.Physician, patient.Id, 1, Details() with { City = "Mora" });
        Assert.Equal(2, updated.Version);
        Assert.Equal("Mora", updated.City);

        await Assert.ThrowsAsync<ConflictException>(() => region.Patients.UpdateAsync(region.Physician, patient.Id, 1, Details() with { City = "Rättvik" }));
        Assert.Equal("Mora", (await region.Patients.GetAsync(region.Physician, patient.Id)).City);
        // The name search follows an update.
        await region.Patients.UpdateAsync(region.Physician, patient.Id, 2, Details("Ek", "Anna"));
        Assert.Single((await region.Patients.SearchAsync(region.Physician, "ek anna")).Patients);
        Assert.Empty((await region.Patients.SearchAsync(region.Physician, "ostrom")).Patients);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Protected_identity_and_deceased_date_are_kept_and_checked(DatabaseEngine engine)
    {
        var region = await TestRegion.CreateAsync(engine);
        var patient = (await region.Patients.RegisterAsync(region.Physician, "19121212-1212",
            Details() with { ProtectedIdentity = ProtectedIdentity.SkyddadFolkbokforing, DeceasedDate = new DateOnly(2001, 5, 6) })).Patient!;
        Assert.Equal(ProtectedIdentity.SkyddadFolkbokforing, patient.ProtectedIdentity);
        Assert.Equal(new DateOnly(2001, 5, 6), patient.DeceasedDate);
        Assert.Equal(88, patient.AgeOn(new DateOnly(2026, 1, 1)));

        var early = await Assert.ThrowsAsync<InvalidInputException>(() =>
            region.Patients.UpdateAsync(region.Physician, patient.Id, 1, Details() with { DeceasedDate = new DateOnly(1900, 1, 1) }));
        Assert.Equal("deceasedDate", early.Field);
    }
}
