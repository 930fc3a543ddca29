using System.Data.Common;
using System.Globalization;
using System.Text;
using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Chart;
using Stadig.Common;
using Stadig.Fhir.Records;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Medication;

/// <summary>Settings of medication (Stadig:Medication).</summary>
public sealed class MedicationOptions
{
    /// <summary>Nurses may prescribe as-needed doses by delegation (a local routine); never scheduled ones.</summary>
    public bool NursesPrescribeAsNeeded { get; set; } = true;

    /// <summary>
    /// A scheduled dose is due from this many minutes before its time to this many after; past that it is
    /// overdue on the ward list, and a dose given then is recorded as given late (eMAR).
    /// </summary>
    public int DoseWindowMinutes { get; set; } = 60;
}

/// <summary>The medication page: the list, and the banner's attention signals under the same decision.</summary>
public sealed record MedicationView(Patient Patient, IReadOnlyList<MedicationOrder> Orders, IReadOnlyList<RecordEntry> Signals)
{
    /// <summary>
    /// What other systems wrote over FHIR (MedicationRequest, MedicationStatement), each once with its system and time:
    /// read-only here, as the system that owns them changes them (the one-record rule, docs/architecture.md).
    /// </summary>
    public IReadOnlyList<RecordEntry> External { get; init; } = [];

    /// <summary>
    /// The checks of the product being prescribed (<see cref="MedicationList.PrescribingViewAsync"/>) that
    /// do not depend on the dose: hypersensitivities, duplicate therapy, medications not checked. Shown
    /// with the form, so the prescriber sees them when choosing the product and signs once.
    /// </summary>
    public IReadOnlyList<CheckFinding> Checks { get; init; } = [];
    public IReadOnlyList<RecordEntry> ExternalCurrent => External.Where(ExternalMedications.IsCurrent).ToList();
    public IReadOnlyList<RecordEntry> ExternalEnded => External.Where(e => !ExternalMedications.IsCurrent(e)).ToList();

    public IReadOnlyList<MedicationOrder> Current => Orders.Where(o => o.IsCurrent).ToList();
    public IReadOnlyList<MedicationOrder> Ended => Orders.Where(o => !o.IsCurrent).ToList();
}

/// <summary>An ordination with every version, newest first.</summary>
public sealed record MedicationHistory(Patient Patient, MedicationOrder Order, IReadOnlyList<MedicationVersion> Versions, IReadOnlyList<RecordEntry> Signals)
{
    /// <summary>The doses recorded for the ordination (eMAR), newest first, corrected ones kept and marked.</summary>
    public IReadOnlyList<AdministrationEntry> Administrations { get; init; } = [];
}

/// <summary>
/// The prescribing checks found something and no reason to go on was given, or the reason was given for
/// other findings than those found now (<see cref="Unseen"/>): nothing was written.
/// </summary>
public sealed class PrescribingChecksException(IReadOnlyList<CheckFinding> findings, bool unseen = false)
    : ConflictException(unseen
        ? "Kontrollerna har gett nya varningar sedan de visades: läs dem och signera igen med skäl."
        : "Kontrollerna vid ordination gav varningar: ange skäl för att ordinera ändå.")
{
    public IReadOnlyList<CheckFinding> Findings { get; } = findings;

    /// <summary>A reason was given, but some findings were not among those shown with it.</summary>
    public bool Unseen { get; } = unseen;
}

/// <summary>
/// The medication list (läkemedelslista) and prescribing (ordination), issue #18: ordinations with
/// structured dosage, each change a new version with who, when and why; the prescribing checks run
/// before signing and again in the signing transaction, and going on past a finding needs a reason,
/// which is kept with the version. Every read and write goes through the checkpoint (resource
/// <c>Medication</c>), with inner secrecy and blocks by the prescribing unit.
/// </summary>
public sealed class MedicationList(PatientCheckpoint checkpoint, AuditLog audit, MedicationOptions options, TimeProvider clock)
{
    public const string Resource = "Medication";
    public const int MaxTextLength = 1_000;
    public const int MaxFieldLength = 200;

    /// <summary>Physicians prescribe; nurses as-needed doses only, where the region's routine delegates it.</summary>
    public bool MayPrescribe(Role role, bool asNeeded) => role == Role.Physician || (role == Role.Nurse && asNeeded && options.NursesPrescribeAsNeeded);

    /// <summary>Recording what another system prescribed or the patient takes: physicians and nurses.</summary>
    public static bool MayRecord(Role role) => role is Role.Physician or Role.Nurse;

    /// <summary>The list the caller may see: current ordinations by product, then ended ones, latest ended first.</summary>
    public async Task<IReadOnlyList<MedicationOrder>> ListAsync(Caller caller, Guid patientId, CancellationToken cancellationToken = default)
    {
        var grant = await checkpoint.ReadAsync(caller, patientId, Resource, cancellationToken);
        await using var connection = await grant.OpenAsync(cancellationToken);
        return await ListInAsync(connection, null, grant.Context);
    }

    /// <summary>The medication page with its banner: one decision, one audited read.</summary>
    public Task<MedicationView> ViewAsync(Caller caller, Guid patientId, CancellationToken cancellationToken = default) =>
        ViewAsync(caller, patientId, null, null, cancellationToken);

