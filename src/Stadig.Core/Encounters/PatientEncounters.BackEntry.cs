using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Downtime;
using Stadig.Fhir.Records;

namespace Stadig.Encounters;

/// <summary>
/// Encounter events documented on paper during a downtime and entered afterwards (efterregistrering):
/// an admission, a transfer or a discharge at its time on the paper, marked as back-entered in the
/// same transaction. The same rules as when they happen live, checked at that time instead of now,
/// and the time must lie within a registered downtime period.
/// </summary>
public sealed partial class PatientEncounters
{
    /// <summary>An admission that happened at <paramref name="backEntry"/>'s time: the patient may still be on the ward (the admission stays open).</summary>
    public async Task<Encounter> BackEnterAdmissionAsync(Caller caller, Guid patientId, Guid wardUnitId, string? bed, BackEntryClaim backEntry,
        CancellationToken cancellationToken = default)
    {
        RequireRole(caller);
        var cleanBed = CleanBed(bed);
        await RequireWardAsync(caller, wardUnitId, cancellationToken);
        // The period rule before a care relation is recorded for an admission that cannot be entered (checked again in the transaction).
        await using (var connection = await checkpoint.Scope(caller).OpenAsync(cancellationToken))
            await BackEntries.PeriodForAsync(connection, null, backEntry.ClinicalAt, clock.GetUtcNow(), time);
        await EnsureArrivalRelationAsync(caller, patientId, wardUnitId, "Inskrivning (efterregistrerad)", cancellationToken);
        var id = Guid.CreateVersion7();
        await checkpoint.WriteAsync(caller, patientId, "Encounter", AuditActivity.Write, async (connection, transaction, _) =>
        {
            var now = clock.GetUtcNow();
            if (await OpenAdmissionAsync(connection, transaction, patientId) is not null)
                throw new ConflictException("Patienten är redan inskriven. Efterregistrera en flytt eller utskrivning i stället.");
            var lastEnded = await connection.QuerySingleOrDefaultAsync<DateTimeOffset?>(
                "SELECT ended_at FROM encounter WHERE patient_id = @patientId AND kind = @kind AND ended_at IS NOT NULL ORDER BY ended_at DESC LIMIT 1",
                new { patientId, kind = EncounterKinds.Inpatient }, transaction);
            if (lastEnded is { } ended && ended > backEntry.ClinicalAt)
                throw new InvalidInputException("clinicalAt",
                    $"Patienten var inskriven till {time.Format(ended)}; en ny inskrivning {time.Format(backEntry.ClinicalAt)} skulle överlappa den.");
            await RequireBedFreeAsync(connection, transaction, wardUnitId, cleanBed);
            await BackEntries.MarkAsync(connection, transaction, caller, patientId, BackEntryRecord.Encounter, id, BackEntryEvent.Admission, backEntry, now, time);
            await InsertAsync(connection, transaction, id, patientId, wardUnitId, EncounterKinds.Inpatient, cleanBed, null, caller, backEntry.ClinicalAt);
            await EncounterAsFhir.PublishAsync(connection, transaction, id, now);
            return 0;
        }, cancellationToken);
        return (await LoadAsync(caller, id, cancellationToken))!;
    }

    /// <summary>A transfer that happened at <paramref name="backEntry"/>'s time: the open admission ends then, and the new one starts then.</summary>
    public async Task<Encounter> BackEnterTransferAsync(Caller caller, Guid patientId, Guid toWardUnitId, string? bed, BackEntryClaim backEntry,
        CancellationToken cancellationToken = default)
    {
        RequireRole(caller);
        var cleanBed = CleanBed(bed);
        await RequireWardAsync(caller, toWardUnitId, cancellationToken);
        var id = Guid.CreateVersion7();
        await checkpoint.WriteAsync(caller, patientId, "Encounter", AuditActivity.Write, async (connection, transaction, grant) =>
        {
            var now = clock.GetUtcNow();
            var current = await OpenAdmissionAsync(connection, transaction, patientId);
            if (current is null || !grant.Context.MaySee(current.UnitId))
                throw new InvalidInputException("encounter", "Patienten är inte inskriven, och kan därför inte flyttas.");
            if (current.UnitId == toWardUnitId && current.Bed == cleanBed)
                throw new InvalidInputException("bed", "Patienten ligger redan i den sängen.");
            if (backEntry.ClinicalAt < current.StartedAt)
                throw new InvalidInputException("clinicalAt",
                    $"Flyttiden {time.Format(backEntry.ClinicalAt)} är före inskrivningen på nuvarande avdelning {time.Format(current.StartedAt)}.");
            await BackEntries.MarkAsync(connection, transaction, caller, patientId, BackEntryRecord.Encounter, id, BackEntryEvent.Transfer, backEntry, now, time);
            await connection.ExecuteAsync("UPDATE encounter SET ended_at = @at, ended_by = @staffId WHERE id = @id",
                new { at = backEntry.ClinicalAt, staffId = caller.StaffId, id = current.Id }, transaction);
            await EncounterAsFhir.PublishAsync(connection, transaction, current.Id, now);
            await RequireBedFreeAsync(connection, transaction, toWardUnitId, cleanBed);
            await InsertAsync(connection, transaction, id, patientId, toWardUnitId, EncounterKinds.Inpatient, cleanBed, current.Id, caller, backEntry.ClinicalAt);
            await EncounterAsFhir.PublishAsync(connection, transaction, id, now);
            return 0;
        }, cancellationToken);
        return (await LoadAsync(caller, id, cancellationToken))!;
    }

    /// <summary>A discharge that happened at <paramref name="backEntry"/>'s time, with where the patient went; checked as a live discharge is.</summary>
    public Task<Encounter> BackEnterDischargeAsync(Caller caller, Guid patientId, DischargeDestination? destination, BackEntryClaim backEntry,
        CancellationToken cancellationToken = default) =>
        DischargeAsync(caller, patientId, new DischargeDetails(backEntry.ClinicalAt, destination), backEntry, cancellationToken);
}
