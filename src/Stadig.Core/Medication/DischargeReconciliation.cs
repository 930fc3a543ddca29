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

/// <summary>The discharge medication: the stay, each ordination with its decision, what other systems sent (read-only), and the banner's signals.</summary>
public sealed record DischargeMedicationView(Patient Patient, DischargeAdmission? Admission, IReadOnlyList<ReconciledOrder> Orders,
    IReadOnlyList<RecordEntry> External, IReadOnlyList<RecordEntry> Signals)
{
    public int Reconciled => Orders.Count(o => o.Decision is not null);
    public bool Complete => Orders.All(o => o.Decision is not null);
}

/// <summary>
/// Discharge medication (läkemedelsavstämning vid utskrivning, issue #18 item 5): while the patient is
/// admitted, each current ordination is reconciled — continued, changed or stopped — and each decision is a
/// new version of the ordination with its reason, written by <see cref="MedicationList"/> (the same rules,
/// checks, access and audit as any change) and naming the admission. The reconciled list is what the
/// discharge summary prints. Medications other systems sent over FHIR are listed read-only: their system
/// changes them.
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
        return new DischargeMedicationView(patient, admission, listed, await ExternalMedications.ReadAsync(connection, checkpoint.Engine, grant.Context),
            await PatientRecord.SignalsAsync(connection, checkpoint.Engine, grant.Context));
    }

    /// <summary>The ordination goes on after discharge as it is (a paused one is resumed), with the reason.</summary>
    public async Task<MedicationOrder> ContinueAsync(Caller caller, Guid orderId, string reason, CancellationToken cancellationToken = default) =>
        await medication.ReconcileAsync(caller, orderId, MedicationAction.Continue, reason, await OpenAdmissionAsync(caller, orderId, cancellationToken), cancellationToken);

    /// <summary>The ordination is stopped at discharge, with the reason.</summary>
    public async Task<MedicationOrder> StopAsync(Caller caller, Guid orderId, string reason, CancellationToken cancellationToken = default) =>
        await medication.ReconcileAsync(caller, orderId, MedicationAction.Stop, reason, await OpenAdmissionAsync(caller, orderId, cancellationToken), cancellationToken);

    /// <summary>The ordination goes on changed (dose, schedule …), checked as a new prescription, with the reason.</summary>
    public async Task<MedicationOrder> ChangeAsync(Caller caller, Guid orderId, MedicationDraft draft, string reason, string? overrideReason = null,
        CancellationToken cancellationToken = default) =>
        await medication.ChangeAsync(caller, orderId, draft, reason, overrideReason, await OpenAdmissionAsync(caller, orderId, cancellationToken), cancellationToken);

    /// <summary>The open admission of the ordination's patient: reconciliation is part of a discharge, so a patient not admitted has none.</summary>
    private async Task<Guid> OpenAdmissionAsync(Caller caller, Guid orderId, CancellationToken cancellationToken)
    {
        await using var connection = await checkpoint.Scope(caller).OpenAsync(cancellationToken);
        var patientId = await connection.QuerySingleOrDefaultAsync<Guid?>("SELECT patient_id FROM medication_order WHERE id = @orderId", new { orderId })
            ?? throw new NotFoundException("Ordinationen finns inte.");
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