    /// <summary>
    /// The prescribing form's page: the medication view and, for <paramref name="productId"/>, the checks
    /// that do not depend on the dose (<see cref="MedicationView.Checks"/>), in the same audited read.
    /// <paramref name="replacing"/> is the ordination a change replaces (its product, when none is named).
    /// </summary>
    public Task<MedicationView> PrescribingViewAsync(Caller caller, Guid patientId, Guid? productId, Guid? replacing = null,
        CancellationToken cancellationToken = default) =>
        ViewAsync(caller, patientId, productId, replacing, cancellationToken);

    private async Task<MedicationView> ViewAsync(Caller caller, Guid patientId, Guid? productId, Guid? replacing, CancellationToken cancellationToken)
    {
        var grant = await checkpoint.ReadAsync(caller, patientId, Resource, cancellationToken);
        await using var connection = await grant.OpenAsync(cancellationToken);
        var patient = await PatientRegistry.FindInAsync(grant, connection, null) ?? throw new NotFoundException("Patienten finns inte.");
        var view = new MedicationView(patient, await ListInAsync(connection, null, grant.Context), await PatientRecord.SignalsAsync(connection, checkpoint.Engine, grant.Context))
        {
            External = await ExternalMedications.ReadAsync(connection, checkpoint.Engine, grant.Context),
        };
        var checkedProduct = productId ?? view.Orders.FirstOrDefault(o => o.Id == replacing)?.Current.ProductId;
        if (checkedProduct is not { } id) return view;
        var inputs = await ReadCheckInputsAsync(connection, patientId, id);
        if (inputs.Product is not { } product) return view;
        // No dose yet: the dose's own check (the daily maximum) is made when the form is signed.
        return view with { Checks = await FindingsAsync(connection, grant.Context, inputs, product, inputs.Substances, new MedicationDraft { ProductId = id }, replacing) };
    }


    /// <summary>An ordination with all its versions (the list's history), audited as a read of the patient's medication.</summary>
    public async Task<MedicationHistory> HistoryAsync(Caller caller, Guid orderId, CancellationToken cancellationToken = default)
    {
        var found = await FindAsync(caller, orderId, cancellationToken) ?? throw new NotFoundException("Ordinationen finns inte.");
        var grant = await checkpoint.ReadAsync(caller, found.PatientId, Resource, cancellationToken);
        if (!grant.Context.MaySee(found.UnitId)) throw await checkpoint.RefuseAsync(caller, found.PatientId, Resource, AuditActivity.Read, cancellationToken);
        await using var connection = await grant.OpenAsync(cancellationToken);
        var patient = await PatientRegistry.FindInAsync(grant, connection, null) ?? throw new NotFoundException("Patienten finns inte.");
        var versions = (await connection.QueryAsync<MedicationVersion>($"{VersionSelect} WHERE v.order_id = @orderId ORDER BY v.version DESC", new { orderId })).AsList();
        return new MedicationHistory(patient, found, versions, await PatientRecord.SignalsAsync(connection, checkpoint.Engine, grant.Context))
        {
            Administrations = await MedicationAdministration.ForOrderInAsync(connection, null, orderId),
        };
    }

    /// <summary>
    /// The prescribing checks for a draft, before signing (audited as a read of the patient's medication).
    /// <paramref name="replacing"/> is the ordination a change replaces, which is no duplicate of itself.
    /// </summary>
    public async Task<IReadOnlyList<CheckFinding>> CheckAsync(Caller caller, Guid patientId, MedicationDraft draft, Guid? replacing = null,
        CancellationToken cancellationToken = default)
    {
        var dosage = ValidateDosage(draft);
        var grant = await checkpoint.ReadAsync(caller, patientId, Resource, cancellationToken);
        await using var connection = await grant.OpenAsync(cancellationToken);
        // The product comes with the checks' inputs (one round trip), not read apart first.
        var inputs = await ReadCheckInputsAsync(connection, patientId, draft.ProductId);
        var (product, substances, clean) = WithProduct(inputs, dosage);
        return await FindingsAsync(connection, grant.Context, inputs, product, substances, clean, replacing);
    }

    /// <summary>
    /// Prescribes (or records, for <see cref="MedicationOrigin.OtherSystem"/> and <see cref="MedicationOrigin.PatientOwn"/>) a new
    /// ordination. The checks run in the signing transaction: with findings and no <paramref name="overrideReason"/>,
    /// <see cref="PrescribingChecksException"/> and nothing is written.
    /// </summary>
    public async Task<MedicationOrder> PrescribeAsync(Caller caller, Guid patientId, MedicationDraft draft, string? overrideReason = null,
        MedicationOrigin origin = MedicationOrigin.Prescribed, IReadOnlySet<string>? seenChecks = null, CancellationToken cancellationToken = default)
    {
        var id = await SignPrescriptionAsync(caller, patientId, draft, overrideReason, origin, seenChecks, cancellationToken);
        return (await FindAsync(caller, id, cancellationToken))!;
    }

