using System.Data.Common;
using Dapper;
using Stadig.Access;
using Stadig.Chart;
using Stadig.Common;
using Stadig.Encounters;
using Stadig.Patients;

namespace Stadig.Medication;

/// <summary>What a discharge decided for an ordination.</summary>
public enum DischargeDecision
{
    Continue,
    Change,
    Stop,
}

/// <summary>The inpatient stay a reconciliation belongs to: open while the patient is on the ward, ended once discharged.</summary>
public sealed record DischargeAdmission
{
    public Guid Id { get; init; }
    public Guid UnitId { get; init; }
    public string UnitName { get; init; } = "";
    public DateTimeOffset StartedAt { get; init; }
    public DateTimeOffset? EndedAt { get; init; }

    public bool IsOpen => EndedAt is null;
}

/// <summary>
/// An ordination as the discharge sees it: as it stands now, and the version that reconciled it for this
/// stay (null: not yet). <see cref="ChangedSince"/>: changed again after it was reconciled.
/// </summary>
public sealed record ReconciledOrder(MedicationOrder Order, MedicationVersion? Reconciled)
{
    public DischargeDecision? Decision => Reconciled?.Action switch
    {
        nameof(MedicationAction.Continue) => DischargeDecision.Continue,
        nameof(MedicationAction.Change) => DischargeDecision.Change,
        nameof(MedicationAction.Stop) => DischargeDecision.Stop,
        _ => null,
    };

    public bool ChangedSince => Reconciled is { } r && Order.Current.Version > r.Version;
}

/// <summary>The discharge's decision on a medication another system sent: it stays as sent, the decision is kept beside it.</summary>
public sealed record ExternalDecision
{
    public Guid Id { get; init; }
    public string ResourceKey { get; init; } = "";
    public string Title { get; init; } = "";
    public string Decision { get; init; } = "";
    public string Reason { get; init; } = "";
    /// <summary>Changed: the dosage after discharge, in the physician's words.</summary>
    public string? DosageAfter { get; init; }
    public Guid UnitId { get; init; }
    public DateTimeOffset RecordedAt { get; init; }
    public Guid RecordedBy { get; init; }
    public string RecordedByName { get; init; } = "";
    public string RecordedRole { get; init; } = "";
}

/// <summary>A medication another system sent, as the discharge sees it: the resource as it stands, and this stay's decision (null: not yet).</summary>
public sealed record ReconciledExternal(RecordEntry Entry, ExternalDecision? Reconciled)
{
    public DischargeDecision? Decision => Enum.TryParse<DischargeDecision>(Reconciled?.Decision, out var d) ? d : null;
}

/// <summary>
/// The discharge medication: the stay, each ordination with its decision, each current medication other
/// systems sent with its decision, every medication other systems sent (as the list shows them), and the banner's signals.
/// </summary>
public sealed record DischargeMedicationView(Patient Patient, DischargeAdmission? Admission, IReadOnlyList<ReconciledOrder> Orders,
    IReadOnlyList<RecordEntry> External, IReadOnlyList<RecordEntry> Signals)
{
    /// <summary>Other systems' medications to reconcile: the current ones, and those this stay decided on.</summary>
    public IReadOnlyList<ReconciledExternal> ExternalOrders { get; init; } = [];

    public int Reconciled => Orders.Count(o => o.Decision is not null) + ExternalOrders.Count(o => o.Decision is not null);
    public int ToReconcile => Orders.Count + ExternalOrders.Count;
    public bool Complete => Orders.All(o => o.Decision is not null) && ExternalOrders.All(o => o.Decision is not null);
}

