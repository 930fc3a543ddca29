using System.Data.Common;
using Dapper;
using Stadig.Access;
using Stadig.Fhir.Records;
using Stadig.Fhir.Search;
using Stadig.Fhir.Store;
using Stadig.Storage;

namespace Stadig.Chart;

/// <summary>
/// The SQL of the record views, in one place: the chart's own tables for what Stadig keeps, the
/// FHIR store for what other systems wrote. A resource published from the chart (tagged
/// <see cref="FhirRecordPublisher.SourceTag"/>) is a copy of a chart row and is never read here,
/// so each fact is read once. Callers hold the checkpoint's grant; inner secrecy is applied by unit
/// (in SQL where a page is cut, else by the caller with <see cref="PatientAccessContext.MaySee"/>).
/// </summary>
internal static class PatientRecordQueries
{
    /// <summary>
    /// Matches a resource that names Stadig's record-source system, i.e. one the chart published:
    /// the API refuses that system in anything a client writes, so only the publisher puts it there.
    /// </summary>
    public const string PublishedPattern = "%\"" + FhirRecordPublisher.SourceSystem + "\"%";

    internal sealed class ExternalRow
    {
        public string ResourceType { get; init; } = "";
        public string Id { get; init; } = "";
        public Guid? UnitId { get; init; }
        public string? UnitName { get; init; }
        public DateTimeOffset LastUpdated { get; init; }
        public string Content { get; init; } = "";

        public FhirResourceRow Row => new() { ResourceType = ResourceType, Id = Id, UnitId = UnitId, LastUpdated = LastUpdated, Content = Content };
    }

    /// <summary>The current resources of <paramref name="types"/> other systems wrote into one patient's record.</summary>
    public static async Task<IReadOnlyList<ExternalRow>> ExternalAsync(DbConnection connection, DatabaseEngine engine, Guid patientId, IReadOnlyCollection<string> types) =>
        (await connection.QueryAsync<ExternalRow>(ExternalSql(engine), new { patientId, types = types.ToArray(), published = PublishedPattern })).ToList();

    /// <summary><see cref="ExternalAsync"/>'s statement, for a batch (parameters @patientId, @types and @published, <see cref="PublishedPattern"/>).</summary>
    internal static string ExternalSql(DatabaseEngine engine) =>
        $"""
         SELECT r.resource_type AS ResourceType, r.id AS Id, r.unit_id AS UnitId, u.name AS UnitName, r.last_updated AS LastUpdated, r.content AS Content
         FROM fhir_resource r LEFT JOIN care_unit u ON u.id = r.unit_id
         WHERE r.patient_id = @patientId AND {AnyOf(engine, "r.resource_type", "types")} AND NOT r.deleted AND r.content NOT LIKE @published
         """;

    /// <summary>"column is one of @parameter (a text array)" in the engine's form.</summary>
    private static string AnyOf(DatabaseEngine engine, string column, string parameter) =>
        engine == DatabaseEngine.Postgres ? $"{column} = ANY(@{parameter})" : $"{column} IN @{parameter}";

    /// <summary>External Observations of one code (any system), for a trend beside the lab's own results.</summary>
    public static async Task<IReadOnlyList<ExternalRow>> ObservationsOfCodeAsync(DbConnection connection, Guid patientId, string code) =>
        (await connection.QueryAsync<ExternalRow>(
            """
            SELECT r.resource_type AS ResourceType, r.id AS Id, r.unit_id AS UnitId, u.name AS UnitName, r.last_updated AS LastUpdated, r.content AS Content
            FROM fhir_resource r LEFT JOIN care_unit u ON u.id = r.unit_id
            WHERE r.patient_id = @patientId AND r.resource_type = 'Observation' AND NOT r.deleted AND r.content NOT LIKE @published
              AND EXISTS (SELECT 1 FROM fhir_search s WHERE s.resource_type = 'Observation' AND s.id = r.id AND s.param = 'code' AND s.value = @code)
            """, new { patientId, code, published = PublishedPattern })).ToList();

    /// <summary>The chart's active warnings (all categories), as attention signals.</summary>
    public static async Task<IReadOnlyList<RecordEntry>> ActiveWarningsAsync(DbConnection connection, Guid patientId) =>
        (await connection.QueryAsync<TimelineRow>(ActiveWarningsSql, new { patientId })).Select(r => r.ToEntry()).ToList();

