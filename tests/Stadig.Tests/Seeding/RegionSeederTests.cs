using System.Security.Cryptography;
using System.Text;
using Dapper;
using Stadig.Access;
using Stadig.Common;
using Stadig.Notes;
using Stadig.Patients;
using Stadig.Patients.Identifiers;
using Stadig.Seeding;
using Stadig.Storage;

namespace Stadig.Tests.Seeding;

public class RegionSeederTests
{
    // A fixed "now" so that two seedings of the same seed can be compared row by row.
    private static readonly FixedClock Clock = new(new DateTimeOffset(2026, 3, 14, 9, 30, 15, TimeSpan.Zero));

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private sealed record PatientFacts(Guid Id, string IdentifierKind, string Identifier, string IdentifierShort, string FamilyName,
        string GivenNames, string FamilySearch, string FamilyLastSearch, string GivenSearch, DateOnly? BirthDate, string Sex);

    private static async Task<(Database Database, SeedReport Report)> SeedAsync(DatabaseEngine engine, int patients = 300, int seed = 1, bool demo = false)
    {
        var database = await TestDatabases.CreateAsync(engine);
        var report = await new RegionSeeder(database, Clock).SeedAsync(
            new SeedOptions { Patients = patients, Seed = seed, DemoUsers = demo, HashPassword = demo ? p => "hash:" + p : null },
            CancellationToken.None);
        return (database, report);
    }

