using System.Globalization;
using System.Text;
using Stadig.Access;
using Stadig.Common;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Chart;

/// <summary>The latest value of one observation code, and how many there are (the trend holds them all).</summary>
public sealed record ObservationSeries(RecordEntry Latest, int Count);

/// <summary>Everything the record holds, by section: chart records and what other systems wrote, each once.</summary>
public sealed record RecordSections(
    Patient Patient,
    IReadOnlyList<RecordEntry> Signals,
    IReadOnlyList<RecordEntry> Problems,
    IReadOnlyList<ObservationSeries> Observations,
    IReadOnlyList<RecordEntry> Medications,
    IReadOnlyList<RecordEntry> Immunizations,
    IReadOnlyList<RecordEntry> Procedures,
    IReadOnlyList<RecordEntry> Encounters,
    IReadOnlyList<RecordEntry> Documents,
    bool BlockedRecordsWithheld);

/// <summary>What to show of the timeline: kinds (none = all), a period of instants, and where the page before ended.</summary>
public sealed record TimelineQuery(IReadOnlyCollection<RecordKind>? Kinds = null, DateTimeOffset? From = null, DateTimeOffset? To = null, string? After = null, int PageSize = TimelineQuery.DefaultPageSize)
{
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 200;
}

/// <summary>One page of the journal timeline; <see cref="Next"/> continues after its last entry (null at the end).</summary>
/// <summary>
/// The warnings page: the chart's warnings (active and inactivated) and every active attention signal,
/// the chart's and those other systems sent over FHIR, for the list and the banner alike.
/// </summary>
public sealed record WarningsView(Patient Patient, IReadOnlyList<Stadig.Warnings.PatientWarning> Chart, IReadOnlyList<RecordEntry> Signals)
{
    /// <summary>The signals another system wrote (the chart's own are in <see cref="Chart"/>), each once: published copies of the chart's are not among them.</summary>
    public IReadOnlyList<RecordEntry> External => Signals.Where(s => s.Source is not null).ToList();
}

/// <param name="Signals">The banner's attention signals, read under the page's grant and audit event.</param>
/// <summary>The problems page with its banner's attention signals.</summary>
public sealed record ProblemsView(Patient Patient, IReadOnlyList<Stadig.Problems.PatientProblem> Problems, IReadOnlyList<RecordEntry> Signals);

public sealed record TimelinePage(Patient Patient, IReadOnlyList<RecordEntry> Entries, string? Next, IReadOnlyList<RecordEntry>? Signals = null);

/// <summary>
/// The patient's whole record as the chart shows it: attention signals for the banner, the record's
/// sections and the journal timeline. Chart records are read from their tables, what other systems
/// wrote over FHIR from the FHIR store (never the chart's published copies), so a fact shows once,
/// with its unit, author or sending system and time. Every read goes through the checkpoint and is
/// audited; inner secrecy and blocks apply per record by its unit.
/// </summary>
public sealed class PatientRecord(Database database, PatientCheckpoint checkpoint)
{
    internal static readonly string[] SignalTypes = ["AllergyIntolerance", "Flag"];

    /// <summary>Active attention signals (uppmärksamhetsinformation), hypersensitivities first: for the banner of every patient page.</summary>
    public async Task<IReadOnlyList<RecordEntry>> AttentionAsync(Caller caller, Guid patientId, CancellationToken cancellationToken = default)
    {
        var grant = await checkpoint.ReadAsync(caller, patientId, "AttentionSignals", cancellationToken);
        await using var connection = await grant.OpenAsync(cancellationToken);
        return await SignalsAsync(connection, database.Engine, grant.Context);
    }

    internal static async Task<IReadOnlyList<RecordEntry>> SignalsAsync(System.Data.Common.DbConnection connection, DatabaseEngine engine, PatientAccessContext context)
    {
        var chart = await PatientRecordQueries.ActiveWarningsAsync(connection, context.PatientId);
        return Signals(chart, await PatientRecordQueries.ExternalAsync(connection, engine, context.PatientId, SignalTypes), context);
    }