/// <summary>
/// Discharge medication (läkemedelsavstämning vid utskrivning, issue #18 item 5): while the patient is
/// admitted, each current ordination is reconciled — continued, changed or stopped — and each decision is a
/// new version of the ordination with its reason, written by <see cref="MedicationList"/> (the same rules,
/// checks, access and audit as any change) and naming the admission. The reconciled list is what the
/// discharge summary prints. A current medication another system sent over FHIR is reconciled too, by a
/// physician: the resource stays as sent (its system owns it), and the decision — continue, change with the
/// dosage after discharge, stop — is kept beside it for the stay (<c>discharge_external_medication</c>).
/// </summary>
public sealed class DischargeReconciliation(MedicationList medication, PatientCheckpoint checkpoint)
{
    /// <summary>The patient's stay and its reconciliation, in one audited read of the patient's medication.</summary>
    public async Task<DischargeMedicationView> ViewAsync(Caller caller, Guid patientId, CancellationToken cancellationToken = default)
    {
        var grant = await checkpoint.ReadAsync(caller, patientId, MedicationList.Resource, cancellationToken);
        await using var connection = await grant.OpenAsync(cancellationToken);
        var patient = await PatientRegistry.FindInAsync(grant, connection, null) ?? throw new NotFoundException("Patienten finns inte.");
        var admission = await LatestAdmissionAsync(connection, patientId);
        if (admission is not null && !grant.Context.MaySee(admission.UnitId)) admission = null;
        var orders = await MedicationList.ListInAsync(connection, null, grant.Context);
        var reconciled = new Dictionary<Guid, MedicationVersion>();
        if (admission is not null)
        {
            var versions = await connection.QueryAsync<MedicationVersion>(
                $"{MedicationList.VersionSelect} WHERE v.patient_id = @patientId AND v.discharge_encounter_id = @encounterId ORDER BY v.version",
                new { patientId, encounterId = admission.Id });
            foreach (var v in versions) reconciled[v.OrderId] = v;
        }
        // The list at discharge: what is current, and what this stay's reconciliation stopped.
        var listed = orders.Where(o => o.IsCurrent || reconciled.ContainsKey(o.Id))
            .Select(o => new ReconciledOrder(o, reconciled.GetValueOrDefault(o.Id))).ToList();
        var external = await ExternalMedications.ReadAsync(connection, checkpoint.Engine, grant.Context);
        var decided = new Dictionary<string, ExternalDecision>(StringComparer.Ordinal);
        if (admission is not null)
        {
            var rows = await connection.QueryAsync<ExternalDecision>(
                $"{ExternalDecisionSelect} WHERE d.patient_id = @patientId AND d.encounter_id = @encounterId ORDER BY d.recorded_at, d.id",
                new { patientId, encounterId = admission.Id });
            // The newest decision stands; one made at a unit the caller may not see is not shown.
            foreach (var d in rows.Where(d => grant.Context.MaySee(d.UnitId))) decided[d.ResourceKey] = d;
        }
        var externalOrders = external.Where(e => ExternalMedications.IsCurrent(e) || decided.ContainsKey(e.Key))
            .Select(e => new ReconciledExternal(e, decided.GetValueOrDefault(e.Key))).ToList();
        // A decided one its sender has since deleted (or moved out of sight) still prints as decided, by the name it had.
        foreach (var (key, d) in decided.Where(d => externalOrders.All(o => o.Entry.Key != d.Key)))
            externalOrders.Add(new ReconciledExternal(new RecordEntry { Kind = RecordKind.Medication, Key = key, Title = d.Title, Source = "FHIR", At = d.RecordedAt }, d));
        return new DischargeMedicationView(patient, admission, listed, external, await PatientRecord.SignalsAsync(connection, checkpoint.Engine, grant.Context))
        {
            ExternalOrders = externalOrders,
        };
    }

    internal const string ExternalDecisionSelect =
        """
        SELECT d.id AS Id, d.resource_key AS ResourceKey, d.title AS Title, d.decision AS Decision, d.reason AS Reason, d.dosage_after AS DosageAfter,
               d.unit_id AS UnitId, d.recorded_at AS RecordedAt, d.recorded_by AS RecordedBy, s.display_name AS RecordedByName, d.recorded_role AS RecordedRole
        FROM discharge_external_medication d JOIN staff s ON s.id = d.recorded_by
        """;

