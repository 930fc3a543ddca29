using Dapper;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Access;

/// <summary>
/// A read decided, read and audited in one round trip on PostgreSQL (issue 23): the facts, the
/// data and the audit event are one batch in one transaction, whose last statement decides
/// from the facts and appends the event with the decision's outcome and flags. Every thread hop
/// between round trips costs CPU (docs/benchmarks.md, "Where a read's CPU goes"), so a read that
/// was the facts, then the event, is now one batch. The rule is still decided here: the statement
/// gives back the facts it decided on, the decision is made again from them in C# (the same
/// <see cref="PatientAccessContext"/> as every other read), and a read is answered only when the
/// two agree and the event is committed; SQLite, read-only mode, replica reads and refused batches
/// take the two-step path.
/// </summary>
public sealed partial class PatientCheckpoint
{
    /// <summary>
    /// The decision of a read as a query of one row (none for a patient that does not exist, or when
    /// <paramref name="stands"/>, a condition on the batch's parameters, says the caller's guess of the
    /// patient was wrong), with the facts it decided on. The same rule as <see cref="DecideReadAsync"/>:
    /// allowed when the role may read the part and the caller has a care relation (encounter or care
    /// relation at the unit, for roles that work with the registry) or an open emergency access (for
    /// roles that may open one); the flags as <see cref="FlagsOf"/>, or NoCareRelation when refused.
    /// </summary>
    private static string DecisionSql(string stands) =>
        $"""
        SELECT d.protected_identity AS ProtectedIdentity, d.encounters AS Encounters, d.relations AS Relations, d.emergencies AS Emergencies,
            CASE WHEN d.opens THEN @decide_allowed ELSE @decide_denied END AS outcome,
            CASE WHEN NOT d.opens THEN @decide_flags_denied
                 WHEN d.emergency AND NOT d.care AND d.protected_identity <> @decide_unprotected THEN @decide_flags_emergency_protected
                 WHEN d.emergency AND NOT d.care THEN @decide_flags_emergency
                 WHEN d.protected_identity <> @decide_unprotected THEN @decide_flags_protected
                 ELSE @decide_flags_none END AS flags
        FROM (SELECT c.*, @decide_role_allows AND (c.care OR c.emergency) AS opens
            FROM (SELECT f.*, @decide_registry_role AND f.encounters + f.relations > 0 AS care, @decide_emergency_role AND f.emergencies > 0 AS emergency
                FROM (SELECT p.protected_identity,
                        (SELECT COUNT(*) FROM encounter WHERE patient_id = p.person AND unit_id = @unitId AND (ended_at IS NULL OR ended_at >= @since)) AS encounters,
                        (SELECT COUNT(*) FROM care_relation WHERE patient_id = p.person AND unit_id = @unitId AND ends_at > @now) AS relations,
                        (SELECT COUNT(*) FROM emergency_access WHERE patient_id = p.person AND staff_id = @staffId AND expires_at > @now) AS emergencies
                    FROM (SELECT protected_identity, COALESCE(merged_into_id, id) AS person FROM patient WHERE id = @patientId) p
                    WHERE {stands}) f) c) d
        """;

    /// <summary>The facts that only say what an allowed caller may see (<see cref="PatientAccessContext.MaySee"/>), not whether it may open.</summary>
    private const string VisibilityFactsSql =
        $"""
        SELECT g2.unit_id FROM unit_group_member g1 JOIN unit_group_member g2 ON g2.group_name = g1.group_name WHERE g1.unit_id = @unitId;
        SELECT blocked_unit_id FROM patient_block WHERE patient_id = {Person} AND lifted_at IS NULL;
        SELECT source_unit_id AS SourceUnitId FROM consent WHERE patient_id = {Person} AND viewer_unit_id = @unitId AND revoked_at IS NULL AND expires_at > @now;
        """;