    /// <summary>
    /// As <see cref="PrescribeAsync"/>, answering only the new ordination's id: the prescribing form
    /// redirects to the list, which reads it anyway, so it is not read back here (issue 20's overload run).
    /// </summary>
    /// <remarks>
    /// <paramref name="seenChecks"/>: the fingerprints of the findings the form showed (<see cref="CheckFinding.Fingerprint"/>);
    /// the reason then covers those only, and a finding not among them refuses the signing. Null: the
    /// reason covers whatever is found (a caller that shows no findings, such as an import).
    /// </remarks>
    public async Task<Guid> SignPrescriptionAsync(Caller caller, Guid patientId, MedicationDraft draft, string? overrideReason = null,
        MedicationOrigin origin = MedicationOrigin.Prescribed, IReadOnlySet<string>? seenChecks = null, CancellationToken cancellationToken = default)
    {
        var allowed = origin == MedicationOrigin.Prescribed ? MayPrescribe(caller.Role, draft.AsNeeded) : MayRecord(caller.Role);
        if (!allowed) throw await DenyAsync(caller, patientId, origin == MedicationOrigin.Prescribed
            ? "Bara läkare ordinerar läkemedel (sjuksköterskor vid behov, på delegering)." : "Din roll får inte registrera läkemedel.", cancellationToken);
        var dosage = ValidateDosage(draft);
        if (origin == MedicationOrigin.Prescribed && dosage.PrescriberText is not null)
            throw new InvalidInputException("prescriberText", "Den som ordinerar här är du: ange förskrivare bara för läkemedel från annat system eller patientens egna.");
        var why = Optional(overrideReason, "overrideReason");
        var id = Guid.CreateVersion7();
        var now = clock.GetUtcNow();
        // The checks' reads (and the product's) come with the facts that decide: one round trip before the transaction.
        await checkpoint.WriteWithAsync(caller, patientId, Resource, AuditActivity.Write, ChecksSql(checkpoint.Engine), ChecksParameters(draft.ProductId),
            ReadCheckInputsAsync, async (connection, transaction, grant, inputs) =>
        {
            var (findings, product, clean) = await CheckedAsync(connection, transaction, grant, inputs, dosage, null, why, seenChecks);
            // The ordination and its first version in one round trip.
            await InsertVersionAsync(connection, transaction, caller, id, 1, patientId,
                origin == MedicationOrigin.Prescribed ? MedicationAction.Prescribe : MedicationAction.Record, MedicationStatus.Active,
                Row(product, clean, now, origin == MedicationOrigin.Prescribed ? caller.StaffId : null), null, findings, why, now,
                orderFirst: ("""
                    INSERT INTO medication_order (id, patient_id, unit_id, origin, current_version, status, created_at, created_by)
                    VALUES (@orderId, @patientId, @unitId, @origin, 1, 'Active', @now, @staffId)
                    """, new { unitId = caller.UnitId, origin = origin.ToString() }));
            await MedicationOrderAsFhir.PublishAsync(connection, transaction, id, now);
            return 0;
        }, cancellationToken);
        return id;
    }

    /// <summary>Changes an ordination (product, dose, schedule …): a new version, checked as a new prescription, with the reason for the change.</summary>
    public Task<MedicationOrder> ChangeAsync(Caller caller, Guid orderId, MedicationDraft draft, string reason, string? overrideReason = null,
        IReadOnlySet<string>? seenChecks = null, CancellationToken cancellationToken = default) =>
        ChangeAsync(caller, orderId, draft, reason, overrideReason, seenChecks, null, cancellationToken);

    /// <summary>A change; at discharge (<see cref="DischargeReconciliation"/>) it names the admission it reconciles for.</summary>
    internal async Task<MedicationOrder> ChangeAsync(Caller caller, Guid orderId, MedicationDraft draft, string reason, string? overrideReason,
        IReadOnlySet<string>? seenChecks, Guid? dischargeEncounterId, CancellationToken cancellationToken)
    {
        var order = await FindAsync(caller, orderId, cancellationToken) ?? throw new NotFoundException("Ordinationen finns inte.");
        await RequireWriterAsync(caller, order, draft.AsNeeded && order.Current.AsNeeded, cancellationToken);
        var why = Required(reason, "reason", "Ange varför ordinationen ändras.");
        var overrideWhy = Optional(overrideReason, "overrideReason");
        var dosage = ValidateDosage(draft);
        if (order.Origin == nameof(MedicationOrigin.Prescribed) && dosage.PrescriberText is not null)
            throw new InvalidInputException("prescriberText", "Den som ändrar en ordination här är du.");
        if (order.Status == nameof(MedicationStatus.Ended)) throw new ConflictException("Ordinationen är utsatt och kan inte ändras; ordinera på nytt.");
        var now = clock.GetUtcNow();
        await WriteVersionAsync(caller, order, MedicationAction.Change, async (connection, transaction, grant) =>
        {
            var (findings, product, clean) = await CheckedAsync(connection, transaction, grant, null, dosage, order.Id, overrideWhy, seenChecks);
            var prescriber = order.Origin == nameof(MedicationOrigin.Prescribed) ? caller.StaffId : (Guid?)null;
            var row = Row(product, clean with { PrescriberText = clean.PrescriberText ?? order.Current.PrescriberName }, now, prescriber);
            return (MedicationStatus.Active, row, why, findings, overrideWhy);
        }, cancellationToken, dischargeEncounterId);
        return (await FindAsync(caller, orderId, cancellationToken))!;
    }

    /// <summary>Pauses an active ordination (utsättning tills vidare), with the reason.</summary>
    public Task<MedicationOrder> PauseAsync(Caller caller, Guid orderId, string reason, CancellationToken cancellationToken = default) =>
        SetStatusAsync(caller, orderId, MedicationAction.Pause, MedicationStatus.Paused, reason, cancellationToken);

    /// <summary>Resumes a paused ordination as it was, with the reason.</summary>
    public Task<MedicationOrder> ResumeAsync(Caller caller, Guid orderId, string reason, CancellationToken cancellationToken = default) =>
        SetStatusAsync(caller, orderId, MedicationAction.Resume, MedicationStatus.Active, reason, cancellationToken);

