using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Chart;
using Stadig.Common;
using Stadig.Encounters;
using Stadig.Medication;
using Stadig.Notes;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Downtime;

/// <summary>One current patient of the unit as the snapshot shows them: the ward list's row and the chart's essentials.</summary>
public sealed record SnapshotPatient(
    WardPatient Ward,
    IReadOnlyList<WarningItem> Warnings,
    IReadOnlyList<ProblemItem> Problems,
    IReadOnlyList<MedicationOrder> Medications,
    IReadOnlyList<ResultItem> Results,
    IReadOnlyList<Note> Notes,
    bool BlockedRecordsWithheld);

/// <summary>What one unit's snapshot holds, read at <see cref="TakenAt"/>.</summary>
public sealed record UnitSnapshot(Guid Id, CareUnit Unit, DateTimeOffset TakenAt, IReadOnlyList<SnapshotPatient> Patients);

/// <summary>
/// Reads a unit's downtime snapshot through the checkpoint, as the unit's own care staff would see it:
/// the caller is the system acting for the unit (no person; staff HSA-id SYSTEM) with the purpose care
/// and treatment, so the ward list's masking of protected identities, inner secrecy and blocks apply
/// exactly as in the chart. Each patient is one audited read (resource <see cref="Resource"/>), and
/// the generation one more event (which unit, how many patients, its id, its HTML and PDF files) in
/// the log without a patient.
/// While the database refuses writes these events wait in the node's audit spool, as every read's do.
/// </summary>
public sealed class UnitSnapshotReader(Database database, PatientCheckpoint checkpoint, PatientEncounters encounters, AuditLog audit, TimeProvider clock)
{
    public const string Resource = "DowntimeSnapshot";
    public const int LatestResults = 15;
    public const int LatestNotes = 3;

    /// <summary>The system acting for <paramref name="unit"/>: a nurse's view of the unit's own patients, never a person.</summary>
    public static Caller CallerFor(CareUnit unit) =>
        new(Guid.Empty, "SYSTEM", "Stadig reservrutin", Role.Nurse, unit.Id, unit.HsaId, Purpose.CareAndTreatment);

    public async Task<UnitSnapshot> ReadAsync(CareUnit unit, CancellationToken cancellationToken = default)
    {
        var caller = CallerFor(unit);
        var id = Guid.CreateVersion7();
        var takenAt = clock.GetUtcNow();
        var ward = await encounters.WardListAsync(caller, cancellationToken);
        var patients = new List<SnapshotPatient>(ward.Count);
        foreach (var row in ward)
        {
            // A patient discharged or moved between the list and their read is no longer the unit's: left out.
            try { patients.Add(await ReadPatientAsync(caller, row, cancellationToken)); }
            catch (NotFoundException) { }
        }
        await audit.AppendAsync(new AuditEntry(caller, null, AuditActivity.Read, Resource,
            Detail: $"Reservrutin {unit.HsaId}: {patients.Count} patienter, generation {id}, filer {SnapshotFiles.FileName(takenAt, "html")} och {SnapshotFiles.FileName(takenAt, "pdf")}"),
            cancellationToken);
        return new UnitSnapshot(id, unit, takenAt, patients);
    }

    private async Task<SnapshotPatient> ReadPatientAsync(Caller caller, WardPatient row, CancellationToken cancellationToken)
    {
        var grant = await checkpoint.ReadAsync(caller, row.Patient.Id, Resource, cancellationToken);
        await using var connection = await grant.OpenAsync(cancellationToken);
        var overview = await PatientChart.OverviewInAsync(grant, connection, database.Engine);
        var medications = (await MedicationList.ListInAsync(connection, null, grant.Context)).Where(o => o.IsCurrent).ToList();
        var signed = overview.Notes.Where(n => n.Status == NoteStatus.Signed).Take(LatestNotes).ToList();
        var notes = new List<Note>(signed.Count);
        if (signed.Count > 0)
        {
            var parameters = new DynamicParameters(new { patientId = row.Patient.Id });
            database.AddIds(parameters, "ids", signed.Select(n => n.Id));
            var keywords = (await connection.QueryAsync<(Guid NoteId, string Keyword, string Text)>(
                $"SELECT note_id, keyword, text FROM note_keyword WHERE patient_id = @patientId AND {database.AnyOf("note_id", "ids")} ORDER BY note_id, position",
                parameters)).ToLookup(k => k.NoteId, k => new NoteKeyword(k.Keyword, k.Text));
            notes.AddRange(signed.Select(n => new Note
            {
                Id = n.Id, PatientId = row.Patient.Id, UnitId = n.UnitId, UnitName = n.UnitName, NoteType = n.NoteType, Status = n.Status,
                AuthorName = n.AuthorName, CreatedAt = n.CreatedAt, SignedAt = n.SignedAt, Keywords = keywords[n.Id].ToList(),
            }));
        }
        return new SnapshotPatient(row, overview.Warnings, overview.Problems, medications, overview.Results.Take(LatestResults).ToList(), notes,
            overview.BlockedRecordsWithheld);
    }

    /// <summary>
    /// The times a scheduled ordination is due in the day after <paramref name="from"/> (region time), from
    /// its times of day or its interval: what the nurse gives while Stadig is down. As-needed doses have none.
    /// </summary>
    public static IReadOnlyList<DateTimeOffset> DueWithinDay(MedicationVersion version, DateTimeOffset from, RegionTime time)
    {
        if (version.AsNeeded) return [];
        var until = from.AddDays(1);
        if (version.EndsAt is { } ends && ends < until) until = ends;
        var due = new List<DateTimeOffset>();
        if (!string.IsNullOrWhiteSpace(version.TimesOfDay))
        {
            var today = time.Day(from);
            foreach (var day in new[] { today, today.AddDays(1) })
                foreach (var part in version.TimesOfDay.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                    if (TimeOnly.TryParse(part, System.Globalization.CultureInfo.InvariantCulture, out var at))
                        due.Add(time.FromRegion(day.ToDateTime(at)).ToUniversalTime());
        }
        else if (version.IntervalHours is { } hours && hours > 0)
        {
            var step = TimeSpan.FromHours(hours);
            var next = version.StartsAt;
            if (next < from) next += step * Math.Ceiling((from - next) / step);
            for (; next < until; next += step) due.Add(next);
        }
        return due.Where(d => d >= from && d < until && d >= version.StartsAt).Order().ToList();
    }
}
