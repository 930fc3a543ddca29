using Dapper;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Patients;

namespace Stadig.Access;

/// <summary>
/// Worklists that show entries of many patients at once (the result inbox): the same decision as
/// for one patient's chart, made for each patient listed, and one audited read per patient shown.
/// </summary>
public sealed partial class PatientCheckpoint
{
    /// <summary>
    /// The patients the caller's unit has a care relation with (parameters from
    /// <see cref="CareRelationParameters"/>): an encounter at the unit, open or ended within the
    /// window, or a recorded relation. The same rule <see cref="ContextAsync(Caller, Guid, CancellationToken)"/>
    /// applies to one patient; a worklist uses it only to find candidates, and the entries are then
    /// decided by <see cref="ListVisibleAcrossAsync{T}"/>. Open and ended encounters are two
    /// branches so that each is one range of the index (migration 0015).
    /// </summary>
    public const string CareRelationPatientsSql =
        """
        SELECT e.patient_id FROM encounter e WHERE e.unit_id = @unitId AND e.ended_at IS NULL
        UNION SELECT e.patient_id FROM encounter e WHERE e.unit_id = @unitId AND e.ended_at >= @since
        UNION SELECT c.patient_id FROM care_relation c WHERE c.unit_id = @unitId AND c.ends_at > @now
        """;

    /// <summary>
    /// <see cref="CareRelationPatientsSql"/> asked of one row's patient, as correlated EXISTS
    /// (parameters from <see cref="CareRelationParameters"/>). The planner may run them once per row —
    /// one index-only probe of the patient's encounters at the unit (<c>encounter_patient_unit</c>,
    /// migration 0044) — or, for many rows, hash the unit's patients once; the list of the unit's
    /// patients as an IN gave it no choice, and built a large unit's list (10,000 patients in a month)
    /// for a worklist of a few hundred drafts: 11.6 ms, per row 3.3 ms (docs/benchmarks.md, thirteenth run).
    /// Open and recently ended encounters are one EXISTS: as two, each hashable alone, the planner
    /// took the hashes (6.7 ms).
    /// </summary>
    internal static string HasCareRelationSql(string patientColumn) =>
        $"""
        (EXISTS (SELECT 1 FROM encounter ce WHERE ce.patient_id = {patientColumn} AND ce.unit_id = @unitId AND (ce.ended_at IS NULL OR ce.ended_at >= @since))
         OR EXISTS (SELECT 1 FROM care_relation cr WHERE cr.patient_id = {patientColumn} AND cr.unit_id = @unitId AND cr.ends_at > @now))
        """;

    public DynamicParameters CareRelationParameters(Caller caller) => CareRelationParameters(caller, clock.GetUtcNow());

    internal DynamicParameters CareRelationParameters(Caller caller, DateTimeOffset now)
    {
        var parameters = new DynamicParameters();
        parameters.Add("unitId", caller.UnitId);
        parameters.Add("since", now.AddDays(-options.CareRelationDays));
        parameters.Add("now", now);
        return parameters;
    }

    /// <summary>
    /// The caller's scope for reads across patients (searches, worklists, entries found by their own
    /// id): the only source of their connections, and of "what this caller may see" as SQL.
    /// </summary>
    public PatientDataScope Scope(Caller caller) => new(this, database, caller, clock.GetUtcNow());