    /// <summary>Stops (sätter ut) an ordination now, with the reason; it stays in the list among the ended ones.</summary>
    public Task<MedicationOrder> StopAsync(Caller caller, Guid orderId, string reason, CancellationToken cancellationToken = default) =>
        SetStatusAsync(caller, orderId, MedicationAction.Stop, MedicationStatus.Ended, reason, cancellationToken);

    /// <summary>Continues or stops an ordination at discharge, with the reason, naming the admission it reconciles for.</summary>
    internal Task<MedicationOrder> ReconcileAsync(Caller caller, Guid orderId, MedicationAction action, string reason, Guid dischargeEncounterId,
        CancellationToken cancellationToken) => action switch
        {
            MedicationAction.Continue => SetStatusAsync(caller, orderId, action, MedicationStatus.Active, reason, cancellationToken, dischargeEncounterId),
            MedicationAction.Stop => SetStatusAsync(caller, orderId, action, MedicationStatus.Ended, reason, cancellationToken, dischargeEncounterId),
            _ => throw new ArgumentOutOfRangeException(nameof(action)),
        };

    /// <summary>
    /// The discharge's decision on another system's current medication, for the open admission: a row beside the
    /// resource (which stays as sent), in one transaction with its audit event. Deciding what becomes of another
    /// prescriber's medication is prescribing: physicians only.
    /// </summary>
    internal async Task<ExternalDecision> ReconcileExternalAsync(Caller caller, Guid patientId, Guid encounterId, string resourceKey,
        DischargeDecision decision, string reason, string? dosageAfter, CancellationToken cancellationToken)
    {
        if (!MayPrescribe(caller.Role, asNeeded: false))
            throw await DenyAsync(caller, patientId, "Bara läkare stämmer av läkemedel från andra system vid utskrivning.", cancellationToken);
        if (!Enum.IsDefined(decision)) throw new InvalidInputException("decision", "Välj fortsätter, ändras eller sätts ut.");
        var key = Clean(resourceKey);
        if (!(key.StartsWith("MedicationRequest/", StringComparison.Ordinal) || key.StartsWith("MedicationStatement/", StringComparison.Ordinal)) || key.Length > MaxFieldLength)
            throw new InvalidInputException("resource", "Ange ett läkemedel från ett annat system (MedicationRequest/… eller MedicationStatement/…).");
        var why = Required(reason, "reason", "Ange skäl för beslutet.");
        var after = decision == DischargeDecision.Change
            ? Optional(dosageAfter, "dosageAfter", MaxFieldLength) ?? throw new InvalidInputException("dosageAfter", "Ange doseringen efter utskrivningen.")
            : null;
        var now = clock.GetUtcNow();
        var id = Guid.CreateVersion7();
        await checkpoint.WriteAsync(caller, patientId, Resource, AuditActivity.Write, async (connection, transaction, grant) =>
        {
            IReadOnlyList<RecordEntry> external;
            await using (var read = await grant.OpenAsync())
                external = await ExternalMedications.ReadAsync(read, checkpoint.Engine, grant.Context);
            var entry = external.FirstOrDefault(e => e.Key == key)
                ?? throw new NotFoundException("Läkemedlet från det andra systemet finns inte, eller så saknar du vårdrelation.");
            if (!ExternalMedications.IsCurrent(entry))
                throw new ConflictException($"{entry.Title} är inte aktuellt längre i systemet som skickade det: det finns inget att stämma av.");
            await connection.ExecuteAsync(
                """
                INSERT INTO discharge_external_medication (id, patient_id, encounter_id, resource_key, title, decision, reason, dosage_after, unit_id,
                    recorded_at, recorded_by, recorded_role)
                VALUES (@id, @patientId, @encounterId, @key, @title, @decision, @why, @after, @unitId, @now, @staffId, @role)
                """,
                new
                {
                    id, patientId, encounterId, key, title = entry.Title.Length > 0 ? entry.Title : key, decision = decision.ToString(), why, after,
                    unitId = caller.UnitId, now, staffId = caller.StaffId, role = caller.Role.ToString(),
                }, transaction);
            return 0;
        }, cancellationToken);
        await using var connection = await checkpoint.Scope(caller).OpenAsync(cancellationToken);
        return await connection.QuerySingleAsync<ExternalDecision>($"{DischargeReconciliation.ExternalDecisionSelect} WHERE d.id = @id", new { id });
    }

    private async Task<MedicationOrder> SetStatusAsync(Caller caller, Guid orderId, MedicationAction action, MedicationStatus status, string reason,
        CancellationToken cancellationToken, Guid? dischargeEncounterId = null)
    {
        var order = await FindAsync(caller, orderId, cancellationToken) ?? throw new NotFoundException("Ordinationen finns inte.");
        await RequireWriterAsync(caller, order, order.Current.AsNeeded, cancellationToken);
        var why = Required(reason, "reason", action switch
        {
            MedicationAction.Pause => "Ange varför ordinationen pausas.",
            MedicationAction.Resume => "Ange varför ordinationen återupptas.",
            MedicationAction.Continue => "Ange varför läkemedlet fortsätter efter utskrivningen.",
            _ => "Ange varför läkemedlet sätts ut.",
        });
        var allowedFrom = action switch
        {
            MedicationAction.Pause => new[] { nameof(MedicationStatus.Active) },
            MedicationAction.Resume => [nameof(MedicationStatus.Paused)],
            MedicationAction.Continue => [nameof(MedicationStatus.Active), nameof(MedicationStatus.Paused)],
            _ => [nameof(MedicationStatus.Active), nameof(MedicationStatus.Paused)],
        };
        if (!allowedFrom.Contains(order.Status))
            throw new ConflictException(order.Status == nameof(MedicationStatus.Ended) ? "Ordinationen är redan utsatt." : $"Ordinationen är {Swedish(order.Status)}.");
        var now = clock.GetUtcNow();
        await WriteVersionAsync(caller, order, action, (_, _, _) =>
        {
            var current = order.Current;
            var row = new VersionRow(current.ProductId, current.ProductText, current.AtcCode, current.Indication, current.DoseValue, current.DoseUnit, current.Route,
                current.TimesOfDay, current.IntervalHours, current.AsNeeded, current.MaxDosesPer24h, current.DurationDays, current.Instructions, current.StartsAt,
                status == MedicationStatus.Ended ? now : current.EndsAt, current.PrescriberId, current.PrescriberId is null ? current.PrescriberName : null);
            return Task.FromResult((status, row, why, (IReadOnlyList<CheckFinding>)[], (string?)null));
        }, cancellationToken, dischargeEncounterId);
        return (await FindAsync(caller, orderId, cancellationToken))!;
    }