    /// <summary><see cref="ActiveWarningsAsync"/>'s statement, for a batch (parameter @patientId; rows as <see cref="TimelineRow"/>).</summary>
    internal const string ActiveWarningsSql =
        """
        SELECT 'Warning' AS Kind, CAST(w.id AS text) AS EntryKey, w.created_at AS At, COALESCE(w.agent, w.text) AS Title, w.reaction AS Detail,
               w.severity AS Severity, w.certainty AS Verification, w.category AS Category, w.unit_id AS UnitId, u.name AS UnitName,
               s.display_name AS Author, 'active' AS Status
        FROM warning w JOIN care_unit u ON u.id = w.unit_id JOIN staff s ON s.id = w.created_by
        WHERE w.patient_id = @patientId AND w.inactivated_at IS NULL ORDER BY w.created_at DESC
        """;

    internal sealed class TimelineRow
    {
        public string Kind { get; init; } = "";
        public string EntryKey { get; init; } = "";
        public DateTimeOffset At { get; init; }
        public DateTimeOffset? EndedAt { get; init; }
        public string? Title { get; init; }
        public string? Code { get; init; }
        public string? Detail { get; init; }
        public double? Number { get; init; }
        public string? NumberUnit { get; init; }
        public string? Status { get; init; }
        public string? Severity { get; init; }
        public string? Verification { get; init; }
        public string? Category { get; init; }
        public Guid? UnitId { get; init; }
        public string? UnitName { get; init; }
        public string? Author { get; init; }
        public Guid? Amends { get; init; }
        public string? ResourceType { get; init; }
        public string? Content { get; init; }
        public DateTimeOffset? BackEnteredAt { get; init; }
        public string? BackEnteredBy { get; init; }
        public DateTimeOffset? DowntimeFrom { get; init; }
        public DateTimeOffset? DowntimeTo { get; init; }

        private Downtime.BackEntryMark? BackEntry => BackEnteredAt is { } entered
            ? new Downtime.BackEntryMark { ClinicalAt = At, EnteredAt = entered, EnteredByName = BackEnteredBy ?? "", DowntimeFrom = DowntimeFrom ?? At, DowntimeTo = DowntimeTo ?? At }
            : null;

        public RecordEntry ToEntry()
        {
            if (ResourceType is not null && Content is not null)
            {
                var entry = FhirRecordReader.Read(new FhirResourceRow { ResourceType = ResourceType, Id = EntryKey[(ResourceType.Length + 1)..], UnitId = UnitId, LastUpdated = At, Content = Content }, UnitName);
                return entry with { At = At, Kind = Enum.Parse<RecordKind>(Kind) };
            }
            var kind = Enum.Parse<RecordKind>(Kind);
            if (kind == RecordKind.Warning && Category == "Hypersensitivity") kind = RecordKind.Allergy;
            return new RecordEntry
            {
                Kind = kind, Key = EntryKey, At = At, EndedAt = EndedAt, Title = Title ?? "", Code = Code, Detail = Detail, Number = Number,
                NumberUnit = NumberUnit, Status = Status, Severity = Severity, Verification = Verification, Category = Category,
                UnitId = UnitId, UnitName = UnitName, Author = Author, BackEntry = BackEntry,
            };
        }
    }

    /// <summary>A keyset cursor: the last entry of the page before (time, then key, both descending).</summary>
    public sealed record Cursor(DateTimeOffset At, string Key);