    /// <summary>
    /// <see cref="PatientAccessContext.MaySee"/> for rows of many patients, as SQL over the row's
    /// patient and writing unit, with the parameters of <see cref="PatientDataScope.Parameters"/>:
    /// emergency access opens the patient's every unit; otherwise a care relation
    /// (<see cref="HasCareRelationSql"/>) and a unit the caller may see — its own or grouped
    /// ones, a consented one, or (for care and treatment) any unit the patient has not blocked.
    /// </summary>
    /// <remarks>
    /// The row's columns must be qualified by its table's alias (or be parameters): inside the consent and
    /// block subqueries a bare <c>patient_id</c> is the subquery's own column, which made the consent of any
    /// patient open a blocked unit's rows of every patient (the notes worklist passed bare names).
    /// </remarks>
    internal static string VisibleRowsSql(Caller caller, string patientColumn, string unitColumn)
    {
        foreach (var column in (ReadOnlySpan<string>)[patientColumn, unitColumn])
            if (!column.Contains('.') && !column.StartsWith('@'))
                throw new ArgumentException($"'{column}' must name its table (e.g. n.{column}): a bare name inside the consent and block subqueries is theirs.");
        var branches = new List<string>();
        if (RolePermissions.MayOpenInEmergency(caller.Role))
            branches.Add($"{patientColumn} IN (SELECT ea.patient_id FROM emergency_access ea WHERE ea.staff_id = @staffId AND ea.expires_at > @now)");
        if (RolePermissions.WorksWithRegistry(caller.Role))
        {
            var units = new List<string>
            {
                $"{unitColumn} = @unitId",
                $"{unitColumn} IN (SELECT g2.unit_id FROM unit_group_member g1 JOIN unit_group_member g2 ON g2.group_name = g1.group_name WHERE g1.unit_id = @unitId)",
                $"""
                EXISTS (SELECT 1 FROM consent sc WHERE sc.patient_id = {patientColumn} AND sc.viewer_unit_id = @unitId AND sc.revoked_at IS NULL
                        AND sc.expires_at > @now AND (sc.source_unit_id IS NULL OR sc.source_unit_id = {unitColumn}))
                """,
            };
            // A block hides the unit's records from everyone outside it (own and grouped units are
            // matched above, and a consent lifts it); other purposes than care see only their own and consented units.
            if (caller.Purpose == Organisation.Purpose.CareAndTreatment)
                units.Add($"NOT EXISTS (SELECT 1 FROM patient_block sb WHERE sb.patient_id = {patientColumn} AND sb.blocked_unit_id = {unitColumn} AND sb.lifted_at IS NULL)");
            branches.Add($"({HasCareRelationSql(patientColumn)} AND ({string.Join(" OR ", units)}))");
        }
        return branches.Count == 0 ? "1=0" : "(" + string.Join(" OR ", branches) + ")";
    }

    /// <summary>
    /// Keeps the entries of many patients that the caller may see, decided per patient exactly as
    /// for the chart (care relation, inner secrecy per writing unit, blocks, consent, emergency
    /// access), and — unless <paramref name="auditShown"/> is false, for a lookup that shows no
    /// patient data — audits one read per patient shown before returning them (fail closed).
    /// Patients whose entries are all withheld are neither shown nor audited.
    /// </summary>
    public async Task<List<T>> ListVisibleAcrossAsync<T>(Caller caller, IReadOnlyList<T> rows, Func<T, Guid> patientOf, Func<T, Guid> unitOf,
        string resource, bool auditShown = true, CancellationToken cancellationToken = default)
    {
        if (!RolePermissions.WorksWithRecords(caller.Role))
        {
            await audit.AppendAsync(new AuditEntry(caller, null, AuditActivity.Read, resource, AuditOutcome.Denied), cancellationToken);
            throw new ForbiddenException("Din roll får inte läsa journaler.");
        }
        var contexts = await ContextsAsync(caller, rows.Select(patientOf).Distinct().ToList(), cancellationToken);
        var shown = rows.Where(row => contexts.TryGetValue(patientOf(row), out var context) && context.MayOpen && context.MaySee(unitOf(row))).ToList();
        if (auditShown && shown.Count > 0)
        {
            await database.InUnscopedTransactionAsync(async (connection, transaction) =>
            {
                // In patient order: each append locks its patient's chain head until the commit, and two
                // transactions that lock the same heads in different orders deadlock (an inbox against an attest).
                foreach (var patientId in shown.Select(patientOf).Distinct().Order())
                    await audit.AppendAsync(new AuditEntry(caller, patientId, AuditActivity.Read, resource, AuditOutcome.Allowed, FlagsOf(contexts[patientId])),
                        connection, transaction);
                return 0;
            }, cancellationToken);
        }
        return shown;
    }