    private static string Swedish(string status) => status switch { "Active" => "aktiv", "Paused" => "pausad", _ => "utsatt" };

    private async Task RequireWriterAsync(Caller caller, MedicationOrder order, bool asNeeded, CancellationToken cancellationToken)
    {
        var allowed = order.Origin == nameof(MedicationOrigin.Prescribed) ? MayPrescribe(caller.Role, asNeeded) : MayRecord(caller.Role);
        if (!allowed) throw await DenyAsync(caller, order.PatientId, "Bara läkare ändrar och sätter ut ordinationer (sjuksköterskor vid behov, på delegering).", cancellationToken);
    }

    /// <summary>A role that may not prescribe is refused before the checkpoint, and the refusal is logged like the checkpoint's.</summary>
    private async Task<ForbiddenException> DenyAsync(Caller caller, Guid patientId, string why, CancellationToken cancellationToken)
    {
        await audit.AppendAsync(new AuditEntry(caller, patientId, AuditActivity.Write, Resource, AuditOutcome.Denied), cancellationToken);
        return new ForbiddenException(why);
    }

    private sealed record VersionRow(Guid? ProductId, string ProductText, string? AtcCode, string? Indication, double? DoseValue, string? DoseUnit, string? Route,
        string? TimesOfDay, int? IntervalHours, bool AsNeeded, double? MaxDosesPer24h, int? DurationDays, string? Instructions, DateTimeOffset StartsAt,
        DateTimeOffset? EndsAt, Guid? PrescriberId, string? PrescriberText);

    private static VersionRow Row(MedicationProduct product, MedicationDraft draft, DateTimeOffset now, Guid? prescriber)
    {
        var starts = draft.StartsAt ?? now;
        return new VersionRow(product.Id, product.Display, product.AtcCode, draft.Indication, draft.DoseValue, draft.DoseUnit, draft.Route,
            draft.TimesOfDay.Count > 0 ? string.Join(",", draft.TimesOfDay.Select(t => t.ToString("HH:mm", CultureInfo.InvariantCulture))) : null,
            draft.IntervalHours, draft.AsNeeded, draft.AsNeeded ? draft.MaxDosesPer24h : null, draft.DurationDays, draft.Instructions, starts,
            draft.DurationDays is { } days ? starts.AddDays(days) : null, prescriber, draft.PrescriberText);
    }

    /// <summary>A new version of an existing ordination, in one transaction with its audit event; a concurrent change answers conflict.</summary>
    private async Task WriteVersionAsync(Caller caller, MedicationOrder order, MedicationAction action,
        Func<DbConnection, DbTransaction, PatientAccessGrant, Task<(MedicationStatus Status, VersionRow Row, string Reason, IReadOnlyList<CheckFinding> Findings, string? Override)>> build,
        CancellationToken cancellationToken, Guid? dischargeEncounterId = null)
    {
        var now = clock.GetUtcNow();
        var context = await checkpoint.ContextAsync(caller, order.PatientId, cancellationToken);
        if (context is not null && context.MayOpen && !context.MaySee(order.UnitId))
            throw await checkpoint.RefuseAsync(caller, order.PatientId, Resource, AuditActivity.Write, cancellationToken);
        await checkpoint.WriteAsync(caller, order.PatientId, Resource, AuditActivity.Write, async (connection, transaction, grant) =>
        {
            if (!grant.Context.MaySee(order.UnitId)) throw new NotFoundException("Ordinationen finns inte, eller så saknar du vårdrelation.");
            var (status, row, reason, findings, overrideWhy) = await build(connection, transaction, grant);
            var next = order.Current.Version + 1;
            var moved = await connection.ExecuteAsync(
                "UPDATE medication_order SET current_version = @next, status = @status WHERE id = @id AND current_version = @current",
                new { next, status = status.ToString(), id = order.Id, current = order.Current.Version }, transaction);
            if (moved == 0) throw new ConflictException("Ordinationen har ändrats av någon annan under tiden: läs om listan och försök igen.");
            await InsertVersionAsync(connection, transaction, caller, order.Id, next, order.PatientId, action, status, row, reason, findings, overrideWhy, now,
                dischargeEncounterId);
            await MedicationOrderAsFhir.PublishAsync(connection, transaction, order.Id, now);
            return 0;
        }, cancellationToken);
    }