    /// <summary>
    /// One page of the journal timeline, newest first: the chart's notes (an amended note once, as its
    /// newest signed version), results, encounters, problems and warnings, and every resource other
    /// systems wrote, cut by kind and time in SQL and by what the caller may see
    /// (<see cref="PatientAccessContext.VisibleUnitsSql"/>), so a page is always full when more exists.
    /// </summary>
    public static async Task<IReadOnlyList<TimelineRow>> TimelineAsync(DbConnection connection, DatabaseEngine engine, PatientAccessContext context,
        IReadOnlyCollection<RecordKind> kinds, DateTimeOffset? from, DateTimeOffset? to, Cursor? after, int limit)
    {
        var parameters = new DynamicParameters();
        parameters.AddGuid(engine, "patientId", context.PatientId);
        var next = 0;
        string AddUnit(Guid unit)
        {
            var name = "u" + next++;
            parameters.AddGuid(engine, name, unit);
            return "@" + name;
        }
        var conditions = new List<string> { context.VisibleUnitsSql("t.UnitId", AddUnit), AnyOf(engine, "t.Kind", "kinds") };
        parameters.Add("kinds", kinds.Select(k => k.ToString()).ToArray());
        if (from is { } f) { conditions.Add("t.At >= @from"); parameters.Add("from", f); }
        if (to is { } t) { conditions.Add("t.At < @to"); parameters.Add("to", t); }
        if (after is not null)
        {
            conditions.Add("(t.At < @afterAt OR (t.At = @afterAt AND t.EntryKey < @afterKey))");
            parameters.Add("afterAt", after.At);
            parameters.Add("afterKey", after.Key);
        }
        parameters.Add("published", PublishedPattern);
        parameters.Add("types", FhirRecordReader.Kinds.Keys.ToArray());
        parameters.Add("limit", limit);
        var text = engine == DatabaseEngine.Postgres ? "text" : "TEXT";
        var noText = $"CAST(NULL AS {text})";
        var noTime = engine == DatabaseEngine.Postgres ? "CAST(NULL AS timestamptz)" : "NULL";
        var noNumber = engine == DatabaseEngine.Postgres ? "CAST(NULL AS double precision)" : "NULL";
        var noId = engine == DatabaseEngine.Postgres ? "CAST(NULL AS uuid)" : "NULL";
        var sql = $"""
            SELECT t.* FROM (
                SELECT 'Note' AS Kind, CAST(n.id AS {text}) AS EntryKey, COALESCE(b.clinical_at, n.signed_at, n.created_at) AS At, {noTime} AS EndedAt, n.note_type AS Title,
                       {noText} AS Code, {noText} AS Detail, {noNumber} AS Number, {noText} AS NumberUnit, n.status AS Status, {noText} AS Severity,
                       {noText} AS Verification, {noText} AS Category, n.unit_id AS UnitId, u.name AS UnitName, s.display_name AS Author, n.amends_note_id AS Amends,
                       {noText} AS ResourceType, {noText} AS Content, b.entered_at AS BackEnteredAt, bs.display_name AS BackEnteredBy,
                       bp.started_at AS DowntimeFrom, bp.ended_at AS DowntimeTo
                FROM note n JOIN care_unit u ON u.id = n.unit_id JOIN staff s ON s.id = n.author_id
                     -- A note written on paper during a downtime is shown at the time on the paper, marked as back-entered.
                     LEFT JOIN back_entry b ON b.record_id = n.id AND b.event = 'Note'
                     LEFT JOIN staff bs ON bs.id = b.entered_by LEFT JOIN downtime_period bp ON bp.id = b.downtime_period_id
                WHERE n.patient_id = @patientId AND n.status <> 'Discarded'
                  AND NOT EXISTS (SELECT 1 FROM note a WHERE a.amends_note_id = n.id AND a.status = 'Signed')
                UNION ALL
                SELECT 'Result', CAST(r.id AS {text}), r.observed_at, {noTime}, r.analysis_name, r.analysis_code, r.value_text, r.value_numeric, r.unit, r.status,
                       r.abnormal_flag, {noText}, {noText}, r.unit_id, u.name, {noText}, {noId}, {noText}, {noText}, {noTime}, {noText}, {noTime}, {noTime}
                FROM lab_result r JOIN care_unit u ON u.id = r.unit_id
                WHERE r.patient_id = @patientId AND r.superseded_by IS NULL
                UNION ALL
                SELECT 'Encounter', CAST(e.id AS {text}), e.started_at, e.ended_at, e.kind, {noText}, e.bed, {noNumber}, {noText},
                       CASE WHEN e.ended_at IS NULL THEN 'in-progress' ELSE 'finished' END, {noText}, {noText}, {noText}, e.unit_id, u.name, {noText}, {noId}, {noText}, {noText},
                       b.entered_at, bs.display_name, bp.started_at, bp.ended_at
                FROM encounter e JOIN care_unit u ON u.id = e.unit_id
                     -- An encounter with a back-entered admission, transfer or discharge is marked once (its first back-entered event).
                     LEFT JOIN back_entry b ON b.id = (SELECT b2.id FROM back_entry b2 WHERE b2.record_id = e.id ORDER BY b2.entered_at, b2.event LIMIT 1)
                     LEFT JOIN staff bs ON bs.id = b.entered_by LEFT JOIN downtime_period bp ON bp.id = b.downtime_period_id
                WHERE e.patient_id = @patientId
                UNION ALL
                SELECT 'Observation', CAST(v.id AS {text}), COALESCE(b.clinical_at, v.observed_at), {noTime}, v.name, v.code, {noText}, v.value_numeric, v.unit, 'final',
                       {noText}, {noText}, {noText}, v.unit_id, u.name, s.display_name, {noId}, {noText}, {noText},
                       b.entered_at, bs.display_name, bp.started_at, bp.ended_at
                FROM vital_sign v JOIN care_unit u ON u.id = v.unit_id JOIN staff s ON s.id = v.recorded_by
                     LEFT JOIN back_entry b ON b.record_id = v.id AND b.event = 'Observation'
                     LEFT JOIN staff bs ON bs.id = b.entered_by LEFT JOIN downtime_period bp ON bp.id = b.downtime_period_id
                WHERE v.patient_id = @patientId
                UNION ALL
                SELECT 'Problem', CAST(p.id AS {text}), p.recorded_at, p.resolved_at, p.text, p.code, {noText}, {noNumber}, {noText}, p.status,
                       {noText}, {noText}, {noText}, p.unit_id, u.name, s.display_name, {noId}, {noText}, {noText}, {noTime}, {noText}, {noTime}, {noTime}
                FROM problem p JOIN care_unit u ON u.id = p.unit_id JOIN staff s ON s.id = p.recorded_by
                WHERE p.patient_id = @patientId
                UNION ALL
                SELECT CASE WHEN w.category = 'Hypersensitivity' THEN 'Allergy' ELSE 'Warning' END, CAST(w.id AS {text}), w.created_at, w.inactivated_at,
                       COALESCE(w.agent, w.text), {noText}, w.reaction, {noNumber}, {noText}, CASE WHEN w.inactivated_at IS NULL THEN 'active' ELSE 'inactive' END,
                       w.severity, w.certainty, w.category, w.unit_id, u.name, s.display_name, {noId}, {noText}, {noText}, {noTime}, {noText}, {noTime}, {noTime}
                FROM warning w JOIN care_unit u ON u.id = w.unit_id JOIN staff s ON s.id = w.created_by
                WHERE w.patient_id = @patientId
                UNION ALL
                SELECT CASE r.resource_type
                           WHEN 'AllergyIntolerance' THEN 'Allergy' WHEN 'Flag' THEN 'Warning' WHEN 'Condition' THEN 'Problem' WHEN 'Encounter' THEN 'Encounter'
                           WHEN 'Observation' THEN CASE WHEN lab.id IS NOT NULL THEN 'Result' ELSE 'Observation' END
                           WHEN 'MedicationRequest' THEN 'Medication' WHEN 'MedicationStatement' THEN 'Medication' WHEN 'MedicationAdministration' THEN 'Medication'
                           WHEN 'Immunization' THEN 'Immunization' WHEN 'Procedure' THEN 'Procedure'
                           WHEN 'DocumentReference' THEN 'Document' WHEN 'DiagnosticReport' THEN 'Document' ELSE 'Other' END,
                       r.resource_type || '/' || r.id,
                       COALESCE(d.low, r.last_updated),
                       {noTime}, {noText}, {noText}, {noText}, {noNumber}, {noText}, {noText}, {noText}, {noText}, {noText}, r.unit_id, u.name, {noText}, {noId},
                       r.resource_type, r.content, {noTime}, {noText}, {noTime}, {noTime}
                FROM fhir_resource r LEFT JOIN care_unit u ON u.id = r.unit_id
                -- The patient's clinical dates and laboratory categories in one range scan each of the index (patient, type, param), not a probe per resource.
                LEFT JOIN (SELECT s.resource_type, s.id, s.param, MIN(s.low) AS low FROM fhir_search s
                           WHERE s.patient_id = @patientId AND s.param IN ('date', 'onset-date', 'authoredon') GROUP BY s.resource_type, s.id, s.param) d
                       ON d.resource_type = r.resource_type AND d.id = r.id
                          AND d.param = CASE r.resource_type WHEN 'Condition' THEN 'onset-date' WHEN 'MedicationRequest' THEN 'authoredon' ELSE 'date' END
                LEFT JOIN (SELECT DISTINCT s.id FROM fhir_search s
                           WHERE s.patient_id = @patientId AND s.resource_type = 'Observation' AND s.param = 'category' AND s.value = 'laboratory') lab
                       ON r.resource_type = 'Observation' AND lab.id = r.id
                WHERE r.patient_id = @patientId AND {AnyOf(engine, "r.resource_type", "types")} AND NOT r.deleted AND r.content NOT LIKE @published
            ) t
            WHERE {string.Join(" AND ", conditions)}
            ORDER BY t.At DESC, t.EntryKey DESC
            LIMIT @limit
            """;
        return (await connection.QueryAsync<TimelineRow>(sql, parameters)).ToList();
    }

    /// <summary>Which note each signed amendment of the patient replaced, to count a note's versions.</summary>
    public static async Task<IReadOnlyDictionary<Guid, Guid>> AmendedByAsync(DbConnection connection, Guid patientId) =>
        (await connection.QueryAsync<(Guid Id, Guid Amends)>(
            "SELECT id AS Id, amends_note_id AS Amends FROM note WHERE patient_id = @patientId AND amends_note_id IS NOT NULL AND status = 'Signed'",
            new { patientId })).ToDictionary(r => r.Id, r => r.Amends);
}
