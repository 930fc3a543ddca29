using System.Diagnostics;
using Dapper;
using Stadig.Access;
using Stadig.Common;
using Stadig.Medication;
using Stadig.Organisation;
using Stadig.Storage;

namespace Stadig.Bench;

/// <summary>
/// Issue #18's budgets, in-process around the use cases (server time, no HTTP), on a seeded region of
/// any size: the medication list (the page's audited read), prescribing (checks run in the signing
/// transaction), administering a dose (given, a high-risk one with a second nurse's check) and the
/// ward's medication round for a ward of N beds (default 30, one audited read per patient shown).
/// Setup (not timed): a bench ward with its physician and two nurses, N patients admitted to it, each
/// with four ordinations whose versions are dated 25 hours back so a day's scheduled doses stand
/// unrecorded (an hourly one among them), and P more patients with a care relation for prescribing.
/// A re-run stops the previous run's ordinations and writes fresh ones.
/// </summary>
internal static class MedicationBench
{
    private const string WardHsa = "SE2321000016-BENCHW";

    public static async Task<int> RunAsync(Database database, int beds, int iterations, int prescribePatients)
    {
        var services = CoreServices.Create(database, TimeProvider.System);
        await services.Catalogue.SeedIfEmptyAsync();
        var units = await services.Staff.UnitsAsync();
        if (units.Count == 0) { Console.Error.WriteLine("no region: run the seed verb first"); return 1; }
        var ward = units.FirstOrDefault(u => u.HsaId == WardHsa)
            ?? await services.Staff.AddUnitAsync(units[0].ProviderId, WardHsa, "Bänkavdelningen", UnitKind.Ward);
        var physician = await StaffAsync(services, ward, "SE2321000016-BENCHL", "benchlak", "Bänk Läkare", Role.Physician);
        var nurse = await StaffAsync(services, ward, "SE2321000016-BENCHS", "benchssk", "Bänk Sjuksköterska", Role.Nurse);
        var checker = await StaffAsync(services, ward, "SE2321000016-BENCHT", "benchssk2", "Bänk Kontrollant", Role.Nurse);
        var products = new Dictionary<string, Guid>();
        foreach (var (name, strength) in new[] { ("Alvedon", "500 mg"), ("Omeprazol", "20 mg"), ("Morfin", "10 mg"), ("Metformin", "500 mg"), ("Enalapril", "10 mg") })
            products[name] = (await services.Catalogue.SearchAsync($"{name} {strength}", limit: 5)).First(p => p.Name == name).Id;

        var setup = Stopwatch.StartNew();
        var admitted = (await services.Encounters.WardListAsync(physician)).Select(w => w.Patient.Id).ToList();
        if (admitted.Count < beds)
        {
            await using var c = await database.OpenUnscopedAsync();
            var free = (await c.QueryAsync<Guid>(
                $"""
                SELECT id FROM patient p WHERE merged_into_id IS NULL AND deceased_date IS NULL
                  AND NOT EXISTS (SELECT 1 FROM encounter e WHERE e.patient_id = p.id AND e.ended_at IS NULL AND e.kind = 'Inpatient')
                ORDER BY random() LIMIT {(beds - admitted.Count) * 2}
                """)).ToList();
            foreach (var id in free)
            {
                if (admitted.Count >= beds) break;
                try { await services.Encounters.AdmitAsync(physician, id, ward.Id, $"{admitted.Count + 1}"); admitted.Add(id); }
                catch (ConflictException) { }
            }
        }
        admitted = admitted.Take(beds).ToList();
        foreach (var id in admitted)
        {
            foreach (var order in (await services.Medication.ListAsync(physician, id)).Where(o => o.IsCurrent && o.UnitId == ward.Id))
                await services.Medication.StopAsync(physician, order.Id, "Ny mätning");
            MedicationDraft Draft(string product, double dose, string unit) => new() { ProductId = products[product], DoseValue = dose, DoseUnit = unit, Indication = "Prestandamätning" };
            var orders = new[]
            {
                await services.Medication.PrescribeAsync(physician, id, Draft("Alvedon", 1, "tablett") with { IntervalHours = 1 }, "Prestandamätning: en dos i timmen"),
                await services.Medication.PrescribeAsync(physician, id, Draft("Omeprazol", 1, "kapsel") with { TimesOfDay = [new TimeOnly(8, 0)] }, "Prestandamätning"),
                await services.Medication.PrescribeAsync(physician, id, Draft("Enalapril", 1, "tablett") with { TimesOfDay = [new TimeOnly(8, 0), new TimeOnly(20, 0)] }, "Prestandamätning"),
                await services.Medication.PrescribeAsync(physician, id, Draft("Morfin", 1, "tablett") with { AsNeeded = true, MaxDosesPer24h = 6 }, "Prestandamätning"),
            };
            var past = DateTimeOffset.UtcNow.AddHours(-25);
            await using var c = await database.OpenUnscopedAsync();
            foreach (var order in orders)
                await c.ExecuteAsync("UPDATE medication_order_version SET starts_at = @past, recorded_at = @past WHERE order_id = @id", new { past, id = order.Id });
        }
        var others = new List<Guid>();
        await using (var c = await database.OpenUnscopedAsync())
            others = (await c.QueryAsync<Guid>($"SELECT id FROM patient WHERE merged_into_id IS NULL AND deceased_date IS NULL ORDER BY random() LIMIT {prescribePatients}")).ToList();
        foreach (var id in others) await services.Access.RecordCareRelationAsync(physician, id, "Prestandamätning");
        Console.WriteLine($"bench ward: {admitted.Count} beds with 4 ordinations each; {others.Count} more patients with a care relation ({setup.Elapsed.TotalSeconds:F1} s, not timed)");
        if (admitted.Count == 0) { Console.Error.WriteLine("no patient could be admitted"); return 1; }

        Console.WriteLine($"{"action",-32} {"n",6} {"p50 ms",8} {"p95 ms",8} {"p99 ms",8} {"max ms",8} {"avg items",9}");
        var round = await services.Administration.WardAsync(nurse);
        var slots = round.SelectMany(b => b.Doses).Where(d => d.State != DoseState.Recorded && d.Order.IntervalHours == 1).ToList();
        var asNeeded = round.SelectMany(b => b.AsNeeded).Select(n => n.Order.Id).ToList();
        Console.WriteLine($"the round: {round.Sum(b => b.Doses.Count)} scheduled doses ({round.Sum(b => b.Overdue)} overdue), {asNeeded.Count} as-needed ordinations");

        // Ward round: warm-up, then timed.
        for (var i = 0; i < 10; i++) await services.Administration.WardAsync(nurse);
        var wardTimes = new List<double>();
        long wardItems = 0;
        for (var i = 0; i < Math.Max(50, iterations / 4); i++)
        {
            var watch = Stopwatch.StartNew();
            var r = await services.Administration.WardAsync(nurse);
            wardTimes.Add(watch.Elapsed.TotalMilliseconds);
            wardItems += r.Sum(b => b.Doses.Count + b.AsNeeded.Count);
        }
        Print($"ward round ({admitted.Count} beds)", wardTimes, (double)wardItems / wardTimes.Count);

        // Administer: scheduled doses of the hourly ordinations (given late, as the day's are overdue); every tenth an as-needed high-risk dose with a second nurse's check.
        var doseTimes = new List<double>();
        var refused = 0;
        var nextNeeded = 0;
        var given = new Dictionary<Guid, int>();
        for (var i = 0; i < Math.Min(iterations, slots.Count); i++)
        {
            var watch = Stopwatch.StartNew();
            try
            {
                if (i % 10 == 9 && asNeeded.Count > 0)
                {
                    var order = asNeeded[nextNeeded++ % asNeeded.Count];
                    if (given.GetValueOrDefault(order) >= 6) continue;
                    watch.Restart();
                    await services.Administration.RecordAsync(nurse, order, new DoseInput { Reason = "Smärta VAS 6", CheckedBy = checker.StaffId });
                    given[order] = given.GetValueOrDefault(order) + 1;
                }
                else
                {
                    var slot = slots[i];
                    await services.Administration.RecordAsync(nurse, slot.Order.Id, new DoseInput { ScheduledAt = slot.ScheduledAt });
                }
                doseTimes.Add(watch.Elapsed.TotalMilliseconds);
            }
            catch (StadigException e) when (e is ConflictException or InvalidInputException)
            {
                refused++;
            }
        }
        if (doseTimes.Count > 0) Print("administer a dose", doseTimes, null);
        if (refused > 0) Console.WriteLine($"administrations refused: {refused}");

        // Prescribe and the medication list, on the other patients (each gets one more ordination a round) and the ward's.
        var draftProducts = new[] { "Metformin", "Omeprazol", "Enalapril" };
        var prescribeTimes = new List<double>();
        var listTimes = new List<double>();
        long listItems = 0;
        var readers = others.Concat(admitted).ToList();
        for (var i = 0; i < iterations + 20; i++)
        {
            var patient = others.Count > 0 ? others[i % others.Count] : admitted[i % admitted.Count];
            var draft = new MedicationDraft
            {
                ProductId = products[draftProducts[i % draftProducts.Length]], DoseValue = 1, DoseUnit = "tablett", Indication = "Prestandamätning",
                TimesOfDay = [new TimeOnly(8, 0)],
            };
            var watch = Stopwatch.StartNew();
            await services.Medication.PrescribeAsync(physician, patient, draft, "Prestandamätning");
            if (i >= 20) prescribeTimes.Add(watch.Elapsed.TotalMilliseconds);
            watch.Restart();
            var view = await services.Medication.ViewAsync(physician, readers[i % readers.Count]);
            if (i >= 20) { listTimes.Add(watch.Elapsed.TotalMilliseconds); listItems += view.Orders.Count; }
        }
        Print("prescribe (checks, signed)", prescribeTimes, null);
        Print("medication list (page read)", listTimes, (double)listItems / listTimes.Count);
        return 0;
    }