    /// <param name="orderFirst">A statement to run first in the same round trip (a new ordination's own row), with its parameters beyond the version's.</param>
    private static Task InsertVersionAsync(DbConnection connection, DbTransaction transaction, Caller caller, Guid orderId, int version, Guid patientId,
        MedicationAction action, MedicationStatus status, VersionRow row, string? reason, IReadOnlyList<CheckFinding> findings, string? overrideReason, DateTimeOffset now,
        Guid? dischargeEncounterId = null, (string Sql, object Parameters)? orderFirst = null)
    {
        var parameters = new DynamicParameters(new
        {
            orderId, version, patientId, action = action.ToString(), status = status.ToString(), row.ProductId, row.ProductText, row.AtcCode, row.Indication,
            row.DoseValue, row.DoseUnit, row.Route, row.TimesOfDay, row.IntervalHours, row.AsNeeded, row.MaxDosesPer24h, row.DurationDays, row.Instructions,
            row.StartsAt, row.EndsAt, row.PrescriberId, row.PrescriberText, reason,
            findings = findings.Count > 0 ? PrescribingChecks.SerializeFindings(findings) : null,
            overrideReason = findings.Count > 0 ? overrideReason : null, now, staffId = caller.StaffId, role = caller.Role.ToString(), dischargeEncounterId,
        });
        if (orderFirst is { } first) parameters.AddDynamicParams(first.Parameters);
        return connection.ExecuteAsync((orderFirst is { } before ? before.Sql + ";\n" : "") + VersionInsert, parameters, transaction);
    }

    private const string VersionInsert =
            """
            INSERT INTO medication_order_version (order_id, version, patient_id, action, status, product_id, product_text, atc_code, indication, dose_value, dose_unit,
                route, times_of_day, interval_hours, as_needed, max_doses_per_24h, duration_days, instructions, starts_at, ends_at, prescriber_id, prescriber_text,
                reason, check_findings, override_reason, recorded_at, recorded_by, recorded_role, discharge_encounter_id)
            VALUES (@orderId, @version, @patientId, @action, @status, @ProductId, @ProductText, @AtcCode, @Indication, @DoseValue, @DoseUnit,
                @Route, @TimesOfDay, @IntervalHours, @AsNeeded, @MaxDosesPer24h, @DurationDays, @Instructions, @StartsAt, @EndsAt, @PrescriberId, @PrescriberText,
                @reason, @findings, @overrideReason, @now, @staffId, @role, @dischargeEncounterId)
            """;

    /// <summary>
    /// The checks again at signing, on what is committed now; findings without a reason stop the write,
    /// and so does a finding the form did not show (<paramref name="seen"/>), whatever reason was given.
    /// The product comes with the inputs (read here when not given): answered with the draft, its route
    /// defaulting to the product's; a product not in the catalogue names the field.
    /// </summary>
    private async Task<(IReadOnlyList<CheckFinding> Findings, MedicationProduct Product, MedicationDraft Draft)> CheckedAsync(DbConnection connection,
        DbTransaction transaction, PatientAccessGrant grant, CheckInputs? inputs, MedicationDraft dosage, Guid? replacing, string? overrideReason, IReadOnlySet<string>? seen)
    {
        // On the write's own connection, before it writes anything: read committed, what a lookup a check
        // may need (an allergy's substance groups, another system's product) reads is what is committed.
        // A second connection here held two of the pool's per prescription while the write waited for it,
        // and could not be had at all where there is one (a scratch scope).
        inputs ??= await ReadCheckInputsAsync(connection, grant.PatientId, dosage.ProductId, transaction);
        var (product, substances, draft) = WithProduct(inputs, dosage);
        var findings = await FindingsAsync(connection, grant.Context, inputs, product, substances, draft, replacing, transaction);
        if (findings.Count > 0)
        {
            // Passed only with a reason, and only the findings the prescriber was shown: one that came up since is shown first.
            if (overrideReason is null) throw new PrescribingChecksException(findings);
            if (seen is not null && findings.Any(f => !seen.Contains(f.Fingerprint))) throw new PrescribingChecksException(findings, unseen: true);
        }
        return (findings, product, draft);
    }

    /// <summary>
    /// What the checks rest on, read in one round trip: the patient's active warnings, what other systems
    /// sent over FHIR (hypersensitivities, medications), the ordinations, and the product with its substances.
    /// Filtered by what the caller may see in <see cref="FindingsAsync"/>.
    /// </summary>
    private sealed record CheckInputs(IReadOnlyList<PatientRecordQueries.TimelineRow> Warnings, IReadOnlyList<PatientRecordQueries.ExternalRow> External,
        IReadOnlyList<MedicationOrder> Orders, MedicationProduct? Product, IReadOnlyList<ProductSubstance> Substances);

    private sealed class CurrentOrderRow
    {
        public Guid Id { get; init; }
        public Guid UnitId { get; init; }
        public string Status { get; init; } = "";
        public string ProductText { get; init; } = "";
        public string? AtcCode { get; init; }
    }

    /// <summary>The statements of <see cref="CheckInputs"/> (parameters @patientId and <see cref="ChecksParameters"/>).</summary>
    private static string ChecksSql(DatabaseEngine engine) =>
        $"""
        {PatientRecordQueries.ActiveWarningsSql};
        {PatientRecordQueries.ExternalSql(engine)};
        SELECT o.id AS Id, o.unit_id AS UnitId, o.status AS Status, v.product_text AS ProductText, v.atc_code AS AtcCode
            FROM medication_order o JOIN medication_order_version v ON v.order_id = o.id AND v.version = o.current_version
            WHERE o.patient_id = @patientId AND o.status <> 'Ended';
        {ProductCatalogue.ProductSql}
        """;