    /// <summary>The facts for one caller and many patients in one round trip; patients that do not exist are left out.</summary>
    public async Task<IReadOnlyDictionary<Guid, PatientAccessContext>> ContextsAsync(Caller caller, IReadOnlyCollection<Guid> patientIds,
        CancellationToken cancellationToken = default)
    {
        if (patientIds.Count == 0) return new Dictionary<Guid, PatientAccessContext>();
        var now = clock.GetUtcNow();
        var parameters = new DynamicParameters(new { unitId = caller.UnitId, staffId = caller.StaffId, since = now.AddDays(-options.CareRelationDays), now });
        database.AddIds(parameters, "ids", patientIds);
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        using var facts = await connection.QueryMultipleAsync(
            $"""
            SELECT id AS PatientId, protected_identity AS Text FROM patient WHERE {database.AnyOf("id", "ids")};
            SELECT patient_id FROM encounter WHERE {database.AnyOf("patient_id", "ids")} AND unit_id = @unitId AND (ended_at IS NULL OR ended_at >= @since);
            SELECT patient_id FROM care_relation WHERE {database.AnyOf("patient_id", "ids")} AND unit_id = @unitId AND ends_at > @now;
            SELECT patient_id FROM emergency_access WHERE {database.AnyOf("patient_id", "ids")} AND staff_id = @staffId AND expires_at > @now;
            SELECT g2.unit_id FROM unit_group_member g1 JOIN unit_group_member g2 ON g2.group_name = g1.group_name WHERE g1.unit_id = @unitId;
            SELECT patient_id AS PatientId, blocked_unit_id AS UnitId FROM patient_block WHERE {database.AnyOf("patient_id", "ids")} AND lifted_at IS NULL;
            SELECT patient_id AS PatientId, source_unit_id AS UnitId FROM consent
              WHERE {database.AnyOf("patient_id", "ids")} AND viewer_unit_id = @unitId AND revoked_at IS NULL AND expires_at > @now;
            """, parameters);
        var patients = (await facts.ReadAsync<PatientFact>()).ToList();
        var related = (await facts.ReadAsync<Guid>()).Concat(await facts.ReadAsync<Guid>()).ToHashSet();
        var emergencies = (await facts.ReadAsync<Guid>()).ToHashSet();
        var grouped = (await facts.ReadAsync<Guid>()).ToHashSet();
        grouped.Add(caller.UnitId);
        var blocks = (await facts.ReadAsync<UnitFact>()).ToLookup(b => b.PatientId, b => b.UnitId!.Value);
        var consents = (await facts.ReadAsync<UnitFact>()).ToLookup(c => c.PatientId, c => c.UnitId);
        return patients.ToDictionary(p => p.PatientId, p => new PatientAccessContext
        {
            Caller = caller, PatientId = p.PatientId, ProtectedIdentity = Enum.Parse<ProtectedIdentity>(p.Text),
            HasCareRelation = RolePermissions.WorksWithRegistry(caller.Role) && related.Contains(p.PatientId),
            EmergencyOpen = RolePermissions.MayOpenInEmergency(caller.Role) && emergencies.Contains(p.PatientId),
            OwnUnits = grouped, BlockedUnits = blocks[p.PatientId].ToHashSet(), ConsentedSources = consents[p.PatientId].ToHashSet(),
        });
    }

    private sealed class PatientFact
    {
        public Guid PatientId { get; init; }
        public string Text { get; init; } = "";
    }

    private sealed class UnitFact
    {
        public Guid PatientId { get; init; }
        public Guid? UnitId { get; init; }
    }
}
