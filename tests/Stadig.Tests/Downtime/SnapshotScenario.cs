using System.Text.Json;
using AngleSharp.Html.Dom;
using AngleSharp.Html.Parser;
using Microsoft.Extensions.Logging.Abstractions;
using Stadig.Access;
using Stadig.Common;
using Stadig.Downtime;
using Stadig.Medication;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Storage;
using Stadig.Warnings;

namespace Stadig.Tests.Downtime;

/// <summary>
/// Two wards and a clinic with patients as a downtime snapshot must treat them: Anna on medicine ward 1
/// (an allergy, a problem, a scheduled drug, a signed note, and a warning of the clinic she has blocked),
/// Cecilia on the same ward with a protected identity and a secret address, and Bertil on the surgical
/// ward. Both wards have downtime keys unless told otherwise. With a long note, Anna also has a signed
/// note of <see cref="LongNoteWords"/> numbered words ("ord0001" …) in paragraphs: pages of it printed.
/// </summary>
public sealed class SnapshotScenario
{
    public const string WardKey = "tre gröna hästar på ängen";
    public const string SurgeryKey = "kirurgens egen långa nyckel";

    public const int LongNoteWords = 1500;

    /// <summary>The long note's words in order: "ord0001", "ord0002" …</summary>
    public static IEnumerable<string> LongNote => Enumerable.Range(1, LongNoteWords).Select(i => $"ord{i:0000}");

    public static readonly DateTimeOffset Start = new(2026, 12, 5, 9, 0, 0, TimeSpan.Zero);

    public required DatabaseEngine Engine { get; init; }
    public required string ConnectionString { get; init; }
    public required CoreServices Services { get; init; }
    public required FixedClock Clock { get; init; }
    public required CareUnit Ward { get; init; }
    public required CareUnit Surgery { get; init; }
    public required Guid Anna { get; init; }
    public required Guid Bertil { get; init; }
    public required Guid Cecilia { get; init; }
    public required SnapshotSettings Settings { get; init; }
    public required DowntimeSnapshots Snapshots { get; init; }

