using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Patients.Identifiers;
using Stadig.Storage;

namespace Stadig.Patients;

public sealed partial class PatientRegistry
{
    /// <summary>
    /// Joins a reservnummer patient into the patient whose identity is now known: every record moves
    /// to the target in one transaction, the source stays as a tombstone pointing at the target, and
    /// the merge (who, when, why) is visible from both.
    /// </summary>
    public async Task<PatientMerge> MergeAsync(Caller caller, Guid sourcePatientId, Guid targetPatientId, string reason, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(reason)) throw new InvalidInputException("reason", "Ange varför patienterna slås samman.");
        if (sourcePatientId == targetPatientId) throw new InvalidInputException("targetPatientId", "En patient kan inte slås samman med sig själv.");

        var target = await checkpoint.ContextAsync(caller, targetPatientId, cancellationToken)
            ?? throw new NotFoundException("Patienten att slå samman med finns inte.");
        if (!target.MayOpen)
            throw new ForbiddenException("Du saknar vårdrelation med patienten att slå samman med.");

        return await checkpoint.WriteAsync(caller, sourcePatientId, "PatientMerge", AuditActivity.Write, async (connection, transaction, _) =>
        {
            var source = await FindAsync(connection, transaction, sourcePatientId) ?? throw new NotFoundException("Reservnummerpatienten finns inte.");
            var targetPatient = await FindAsync(connection, transaction, targetPatientId) ?? throw new NotFoundException("Patienten att slå samman med finns inte.");
            if (source.IdentifierKind != IdentifierKind.Reservnummer)
                throw new InvalidInputException("sourcePatientId", "Bara en patient med reservnummer kan slås samman in i en annan.");
            if (targetPatient.IdentifierKind == IdentifierKind.Reservnummer)
                throw new InvalidInputException("targetPatientId", "Målet ska ha personnummer eller samordningsnummer.");
            if (source.MergedIntoId is not null) throw new ConflictException("Reservnummerpatienten är redan sammanslagen.");
            if (targetPatient.MergedIntoId is not null) throw new ConflictException("Målpatienten är själv sammanslagen med en annan patient.");

            var now = clock.GetUtcNow();
            await MoveRecordsAsync(connection, transaction, sourcePatientId, targetPatientId, now);
            var marked = await connection.ExecuteAsync(
                "UPDATE patient SET merged_into_id = @target, version = version + 1, updated_at = @now WHERE id = @source AND merged_into_id IS NULL",
                new { source = sourcePatientId, target = targetPatientId, now }, transaction);
            if (marked == 0) throw new ConflictException("Reservnummerpatienten är redan sammanslagen.");
            var id = Guid.NewGuid();
            await connection.ExecuteAsync(
                """
                INSERT INTO patient_merge (id, source_patient_id, target_patient_id, merged_at, merged_by, reason)
                VALUES (@id, @source, @target, @now, @by, @reason)
                """, new { id, source = sourcePatientId, target = targetPatientId, now, by = caller.StaffId, reason = reason.Trim() }, transaction);
            // The target's record changes too: its chain gets the event as well.
            await audit.AppendAsync(new AuditEntry(caller, targetPatientId, AuditActivity.Write, "PatientMerge", Detail: $"Från {source.Identifier}"), connection, transaction);
            return (await MergesAsync(connection, transaction, sourcePatientId)).Single(m => m.Id == id);
        }, cancellationToken);
    }

    /// <summary>
    /// Moves every row of every table in <see cref="PatientOwnedTables"/> as its role says
    /// (<see cref="PatientOwnedTable.MergeAction"/>), on the merge's transaction: a failure anywhere moves nothing.
    /// </summary>
    private static async Task MoveRecordsAsync(System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction transaction, Guid source, Guid target, DateTimeOffset now)
    {
        // The one unique rule on a patient column: a patient has one open admission. Two would be a clinical question, not a merge.
        var openAdmissions = await connection.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM encounter WHERE patient_id IN (@source, @target) AND kind = 'Inpatient' AND ended_at IS NULL", new { source, target }, transaction);
        if (openAdmissions > 1)
            throw new ConflictException("Båda patienterna är inskrivna i slutenvård. Skriv ut den ena vårdtiden innan patienterna slås samman.");

        var fhirMoved = false;
        foreach (var table in PatientOwnedTables.All)
        {
            switch (table.MergeAction)
            {
                case PatientMergeAction.RePoint:
                    await connection.ExecuteAsync($"UPDATE {table.Name} SET {table.PatientColumn} = @target WHERE {table.PatientColumn} = @source",
                        new { source, target }, transaction);
                    break;
                case PatientMergeAction.RewriteFhir:
                    // One move for the store's tables together: a resource, its versions and its index go as one.
                    if (!fhirMoved) await Stadig.Fhir.Store.FhirPatientMerge.MoveAsync(connection, transaction, source, target, now);
                    fhirMoved = true;
                    break;
                case PatientMergeAction.KeepWithLink:
                case PatientMergeAction.WrittenByMerge:
                    break;
                default:
                    throw new InvalidOperationException($"The merge does not handle {table.MergeAction} ({table.Name}).");
            }
        }
    }

    /// <summary>The merges a patient took part in, as source or target, newest first.</summary>
    public async Task<IReadOnlyList<PatientMerge>> MergesOfAsync(Caller caller, Guid patientId, CancellationToken cancellationToken = default)
    {
        // Read with the checkpoint's facts in one round trip; handed out only once allowed and audited.
        var (_, merges) = await checkpoint.ReadWithAsync(caller, patientId, "PatientMerges", MergesSql + ";", null,
            async grid => (IReadOnlyList<PatientMerge>)(await grid.ReadAsync<PatientMerge>()).ToList(), cancellationToken);
        return merges;
    }

    /// <summary>
    /// The registry row with its merge trail, and the banner's attention signals when the caller's role
    /// reads the record: one decision and one audit event for the registry pages (edit, merge, the
    /// registry view of the overview), as the chart pages read theirs.
    /// </summary>
    public async Task<RegistryPage> GetForPageAsync(Caller caller, Guid patientId, CancellationToken cancellationToken = default)
    {
        var (grant, read) = await checkpoint.ReadWithAsync(caller, patientId, "Patient",
            $"SELECT {PatientColumns} FROM patient WHERE id = @patientId; {MergesSql};", null,
            async grid => (Patient: await grid.ReadSingleOrDefaultAsync<Patient>(), Merges: (IReadOnlyList<PatientMerge>)(await grid.ReadAsync<PatientMerge>()).AsList()),
            cancellationToken);
        if (read.Patient is null) throw new NotFoundException("Patienten finns inte.");
        IReadOnlyList<Chart.RecordEntry>? signals = null;
        // Registry work and log review never read clinical content (Patientdatalagen): their banner stays without signals.
        if (RolePermissions.Allows(caller.Role, RecordPart.Record, RecordActions.Read))
        {
            await using var connection = await grant.OpenAsync(cancellationToken);
            signals = await Chart.PatientRecord.SignalsAsync(connection, database.Engine, grant.Context);
        }
        return new RegistryPage(read.Patient, read.Merges, signals);
    }

    private static async Task<IReadOnlyList<PatientMerge>> MergesAsync(System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction? transaction, Guid patientId) =>
        (await connection.QueryAsync<PatientMerge>(MergesSql, new { patientId }, transaction)).ToList();

    internal const string MergesSql =
            """
            SELECT m.id AS Id, m.source_patient_id AS SourcePatientId, s.identifier AS SourceIdentifier,
                   m.target_patient_id AS TargetPatientId, t.identifier AS TargetIdentifier, m.merged_at AS MergedAt,
                   m.merged_by AS MergedBy, st.display_name AS MergedByName, m.reason AS Reason
            FROM patient_merge m
            JOIN patient s ON s.id = m.source_patient_id
            JOIN patient t ON t.id = m.target_patient_id
            JOIN staff st ON st.id = m.merged_by
            WHERE m.source_patient_id = @patientId OR m.target_patient_id = @patientId
            ORDER BY m.merged_at DESC
            """;
}