    private static object ChecksParameters(Guid productId) => new
    {
        types = PatientRecord.SignalTypes.Concat(ExternalMedications.Types).ToArray(), published = PatientRecordQueries.PublishedPattern, productId,
    };

    private static async Task<CheckInputs> ReadCheckInputsAsync(SqlMapper.GridReader grid)
    {
        var warnings = (await grid.ReadAsync<PatientRecordQueries.TimelineRow>()).AsList();
        var external = (await grid.ReadAsync<PatientRecordQueries.ExternalRow>()).AsList();
        // The current ordinations as the duplicate check reads them: the product and its ATC code.
        var orders = (await grid.ReadAsync<CurrentOrderRow>()).Select(o => new MedicationOrder
        {
            Id = o.Id, UnitId = o.UnitId, Status = o.Status, Current = new MedicationVersion { ProductText = o.ProductText, AtcCode = o.AtcCode },
        }).ToList();
        var (product, substances) = await ProductCatalogue.ReadProductAsync(grid);
        return new CheckInputs(warnings, external, orders, product, substances);
    }

    private async Task<CheckInputs> ReadCheckInputsAsync(DbConnection connection, Guid patientId, Guid productId, DbTransaction? transaction = null)
    {
        var parameters = new DynamicParameters(ChecksParameters(productId));
        parameters.Add("patientId", patientId);
        using var grid = await connection.QueryMultipleAsync(ChecksSql(checkpoint.Engine), parameters, transaction);
        return await ReadCheckInputsAsync(grid);
    }

    private async Task<IReadOnlyList<CheckFinding>> FindingsAsync(DbConnection connection, PatientAccessContext context, CheckInputs inputs, MedicationProduct product,
        IReadOnlyList<ProductSubstance> substances, MedicationDraft draft, Guid? replacing, DbTransaction? transaction = null)
    {
        // The same hypersensitivities the banner shows: the chart's warnings and those other systems sent over FHIR, as the caller may see them.
        var signals = PatientRecord.Signals(inputs.Warnings.Select(w => w.ToEntry()), inputs.External, context);
        var allergies = signals.Where(s => s.Kind == RecordKind.Allergy).Select(s => new Allergy(s.Title, s.Code)).ToList();
        var words = allergies.SelectMany(a => PrescribingChecks.AgentWords(a.Agent).Append(NameSearch.Fold(a.Agent))).Distinct().ToList();
        var groups = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        if (words.Count > 0)
        {
            var rows = await connection.QueryAsync<(string Name, string Atc)>(
                "SELECT DISTINCT s.name_search, p.atc_code FROM medication_substance s JOIN medication_product p ON p.id = s.product_id WHERE "
                + (checkpoint.Engine == DatabaseEngine.Postgres ? "s.name_search = ANY(@words)" : "s.name_search IN @words"), new { words = words.ToArray() }, transaction);
            foreach (var g in rows.GroupBy(r => r.Name))
                groups[g.Key] = g.Select(r => r.Atc.Length >= PrescribingChecks.GroupLength ? r.Atc[..PrescribingChecks.GroupLength] : r.Atc).Distinct().ToList();
        }
        var current = inputs.Orders.Where(o => context.MaySee(o.UnitId) && o.Id != replacing).ToList();
        var foreign = await ExternalMedications.CurrentClassifiedAsync(connection, checkpoint.Engine, context, inputs.External, transaction);
        return PrescribingChecks.Run(product, substances, draft, allergies, groups, current, foreign);
    }

    internal static async Task<IReadOnlyList<MedicationOrder>> ListInAsync(DbConnection connection, DbTransaction? transaction, PatientAccessContext context)
    {
        var rows = await connection.QueryAsync<MedicationOrder, MedicationVersion, MedicationOrder>(
            $"{OrderSelect} WHERE o.patient_id = @patientId", (o, v) => o with { Current = v }, new { patientId = context.PatientId }, transaction, splitOn: "OrderId");
        return rows.Where(o => context.MaySee(o.UnitId))
            .OrderBy(o => o.IsCurrent ? 0 : 1)
            .ThenBy(o => o.IsCurrent ? o.Current.ProductText : "", StringComparer.Create(CultureInfo.GetCultureInfo("sv-SE"), true))
            .ThenByDescending(o => o.Current.EndsAt ?? o.Current.RecordedAt).ToList();
    }

    private const string VersionColumns =
        """
        v.order_id AS OrderId, v.version AS Version, v.patient_id AS PatientId, v.action AS Action, v.status AS Status, v.product_id AS ProductId,
        v.product_text AS ProductText, v.atc_code AS AtcCode, v.indication AS Indication, v.dose_value AS DoseValue, v.dose_unit AS DoseUnit, v.route AS Route,
        v.times_of_day AS TimesOfDay, v.interval_hours AS IntervalHours, v.as_needed AS AsNeeded, v.max_doses_per_24h AS MaxDosesPer24h,
        v.duration_days AS DurationDays, v.instructions AS Instructions, v.starts_at AS StartsAt, v.ends_at AS EndsAt, v.prescriber_id AS PrescriberId,
        COALESCE(ps.display_name, v.prescriber_text) AS PrescriberName, v.reason AS Reason, v.check_findings AS CheckFindings,
        v.override_reason AS OverrideReason, v.recorded_at AS RecordedAt, v.recorded_by AS RecordedBy, rs.display_name AS RecordedByName, v.recorded_role AS RecordedRole,
        v.discharge_encounter_id AS DischargeEncounterId
        """;

