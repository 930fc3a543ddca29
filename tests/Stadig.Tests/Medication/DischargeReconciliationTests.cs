using System.Text.Json.Nodes;
using Dapper;
using Stadig.Access;
using Stadig.Common;
using Stadig.Encounters;
using Stadig.Fhir;
using Stadig.Fhir.Store;
using Stadig.Medication;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Tests.Medication;

/// <summary>Discharge medication (issue #18 item 5): each ordination reconciled — continue, change, stop — as a version with its reason, for the stay.</summary>
public class DischargeReconciliationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string Catalogue =
        """
        npl_id;name;substances;strength;dose_form;route;atc_code;max_daily_dose;high_risk
        ;Alvedon;Paracetamol;500 mg;filmdragerad tablett;oral;N02BE01;4 g;nej
        ;Ibuprofen;Ibuprofen;400 mg;tablett;oral;M01AE01;1200 mg;nej
        ;Morfin;Morfin;10 mg;tablett;oral;N02AA01;;ja

        """;

    private static MedicationDraft Scheduled(Guid product, double dose = 1, params string[] times) => new()
    {
        ProductId = product, DoseValue = dose, DoseUnit = "tablett", Indication = "Smärta",
        TimesOfDay = (times.Length == 0 ? ["08:00", "20:00"] : times).Select(t => TimeOnly.Parse(t, System.Globalization.CultureInfo.InvariantCulture)).ToList(),
    };

    private static async Task<long> VersionsAsync(TestRegion region, Guid patientId)
    {
        await using var c = await region.Database.OpenUnscopedAsync(Ct);
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM medication_order_version WHERE patient_id = @patientId", new { patientId });
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task At_discharge_each_ordination_is_continued_changed_or_stopped_as_a_version_with_its_reason_and_the_stay_keeps_the_reconciled_list(DatabaseEngine engine)
    {
        var (region, patientId) = await TestRegion.WithPatientAsync(engine);
        await region.Services.Catalogue.ImportAsync(CatalogueFile.Read(new StringReader(Catalogue)), null, Ct);
        async Task<Guid> ProductAsync(string name) => (await region.Services.Catalogue.SearchAsync(name, cancellationToken: Ct)).Single(p => p.Name == name).Id;
        var medication = region.Services.Medication;
        var reconciliation = new DischargeReconciliation(medication, region.Services.Checkpoint);
        var physician = region.Physician;
        var nurse = await region.AddCallerAsync("ssk", Role.Nurse, region.Ward);

        var alvedon = await medication.PrescribeAsync(physician, patientId, Scheduled(await ProductAsync("Alvedon"), 2), cancellationToken: Ct);
        var ibuprofen = await medication.PrescribeAsync(physician, patientId, Scheduled(await ProductAsync("Ibuprofen"), 1, "08:00", "14:00", "20:00"), cancellationToken: Ct);
        var morfin = await medication.PrescribeAsync(physician, patientId, Scheduled(await ProductAsync("Morfin")), cancellationToken: Ct);
        await medication.PauseAsync(physician, alvedon.Id, "Feber utreds", Ct);

        // Not admitted: there is no discharge to reconcile for, and nothing is written.
        var before = await VersionsAsync(region, patientId);
        await Assert.ThrowsAsync<ConflictException>(() => reconciliation.ContinueAsync(physician, alvedon.Id, "Fortsätter hemma", Ct));
        Assert.Equal(before, await VersionsAsync(region, patientId));

        var admission = await region.Services.Encounters.AdmitAsync(physician, patientId, region.Ward.Id, "3", Ct);
        var open = await reconciliation.ViewAsync(physician, patientId, Ct);
        Assert.Equal((admission.Id, true), (open.Admission!.Id, open.Admission.IsOpen));
        Assert.Equal(3, open.Orders.Count);
        Assert.All(open.Orders, o => Assert.Null(o.Decision));
        Assert.False(open.Complete);

        // Each decision needs a reason; a nurse does not reconcile a physician's scheduled ordination; neither writes anything.
        Assert.Equal("reason", (await Assert.ThrowsAsync<InvalidInputException>(() => reconciliation.StopAsync(physician, morfin.Id, "  ", Ct))).Field);
        await Assert.ThrowsAsync<ForbiddenException>(() => reconciliation.ContinueAsync(nurse, alvedon.Id, "Fortsätter", Ct));
        Assert.Equal(before, await VersionsAsync(region, patientId));

        var continued = await reconciliation.ContinueAsync(physician, alvedon.Id, "Fortsätter hemma, feberfri", Ct);
        var changed = await reconciliation.ChangeAsync(physician, ibuprofen.Id, Scheduled(await ProductAsync("Ibuprofen"), 1, "08:00", "20:00"), "Lägre dos hemma", cancellationToken: Ct);
        var stopped = await reconciliation.StopAsync(physician, morfin.Id, "Smärtfri, behövs inte hemma", Ct);
        Assert.Equal(("Active", "Continue"), (continued.Status, continued.Current.Action));
        Assert.Equal(("Active", "Change", "1 tablett kl. 08:00, 20:00"), (changed.Status, changed.Current.Action, changed.Current.DosageText));
        Assert.Equal(("Ended", "Stop"), (stopped.Status, stopped.Current.Action));
        Assert.All(new[] { continued, changed, stopped }, o => Assert.Equal((Guid?)admission.Id, o.Current.DischargeEncounterId));

        var reconciled = await reconciliation.ViewAsync(physician, patientId, Ct);
        Assert.True(reconciled.Complete);
        var decisions = reconciled.Orders.ToDictionary(o => o.Order.Id, o => $"{o.Decision}: {o.Reconciled!.Reason}");
        Assert.Equal("Continue: Fortsätter hemma, feberfri", decisions[alvedon.Id]);
        Assert.Equal("Change: Lägre dos hemma", decisions[ibuprofen.Id]);
        Assert.Equal("Stop: Smärtfri, behövs inte hemma", decisions[morfin.Id]);

        // Every decision is a version in the ordination's history, with who and why.
        var history = await medication.HistoryAsync(physician, alvedon.Id, Ct);
        Assert.Equal(["Continue", "Pause", "Prescribe"], history.Versions.Select(v => v.Action));
        Assert.Equal((physician.StaffId, "Active"), (history.Versions[0].RecordedBy, history.Versions[0].Status));
        // A change after the reconciliation shows as such.
        await medication.PauseAsync(physician, alvedon.Id, "Illamående", Ct);

        // Discharged: the stay's reconciled list stays as it was decided (what the discharge summary prints); the stopped one is in it.
        await region.Services.Encounters.DischargeAsync(physician, patientId, Ct);
        var printed = await reconciliation.ViewAsync(physician, patientId, Ct);
        Assert.Equal((admission.Id, false), (printed.Admission!.Id, printed.Admission.IsOpen));
        Assert.Equal(3, printed.Orders.Count);
        Assert.True(printed.Orders.Single(o => o.Order.Id == alvedon.Id).ChangedSince);
        Assert.Equal("Ended", printed.Orders.Single(o => o.Order.Id == morfin.Id).Order.Status);
        await Assert.ThrowsAsync<ConflictException>(() => reconciliation.ContinueAsync(physician, ibuprofen.Id, "Igen", Ct));

        // Published on the same transaction: the stop is the MedicationRequest's status, with its reason.
        await using var connection = await region.Database.OpenUnscopedAsync(Ct);
        var request = FhirJson.Parse((await FhirResourceStore.CurrentAsync(connection, null, "MedicationRequest", morfin.Id.ToString()))!.Content);
        Assert.Equal(("stopped", "Smärtfri, behövs inte hemma"), (request["status"]!.GetValue<string>(), request["statusReason"]!["text"]!.GetValue<string>()));
    }
    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Another_systems_current_medication_is_reconciled_at_discharge_by_a_physician_beside_the_resource_which_stays_as_sent(DatabaseEngine engine)
    {
        var (region, patientId) = await TestRegion.WithPatientAsync(engine);
        await region.Services.Catalogue.ImportAsync(CatalogueFile.Read(new StringReader(Catalogue)), null, Ct);
        var reconciliation = new DischargeReconciliation(region.Services.Medication, region.Services.Checkpoint);
        var physician = region.Physician;
        var nurse = await region.AddCallerAsync("ssk", Role.Nurse, region.Ward);
        var waran = await MedicationListTests.ForeignAsync(region, patientId, "MedicationRequest", MedicationListTests.Coded("Waran 2,5 mg", "http://www.whocc.no/atc", "B01AA03"));
        var statement = await MedicationListTests.ForeignAsync(region, patientId, "MedicationStatement", MedicationListTests.Coded("Omeprazole 20 MG"), source: "urn:system:synthea");
        var ended = await MedicationListTests.ForeignAsync(region, patientId, "MedicationRequest", MedicationListTests.Coded("Amoxicillin 500 MG"), status: "completed");
        async Task<long> DecisionsAsync()
        {
            await using var c = await region.Database.OpenUnscopedAsync(Ct);
            return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM discharge_external_medication WHERE patient_id = @patientId", new { patientId });
        }
        async Task<int> VersionOfAsync(string key)
        {
            await using var c = await region.Database.OpenUnscopedAsync(Ct);
            return (await FhirResourceStore.CurrentAsync(c, null, key.Split('/')[0], key.Split('/')[1]))!.VersionId;
        }

        // Not admitted: nothing to reconcile for.
        await Assert.ThrowsAsync<ConflictException>(() => reconciliation.DecideExternalAsync(physician, patientId, waran, DischargeDecision.Continue, "Fortsätter", cancellationToken: Ct));
        var admission = await region.Services.Encounters.AdmitAsync(physician, patientId, region.Ward.Id, "4", Ct);

        var open = await reconciliation.ViewAsync(physician, patientId, Ct);
        Assert.Equal([waran, statement], open.ExternalOrders.Select(o => o.Entry.Key).Order(StringComparer.Ordinal));
        Assert.All(open.ExternalOrders, o => Assert.Null(o.Decision));
        Assert.Equal((0, 2, false), (open.Reconciled, open.ToReconcile, open.Complete));

        // A nurse does not decide on another prescriber's medication; a change needs the dosage after discharge; an ended or unknown
        // resource has nothing to reconcile; none of them writes anything.
        await Assert.ThrowsAsync<ForbiddenException>(() => reconciliation.DecideExternalAsync(nurse, patientId, waran, DischargeDecision.Continue, "Fortsätter", cancellationToken: Ct));
        Assert.Equal("dosageAfter", (await Assert.ThrowsAsync<InvalidInputException>(() =>
            reconciliation.DecideExternalAsync(physician, patientId, waran, DischargeDecision.Change, "INR högt", " ", Ct))).Field);
        Assert.Equal("reason", (await Assert.ThrowsAsync<InvalidInputException>(() =>
            reconciliation.DecideExternalAsync(physician, patientId, waran, DischargeDecision.Stop, "", cancellationToken: Ct))).Field);
        await Assert.ThrowsAsync<ConflictException>(() => reconciliation.DecideExternalAsync(physician, patientId, ended, DischargeDecision.Stop, "Klar", cancellationToken: Ct));
        await Assert.ThrowsAsync<NotFoundException>(() => reconciliation.DecideExternalAsync(physician, patientId, "MedicationRequest/finns-inte", DischargeDecision.Stop, "Klar", cancellationToken: Ct));
        Assert.Equal("resource", (await Assert.ThrowsAsync<InvalidInputException>(() =>
            reconciliation.DecideExternalAsync(physician, patientId, "Observation/x", DischargeDecision.Stop, "Klar", cancellationToken: Ct))).Field);
        Assert.Equal(0, await DecisionsAsync());

        var first = await reconciliation.DecideExternalAsync(physician, patientId, waran, DischargeDecision.Continue, "Fortsätter enligt AK-mottagningen", cancellationToken: Ct);
        Assert.Equal(("Continue", "Waran 2,5 mg", physician.DisplayName), (first.Decision, first.Title, first.RecordedByName));
        // A new decision for the same stay stands over the first, which is kept.
        await reconciliation.DecideExternalAsync(physician, patientId, waran, DischargeDecision.Change, "INR 3,8 vid utskrivning", "2,5 mg varannan dag, nytt INR om en vecka", Ct);
        await reconciliation.DecideExternalAsync(physician, patientId, statement, DischargeDecision.Stop, "Ingen indikation, PPI sätts ut", cancellationToken: Ct);
        Assert.Equal(3, await DecisionsAsync());
        // The resources stay as their systems sent them.
        Assert.Equal((1, 1), (await VersionOfAsync(waran), await VersionOfAsync(statement)));

        await region.Services.Encounters.DischargeAsync(physician, patientId, Ct);
        var printed = await reconciliation.ViewAsync(physician, patientId, Ct);
        Assert.Equal((admission.Id, false), (printed.Admission!.Id, printed.Admission.IsOpen));
        Assert.True(printed.Complete);
        Assert.Equal((2, 2), (printed.Reconciled, printed.ToReconcile));
        var decided = printed.ExternalOrders.ToDictionary(o => o.Entry.Key);
        Assert.Equal((DischargeDecision.Change, "INR 3,8 vid utskrivning", "2,5 mg varannan dag, nytt INR om en vecka"),
            (decided[waran].Decision!.Value, decided[waran].Reconciled!.Reason, decided[waran].Reconciled!.DosageAfter));
        Assert.Equal((DischargeDecision.Stop, "urn:system:synthea"), (decided[statement].Decision!.Value, decided[statement].Entry.Source));
        await Assert.ThrowsAsync<ConflictException>(() => reconciliation.DecideExternalAsync(physician, patientId, waran, DischargeDecision.Stop, "Igen", cancellationToken: Ct));

        // Each decision and each refusal is in the patient's audit trail.
        await using var connection = await region.Database.OpenUnscopedAsync(Ct);
        Assert.Equal(3, await connection.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM audit_event WHERE patient_id = @patientId AND resource = 'Medication' AND activity = 'Write' AND outcome = 'Allowed'", new { patientId }));
        Assert.True(await connection.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM audit_event WHERE patient_id = @patientId AND resource = 'Medication' AND outcome = 'Denied'", new { patientId }) >= 1);
    }
}