    /// <summary>
    /// Decides, for the open admission, what becomes of a current medication another system sent
    /// (<paramref name="resourceKey"/> "MedicationRequest/…" or "MedicationStatement/…"): continue, change (with
    /// <paramref name="dosageAfter"/>) or stop, with the reason. Physicians only; the resource is not changed.
    /// </summary>
    public async Task<ExternalDecision> DecideExternalAsync(Caller caller, Guid patientId, string resourceKey, DischargeDecision decision, string reason,
        string? dosageAfter = null, CancellationToken cancellationToken = default)
    {
        var encounterId = await OpenAdmissionOfPatientAsync(caller, patientId, cancellationToken);
        return await medication.ReconcileExternalAsync(caller, patientId, encounterId, resourceKey, decision, reason, dosageAfter, cancellationToken);
    }

    /// <summary>The ordination goes on after discharge as it is (a paused one is resumed), with the reason.</summary>
    public async Task<MedicationOrder> ContinueAsync(Caller caller, Guid orderId, string reason, CancellationToken cancellationToken = default) =>
        await medication.ReconcileAsync(caller, orderId, MedicationAction.Continue, reason, await OpenAdmissionAsync(caller, orderId, cancellationToken), cancellationToken);

    /// <summary>The ordination is stopped at discharge, with the reason.</summary>
    public async Task<MedicationOrder> StopAsync(Caller caller, Guid orderId, string reason, CancellationToken cancellationToken = default) =>
        await medication.ReconcileAsync(caller, orderId, MedicationAction.Stop, reason, await OpenAdmissionAsync(caller, orderId, cancellationToken), cancellationToken);

    /// <summary>The ordination goes on changed (dose, schedule …), checked as a new prescription, with the reason.</summary>
    public async Task<MedicationOrder> ChangeAsync(Caller caller, Guid orderId, MedicationDraft draft, string reason, string? overrideReason = null,
        IReadOnlySet<string>? seenChecks = null, CancellationToken cancellationToken = default) =>
        await medication.ChangeAsync(caller, orderId, draft, reason, overrideReason, seenChecks, await OpenAdmissionAsync(caller, orderId, cancellationToken), cancellationToken);

    /// <summary>The open admission of the ordination's patient: reconciliation is part of a discharge, so a patient not admitted has none.</summary>
    private async Task<Guid> OpenAdmissionAsync(Caller caller, Guid orderId, CancellationToken cancellationToken)
    {
        Guid patientId;
        await using (var connection = await checkpoint.Scope(caller).OpenAsync(cancellationToken))
            patientId = await connection.QuerySingleOrDefaultAsync<Guid?>("SELECT patient_id FROM medication_order WHERE id = @orderId", new { orderId })
                ?? throw new NotFoundException("Ordinationen finns inte.");
        return await OpenAdmissionOfPatientAsync(caller, patientId, cancellationToken);
    }

    private async Task<Guid> OpenAdmissionOfPatientAsync(Caller caller, Guid patientId, CancellationToken cancellationToken)
    {
        await using var connection = await checkpoint.Scope(caller).OpenAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<Guid?>(
                "SELECT id FROM encounter WHERE patient_id = @patientId AND kind = @kind AND ended_at IS NULL",
                new { patientId, kind = EncounterKinds.Inpatient })
            ?? throw new ConflictException("Patienten är inte inskriven: läkemedlen stäms av vid utskrivning från vårdavdelning.");
    }

    /// <summary>The open stay, else the one that ended last (its reconciliation is what the discharge summary prints).</summary>
    private static Task<DischargeAdmission?> LatestAdmissionAsync(DbConnection connection, Guid patientId) =>
        connection.QuerySingleOrDefaultAsync<DischargeAdmission?>(
            """
            SELECT e.id AS Id, e.unit_id AS UnitId, u.name AS UnitName, e.started_at AS StartedAt, e.ended_at AS EndedAt
            FROM encounter e JOIN care_unit u ON u.id = e.unit_id
            WHERE e.patient_id = @patientId AND e.kind = @kind
            ORDER BY CASE WHEN e.ended_at IS NULL THEN 0 ELSE 1 END, e.started_at DESC
            LIMIT 1
            """, new { patientId, kind = EncounterKinds.Inpatient });
}
