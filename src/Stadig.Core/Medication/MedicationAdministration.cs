using System.Data.Common;
using System.Text;
using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Chart;
using Stadig.Common;
using Stadig.Encounters;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Medication;

/// <summary>
/// Administration (eMAR), issue #18 item 4: the ward's medication round (what is due per bed, overdue
/// highlighted), and the nurse's record of each dose — given, given late, not given with a reason,
/// as needed with its reason under the ordination's 24-hour maximum, a second nurse's check for
/// high-risk products — append-only, a correction being a new row. Every read and write goes through
/// the checkpoint as resource <c>Medication</c>; an administration is shown with its ordination.
/// </summary>
public sealed class MedicationAdministration(Database database, PatientCheckpoint checkpoint, PatientEncounters encounters, AuditLog audit,
    MedicationOptions options, RegionTime time, TimeProvider clock)
{
    public const string Resource = MedicationList.Resource;

    /// <summary>Nurses administer and record doses; the second nurse's check is also a nurse's.</summary>
    public static bool MayAdminister(Role role) => role == Role.Nurse;

    public TimeSpan Window => TimeSpan.FromMinutes(Math.Max(0, options.DoseWindowMinutes));

    /// <summary>
    /// The ward's medication round for the caller's unit: each inpatient by bed (as the ward list shows
    /// them) with the scheduled doses due, overdue and just recorded, and the as-needed ordinations.
    /// One audited read of the medication per patient whose ordinations are shown.
    /// </summary>
    public async Task<IReadOnlyList<WardDoses>> WardAsync(Caller caller, CancellationToken cancellationToken = default)
    {
        var beds = await encounters.WardListAsync(caller, cancellationToken);
        if (beds.Count == 0) return [];
        var now = clock.GetUtcNow();
        var parameters = new DynamicParameters(new { from = now - AdministrationSchedule.Lookback - Window });
        database.AddIds(parameters, "ids", beds.Select(b => b.Patient.Id).Distinct());
        List<DoseOrder> orders;
        List<AdministrationEntry> entries;
        await using (var connection = await checkpoint.Scope(caller).OpenAsync(cancellationToken))
        using (var grid = await connection.QueryMultipleAsync(
            $"""
            {OrderSelect} WHERE {database.AnyOf("o.patient_id", "ids")} AND o.status = 'Active' AND o.origin = 'Prescribed';
            {EntrySelect} WHERE {database.AnyOf("a.patient_id", "ids")} AND a.scheduled_at >= @from;
            {EntrySelect} WHERE {database.AnyOf("a.patient_id", "ids")} AND a.scheduled_at IS NULL AND a.given_at >= @from;
            """, parameters))
        {
            orders = (await grid.ReadAsync<DoseOrder>()).AsList();
            entries = (await grid.ReadAsync<AdministrationEntry>()).Concat(await grid.ReadAsync<AdministrationEntry>()).ToList();
        }
        // Decided per patient as for the chart, and audited per patient shown before anything is handed out.
        List<DoseOrder> shown = orders.Count == 0 ? [] : await checkpoint.ListVisibleAcrossAsync(caller, orders, o => o.PatientId, o => o.UnitId, Resource,
            cancellationToken: cancellationToken);
        var byOrder = entries.Where(e => e.Stands).ToLookup(e => e.OrderId);
        var byPatient = shown.ToLookup(o => o.PatientId);
        return beds.Select(bed =>
        {
            var mine = byPatient[bed.Patient.Id].OrderBy(o => o.ProductText, StringComparer.Create(System.Globalization.CultureInfo.GetCultureInfo("sv-SE"), true)).ToList();
            var doses = mine.Where(o => !o.AsNeeded)
                .SelectMany(o => AdministrationSchedule.Round(o, Scheduled(byOrder[o.Id]), now, Window, time))
                .OrderBy(d => d.ScheduledAt).ThenBy(d => d.Order.ProductText, StringComparer.Ordinal).ToList();
            var asNeeded = mine.Where(o => o.AsNeeded).Select(o => new AsNeededDose(o, GivenWithinDay(byOrder[o.Id], now))).ToList();
            return new WardDoses(bed, doses, asNeeded);
        }).ToList();
    }

    /// <summary>
    /// The administration form for one dose of an ordination: <paramref name="scheduledAt"/> a scheduled time of it,
    /// null for an as-needed dose; <paramref name="correcting"/> the record to correct, if any. Audited as a read.
    /// </summary>
    public async Task<DoseView> DoseAsync(Caller caller, Guid orderId, DateTimeOffset? scheduledAt, Guid? correcting = null,
        CancellationToken cancellationToken = default)
    {
        var order = await FindOrderAsync(caller, orderId, cancellationToken) ?? throw new NotFoundException("Ordinationen finns inte.");
        var grant = await checkpoint.ReadAsync(caller, order.PatientId, Resource, cancellationToken);
        if (!grant.Context.MaySee(order.UnitId)) throw await checkpoint.RefuseAsync(caller, order.PatientId, Resource, AuditActivity.Read, cancellationToken);
        await using var connection = await grant.OpenAsync(cancellationToken);
        var patient = await PatientRegistry.FindInAsync(grant, connection, null) ?? throw new NotFoundException("Patienten finns inte.");
        var entries = await ForOrderInAsync(connection, null, orderId);
        var now = clock.GetUtcNow();
        AdministrationEntry? corrected = null;
        if (correcting is { } id)
        {
            corrected = entries.FirstOrDefault(e => e.Id == id) ?? throw new NotFoundException("Administreringen finns inte.");
            scheduledAt = corrected.ScheduledAt;
        }
        DueDose? scheduled = null;
        AsNeededDose? asNeeded = null;
        if (order.AsNeeded) asNeeded = new AsNeededDose(order, GivenWithinDay(entries.Where(e => e.Stands), now));
        else if (scheduledAt is { } at)
        {
            if (corrected is null && !AdministrationSchedule.IsSlot(order, at, now, Window, time))
                throw new InvalidInputException("scheduledAt", "Det finns ingen dos vid den tiden i ordinationen.");
            var record = entries.FirstOrDefault(e => e.Stands && e.ScheduledAt == at);
            scheduled = new DueDose(order, at, AdministrationSchedule.StateOf(at, record, now, Window), record);
        }
        else throw new InvalidInputException("scheduledAt", "Välj vilken dos som ska dokumenteras.");
        return new DoseView(patient, await PatientRecord.SignalsAsync(connection, checkpoint.Engine, grant.Context), order, scheduled, asNeeded, corrected);
    }

    /// <summary>Records a dose of an active ordination (see <see cref="DoseInput"/>); a second record of the same scheduled dose is a conflict.</summary>
    public async Task<AdministrationEntry> RecordAsync(Caller caller, Guid orderId, DoseInput input, CancellationToken cancellationToken = default)
    {
        var order = await FindOrderAsync(caller, orderId, cancellationToken) ?? throw new NotFoundException("Ordinationen finns inte.");
        return await ReadBackAsync(caller, await WriteAsync(caller, order, input, null, null, cancellationToken), cancellationToken);
    }

    /// <summary>
    /// The dose form's post (issue 20's overload run): records a dose, or corrects <paramref name="correcting"/>, as
    /// <see cref="RecordAsync"/> and <see cref="CorrectAsync"/> do, for an ordination of <paramref name="patientId"/>
    /// (another patient's is not found), answering the new record's id without reading it back: the form
    /// redirects to the ward's round, which reads it anyway.
    /// </summary>
    public async Task<Guid> DocumentDoseAsync(Caller caller, Guid patientId, Guid orderId, DoseInput input, Guid? correcting = null,
        string? correctionReason = null, CancellationToken cancellationToken = default)
    {
        AdministrationEntry? original = null;
        if (correcting is { } administrationId)
        {
            original = await FindEntryAsync(caller, administrationId, cancellationToken);
            if (original is null || original.OrderId != orderId) throw new NotFoundException("Administreringen finns inte.");
        }
        var order = await FindOrderAsync(caller, orderId, cancellationToken);
        if (order is null || order.PatientId != patientId) throw new NotFoundException("Ordinationen finns inte.");
        if (original is null) return await WriteAsync(caller, order, input, null, null, cancellationToken);
        var why = AdministrationText.Optional(correctionReason, "correctionReason") ?? throw new InvalidInputException("correctionReason", "Ange varför dokumentationen korrigeras.");
        return await WriteAsync(caller, order, input with { ScheduledAt = original.ScheduledAt }, original, why, cancellationToken);
    }

    private async Task<AdministrationEntry?> FindEntryAsync(Caller caller, Guid administrationId, CancellationToken cancellationToken)
    {
        await using var connection = await checkpoint.Scope(caller).OpenAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<AdministrationEntry>($"{EntrySelect} WHERE a.id = @administrationId", new { administrationId });
    }

    private async Task<AdministrationEntry> ReadBackAsync(Caller caller, Guid id, CancellationToken cancellationToken)
    {
        await using var read = await checkpoint.Scope(caller).OpenAsync(cancellationToken);
        return await read.QuerySingleAsync<AdministrationEntry>($"{EntrySelect} WHERE a.id = @id", new { id });
    }

    /// <summary>
    /// Corrects a standing record with a new row naming it (the original stays, marked as corrected), under the
    /// same rules as a new record, with the reason for the correction.
    /// </summary>
    public async Task<AdministrationEntry> CorrectAsync(Caller caller, Guid administrationId, DoseInput input, string correctionReason,
        CancellationToken cancellationToken = default)
    {
        var original = await FindEntryAsync(caller, administrationId, cancellationToken) ?? throw new NotFoundException("Administreringen finns inte.");
        var order = await FindOrderAsync(caller, original.OrderId, cancellationToken) ?? throw new NotFoundException("Ordinationen finns inte.");
        var why = AdministrationText.Optional(correctionReason, "correctionReason") ?? throw new InvalidInputException("correctionReason", "Ange varför dokumentationen korrigeras.");
        return await ReadBackAsync(caller, await WriteAsync(caller, order, input with { ScheduledAt = original.ScheduledAt }, original, why, cancellationToken),
            cancellationToken);
    }

    private async Task<Guid> WriteAsync(Caller caller, DoseOrder order, DoseInput input, AdministrationEntry? correcting, string? correctionReason,
        CancellationToken cancellationToken)
    {
        if (!MayAdminister(caller.Role))
        {
            await audit.AppendAsync(new AuditEntry(caller, order.PatientId, AuditActivity.Write, Resource, AuditOutcome.Denied), cancellationToken);
            throw new ForbiddenException("Bara sjuksköterskor dokumenterar administrering av läkemedel.");
        }
        // What another system prescribed or the patient takes on their own is no instruction to the ward: it is prescribed here first.
        if (order.Origin != nameof(MedicationOrigin.Prescribed))
            throw new ConflictException("Läkemedlet är inte ordinerat här (det kommer från annat system eller är patientens eget): ordinera det innan det ges.");
        var now = clock.GetUtcNow();
        var row = Validate(caller, order, input, now, correcting is not null);
        var context = await checkpoint.ContextAsync(caller, order.PatientId, cancellationToken);
        if (context is not null && context.MayOpen && !context.MaySee(order.UnitId))
            throw await checkpoint.RefuseAsync(caller, order.PatientId, Resource, AuditActivity.Write, cancellationToken);
        var id = Guid.CreateVersion7();
        async Task<int> Work(DbConnection connection, DbTransaction transaction, PatientAccessGrant grant)
        {
            if (!grant.Context.MaySee(order.UnitId)) throw new NotFoundException("Ordinationen finns inte, eller så saknar du vårdrelation.");
            // Taking the ordination's row serialises the doses of one ordination (the 24-hour count, a dose recorded
            // twice), and tells whether it is still the version the nurse saw and, for a new dose, still active;
            // the ordination's records are read after it, in the same round trip.
            List<AdministrationEntry> standing;
            using (var taken = await connection.QueryMultipleAsync(
                $"""
                UPDATE medication_order SET status = status WHERE id = @orderId AND current_version = @version{(correcting is null ? " AND status = 'Active'" : "")} RETURNING id;
                {EntrySelect} WHERE a.order_id = @orderId ORDER BY a.recorded_at DESC, a.id DESC
                """, new { orderId = order.Id, version = order.Version }, transaction))
            {
                var held = (await taken.ReadAsync<Guid>()).Any();
                standing = (await taken.ReadAsync<AdministrationEntry>()).Where(e => e.Stands).ToList();
                if (!held) throw new ConflictException("Ordinationen har ändrats, pausats eller satts ut under tiden: läs om den och försök igen.");
            }
            if (row.CheckedBy is { } checker) await RequireCheckerAsync(connection, transaction, caller, checker);
            if (correcting is not null && !standing.Any(e => e.Id == correcting.Id))
                throw new ConflictException("Dokumentationen har redan korrigerats: korrigera den senaste.");
            if (correcting is null && row.ScheduledAt is { } slot && standing.FirstOrDefault(e => e.ScheduledAt == slot) is { } done)
                throw new ConflictException($"Dosen kl. {time.Format(slot)} är redan dokumenterad ({Swedish(done.Outcome)}, {done.GivenByName}): korrigera den i stället.");
            if (order.AsNeeded && row.Outcome != AdministrationOutcome.NotGiven && order.MaxDosesPer24h is { } max)
            {
                var given = standing.Where(e => e.WasGiven && e.Id != correcting?.Id && e.GivenAt is not null).Select(e => e.GivenAt!.Value).ToList();
                var over = AdministrationSchedule.OverMaximum(given, row.GivenAt!.Value, max);
                if (over.Count > 0)
                    throw new ConflictException(
                        $"Högst {Number(max)} doser per dygn är ordinerat, och {over.Count} har redan getts inom ett dygn " +
                        $"({string.Join(", ", over.Select(o => time.Format(o)))}). Dosen dokumenterades inte; kontakta läkare om patienten behöver mer.");
            }
            try
            {
                await connection.ExecuteAsync(
                    """
                    INSERT INTO medication_administration (id, patient_id, order_id, order_version, unit_id, scheduled_at, outcome, dose_value, dose_unit, given_at,
                        reason, given_by, checked_by, checked_at, corrects_id, correction_reason, recorded_at)
                    VALUES (@id, @patientId, @orderId, @version, @unitId, @ScheduledAt, @outcome, @DoseValue, @DoseUnit, @GivenAt,
                        @Reason, @staffId, @CheckedBy, @checkedAt, @correctsId, @correctionReason, @now)
                    """,
                    new
                    {
                        id, patientId = order.PatientId, orderId = order.Id, version = correcting?.OrderVersion ?? order.Version, unitId = caller.UnitId, row.ScheduledAt, outcome = row.Outcome.ToString(),
                        row.DoseValue, row.DoseUnit, row.GivenAt, row.Reason, staffId = caller.StaffId, row.CheckedBy, checkedAt = row.CheckedBy is null ? (DateTimeOffset?)null : now,
                        correctsId = correcting?.Id, correctionReason, now,
                    }, transaction);
            }
            catch (DbException e) when (database.IsUniqueViolation(e))
            {
                throw new ConflictException("Dosen dokumenterades av någon annan under tiden: läs om listan.");
            }
            if (input.BackEntry is { } claim)
                await Downtime.BackEntries.MarkAsync(connection, transaction, caller, order.PatientId, Downtime.BackEntryRecord.MedicationAdministration, id,
                    Downtime.BackEntryEvent.Administration, claim, now, time);
            // Published on the recording transaction, as every chart record is (a correction also republishes the row it corrects).
            await Fhir.Records.MedicationAdministrationAsFhir.PublishAsync(connection, transaction, id, now);
            return 0;
        }
        // The facts gathered above decide the write too (no second gathering); a patient that is not there is refused and audited there.
        if (context is not null) await checkpoint.WriteAsync(context, Resource, AuditActivity.Write, Work, cancellationToken);
        else await checkpoint.WriteAsync(caller, order.PatientId, Resource, AuditActivity.Write, Work, cancellationToken);
        return id;
    }

    private sealed record Row(DateTimeOffset? ScheduledAt, AdministrationOutcome Outcome, double? DoseValue, string? DoseUnit, DateTimeOffset? GivenAt,
        string? Reason, Guid? CheckedBy);

    /// <summary>The input against the ordination and the clock, naming the field at fault; nothing is read.</summary>
    private Row Validate(Caller caller, DoseOrder order, DoseInput input, DateTimeOffset now, bool correcting)
    {
        var reason = AdministrationText.Optional(input.Reason, "reason");
        input = input with { ScheduledAt = input.ScheduledAt?.ToUniversalTime() };
        if (order.AsNeeded && input.ScheduledAt is not null)
            throw new InvalidInputException("scheduledAt", "Ordinationen är vid behov och har inga fasta tider.");
        if (!order.AsNeeded)
        {
            if (input.ScheduledAt is not { } slot) throw new InvalidInputException("scheduledAt", "Välj vilken dos som ska dokumenteras.");
            if (!correcting && !AdministrationSchedule.IsSlot(order, slot, now, Window, time))
                throw new InvalidInputException("scheduledAt", "Det finns ingen dos vid den tiden i ordinationen.");
        }
        if (!input.Given)
        {
            if (reason is null) throw new InvalidInputException("reason", "Ange varför dosen inte gavs.");
            if (input.CheckedBy is not null) throw new InvalidInputException("checkedBy", "En dos som inte gavs kontrolleras inte av en andra sjuksköterska.");
            return new Row(input.ScheduledAt, AdministrationOutcome.NotGiven, null, null, null, reason, null);
        }
        if (input.BackEntry is { } paper && input.GivenAt is { } stated && stated != paper.ClinicalAt)
            throw new InvalidInputException("givenAt", "Tiden då dosen gavs är tiden på pappret när dosen efterregistreras.");
        var givenAt = (input.BackEntry?.ClinicalAt ?? input.GivenAt ?? now).ToUniversalTime();
        if (givenAt > now.AddMinutes(1)) throw new InvalidInputException("givenAt", "Tiden då dosen gavs kan inte ligga i framtiden.");
        if (givenAt < now - AdministrationSchedule.Lookback - Window) throw new InvalidInputException("givenAt", "En dos kan efterregistreras högst ett dygn bakåt.");
        var outcome = AdministrationOutcome.Given;
        if (input.ScheduledAt is { } scheduled)
        {
            if (givenAt < scheduled - Window)
                throw new InvalidInputException("givenAt", $"Dosen är ordinerad kl. {time.Format(scheduled)} och kan ges tidigast {options.DoseWindowMinutes} minuter före.");
            if (givenAt > scheduled + Window) outcome = AdministrationOutcome.GivenLate;
        }
        else if (reason is null) throw new InvalidInputException("reason", "Ange varför vid behov-dosen ges.");
        var dose = input.DoseValue ?? order.DoseValue;
        if (dose is not { } d || !double.IsFinite(d) || d <= 0) throw new InvalidInputException("doseValue", "Ange en dos större än noll.");
        if (order.DoseValue is { } ordered && d > ordered)
            throw new InvalidInputException("doseValue", $"Dosen är större än den ordinerade ({Number(ordered)} {order.DoseUnit}).");
        if (order.HighRisk && input.CheckedBy is null)
            throw new InvalidInputException("checkedBy", "Högriskläkemedel: en andra sjuksköterska ska kontrollera dosen och signera.");
        if (input.CheckedBy == caller.StaffId)
            throw new InvalidInputException("checkedBy", "Kontrollen görs av en annan sjuksköterska än den som ger dosen.");
        return new Row(input.ScheduledAt, outcome, d, order.DoseUnit, givenAt, reason, input.CheckedBy);
    }

    /// <summary>The second nurse holds a nurse's assignment at the caller's unit.</summary>
    private static async Task RequireCheckerAsync(DbConnection connection, DbTransaction transaction, Caller caller, Guid checker)
    {
        var nurse = await connection.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM assignment WHERE staff_id = @checker AND unit_id = @unitId AND role = 'Nurse'", new { checker, unitId = caller.UnitId }, transaction);
        if (nurse == 0) throw new InvalidInputException("checkedBy", "Den som kontrollerar ska vara sjuksköterska på enheten.");
    }

    /// <summary>Every administration of an ordination, newest first, each marked with the row that corrects it; for the ordination's history.</summary>
    internal static async Task<IReadOnlyList<AdministrationEntry>> ForOrderInAsync(DbConnection connection, DbTransaction? transaction, Guid orderId) =>
        (await connection.QueryAsync<AdministrationEntry>($"{EntrySelect} WHERE a.order_id = @orderId ORDER BY a.recorded_at DESC, a.id DESC",
            new { orderId }, transaction)).AsList();

    private async Task<DoseOrder?> FindOrderAsync(Caller caller, Guid orderId, CancellationToken cancellationToken)
    {
        await using var connection = await checkpoint.Scope(caller).OpenAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<DoseOrder>($"{OrderSelect} WHERE o.id = @orderId", new { orderId });
    }

    private static Dictionary<DateTimeOffset, AdministrationEntry> Scheduled(IEnumerable<AdministrationEntry> standing) =>
        standing.Where(e => e.ScheduledAt is not null).GroupBy(e => e.ScheduledAt!.Value).ToDictionary(g => g.Key, g => g.First());

    private static List<AdministrationEntry> GivenWithinDay(IEnumerable<AdministrationEntry> standing, DateTimeOffset now) =>
        standing.Where(e => e.WasGiven && e.GivenAt is { } at && at > now - TimeSpan.FromHours(24)).OrderBy(e => e.GivenAt).ToList();

    private static string Number(double value) => value.ToString("0.##", System.Globalization.CultureInfo.GetCultureInfo("sv-SE"));

    private static string Swedish(string outcome) => outcome switch
    {
        nameof(AdministrationOutcome.Given) => "given",
        nameof(AdministrationOutcome.GivenLate) => "given sent",
        _ => "ej given",
    };

    private const string OrderSelect =
        """
        SELECT o.id AS Id, o.patient_id AS PatientId, o.unit_id AS UnitId, o.origin AS Origin, o.status AS Status, v.version AS Version, v.product_text AS ProductText,
               v.indication AS Indication, v.dose_value AS DoseValue, v.dose_unit AS DoseUnit, v.route AS Route, v.times_of_day AS TimesOfDay,
               v.interval_hours AS IntervalHours, v.as_needed AS AsNeeded, v.max_doses_per_24h AS MaxDosesPer24h, v.instructions AS Instructions,
               v.starts_at AS StartsAt, v.ends_at AS EndsAt, v.recorded_at AS RecordedAt, p.high_risk AS HighRisk
        FROM medication_order o JOIN medication_order_version v ON v.order_id = o.id AND v.version = o.current_version
        LEFT JOIN medication_product p ON p.id = v.product_id
        """;

    private const string EntrySelect =
        """
        SELECT a.id AS Id, a.patient_id AS PatientId, a.order_id AS OrderId, a.order_version AS OrderVersion, a.unit_id AS UnitId, a.scheduled_at AS ScheduledAt,
               a.outcome AS Outcome, a.dose_value AS DoseValue, a.dose_unit AS DoseUnit, a.given_at AS GivenAt, a.reason AS Reason, a.given_by AS GivenBy,
               gs.display_name AS GivenByName, a.checked_by AS CheckedBy, cs.display_name AS CheckedByName, a.checked_at AS CheckedAt, a.corrects_id AS CorrectsId,
               a.correction_reason AS CorrectionReason, a.recorded_at AS RecordedAt,
               (SELECT n.id FROM medication_administration n WHERE n.corrects_id = a.id) AS CorrectedById
        FROM medication_administration a JOIN staff gs ON gs.id = a.given_by LEFT JOIN staff cs ON cs.id = a.checked_by
        """;

    /// <summary>Free text as the rest of the chart takes it: trimmed, NFC, no control characters, at most <see cref="MedicationList.MaxTextLength"/>.</summary>
    private static class AdministrationText
    {
        public static string? Optional(string? text, string field)
        {
            var clean = (text ?? "").Replace("\r\n", "\n", StringComparison.Ordinal).Trim().NormalizeText(NormalizationForm.FormC);
            if (clean.Length == 0) return null;
            if (clean.Length > MedicationList.MaxTextLength)
                throw new InvalidInputException(field, $"Texten är längre än {MedicationList.MaxTextLength} tecken.", MedicationList.MaxTextLength);
            if (clean.Any(c => char.IsControl(c) && c is not ('\n' or '\t'))) throw new InvalidInputException(field, "Texten innehåller otillåtna tecken.");
            return clean;
        }
    }
}
