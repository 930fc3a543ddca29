using Dapper;
using Stadig.Access;
using Stadig.Common;
using Stadig.LabResults;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Chart;

public sealed record WarningItem
{
    public Guid Id { get; init; }
    public Guid UnitId { get; init; }
    public string UnitName { get; init; } = "";
    public string Category { get; init; } = "";
    public string Text { get; init; } = "";
    public string? Agent { get; init; }
    public string? Reaction { get; init; }
    public string? Severity { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    /// <summary>Null for the chart's own warning; else the system that wrote it over FHIR (its record is read-only here).</summary>
    public string? Source { get; init; }
    /// <summary>A FHIR allergy's verification status and criticality, as sent.</summary>
    public string? Verification { get; init; }
    public string? Criticality { get; init; }
}

public sealed record ProblemItem
{
    public Guid Id { get; init; }
    public Guid UnitId { get; init; }
    public string UnitName { get; init; } = "";
    public string Code { get; init; } = "";
    public string Text { get; init; } = "";
    public DateOnly? OnsetDate { get; init; }
    public DateTimeOffset RecordedAt { get; init; }
    /// <summary>Null for the chart's own problem; else the system that wrote it over FHIR.</summary>
    public string? Source { get; init; }
}

public sealed record NoteItem
{
    public Guid Id { get; init; }
    public Guid UnitId { get; init; }
    public string UnitName { get; init; } = "";
    public string NoteType { get; init; } = "";
    public string Status { get; init; } = "";
    public string AuthorName { get; init; } = "";
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? SignedAt { get; init; }
}

/// <summary>A result line as the overview lists it: the shared line row with the name of the unit that filed it.</summary>
public sealed class ResultItem : ResultLineRow
{
    public string UnitName { get; init; } = "";
}

public sealed record EncounterItem
{
    public Guid Id { get; init; }
    public Guid UnitId { get; init; }
    public string UnitName { get; init; } = "";
    public string Kind { get; init; } = "";
    public string? Bed { get; init; }
    public DateTimeOffset StartedAt { get; init; }
    public DateTimeOffset? EndedAt { get; init; }
    /// <summary>Where a discharged patient went (<see cref="Encounters.DischargeDestination"/>); null otherwise.</summary>
    public string? DischargeDestination { get; init; }
    /// <summary>When the discharge was recorded: the undo window counts from here.</summary>
    public DateTimeOffset? DischargeRecordedAt { get; init; }
}

/// <summary>What the chart overview shows: only records the caller may see, and whether blocked records were withheld.</summary>
public sealed record ChartOverview(
    Patient Patient,
    IReadOnlyList<WarningItem> Warnings,
    IReadOnlyList<NoteItem> Notes,
    IReadOnlyList<ResultItem> Results,
    IReadOnlyList<EncounterItem> Encounters,
    bool BlockedRecordsWithheld,
    bool OpenedInEmergency)
{
    /// <summary>The active problems and diagnoses the caller may see, newest first.</summary>
    public IReadOnlyList<ProblemItem> Problems { get; init; } = [];

    /// <summary>The merges this record took part in (the merge trail), read in the overview's one audited access.</summary>
    public IReadOnlyList<PatientMerge> Merges { get; init; } = [];
}

/// <summary>The chart overview: banner facts, active warnings and problems, latest notes, results and encounters, one audited read.</summary>
public sealed class PatientChart(PatientCheckpoint checkpoint)
{
    private const int Latest = 20;
    private static readonly string[] ExternalTypes = ["AllergyIntolerance", "Flag", "Condition"];

    public async Task<ChartOverview> OverviewAsync(Caller caller, Guid patientId, CancellationToken cancellationToken = default)
    {
        // The overview's rows come in the same round trip as the facts that decide, and are shown
        // (filtered by what the caller may see) only once the read is allowed and audited.
        var (grant, rows) = await checkpoint.ReadWithAsync(caller, patientId, "ChartOverview", Sql(checkpoint.Engine), Parameters(), ReadRowsAsync,
            cancellationToken);
        return Build(grant.Context, rows) ?? throw new NotFoundException("Patienten finns inte.");
    }