    /// <summary>
    /// A cached bearer caller (<see cref="Caller.Unconfirmed"/>) confirmed, as a condition on the batch's
    /// parameters: the token's claims name exactly one assignment, as CallerAccessor's lookup requires,
    /// and it is this caller's, with the person's and unit's names and ids and the purpose unchanged.
    /// </summary>
    /// <remarks>
    /// The person is found by its HSA id first (unique) and the assignments by the person's id (indexed):
    /// written as a join, the generic plan scanned every assignment and the staff table once per
    /// assignment, a third of the deciding statement's time with 40 staff (docs/benchmarks.md, ninth run).
    /// </remarks>
    private const string ConfirmSql =
        """
        (SELECT COUNT(*) FROM assignment ca JOIN care_unit cu ON cu.id = ca.unit_id
            WHERE ca.staff_id = (SELECT id FROM staff WHERE hsa_id = @confirm_hsa) AND (CAST(@confirm_unit AS text) IS NULL OR cu.hsa_id = @confirm_unit)
                AND (CAST(@confirm_role AS text) IS NULL OR lower(ca.role) = lower(@confirm_role))) = 1
        AND EXISTS (SELECT 1 FROM assignment ca JOIN staff cs ON cs.id = ca.staff_id JOIN care_unit cu ON cu.id = ca.unit_id
            WHERE ca.staff_id = @confirm_staff AND cs.hsa_id = @confirm_hsa AND (CAST(@confirm_unit AS text) IS NULL OR cu.hsa_id = @confirm_unit)
                AND (CAST(@confirm_role AS text) IS NULL OR lower(ca.role) = lower(@confirm_role))
                AND cs.display_name = @confirm_name AND ca.unit_id = @confirm_unit_id
                AND cu.hsa_id = @confirm_unit_hsa AND ca.role = @confirm_assigned_role AND ca.purpose = @confirm_purpose)
        """;

    /// <summary><paramref name="condition"/>, and for a cached caller <see cref="ConfirmSql"/> with its parameters added.</summary>
    private static string ConfirmedWhere(Caller caller, DynamicParameters values, string condition)
    {
        if (!AddConfirmParameters(caller, values)) return condition;
        return ConfirmedCondition(condition);
    }

    private static string ConfirmedCondition(string condition) => $"({condition}) AND {ConfirmSql}";

    /// <summary>For a cached caller, the parameters of <see cref="ConfirmSql"/>; false for a caller already confirmed.</summary>
    private static bool AddConfirmParameters(Caller caller, DynamicParameters values)
    {
        if (caller.Unconfirmed is not { } claims) return false;
        values.Add("confirm_hsa", claims.HsaId, System.Data.DbType.String);
        values.Add("confirm_unit", claims.UnitHsaId, System.Data.DbType.String);
        values.Add("confirm_role", claims.Role, System.Data.DbType.String);
        values.Add("confirm_staff", caller.StaffId);
        values.Add("confirm_name", caller.DisplayName);
        values.Add("confirm_unit_id", caller.UnitId);
        values.Add("confirm_unit_hsa", caller.UnitHsaId);
        values.Add("confirm_assigned_role", caller.Role.ToString());
        values.Add("confirm_purpose", caller.Purpose.ToString());
        return true;
    }

    /// <summary>
    /// The one-trip batches composed so far, per the read's SQL text (a constant: one object per call
    /// site, so a text composed per call is collected with it) and what else shapes the batch. A batch is
    /// some kilobytes composed in four steps, which every read repeated: composed once now.
    /// </summary>
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<string,
        System.Collections.Concurrent.ConcurrentDictionary<(string Stands, bool Confirmed, bool InTransaction), string>> _oneTripBatches = new();

    private string OneTripBatch(string sql, string standsSql, bool confirmed)
    {
        var inTransaction = Database.RollingBack;
        var key = (standsSql, confirmed, inTransaction || Database.InScratch);
        var batches = _oneTripBatches.GetValue(sql, _ => new());
        return batches.TryGetValue(key, out var batch) ? batch : batches.GetOrAdd(key, database.OnGenericPlan(
            VisibilityFactsSql + "\n" + Database.Terminated(sql) + "\n"
                + AuditLog.AppendSql(DecisionSql(confirmed ? ConfirmedCondition(standsSql) : standsSql), "WHERE EXISTS (SELECT 1 FROM patient WHERE id = @patientId)"),
            inTransaction: inTransaction));
    }

    /// <summary>Whether a cached bearer caller can be confirmed in the one statement now (else every request would be made twice).</summary>
    public bool ConfirmsCachedCallers =>
        database.Engine == DatabaseEngine.Postgres && !database.HasReplica && !database.Writes.DatabaseRefusing;

    private sealed class Decided : AuditLog.Appended
    {
        public string ProtectedIdentity { get; init; } = "";
        public long Encounters { get; init; }
        public long Relations { get; init; }
        public long Emergencies { get; init; }
        public string Outcome { get; init; } = "";
        public string Flags { get; init; } = "";
    }

    /// <summary>What the one round trip came to: <see cref="Done"/> false when the caller must take the two-step path.</summary>
    private readonly record struct OneTrip<T>(bool Done, PatientAccessGrant? Grant, T Data);