    /// <summary>The banner's signals from rows already read: the chart's active warnings and the FHIR-written ones (<see cref="SignalTypes"/> among <paramref name="external"/>).</summary>
    internal static IReadOnlyList<RecordEntry> Signals(IEnumerable<RecordEntry> chart, IEnumerable<PatientRecordQueries.ExternalRow> external,
        PatientAccessContext context) =>
        chart.Concat(external.Where(r => SignalTypes.Contains(r.ResourceType)).Select(r => FhirRecordReader.Read(r.Row, r.UnitName)).Where(IsActiveSignal))
            .Where(e => e.UnitId is not { } unit || context.MaySee(unit))
            .OrderBy(e => e.Kind == RecordKind.Allergy ? 0 : 1).ThenByDescending(e => e.At).ToList();

    /// <summary>The warnings page with its banner: one decision, one audited read (<c>Warning</c>).</summary>
    public async Task<WarningsView> WarningsAsync(Caller caller, Guid patientId, CancellationToken cancellationToken = default)
    {
        var grant = await checkpoint.ReadAsync(caller, patientId, "Warning", cancellationToken);
        await using var connection = await grant.OpenAsync(cancellationToken);
        var patient = await PatientRegistry.FindInAsync(grant, connection, null) ?? throw new NotFoundException("Patienten finns inte.");
        return new WarningsView(patient, await Stadig.Warnings.PatientWarnings.ListInAsync(connection, grant.Context),
            await SignalsAsync(connection, database.Engine, grant.Context));
    }

    /// <summary>The problems page with its banner: one decision, one audited read (<c>Problem</c>).</summary>
    public async Task<ProblemsView> ProblemsAsync(Caller caller, Guid patientId, CancellationToken cancellationToken = default)
    {
        var grant = await checkpoint.ReadAsync(caller, patientId, "Problem", cancellationToken);
        await using var connection = await grant.OpenAsync(cancellationToken);
        var patient = await PatientRegistry.FindInAsync(grant, connection, null) ?? throw new NotFoundException("Patienten finns inte.");
        return new ProblemsView(patient, await Stadig.Problems.PatientProblems.ListInAsync(connection, grant.Context),
            await SignalsAsync(connection, database.Engine, grant.Context));
    }

    /// <summary>An allergy or flag that still holds: not inactive, resolved, refuted or entered in error.</summary>
    public static bool IsActiveSignal(RecordEntry e) =>
        e.Status is not ("inactive" or "resolved" or "entered-in-error") && e.Verification is not ("refuted" or "entered-in-error");

    /// <summary>A problem that still holds (a condition without clinical status counts: R4 leaves it out only when unknown).</summary>
    public static bool IsActiveProblem(RecordEntry e) =>
        e.Status is null or "active" or "recurrence" or "relapse" or "Active" && e.Verification is not ("refuted" or "entered-in-error");

    /// <summary>The record's sections: signals, problems, observations, medications, immunizations, procedures, encounters and documents.</summary>
    public async Task<RecordSections> SectionsAsync(Caller caller, Guid patientId, CancellationToken cancellationToken = default)
    {
        var grant = await checkpoint.ReadAsync(caller, patientId, "PatientRecord", cancellationToken);
        var context = grant.Context;
        await using var connection = await grant.OpenAsync(cancellationToken);
        var patient = await PatientRegistry.FindInAsync(grant, connection, null) ?? throw new NotFoundException("Patienten finns inte.");
        var signals = await SignalsAsync(connection, database.Engine, context);
        var rows = await PatientRecordQueries.ExternalAsync(connection, database.Engine, context.PatientId, FhirRecordReader.Kinds.Keys.Except(SignalTypes).ToArray());
        var external = rows.Where(r => context.MaySee(r.UnitId ?? Guid.Empty)).Select(r => FhirRecordReader.Read(r.Row, r.UnitName)).ToList();
        var withheld = rows.Any(r => r.UnitId is { } unit && context.IsBlockedFromCaller(unit));
        // The chart's own problems, encounters and vital signs come through the timeline's query (one read of each table).
        var chart = await PatientRecordQueries.TimelineAsync(connection, database.Engine, context, [RecordKind.Problem, RecordKind.Encounter, RecordKind.Observation], null, null, null, 1000);
        var chartEntries = chart.Where(r => r.ResourceType is null).Select(r => r.ToEntry()).ToList();

        List<RecordEntry> Of(params RecordKind[] kinds) => external.Where(e => kinds.Contains(e.Kind)).OrderByDescending(e => e.At).ToList();
        var problems = chartEntries.Where(e => e.Kind == RecordKind.Problem).Concat(Of(RecordKind.Problem))
            .OrderBy(e => IsActiveProblem(e) ? 0 : 1).ThenByDescending(e => e.At).ToList();
        var encounters = chartEntries.Where(e => e.Kind == RecordKind.Encounter).Concat(Of(RecordKind.Encounter)).OrderByDescending(e => e.At).ToList();
        var observations = chartEntries.Where(e => e.Kind == RecordKind.Observation).Concat(Of(RecordKind.Observation, RecordKind.Result)).Where(e => e.Code is not null)
            .OrderByDescending(e => e.At)
            .GroupBy(e => e.Code!).Select(g => new ObservationSeries(g.First(), g.Count())).OrderBy(s => s.Latest.Title, StringComparer.CurrentCulture).ToList();
        return new RecordSections(patient, signals, problems, observations, Of(RecordKind.Medication), Of(RecordKind.Immunization), Of(RecordKind.Procedure),
            encounters, Of(RecordKind.Document), withheld);
    }

