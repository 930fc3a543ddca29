using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using Dapper;
using Stadig.Common;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Seeding;

/// <summary>
/// Builds a synthetic Swedish region into an empty database: a care provider with wards, a
/// clinic, primary care and a lab; staff (optionally one demo login per role); and patients with
/// encounters, notes, lab results and warnings. Deterministic: the same seed and the same clock
/// give the same region. Identity numbers can never belong to real people (see IdentityNumbers and
/// docs/seeding.md). Patients are generated and stored in batches, so a million never sit in memory.
/// </summary>
public sealed class RegionSeeder(Database database, TimeProvider clock)
{
    public const string ProviderHsaId = "SE2321000016-1000";
    public const string DemoPassword = "demo";

    /// <summary>The fixed demo logins, one per role, all with password <see cref="DemoPassword"/>.</summary>
    public static IReadOnlyList<(string Username, Role Role, string DisplayName, string Title)> DemoUsernames { get; } =
    [
        ("lakare", Role.Physician, "Lena Läkare", "Specialistläkare"),
        ("sjukskoterska", Role.Nurse, "Sven Sjuksköterska", "Sjuksköterska"),
        ("sekreterare", Role.MedicalSecretary, "Sara Sekreterare", "Medicinsk sekreterare"),
        ("labb", Role.LabStaff, "Lars Labb", "Biomedicinsk analytiker"),
        ("admin", Role.Administrator, "Anna Admin", "Systemförvaltare"),
        ("granskare", Role.LogAuditor, "Gustav Granskare", "Logggranskare"),
    ];

    private const int GeneratedPhysicians = 24;
    private const int GeneratedNurses = 16;

    public async Task<SeedReport> SeedAsync(SeedOptions options, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Patients < 0) throw new InvalidInputException("patients", "Antalet patienter kan inte vara negativt.");
        if (options.BatchSize < 1) throw new InvalidInputException("batchSize", "Batchstorleken måste vara minst 1.");
        if (options.DemoUsers && options.HashPassword is null)
            throw new InvalidInputException("hashPassword", "Demoanvändare kräver en funktion som hashar lösenordet.");

        var stopwatch = Stopwatch.StartNew();
        // One reference time for the whole region, whole seconds so both engines store it exactly.
        var reference = clock.GetUtcNow().ToUniversalTime();
        var now = new DateTimeOffset(reference.Ticks - reference.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero);

        await using (var connection = await database.OpenUnscopedAsync(ct))
        {
            var existing = await connection.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM (SELECT 1 FROM patient LIMIT 1) AS any_patient");
            var provider = await connection.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM care_provider WHERE hsa_id = @ProviderHsaId", new { ProviderHsaId });
            if (existing > 0 || provider > 0)
                throw new InvalidInputException("database",
                    "Databasen innehåller redan patienter eller regionen; en syntetisk region kan bara skapas i en tom databas.");
        }

        // Organisation and staff from their own random source, so that asking for demo users or
        // not leaves the patients of a seed unchanged.
        var orgIds = new IdSource(new Random(unchecked(options.Seed * 7919 + 17)), now.AddYears(-1));
        var (organisation, units, staffCount, logins) = await SeedOrganisationAsync(orgIds, now, options, ct);
        options.Progress?.Report($"Organisation: {units} enheter, {staffCount} medarbetare.");

        var random = new Random(options.Seed);
        var generator = new PatientGenerator(random, new IdSource(random, now), organisation, now);
        long encounters = 0, notes = 0, keywords = 0, results = 0, warnings = 0;
        var written = 0;