    /// <summary>
    /// The read in one round trip, or not done (SQLite, writes refused, a replica flow, or a patient
    /// the statement did not decide for while <paramref name="stands"/> holds): the two-step path then
    /// decides and audits as before. Not done is never an answer: nothing was appended.
    /// </summary>
    private async Task<OneTrip<T>> ReadInOneTripAsync<T>(Caller caller, Guid patientId, string resource, string sql, object? parameters,
        Func<SqlMapper.GridReader, Task<T>> read, Func<T, bool> stands, string standsSql, CancellationToken cancellationToken)
    {
        if (!audit.MayBatch(patientId.ToString()))
        {
            if (caller.Unconfirmed is not null) throw new CallerUnconfirmedException();
            return default;
        }
        var now = clock.GetUtcNow();
        var values = new DynamicParameters(new { patientId, unitId = caller.UnitId, staffId = caller.StaffId, since = now.AddDays(-options.CareRelationDays), now });
        if (parameters is not null) values.AddDynamicParams(parameters);
        AddDecisionParameters(values, caller, resource);
        var (_, auditValues) = audit.AppendParameters(new AuditEntry(caller, patientId, AuditActivity.Read, resource));
        values.AddDynamicParams(auditValues);
        // Every statement of the batch finds its rows by key (the patient, its resource, the caller),
        // so it runs on its generic plan: planning the deciding statement cost more than running it.
        var batch = OneTripBatch(sql, standsSql, AddConfirmParameters(caller, values));

        (HashSet<Guid> Grouped, HashSet<Guid> Blocked, HashSet<Guid?> Consented, T Data, Decided? Decided) found;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            found = await BatchAsync(batch, values, async grid =>
            {
                var grouped = (await grid.ReadAsync<Guid>()).ToHashSet();
                var blocked = (await grid.ReadAsync<Guid>()).ToHashSet();
                var consented = (await grid.ReadAsync<ConsentSource>()).Select(c => c.SourceUnitId).ToHashSet();
                var data = await read(grid);
                return (grouped, blocked, consented, data, await grid.ReadSingleOrDefaultAsync<Decided>());
            }, cancellationToken);
        }
        catch (Exception e) when (Downtime.WriteAvailability.IsRefusal(e))
        {
            // Nothing was appended (the batch is one transaction): the two-step path holds the event on disk, or refuses.
            if (caller.Unconfirmed is not null) throw new CallerUnconfirmedException();
            return default;
        }
        finally { RequestCost.AddAccess(started); }

        // Nothing decided for a cached caller: its claims may no longer hold, so nothing more is done with it.
        if (found.Decided is null && caller.Unconfirmed is not null) throw new CallerUnconfirmedException();
        if (found.Decided is not { } decided)
            return stands(found.Data) ? default : new OneTrip<T>(true, null, found.Data);
        if (decided.Seq is null)
            throw new InvalidOperationException("The checkpoint decided a read but appended no audit event: the read is not answered.");
        // The statement's guess held where C#'s did not (a row changed between the batch's statements): audited, and
        // the caller asks again for the right patient, as when nothing was decided.
        if (!stands(found.Data)) return new OneTrip<T>(true, null, found.Data);