    private static async Task<List<PatientFacts>> PatientsAsync(Database database)
    {
        await using var connection = await database.OpenUnscopedAsync();
        return (await connection.QueryAsync<PatientFacts>(
            """
            SELECT id AS Id, identifier_kind AS IdentifierKind, identifier AS Identifier, identifier_short AS IdentifierShort,
                   family_name AS FamilyName, given_names AS GivenNames, family_search AS FamilySearch,
                   family_last_search AS FamilyLastSearch, given_search AS GivenSearch, birth_date AS BirthDate, sex AS Sex
            FROM patient ORDER BY identifier
            """)).ToList();
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Every_generated_identifier_is_valid_and_uses_the_test_serials_980_to_999(DatabaseEngine engine)
    {
        var (database, report) = await SeedAsync(engine, patients: 2000);
        var rules = new PatientIdentifierRules(Clock);

        var patients = await PatientsAsync(database);
        Assert.Equal(2000, report.Patients);
        Assert.Equal(2000, patients.Count);
        foreach (var p in patients)
        {
            var parsed = rules.Parse(p.Identifier);
            Assert.Equal(p.IdentifierKind, parsed.Kind.ToString());
            Assert.Equal(parsed.ShortForm, p.IdentifierShort);
            if (parsed.Kind == IdentifierKind.Reservnummer)
            {
                Assert.StartsWith("99", p.Identifier);
                continue;
            }
            var serial = int.Parse(p.Identifier[8..11], System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(serial, 980, 999);
            Assert.Equal(parsed.BirthDate, p.BirthDate);
            Assert.Equal(parsed.Sex.ToString(), p.Sex);
        }
        Assert.Equal(patients.Count, patients.Select(p => p.Identifier).Distinct().Count());
    }

    [Fact]
    public void When_a_date_runs_out_of_test_serials_neighbouring_dates_and_then_samordningsnummer_are_used()
    {
        var today = new DateOnly(2026, 3, 14);
        var numbers = new IdentityNumbers(today.AddYears(-2), today);
        var rules = new PatientIdentifierRules(Clock);
        var wanted = new DateOnly(2025, 6, 15);

        // 61 dates × 10 serials per sex fit as personnummer; the rest must become samordningsnummer.
        var issued = Enumerable.Range(0, 700).Select(_ => numbers.Next(wanted, Sex.Female)).ToList();

        Assert.Equal(700, issued.Select(i => i.Value).Distinct().Count());
        Assert.Equal(610, issued.Count(i => i.Kind == IdentifierKind.Personnummer));
        Assert.Equal(90, issued.Count(i => i.Kind == IdentifierKind.Samordningsnummer));
        foreach (var identifier in issued)
        {
            var parsed = rules.Parse(identifier.Value);
            Assert.Equal(identifier.Kind, parsed.Kind);
            Assert.Equal(Sex.Female, parsed.Sex);
            Assert.Equal(identifier.BirthDate, parsed.BirthDate);
            Assert.InRange(Math.Abs(parsed.BirthDate!.Value.DayNumber - wanted.DayNumber), 0, IdentityNumbers.MaxDateShift);
            Assert.InRange(int.Parse(identifier.Value[8..11], System.Globalization.CultureInfo.InvariantCulture), 980, 999);
        }
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Seeding_is_deterministic_for_a_seed(DatabaseEngine engine)
    {
        var (first, _) = await SeedAsync(engine, seed: 42);
        var (second, _) = await SeedAsync(engine, seed: 42, demo: true);
        var (other, _) = await SeedAsync(engine, seed: 43);

        var a = await PatientsAsync(first);
        var b = await PatientsAsync(second);
        Assert.Equal(a, b);
        Assert.NotEqual(a.Select(p => p.Identifier), (await PatientsAsync(other)).Select(p => p.Identifier));

        await using var c1 = await first.OpenUnscopedAsync();
        await using var c2 = await second.OpenUnscopedAsync();
        const string notes = "SELECT id || '|' || note_type || '|' || status || '|' || COALESCE(content_sha256, '') FROM note ORDER BY id";
        Assert.Equal(await c1.QueryAsync<string>(notes), await c2.QueryAsync<string>(notes));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Seeding_a_database_that_has_patients_is_refused(DatabaseEngine engine)
    {
        var (database, _) = await SeedAsync(engine, patients: 20);

        var error = await Assert.ThrowsAsync<InvalidInputException>(() =>
            new RegionSeeder(database, Clock).SeedAsync(new SeedOptions { Patients = 20 }, CancellationToken.None));
        Assert.Contains("tom databas", error.Message, StringComparison.Ordinal);
        Assert.Equal(20, (await PatientsAsync(database)).Count);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_seeded_patient_is_found_by_name_and_by_number(DatabaseEngine engine)
    {
        var (database, _) = await SeedAsync(engine);
        var registry = CoreServices.Create(database, Clock).Patients;
        var patient = (await PatientsAsync(database)).First(p => p.IdentifierKind == nameof(IdentifierKind.Personnummer));

        var byNumber = await registry.SearchAsync(Caller.System, $"{patient.Identifier[..8]}-{patient.Identifier[8..]}");
        Assert.Equal(patient.Id, Assert.Single(byNumber.Patients).Id);

        var byShortNumber = await registry.SearchAsync(Caller.System, patient.IdentifierShort[..8]);
        Assert.Contains(byShortNumber.Patients, p => p.Id == patient.Id);

        var byName = await registry.SearchAsync(Caller.System, $"{patient.FamilyName} {patient.GivenNames.Split(' ')[0]}", limit: 200);
        Assert.Contains(byName.Patients, p => p.Id == patient.Id);

        var byFoldedName = await registry.SearchAsync(Caller.System, patient.FamilySearch, limit: 200);
        Assert.Contains(byFoldedName.Patients, p => p.Id == patient.Id);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Search_columns_are_filled_as_the_registry_fills_them(DatabaseEngine engine)
    {
        var (database, _) = await SeedAsync(engine);
        var rules = new PatientIdentifierRules(Clock);

        foreach (var p in await PatientsAsync(database))
        {
            Assert.Equal(NameSearch.Fold(p.FamilyName), p.FamilySearch);
            Assert.Equal(NameSearch.LastWord(p.FamilyName), p.FamilyLastSearch);
            Assert.Equal(NameSearch.Fold(p.GivenNames), p.GivenSearch);
            Assert.Equal(rules.Parse(p.Identifier).ShortForm, p.IdentifierShort);
        }
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Demo_users_exist_only_when_asked_for(DatabaseEngine engine)
    {
        var (without, plain) = await SeedAsync(engine, patients: 10);
        var (with, demo) = await SeedAsync(engine, patients: 10, demo: true);

        Assert.Empty(plain.DemoLogins);
        Assert.Equal(["lakare", "sjukskoterska", "sekreterare", "labb", "admin", "granskare"], demo.DemoLogins.Select(l => l.Username));
        Assert.All(demo.DemoLogins, l => Assert.Equal("demo", l.Password));

        await using var c1 = await without.OpenUnscopedAsync();
        await using var c2 = await with.OpenUnscopedAsync();
        Assert.Equal(0, await c1.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM staff WHERE is_demo = @yes OR password_hash IS NOT NULL", new { yes = true }));
        var demoStaff = (await c2.QueryAsync<(string Username, string Hash)>(
            "SELECT username, password_hash FROM staff WHERE is_demo = @yes ORDER BY username", new { yes = true })).ToList();
        Assert.Equal(6, demoStaff.Count);
        Assert.All(demoStaff, s => Assert.Equal("hash:demo", s.Hash));
        Assert.True(await c2.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM staff WHERE is_demo = @no AND password_hash IS NULL", new { no = false }) >= 24);

        var physicianUnits = await c2.QueryAsync<string>(
            "SELECT u.kind FROM assignment a JOIN staff s ON s.id = a.staff_id JOIN care_unit u ON u.id = a.unit_id WHERE s.username = 'lakare' ORDER BY u.kind");
        Assert.Equal(["OutpatientClinic", "Ward", "Ward"], physicianUnits);
        Assert.Equal("Administration", await c2.ExecuteScalarAsync<string>(
            "SELECT a.purpose FROM assignment a JOIN staff s ON s.id = a.staff_id WHERE s.username = 'granskare'"));

        var demoWithoutHasher = new SeedOptions { Patients = 1, DemoUsers = true };
        var fresh = await TestDatabases.CreateAsync(engine);
        await Assert.ThrowsAsync<InvalidInputException>(() => new RegionSeeder(fresh, Clock).SeedAsync(demoWithoutHasher, CancellationToken.None));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Every_clinical_table_gets_rows_and_signed_notes_carry_the_hash_of_their_keywords(DatabaseEngine engine)
    {
        var (database, report) = await SeedAsync(engine);
        await using var connection = await database.OpenUnscopedAsync();

        foreach (var (table, reported) in new[] { ("encounter", report.Encounters), ("note", report.Notes), ("note_keyword", report.NoteKeywords), ("lab_result", report.Results), ("warning", report.Warnings) })
        {
            var stored = await connection.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM {table}");
            Assert.True(stored > 0, $"{table} is empty");
            Assert.Equal(reported, stored);
        }
        Assert.Equal(6, report.Units);
        Assert.True(await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM note WHERE status = 'Draft' AND signer_id IS NULL AND content_sha256 IS NULL") > 0);
        Assert.True(await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM encounter WHERE kind = 'Inpatient' AND bed IS NOT NULL AND ended_at IS NOT NULL") > 0);
        Assert.True(await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM lab_result WHERE abnormal_flag IN ('H', 'L')") > 0);

        var keywords = (await connection.QueryAsync<(string NoteId, string Keyword, string Text)>(
            "SELECT CAST(note_id AS text), keyword, text FROM note_keyword ORDER BY note_id, position")).ToLookup(k => k.NoteId);
        var signed = (await connection.QueryAsync<(string Id, string Hash)>(
            "SELECT CAST(id AS text), content_sha256 FROM note WHERE status = 'Signed' AND signer_id IS NOT NULL AND signed_at IS NOT NULL")).ToList();
        Assert.NotEmpty(signed);
        foreach (var note in signed)
            Assert.Equal(note.Hash, NoteContentHash.Compute(keywords[note.Id].Select(k => (k.Keyword, k.Text))));
    }

    [Fact]
    public void The_note_content_hash_is_SHA_256_over_length_prefixed_keywords_and_texts_in_order()
    {
        static byte[] Part(string text)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            var length = BitConverter.GetBytes(bytes.Length);
            if (BitConverter.IsLittleEndian) Array.Reverse(length);
            return [.. length, .. bytes];
        }
        var expected = Convert.ToHexStringLower(SHA256.HashData([.. Part("Aktuellt"), .. Part("Ingen feber."), .. Part("Bedömning"), .. Part("Inga bröstsmärtor.")]));

        Assert.Equal(expected, NoteContentHash.Compute([("Aktuellt", "Ingen feber."), ("Bedömning", "Inga bröstsmärtor.")]));
        Assert.NotEqual(expected, NoteContentHash.Compute([("Bedömning", "Inga bröstsmärtor."), ("Aktuellt", "Ingen feber.")]));
        // A text cannot imitate a keyword boundary.
        Assert.NotEqual(NoteContentHash.Compute([("A", "x\nB\ny")]), NoteContentHash.Compute([("A", "x"), ("B", "y")]));
        Assert.NotEqual(NoteContentHash.Compute([("A", "x\n")]), NoteContentHash.Compute([("A", "x"), ("", "")]));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_demo_region_has_a_dozen_patients_admitted_now_to_each_ward_and_a_plain_region_has_none(DatabaseEngine engine)
    {
        var (demo, _) = await SeedAsync(engine, patients: 100, demo: true);
        var (plain, _) = await SeedAsync(engine, patients: 100, demo: false);
        const string open = "SELECT COUNT(*) FROM encounter e JOIN care_unit u ON u.id = e.unit_id WHERE u.kind = 'Ward' AND e.kind = 'Inpatient' AND e.ended_at IS NULL";
        await using (var c = await demo.OpenUnscopedAsync())
        {
            var wards = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM care_unit WHERE kind = 'Ward'");
            Assert.Equal(wards * 12, await c.ExecuteScalarAsync<long>(open));
        }
        await using (var c = await plain.OpenUnscopedAsync())
            Assert.Equal(0, await c.ExecuteScalarAsync<long>(open));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_demo_regions_inpatients_have_medication_lists_the_wards_physician_reads(DatabaseEngine engine)
    {
        var (demo, _) = await SeedAsync(engine, patients: 60, demo: true);
        await using var c = await demo.OpenUnscopedAsync();
        var inpatients = (await c.QueryAsync<(Guid Patient, Guid Ward)>(
            "SELECT e.patient_id, e.unit_id FROM encounter e JOIN care_unit u ON u.id = e.unit_id WHERE u.kind = 'Ward' AND e.kind = 'Inpatient' AND e.ended_at IS NULL")).ToList();
        var counts = (await c.QueryAsync<(Guid Patient, long Orders)>("SELECT patient_id, COUNT(*) FROM medication_order GROUP BY patient_id")).ToDictionary(r => r.Patient, r => r.Orders);
        Assert.NotEmpty(inpatients);
        Assert.All(inpatients, i => Assert.InRange(counts.GetValueOrDefault(i.Patient), 3, 5));

        var (staffId, hsaId, unitHsa) = await c.QuerySingleAsync<(Guid, string, string)>(
            "SELECT s.id, s.hsa_id, u.hsa_id FROM staff s JOIN care_unit u ON u.id = @ward WHERE s.username = 'lakare'", new { ward = inpatients[0].Ward });
        var physician = new Stadig.Access.Caller(staffId, hsaId, "Lena Läkare", Stadig.Organisation.Role.Physician, inpatients[0].Ward, unitHsa, Stadig.Organisation.Purpose.CareAndTreatment);
        var list = await CoreServices.Create(demo, Clock).Medication.ListAsync(physician, inpatients[0].Patient);
        Assert.InRange(list.Count, 3, 5);
        Assert.All(list, o => Assert.False(string.IsNullOrEmpty(o.Current.DosageText)));
        var all = await c.QueryAsync<string>("SELECT DISTINCT origin FROM medication_order");
        Assert.Contains("Prescribed", all);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Every_demo_ward_has_a_medication_round_with_doses_given_due_and_one_overdue(DatabaseEngine engine)
    {
        var (demo, _) = await SeedAsync(engine, patients: 60, demo: true);
        await using var c = await demo.OpenUnscopedAsync();
        var wards = (await c.QueryAsync<(Guid Id, string HsaId)>("SELECT id, hsa_id FROM care_unit WHERE kind = 'Ward'")).ToList();
        var (staffId, hsaId) = await c.QuerySingleAsync<(Guid, string)>("SELECT id, hsa_id FROM staff WHERE username = 'sjukskoterska'");
        var administration = CoreServices.Create(demo, Clock).Administration;
        Assert.NotEmpty(wards);
        foreach (var (ward, unitHsa) in wards)
        {
            var nurse = new Stadig.Access.Caller(staffId, hsaId, "Sven Sjuksköterska", Stadig.Organisation.Role.Nurse, ward, unitHsa, Stadig.Organisation.Purpose.CareAndTreatment);
            var round = await administration.WardAsync(nurse);
            var doses = round.SelectMany(b => b.Doses).ToList();
            Assert.Equal(1, doses.Count(d => d.State == Stadig.Medication.DoseState.Overdue));
            Assert.Contains(doses, d => d.State == Stadig.Medication.DoseState.Due);
            Assert.True(await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM medication_administration WHERE unit_id = @ward AND outcome = 'Given'", new { ward }) > 5);
        }
        // Over the last day every high-risk dose given was checked by a second nurse.
        Assert.Equal(0, await c.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM medication_administration a JOIN medication_order_version v ON v.order_id = a.order_id AND v.version = a.order_version "
            + "JOIN medication_product p ON p.id = v.product_id WHERE p.high_risk AND a.outcome <> 'NotGiven' AND (a.checked_by IS NULL OR a.checked_by = a.given_by)"));
        Assert.True(await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM medication_administration WHERE scheduled_at IS NULL AND reason IS NOT NULL") > 0);
    }
}