    /// <summary>
    /// The overview under a grant already held, on its connection: a downtime snapshot reads it with the
    /// rest of the patient's page under the one decision and audit event that allowed them.
    /// </summary>
    internal static async Task<ChartOverview> OverviewInAsync(PatientAccessGrant grant, System.Data.Common.DbConnection connection, DatabaseEngine engine)
    {
        var parameters = new DynamicParameters(Parameters());
        parameters.Add("patientId", grant.PatientId);
        Rows rows;
        using (var grid = await connection.QueryMultipleAsync(Sql(engine), parameters))
            rows = await ReadRowsAsync(grid);
        return Build(grant.Context, rows) ?? throw new NotFoundException("Patienten finns inte.");
    }

    /// <summary>
    /// The start-up warm-up: the overview's statements for a patient id that does not exist, so that the
    /// first real chart finds them compiled and prepared. Nothing of anyone's is read — the id is checked
    /// to belong to no patient first — so there is no access to decide or audit.
    /// </summary>
    public async Task WarmUpAsync(Caller nobody, Guid noPatientId, CancellationToken cancellationToken = default)
    {
        // A lookup before any decision, as for an entry found by its id: the scope's connection, and nothing of a patient's is read.
        await using var connection = await checkpoint.Scope(nobody).OpenAsync(cancellationToken);
        if (await connection.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM patient WHERE id = @noPatientId", new { noPatientId }) > 0)
            throw new InvalidOperationException("The warm-up's patient id belongs to a patient.");
        var parameters = new DynamicParameters(Parameters());
        parameters.Add("patientId", noPatientId);
        using (var grid = await connection.QueryMultipleAsync(Sql(checkpoint.Engine), parameters))
            await ReadRowsAsync(grid);
    }

    private static object Parameters() => new { types = ExternalTypes, published = PatientRecordQueries.PublishedPattern };

    private sealed record Rows(Patient? Patient, List<WarningItem> Warnings, List<NoteItem> Notes, List<ResultItem> Results, List<EncounterItem> Encounters,
        List<Guid> Units, List<ProblemItem> Problems, List<PatientRecordQueries.ExternalRow> External, List<PatientMerge> Merges);

    /// <summary>Every part is read before the patient is looked at, so the warm-up prepares them all.</summary>
    private static async Task<Rows> ReadRowsAsync(SqlMapper.GridReader rows) => new(
        await rows.ReadSingleOrDefaultAsync<Patient>(),
        (await rows.ReadAsync<WarningItem>()).AsList(),
        (await rows.ReadAsync<NoteItem>()).AsList(),
        (await rows.ReadAsync<ResultItem>()).AsList(),
        (await rows.ReadAsync<EncounterItem>()).AsList(),
        (await rows.ReadAsync<Guid>()).AsList(),
        (await rows.ReadAsync<ProblemItem>()).AsList(),
        (await rows.ReadAsync<PatientRecordQueries.ExternalRow>()).AsList(),
        (await rows.ReadAsync<PatientMerge>()).AsList());

    /// <summary>The overview's statements (parameter @patientId and <see cref="Parameters"/>), the FHIR-written signals last.</summary>
    private static string Sql(DatabaseEngine engine) =>
            $"""
            SELECT {PatientRegistry.PatientColumns} FROM patient WHERE id = @patientId;
            SELECT w.id AS Id, w.unit_id AS UnitId, u.name AS UnitName, w.category AS Category, w.text AS Text, w.agent AS Agent, w.reaction AS Reaction, w.severity AS Severity, w.created_at AS CreatedAt
                FROM warning w JOIN care_unit u ON u.id = w.unit_id WHERE w.patient_id = @patientId AND w.inactivated_at IS NULL ORDER BY w.created_at DESC;
            SELECT n.id AS Id, n.unit_id AS UnitId, u.name AS UnitName, n.note_type AS NoteType, n.status AS Status, s.display_name AS AuthorName, n.created_at AS CreatedAt, n.signed_at AS SignedAt
                FROM note n JOIN care_unit u ON u.id = n.unit_id JOIN staff s ON s.id = n.author_id
                WHERE n.patient_id = @patientId AND n.status <> 'Discarded' ORDER BY n.created_at DESC LIMIT {Latest * 3};
            {ResultLineRows.Select(false, ", u.name AS UnitName", " JOIN care_unit u ON u.id = r.unit_id")}
                WHERE r.patient_id = @patientId AND r.superseded_by IS NULL ORDER BY r.observed_at DESC LIMIT {Latest * 3};
            SELECT e.id AS Id, e.unit_id AS UnitId, u.name AS UnitName, e.kind AS Kind, e.bed AS Bed, e.started_at AS StartedAt, e.ended_at AS EndedAt,
                   e.discharge_destination AS DischargeDestination, e.discharge_recorded_at AS DischargeRecordedAt
                FROM encounter e JOIN care_unit u ON u.id = e.unit_id WHERE e.patient_id = @patientId ORDER BY e.started_at DESC LIMIT {Latest * 3};
            SELECT DISTINCT unit_id FROM (
                SELECT unit_id FROM note WHERE patient_id = @patientId UNION SELECT unit_id FROM lab_result WHERE patient_id = @patientId
                UNION SELECT unit_id FROM encounter WHERE patient_id = @patientId UNION SELECT unit_id FROM warning WHERE patient_id = @patientId
                UNION SELECT unit_id FROM problem WHERE patient_id = @patientId) units;
            SELECT p.id AS Id, p.unit_id AS UnitId, u.name AS UnitName, p.code AS Code, p.text AS Text, p.onset_date AS OnsetDate, p.recorded_at AS RecordedAt
                FROM problem p JOIN care_unit u ON u.id = p.unit_id WHERE p.patient_id = @patientId AND p.status = 'Active' ORDER BY p.recorded_at DESC;
            {PatientRecordQueries.ExternalSql(engine)};
            {PatientRegistry.MergesSql};
            """;

    private static ChartOverview? Build(PatientAccessContext context, Rows rows)
    {
        var patient = rows.Patient;
        var warnings = rows.Warnings.Where(w => context.MaySee(w.UnitId)).ToList();
        var notes = rows.Notes.Where(n => context.MaySee(n.UnitId)).Take(Latest).ToList();
        var results = rows.Results.Where(r => context.MaySee(r.UnitId)).Take(Latest).ToList();
        var encounters = rows.Encounters.Where(e => context.MaySee(e.UnitId)).Take(Latest).ToList();
        var units = rows.Units;
        var problems = rows.Problems.Where(p => context.MaySee(p.UnitId)).ToList();
        // What other systems wrote over FHIR stands beside the chart's own, once (the chart's published copies are not read).
        var external = rows.External
            .Where(r => context.MaySee(r.UnitId ?? Guid.Empty)).Select(r => FhirRecordReader.Read(r.Row, r.UnitName)).ToList();
        warnings.AddRange(external.Where(e => e.Kind is RecordKind.Allergy or RecordKind.Warning && PatientRecord.IsActiveSignal(e)).OrderByDescending(e => e.At).Select(e => new WarningItem
        {
            UnitId = e.UnitId ?? Guid.Empty, UnitName = e.UnitName ?? "", Category = e.Kind == RecordKind.Allergy ? "Hypersensitivity" : "Unstructured",
            Text = e.Title, Agent = e.Kind == RecordKind.Allergy ? e.Title : null, Reaction = e.Detail, Severity = e.Severity, CreatedAt = e.At,
            Source = e.Source, Verification = e.Verification, Criticality = e.Criticality,
        }));
        problems.AddRange(external.Where(e => e.Kind == RecordKind.Problem && PatientRecord.IsActiveProblem(e)).OrderByDescending(e => e.At).Select(e => new ProblemItem
        {
            UnitId = e.UnitId ?? Guid.Empty, UnitName = e.UnitName ?? "", Code = e.Code ?? "", Text = e.Title,
            OnsetDate = DateOnly.FromDateTime(e.At.UtcDateTime), RecordedAt = e.At, Source = e.Source,
        }));
        if (patient is null) return null;
        return new ChartOverview(patient, warnings, notes, results, encounters,
            BlockedRecordsWithheld: units.Any(context.IsBlockedFromCaller),
            OpenedInEmergency: context.EmergencyOpen && !context.HasCareRelation) { Problems = problems, Merges = rows.Merges };
    }
}
