using System.Data.Common;
using Dapper;
using Stadig.Access;
using Stadig.Common;

namespace Stadig.Downtime;

/// <summary>The kinds of record a back-entry marks (<c>back_entry.record_type</c>): the table the record is in.</summary>
public static class BackEntryRecord
{
    public const string Note = "Note";
    public const string Observation = "Observation";
    public const string Encounter = "Encounter";
    public const string MedicationAdministration = "MedicationAdministration";
}

/// <summary>The events a back-entry marks (<c>back_entry.event</c>): one record may have several (an admission and its discharge).</summary>
public static class BackEntryEvent
{
    public const string Note = "Note";
    public const string Observation = "Observation";
    public const string Admission = "Admission";
    public const string Transfer = "Transfer";
    public const string Discharge = "Discharge";
    public const string Administration = "Administration";
}

/// <summary>What the writer says when entering a paper record afterwards: when it happened (the clinical time on the paper).</summary>
public sealed record BackEntryClaim(DateTimeOffset ClinicalAt);

/// <summary>
/// A back-entered event as every view shows it: the clinical time it happened, who entered it in
/// Stadig and when, and the downtime period it was documented on paper in.
/// </summary>
public sealed record BackEntryMark
{
    /// <summary>The record the mark is on, where a query reads marks apart from their records (a note's, with its text in one batch); not shown.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Guid RecordId { get; init; }
    public string Event { get; init; } = "";
    public DateTimeOffset ClinicalAt { get; init; }
    public DateTimeOffset EnteredAt { get; init; }
    public string EnteredByName { get; init; } = "";
    public Guid DowntimePeriodId { get; init; }
    public DateTimeOffset DowntimeFrom { get; init; }
    public DateTimeOffset DowntimeTo { get; init; }
    public string DowntimeDescription { get; init; } = "";
}

/// <summary>
/// Marks records as back-entered after downtime (efterregistrering). Every kind of record uses the
/// same mark, written in the same transaction as the record by the use case that writes it (which
/// went through the checkpoint, so the mark is audited with the write): <see cref="MarkAsync"/>.
/// The rule: the clinical time must lie within a registered downtime period and not in the future;
/// otherwise the write is refused with the reason, and nothing is written.
/// </summary>
public static class BackEntries
{
    /// <summary>
    /// The registered downtime period <paramref name="clinicalAt"/> falls in, or a refusal naming the
    /// problem (a time in the future; no registered period covers it).
    /// </summary>
    public static async Task<DowntimePeriod> PeriodForAsync(DbConnection connection, DbTransaction? transaction, DateTimeOffset clinicalAt,
        DateTimeOffset now, RegionTime time)
    {
        if (clinicalAt > now)
            throw new InvalidInputException("clinicalAt", $"Tiden {time.Format(clinicalAt)} ligger i framtiden. Ange tiden som står på pappret.");
        var period = await connection.QueryFirstOrDefaultAsync<DowntimePeriod>(
            $"""
            {DowntimePeriods.Select}
            WHERE p.registered_by IS NOT NULL AND p.dismissed_at IS NULL AND p.started_at <= @clinicalAt AND p.ended_at >= @clinicalAt
            ORDER BY p.started_at
            """, new { clinicalAt }, transaction);
        return period ?? throw new InvalidInputException("clinicalAt",
            $"Tiden {time.Format(clinicalAt)} ligger inte inom något registrerat avbrott. Efterregistrering gäller det som dokumenterades på papper " +
            "under ett avbrott: kontrollera tiden, eller be en administratör registrera avbrottet först.");
    }

    /// <summary>
    /// Marks one event of a record just written in this transaction as back-entered by
    /// <paramref name="caller"/> now, for the period its clinical time falls in (refused otherwise,
    /// which rolls the record back with it). Medication administrations mark themselves the same
    /// way: record type <see cref="BackEntryRecord.MedicationAdministration"/>, event
    /// <see cref="BackEntryEvent.Administration"/>, clinical time = given_at.
    /// </summary>
    public static async Task<BackEntryMark> MarkAsync(DbConnection connection, DbTransaction transaction, Caller caller, Guid patientId,
        string recordType, Guid recordId, string @event, BackEntryClaim claim, DateTimeOffset now, RegionTime time)
    {
        var period = await PeriodForAsync(connection, transaction, claim.ClinicalAt, now, time);
        await connection.ExecuteAsync(
            """
            INSERT INTO back_entry (id, patient_id, record_type, record_id, event, downtime_period_id, clinical_at, entered_at, entered_by, unit_id)
            VALUES (@id, @patientId, @recordType, @recordId, @event, @periodId, @clinicalAt, @now, @staffId, @unitId)
            """,
            new { id = Guid.CreateVersion7(), patientId, recordType, recordId, @event, periodId = period.Id, clinicalAt = claim.ClinicalAt, now,
                  staffId = caller.StaffId, unitId = caller.UnitId }, transaction);
        return new BackEntryMark
        {
            Event = @event, ClinicalAt = claim.ClinicalAt, EnteredAt = now, EnteredByName = caller.DisplayName, DowntimePeriodId = period.Id,
            DowntimeFrom = period.StartedAt, DowntimeTo = period.EndedAt, DowntimeDescription = period.Description,
        };
    }

    /// <summary>The SELECT of marks (alias b) with who entered them and their period, for a WHERE on b.</summary>
    internal const string SelectMarks =
        """
        SELECT b.record_id AS RecordId, b.event AS Event, b.clinical_at AS ClinicalAt, b.entered_at AS EnteredAt, s.display_name AS EnteredByName,
               b.downtime_period_id AS DowntimePeriodId, p.started_at AS DowntimeFrom, p.ended_at AS DowntimeTo, p.description AS DowntimeDescription
        FROM back_entry b JOIN staff s ON s.id = b.entered_by JOIN downtime_period p ON p.id = b.downtime_period_id
        """;

    /// <summary>The marks of one record (every event of it), oldest first.</summary>
    public static async Task<IReadOnlyList<BackEntryMark>> OfRecordAsync(DbConnection connection, DbTransaction? transaction, Guid recordId) =>
        (await connection.QueryAsync<BackEntryMark>($"{SelectMarks} WHERE b.record_id = @recordId ORDER BY b.entered_at", new { recordId }, transaction)).ToList();
}