    public Database Database => Services.Database;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static async Task<SnapshotScenario> CreateAsync(DatabaseEngine engine, int kept = 4, bool surgeryKey = true, bool longNote = false)
    {
        var connectionString = await TestDatabases.CreateConnectionStringAsync(engine);
        var database = new Database(engine, connectionString);
        await new Migrator(database).MigrateAsync();
        var clock = new FixedClock(Start);
        var services = CoreServices.Create(database, clock);
        var provider = await services.Staff.AddProviderAsync("SE2321000016-0001", "Testregionen", Ct);
        var ward = await services.Staff.AddUnitAsync(provider.Id, "SE2321000016-0002", "Medicinavdelning 1", UnitKind.Ward, Ct);
        var surgery = await services.Staff.AddUnitAsync(provider.Id, "SE2321000016-0004", "Kirurgavdelning 2", UnitKind.Ward, Ct);
        var clinic = await services.Staff.AddUnitAsync(provider.Id, "SE2321000016-0003", "Medicinmottagningen", UnitKind.OutpatientClinic, Ct);
        var physician = await CallerAsync(services, "lakare", Role.Physician, ward);
        var surgeon = await CallerAsync(services, "kirurg", Role.Physician, surgery);
        var clinicNurse = await CallerAsync(services, "mottagning", Role.Nurse, clinic);

        var anna = (await services.Patients.RegisterAsync(physician, "19121212-1212", new PatientDetails("Öberg", "Anna"), Ct)).PatientId;
        await services.Encounters.AdmitAsync(physician, anna, ward.Id, "1", Ct);
        await services.Warnings.AddAsync(physician, anna, new NewWarning("Hypersensitivity", "", "Penicillin", "Nässelutslag", "Harmful", "Confirmed"), Ct);
        await services.Problems.AddAsync(physician, anna, "I10", cancellationToken: Ct);
        await services.Catalogue.ImportAsync(CatalogueFile.Read(new StringReader(
            "npl_id;name;substances;strength;dose_form;route;atc_code;max_daily_dose;high_risk\n;Alvedon;Paracetamol;500 mg;filmdragerad tablett;oral;N02BE01;4 g;nej\n")), null, Ct);
        var alvedon = (await services.Catalogue.SearchAsync("Alvedon", cancellationToken: Ct)).Single(p => p.Name == "Alvedon").Id;
        await services.Medication.PrescribeAsync(physician, anna, new MedicationDraft
        {
            ProductId = alvedon, DoseValue = 1, DoseUnit = "tablett", Route = "oral", Indication = "Smärta",
            TimesOfDay = [new TimeOnly(8, 0), new TimeOnly(20, 0)],
        }, cancellationToken: Ct);
        var note = await services.Notes.CreateDraftAsync(physician, anna, "Daganteckning", cancellationToken: Ct);
        await services.Notes.SaveAndSignAsync(physician, note.Id, note.Version, [new("Aktuellt", "Mår bättre, äter själv.\nIngen feber.")], Ct);
        if (longNote)
        {
            var log = await services.Notes.CreateDraftAsync(physician, anna, "Daganteckning", cancellationToken: Ct);
            var text = string.Join("\n", LongNote.Chunk(100).Select(words => string.Join(' ', words)));
            await services.Notes.SaveAndSignAsync(physician, log.Id, log.Version, [new("Bedömning", text)], Ct);
        }
        await services.Access.RecordCareRelationAsync(clinicNurse, anna, "Besök", Ct);
        await services.Warnings.AddAsync(clinicNurse, anna, new NewWarning("Unstructured", "Mottagningens spärrade uppgift"), Ct);
        await services.Access.BlockAsync(clinicNurse, anna, clinic.Id, "Patienten begär spärr", cancellationToken: Ct);

        var cecilia = (await services.Patients.RegisterAsync(physician, TestNumbers.Personnummer(1961, 3, 4), new PatientDetails("Lind", "Cecilia",
            AddressLine: "Hemliga vägen 3", City: "Gömstad", ProtectedIdentity: ProtectedIdentity.SkyddadFolkbokforing), Ct)).PatientId;
        await services.Encounters.AdmitAsync(physician, cecilia, ward.Id, "2", Ct);

        var bertil = (await services.Patients.RegisterAsync(surgeon, TestNumbers.Personnummer(1950, 6, 7), new PatientDetails("Berg", "Bertil"), Ct)).PatientId;
        await services.Encounters.AdmitAsync(surgeon, bertil, surgery.Id, "7", Ct);

        var root = Directory.CreateTempSubdirectory("stadig-snapshots-").FullName;
        var settings = new SnapshotSettings { Folder = Path.Combine(root, "share"), KeyFolder = Path.Combine(root, "keys"), IntervalMinutes = 15, Kept = kept };
        SnapshotKeys.Write(settings.KeyFolder, ward.HsaId, WardKey);
        if (surgeryKey) SnapshotKeys.Write(settings.KeyFolder, surgery.HsaId, SurgeryKey);
        var reader = new UnitSnapshotReader(database, services.Checkpoint, services.Encounters, services.Audit, clock);
        var page = new SnapshotPage(RegionTime.Sweden);
        var snapshots = new DowntimeSnapshots(reader, page, new SnapshotPdf(page, new Stadig.Audit.DejaVuFontResolver()), services.Staff, settings, clock,
            NullLogger<DowntimeSnapshots>.Instance);
        return new SnapshotScenario
        {
            Engine = engine, ConnectionString = connectionString, Services = services, Clock = clock, Ward = ward, Surgery = surgery,
            Anna = anna, Bertil = bertil, Cecilia = cecilia, Settings = settings, Snapshots = snapshots,
        };
    }

    private static async Task<Caller> CallerAsync(CoreServices services, string username, Role role, CareUnit unit)
    {
        var member = await services.Staff.AddStaffAsync($"SE2321000016-{username.ToUpperInvariant()}", username, $"Test {username}", role.Swedish(), null, isDemo: false, Ct);
        await services.Staff.AddAssignmentAsync(member.Id, unit.Id, role, Purpose.CareAndTreatment, Ct);
        return new Caller(member.Id, member.HsaId, member.DisplayName, role, unit.Id, unit.HsaId, Purpose.CareAndTreatment);
    }

    /// <summary>The sealed record inside a snapshot file, as the page's script reads it.</summary>
    public static SealedPayload SealedIn(string file)
    {
        var document = new HtmlParser().ParseDocument(File.ReadAllText(file));
        return JsonSerializer.Deserialize<SealedPayload>(document.GetElementById("sealed")!.TextContent,
            new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.CamelCase })!;
    }

    /// <summary>The decrypted record part of a snapshot file, parsed.</summary>
    public static IHtmlDocument Open(string file, string key) =>
        new HtmlParser().ParseDocument("<!DOCTYPE html><html><body>" + SnapshotCipher.Open(key, SealedIn(file)) + "</body></html>");
}