    private static async Task<Caller> StaffAsync(CoreServices services, CareUnit ward, string hsaId, string username, string name, Role role)
    {
        var member = await services.Staff.FindByHsaIdAsync(hsaId) ?? await services.Staff.AddStaffAsync(hsaId, username, name, role.Swedish(), null, isDemo: false);
        if (!(await services.Staff.AssignmentsOfAsync(member.Id)).Any(a => a.UnitId == ward.Id && a.Role == role))
            await services.Staff.AddAssignmentAsync(member.Id, ward.Id, role, Purpose.CareAndTreatment);
        return new Caller(member.Id, member.HsaId, member.DisplayName, role, ward.Id, ward.HsaId, Purpose.CareAndTreatment);
    }

    private static void Print(string name, List<double> times, double? items)
    {
        if (times.Count == 0) { Console.WriteLine($"{name,-32} none"); return; }
        times.Sort();
        double P(double q) => times[Math.Min(times.Count - 1, (int)Math.Ceiling(q * times.Count) - 1)];
        Console.WriteLine($"{name,-32} {times.Count,6} {P(0.50),8:F2} {P(0.95),8:F2} {P(0.99),8:F2} {times[^1],8:F2} {(items is { } n ? n.ToString("F1", System.Globalization.CultureInfo.InvariantCulture) : ""),9}");
    }
}