        found.Grouped.Add(caller.UnitId);
        var context = new PatientAccessContext
        {
            Caller = caller, PatientId = patientId, ProtectedIdentity = Enum.Parse<ProtectedIdentity>(decided.ProtectedIdentity),
            HasCareRelation = RolePermissions.WorksWithRegistry(caller.Role) && decided.Encounters + decided.Relations > 0,
            EmergencyOpen = RolePermissions.MayOpenInEmergency(caller.Role) && decided.Emergencies > 0,
            OwnUnits = found.Grouped, BlockedUnits = found.Blocked, ConsentedSources = found.Consented,
        };
        var allowed = RoleAllows(caller, resource, AuditActivity.Read) && context.MayOpen;
        var outcome = allowed ? AuditOutcome.Allowed : AuditOutcome.Denied;
        var flags = allowed ? FlagsOf(context) : AuditFlags.NoCareRelation;
        if (decided.Outcome != outcome.ToString() || decided.Flags != flags.ToString())
            throw new InvalidOperationException(
                $"The checkpoint's statement decided {decided.Outcome} ({decided.Flags}) where its rule decides {outcome} ({flags}): the read is not answered.");
        if (!allowed) throw new NotFoundException("Patienten finns inte, eller så saknar du vårdrelation.");
        return new OneTrip<T>(true, new PatientAccessGrant(context, database), found.Data);
    }

    /// <summary>What <see cref="DecisionSql"/> takes from C#: the role's rights and the vocabulary's words, so the statement names neither.</summary>
    private static void AddDecisionParameters(DynamicParameters values, Caller caller, string resource)
    {
        values.Add("decide_role_allows", RoleAllows(caller, resource, AuditActivity.Read));
        values.Add("decide_registry_role", RolePermissions.WorksWithRegistry(caller.Role));
        values.Add("decide_emergency_role", RolePermissions.MayOpenInEmergency(caller.Role));
        values.Add("decide_allowed", AuditOutcome.Allowed.ToString());
        values.Add("decide_denied", AuditOutcome.Denied.ToString());
        values.Add("decide_unprotected", ProtectedIdentity.None.ToString());
        values.Add("decide_flags_denied", AuditFlags.NoCareRelation.ToString());
        values.Add("decide_flags_emergency_protected", (AuditFlags.Emergency | AuditFlags.ProtectedIdentity).ToString());
        values.Add("decide_flags_emergency", AuditFlags.Emergency.ToString());
        values.Add("decide_flags_protected", AuditFlags.ProtectedIdentity.ToString());
        values.Add("decide_flags_none", AuditFlags.None.ToString());
    }

    /// <summary>
    /// As <see cref="AuditRegistryAsync"/>, with the registry rows the access shows read in the same
    /// round trip as its audit event on PostgreSQL (<paramref name="sql"/>, then the append, in one
    /// transaction: the rows are handed out only once the event is committed; <paramref name="byKey"/>:
    /// the rows are found by key, and may be read on generic plans, see <see cref="Database.OnGenericPlan"/>); elsewhere
    /// audited first and then read on a connection of the flow's own (a replica, where it prefers one).
    /// </summary>
    public async Task<T> AuditRegistryWithAsync<T>(Caller caller, string resource, string detail, string sql, DynamicParameters parameters,
        Func<SqlMapper.GridReader, Task<T>> read, CancellationToken cancellationToken = default, bool byKey = false)
    {
        var batched = RoleAllows(caller, resource, AuditActivity.Read) && audit.MayBatch(AuditLog.SystemChain);
        if (!batched && caller.Unconfirmed is not null) throw new CallerUnconfirmedException();
        if (batched)
        {
            var (_, auditValues) = audit.AppendParameters(new AuditEntry(caller, null, AuditActivity.Read, resource, AuditOutcome.Allowed, AuditFlags.None, detail));
            var values = new DynamicParameters(parameters);
            values.AddDynamicParams(auditValues);
            var decision = "SELECT @audit_outcome AS outcome, @audit_flags AS flags" + (caller.Unconfirmed is null ? "" : " WHERE " + ConfirmedWhere(caller, values, "true"));
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                // The append last: the system chain's head is locked from its statement to the commit, not while the rows are read.
                // The append on its generic plan, and the rows too when they are found by key (byKey); other
                // searches on plans made for their values, since a generic plan can be a poor one for a search.
                var found = Database.Terminated(sql) + "\n";
                var batch = byKey
                    ? database.OnGenericPlan(found + AuditLog.AppendSql(decision), inTransaction: Database.RollingBack)
                    : database.OnGenericPlan(AuditLog.AppendSql(decision), customFirst: found, inTransaction: Database.RollingBack);
                return await BatchAsync(batch, values, async grid =>
                {
                    var data = await read(grid);
                    if ((await grid.ReadSingleOrDefaultAsync<AuditLog.Appended>())?.Seq is null)
                    {
                        if (caller.Unconfirmed is not null) throw new CallerUnconfirmedException();
                        throw new InvalidOperationException("A registry read appended no audit event: it is not answered.");
                    }
                    return data;
                }, cancellationToken);
            }
            catch (Exception e) when (Downtime.WriteAvailability.IsRefusal(e))
            {
                if (caller.Unconfirmed is not null) throw new CallerUnconfirmedException();
                // Nothing was appended (one transaction): audited below as any registry read, held on disk or refused.
            }
            finally { RequestCost.AddAudit(started); }
        }
        await AuditRegistryAsync(caller, resource, detail, cancellationToken: cancellationToken);
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        await using var rows = await connection.QueryMultipleAsync(sql, parameters);
        return await read(rows);
    }

    /// <summary>
    /// Runs a batch that ends with <see cref="AuditLog.AppendSql"/> on the primary, in the batch's
    /// own transaction (its BEGIN and COMMIT, <see cref="Database.OnGenericPlan"/>; inside
    /// <see cref="Database.RollBackEverything"/>, in one rolled back),
    /// and reads every result before it returns: the commit, and so the event's durability, comes
    /// with the end of the batch's results, and a failed commit throws here, before any answer.
    /// </summary>
    private async Task<T> BatchAsync<T>(string sql, DynamicParameters parameters, Func<SqlMapper.GridReader, Task<T>> read, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenPrimaryAsync(cancellationToken);
        await using var transaction = Database.RollingBack ? await database.BeginAsync(connection, cancellationToken) : null;
        T result;
        await using (var grid = await connection.QueryMultipleAsync(sql, parameters, transaction))
        {
            result = await read(grid);
            while (!grid.IsConsumed) await grid.ReadAsync<object>();
        }
        if (transaction is not null) await Database.CommitAsync(transaction, cancellationToken);
        return result;
    }
}