        // Generation and storage overlap: one batch is generated while the previous one is stored.
        // A single producer keeps the draw order, and so the region, the same.
        var channel = Channel.CreateBounded<Batch>(new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true });
        // If storing fails, the producer must not stay blocked on a full channel.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var producer = Task.Run(async () =>
        {
            try
            {
                for (var done = 0; done < options.Patients; done += options.BatchSize)
                {
                    var batch = generator.Generate(Math.Min(options.BatchSize, options.Patients - done));
                    await channel.Writer.WriteAsync(batch, stop.Token);
                }
                channel.Writer.Complete();
            }
            catch (Exception e)
            {
                channel.Writer.Complete(e);
            }
        }, CancellationToken.None);

        await using (var writer = await BatchWriter.OpenAsync(database, ct))
        {
            try
            {
                await foreach (var batch in channel.Reader.ReadAllAsync(ct))
                {
                    await writer.WriteAsync(batch, ct);
                    written += batch.Patients.Count;
                    encounters += batch.Encounters.Count;
                    notes += batch.Notes.Count;
                    keywords += batch.Keywords.Count;
                    results += batch.Results.Count;
                    warnings += batch.Warnings.Count;
                    options.Progress?.Report(string.Create(CultureInfo.InvariantCulture,
                        $"Patienter: {written:N0} av {options.Patients:N0} ({stopwatch.Elapsed.TotalSeconds:F0} s)."));
                }
            }
            catch
            {
                await stop.CancelAsync();
                throw;
            }
        }
        await producer;
        if (options.DemoUsers && written > 0) encounters += await AdmitCurrentInpatientsAsync(options.Seed, now, ct);

        if (database.Engine == DatabaseEngine.Postgres && written > 0)
        {
            // Fresh statistics so the planner sees a million patients, not the empty tables it last
            // analysed; and a visibility map, so index-only scans need not visit the heap. Autovacuum
            // would get there too, but benchmarks start right after seeding. One statement per
            // command: VACUUM cannot run in the implicit transaction of a multi-statement batch.
            await using var connection = await database.OpenUnscopedAsync(ct);
            foreach (var table in new[] { "patient", "encounter", "note", "note_keyword", "lab_result", "warning" })
                await connection.ExecuteAsync($"VACUUM (ANALYZE) {table}", commandTimeout: 0);
        }

        return new SeedReport(units, staffCount, written, encounters, notes, keywords, results, warnings, stopwatch.Elapsed, logins);
    }

    private async Task<(SeedOrganisation Organisation, int Units, int Staff, IReadOnlyList<DemoLogin> Logins)> SeedOrganisationAsync(
        IdSource ids, DateTimeOffset now, SeedOptions options, CancellationToken ct)
    {
        var providerId = ids.Next();
        var unitSpecs = new (string Name, UnitKind Kind)[]
        {
            ("Medicinavdelning 3, Ankeborgs sjukhus", UnitKind.Ward),
            ("Ortopedavdelning 12, Ankeborgs sjukhus", UnitKind.Ward),
            ("Medicinmottagningen, Ankeborgs sjukhus", UnitKind.OutpatientClinic),
            ("Vårdcentralen Björkhagen", UnitKind.PrimaryCare),
            ("Vårdcentralen Sjöstaden", UnitKind.PrimaryCare),
            ("Klinisk kemi, Ankeborgs sjukhus", UnitKind.Lab),
        };
        var units = unitSpecs.Select((u, i) => (Id: ids.Next(), HsaId: Hsa(1001 + i), u.Name, u.Kind)).ToList();
        var wards = units.Where(u => u.Kind == UnitKind.Ward).Select(u => u.Id).ToArray();
        var clinic = units.Single(u => u.Kind == UnitKind.OutpatientClinic).Id;
        var primary = units.Where(u => u.Kind == UnitKind.PrimaryCare).Select(u => u.Id).ToArray();
        var lab = units.Single(u => u.Kind == UnitKind.Lab).Id;

        var staff = new List<(Guid Id, string HsaId, string Username, string DisplayName, string Title, string? Hash, bool Demo)>();
        var assignments = new List<(Guid Id, Guid StaffId, Guid UnitId, Role Role, Purpose Purpose)>();
        void Assign(Guid staffId, Guid unitId, Role role, Purpose purpose = Purpose.CareAndTreatment) =>
            assignments.Add((ids.Next(), staffId, unitId, role, purpose));

        // Generated staff: authors and signers of the notes. No password, so nobody logs in as them.
        for (var i = 0; i < GeneratedPhysicians + GeneratedNurses; i++)
        {
            var physician = i < GeneratedPhysicians;
            var (given, family) = SwedishData.StaffNames[i % SwedishData.StaffNames.Length];
            var id = ids.Next();
            staff.Add((id, Hsa(3001 + i), (physician ? "lak" : "ssk") + (i + 1).ToString("D2", CultureInfo.InvariantCulture),
                $"{given} {family}", physician ? (i % 3 == 0 ? "Överläkare" : "Specialistläkare") : "Sjuksköterska", null, false));
            var home = physician
                ? (i % 4) switch { 0 => wards[0], 1 => wards[1], 2 => clinic, _ => primary[i % primary.Length] }
                : (i % 3) switch { 0 => wards[0], 1 => wards[1], _ => primary[i % primary.Length] };
            Assign(id, home, physician ? Role.Physician : Role.Nurse);
        }

        var logins = new List<DemoLogin>();
        var demoIds = DemoUsernames.Select(_ => ids.Next()).ToArray();
        if (options.DemoUsers)
        {
            for (var i = 0; i < DemoUsernames.Count; i++)
            {
                var (username, role, displayName, title) = DemoUsernames[i];
                var id = demoIds[i];
                staff.Add((id, Hsa(2001 + i), username, displayName, title, options.HashPassword!(DemoPassword), true));
                logins.Add(new DemoLogin(username, role, DemoPassword));
                switch (role)
                {
                    case Role.Physician or Role.Nurse:
                        Assign(id, wards[0], role); Assign(id, wards[1], role); Assign(id, clinic, role);
                        break;
                    case Role.MedicalSecretary:
                        Assign(id, clinic, role); Assign(id, wards[0], role);
                        break;
                    case Role.LabStaff:
                        Assign(id, lab, role);
                        break;
                    default:
                        Assign(id, units[0].Id, role, Purpose.Administration);
                        break;
                }
            }
        }

        await database.InUnscopedTransactionAsync(async (connection, transaction) =>
        {
            await connection.ExecuteAsync("INSERT INTO care_provider (id, hsa_id, name) VALUES (@providerId, @ProviderHsaId, @name)",
                new { providerId, ProviderHsaId, name = "Region Ankeborg (syntetisk)" }, transaction);
            foreach (var u in units)
                await connection.ExecuteAsync("INSERT INTO care_unit (id, provider_id, hsa_id, name, kind) VALUES (@Id, @providerId, @HsaId, @Name, @kind)",
                    new { u.Id, providerId, u.HsaId, u.Name, kind = u.Kind.ToString() }, transaction);
            foreach (var s in staff)
                await connection.ExecuteAsync(
                    """
                    INSERT INTO staff (id, hsa_id, username, display_name, title, password_hash, failed_logins, is_demo, created_at)
                    VALUES (@Id, @HsaId, @Username, @DisplayName, @Title, @Hash, 0, @Demo, @now)
                    """, new { s.Id, s.HsaId, s.Username, s.DisplayName, s.Title, s.Hash, s.Demo, now }, transaction);
            foreach (var a in assignments)
                await connection.ExecuteAsync("INSERT INTO assignment (id, staff_id, unit_id, role, purpose) VALUES (@Id, @StaffId, @UnitId, @role, @purpose)",
                    new { a.Id, a.StaffId, a.UnitId, role = a.Role.ToString(), purpose = a.Purpose.ToString() }, transaction);
            return 0;
        }, ct);

        var generatedIds = staff.Where(s => !s.Demo).Select(s => s.Id).ToArray();
        var organisation = new SeedOrganisation(wards, clinic, primary, lab,
            generatedIds[..GeneratedPhysicians], generatedIds[GeneratedPhysicians..]);
        return (organisation, units.Count, staff.Count, logins);
    }

    /// <summary>HSA-ids under the provider's organisation number, in the format StaffDirectory checks.</summary>
    private static string Hsa(int local) => "SE2321000016-" + local.ToString("D4", CultureInfo.InvariantCulture);

    /// <summary>
    /// A demo region needs a ward day: a dozen patients admitted to each ward now, in numbered beds,
    /// so the ward list has patients and the wards' staff have care relations with them.
    /// </summary>
    private async Task<int> AdmitCurrentInpatientsAsync(int seed, DateTimeOffset now, CancellationToken ct)
    {
        const int perWard = 12;
        var random = new Random(seed + 7);
        Guid NextId()
        {
            var bytes = new byte[16];
            random.NextBytes(bytes);
            return new Guid(bytes);
        }
        // The inpatients' medication lists are prescribed from the catalogue, which a new database has only once seeded.
        await new Medication.ProductCatalogue(database, clock).SeedIfEmptyAsync(ct);
        await using var connection = await database.OpenUnscopedAsync(ct);
        var wards = (await connection.QueryAsync<Guid>("SELECT id FROM care_unit WHERE kind = 'Ward' ORDER BY hsa_id")).ToList();
        var patients = (await connection.QueryAsync<Guid>(
            $"SELECT id FROM patient WHERE deceased_date IS NULL AND merged_into_id IS NULL ORDER BY identifier LIMIT {wards.Count * perWard}")).ToList();
        var admitted = new List<(Guid Patient, Guid Ward, DateTimeOffset Admitted)>();
        for (var i = 0; i < patients.Count; i++)
        {
            var ward = wards[i / perWard];
            var place = i % perWard;
            var started = now.AddHours(-(6 + 19 * place));
            await connection.ExecuteAsync(
                "INSERT INTO encounter (id, patient_id, unit_id, kind, bed, started_at) VALUES (@id, @patient, @ward, 'Inpatient', @bed, @started)",
                new { id = NextId(), patient = patients[i], ward, bed = $"Sal {place / 4 + 1} säng {place % 4 + 1}", started });
            admitted.Add((patients[i], ward, started));
        }
        // Their own random source, so that the region's patients and encounters stay as they were before medication.
        var medication = new Random(seed + 11);
        await MedicationSeed.WriteAsync(connection, medication, () =>
        {
            var bytes = new byte[16];
            medication.NextBytes(bytes);
            return new Guid(bytes);
        }, admitted, now);
        // And the medication round's last day, with its own random source for the same reason.
        var administration = new Random(seed + 13);
        await AdministrationSeed.WriteAsync(connection, administration, () =>
        {
            var bytes = new byte[16];
            administration.NextBytes(bytes);
            return new Guid(bytes);
        }, admitted, now);
        return admitted.Count;
    }
}