    /// <summary>One page of the journal timeline (journalöversikt), newest first, keyset-paged.</summary>
    public async Task<TimelinePage> TimelineAsync(Caller caller, Guid patientId, TimelineQuery query, CancellationToken cancellationToken = default)
    {
        if (query.PageSize is < 1 or > TimelineQuery.MaxPageSize) throw new InvalidInputException("count", $"Ange högst {TimelineQuery.MaxPageSize} poster per sida.");
        if (query.From is { } from && query.To is { } to && to <= from) throw new InvalidInputException("to", "Slutdatumet ligger före startdatumet.");
        var after = query.After is null ? null : ParseCursor(query.After);
        var grant = await checkpoint.ReadAsync(caller, patientId, "JournalTimeline", cancellationToken);
        await using var connection = await grant.OpenAsync(cancellationToken);
        var patient = await PatientRegistry.FindInAsync(grant, connection, null) ?? throw new NotFoundException("Patienten finns inte.");
        var kinds = query.Kinds is { Count: > 0 } k ? k : Enum.GetValues<RecordKind>();
        var rows = await PatientRecordQueries.TimelineAsync(connection, database.Engine, grant.Context, kinds, query.From, query.To, after, query.PageSize + 1);
        var page = rows.Take(query.PageSize).ToList();
        var entries = page.Select(r => r.ToEntry()).ToList();
        if (page.Any(r => r.Amends is not null))
        {
            var amended = await PatientRecordQueries.AmendedByAsync(connection, grant.PatientId);
            entries = entries.Select((e, i) => page[i].Amends is null ? e : e with { Versions = Chain(page[i].Amends, amended) }).ToList();
        }
        var next = rows.Count > query.PageSize ? Cursor(page[^1].At, page[^1].EntryKey) : null;
        return new TimelinePage(patient, entries, next, await SignalsAsync(connection, database.Engine, grant.Context));
    }

    private static int Chain(Guid? amends, IReadOnlyDictionary<Guid, Guid> amended)
    {
        var versions = 1;
        // The amended note itself is signed (only signed notes are amended); each signed step back is a version.
        for (var current = amends; current is { } id && versions < 1000; current = amended.TryGetValue(id, out var back) ? back : null) versions++;
        return versions;
    }

    private static string Cursor(DateTimeOffset at, string key) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(at.UtcTicks.ToString(CultureInfo.InvariantCulture) + "|" + key)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static PatientRecordQueries.Cursor ParseCursor(string text)
    {
        try
        {
            var padded = text.Replace('-', '+').Replace('_', '/');
            padded += new string('=', (4 - padded.Length % 4) % 4);
            var parts = Encoding.UTF8.GetString(Convert.FromBase64String(padded)).Split('|', 2);
            if (parts.Length == 2 && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks) && parts[1].Length is > 0 and <= 200)
                return new PatientRecordQueries.Cursor(new DateTimeOffset(ticks, TimeSpan.Zero), parts[1]);
        }
        catch (Exception e) when (e is FormatException or ArgumentOutOfRangeException) { }
        throw new InvalidInputException("after", "Sidmarkören är ogiltig: börja om från första sidan.");
    }
}