    internal const string VersionSelect =
        $"SELECT {VersionColumns} FROM medication_order_version v JOIN staff rs ON rs.id = v.recorded_by LEFT JOIN staff ps ON ps.id = v.prescriber_id";

    private const string OrderSelect =
        $"""
        SELECT o.id AS Id, o.patient_id AS PatientId, o.unit_id AS UnitId, u.name AS UnitName, o.origin AS Origin, o.status AS Status, o.created_at AS CreatedAt,
               {VersionColumns}
        FROM medication_order o JOIN care_unit u ON u.id = o.unit_id
        JOIN medication_order_version v ON v.order_id = o.id AND v.version = o.current_version
        JOIN staff rs ON rs.id = v.recorded_by LEFT JOIN staff ps ON ps.id = v.prescriber_id
        """;

    /// <summary>An ordination by its id, in the caller's scope: its patient and unit are what the checkpoint then decides on.</summary>
    private async Task<MedicationOrder?> FindAsync(Caller caller, Guid orderId, CancellationToken cancellationToken)
    {
        await using var connection = await checkpoint.Scope(caller).OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<MedicationOrder, MedicationVersion, MedicationOrder>(
            $"{OrderSelect} WHERE o.id = @orderId", (o, v) => o with { Current = v }, new { orderId }, splitOn: "OrderId");
        return rows.SingleOrDefault();
    }

    private const string NoProduct = "Välj ett läkemedel ur produktregistret.";

    /// <summary>The product read with the checks' inputs, and the draft's route defaulting to the product's.</summary>
    private static (MedicationProduct Product, IReadOnlyList<ProductSubstance> Substances, MedicationDraft Draft) WithProduct(CheckInputs inputs, MedicationDraft dosage) =>
        inputs.Product is { } product
            ? (product, inputs.Substances, dosage with { Route = dosage.Route ?? product.Route })
            : throw new InvalidInputException("productId", NoProduct);

    /// <summary>Checks the dosage rules of a draft, naming the field at fault; texts normalised to NFC. The product is checked apart.</summary>
    private static MedicationDraft ValidateDosage(MedicationDraft draft)
    {
        if (draft.ProductId == Guid.Empty) throw new InvalidInputException("productId", NoProduct);
        if (!double.IsFinite(draft.DoseValue) || draft.DoseValue <= 0 || draft.DoseValue > 100_000) throw new InvalidInputException("doseValue", "Ange en dos större än noll.");
        var unit = Clean(draft.DoseUnit);
        if (unit.Length == 0) throw new InvalidInputException("doseUnit", "Ange dosens enhet (t.ex. mg eller tablett).");
        if (unit.Length > 30) throw new InvalidInputException("doseUnit", "Enheten är längre än 30 tecken.", 30);
        var times = draft.TimesOfDay.Distinct().Order().ToList();
        if (draft.AsNeeded)
        {
            if (times.Count > 0 || draft.IntervalHours is not null) throw new InvalidInputException("timesOfDay", "Vid behov har inga fasta tider: ange högsta antal doser per dygn i stället.");
            if (draft.MaxDosesPer24h is not ({ } max and > 0 and <= 48)) throw new InvalidInputException("maxDosesPer24h", "Ange högsta antal doser per dygn vid behov (1–48).");
        }
        else
        {
            if (times.Count == 0 && draft.IntervalHours is null) throw new InvalidInputException("timesOfDay", "Ange tider på dygnet, ett intervall, eller vid behov.");
            if (times.Count > 0 && draft.IntervalHours is not null) throw new InvalidInputException("intervalHours", "Ange antingen tider på dygnet eller ett intervall, inte båda.");
            if (times.Count > 24) throw new InvalidInputException("timesOfDay", "Högst 24 tider per dygn.");
            if (draft.IntervalHours is { } hours && hours is < 1 or > 168) throw new InvalidInputException("intervalHours", "Intervallet ska vara 1–168 timmar.");
        }
        if (draft.DurationDays is { } days && days is < 1 or > 3650) throw new InvalidInputException("durationDays", "Behandlingstiden ska vara 1–3650 dagar.");
        var clean = draft with
        {
            DoseUnit = unit, TimesOfDay = times, MaxDosesPer24h = draft.AsNeeded ? draft.MaxDosesPer24h : null,
            Route = Optional(draft.Route, "route", 50),
            Indication = Optional(draft.Indication, "indication", MaxFieldLength),
            Instructions = Optional(draft.Instructions, "instructions", MaxTextLength, allowNewlines: true),
            PrescriberText = Optional(draft.PrescriberText, "prescriberText", MaxFieldLength),
        };
        return clean;
    }

    private static string Clean(string? text) =>
        (text ?? "").Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n').Trim().NormalizeText(NormalizationForm.FormC);

    private static string? Optional(string? text, string field, int max = MaxTextLength, bool allowNewlines = false)
    {
        var clean = Clean(text);
        if (clean.Length == 0) return null;
        if (clean.Length > max) throw new InvalidInputException(field, $"Texten är längre än {max} tecken.", max);
        if (clean.Any(c => char.IsControl(c) && !(allowNewlines && c is '\n' or '\t'))) throw new InvalidInputException(field, "Texten innehåller otillåtna tecken.");
        return clean;
    }

    private static string Required(string? text, string field, string missing) =>
        Optional(text, field) ?? throw new InvalidInputException(field, missing);
}
