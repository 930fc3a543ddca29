using System.Data.Common;
using Dapper;
using Stadig.Common;
using Stadig.Medication;

namespace Stadig.Seeding;

/// <summary>
/// The demo region's medication round (eMAR): on every ward, the last day's scheduled doses of its
/// inpatients recorded by the ward's nurses (mostly given, some given late or not given with a reason,
/// high-risk doses with a second nurse's check), some as-needed doses, one dose left overdue, and one
/// ordination whose dose is due at the seed's time. Written straight as rows, as the rest of the seed.
/// </summary>
internal static class AdministrationSeed
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(new MedicationOptions().DoseWindowMinutes);

    public static async Task<int> WriteAsync(DbConnection connection, Random random, Func<Guid> nextId,
        IReadOnlyList<(Guid Patient, Guid Ward, DateTimeOffset Admitted)> inpatients, DateTimeOffset now)
    {
        var time = RegionTime.Sweden;
        var nurses = (await connection.QueryAsync<(Guid Unit, Guid Staff)>(
            "SELECT unit_id, staff_id FROM assignment WHERE role = 'Nurse' ORDER BY unit_id, staff_id")).ToList();
        if (nurses.Count < 2) return 0;
        var written = 0;
        foreach (var ward in inpatients.GroupBy(i => i.Ward))
        {
            var own = nurses.Where(n => n.Unit == ward.Key).Select(n => n.Staff).Distinct().ToList();
            var staff = own.Count >= 2 ? own : nurses.Select(n => n.Staff).Distinct().ToList();
            // The patient with the fewest ordinations gets it, so no list grows past the seed's three to five.
            var fewest = (await connection.QueryAsync<(Guid Patient, long Orders)>("SELECT patient_id, COUNT(*) FROM medication_order GROUP BY patient_id"))
                .ToDictionary(r => r.Patient, r => r.Orders);
            await DueNowAsync(connection, nextId, ward.OrderBy(w => fewest.GetValueOrDefault(w.Patient)).ThenBy(w => w.Patient).First(), now);
            var orders = new List<DoseOrder>();
            foreach (var (patient, _, _) in ward)
                orders.AddRange(await connection.QueryAsync<DoseOrder>(
                    """
                    SELECT o.id AS Id, o.patient_id AS PatientId, o.unit_id AS UnitId, o.status AS Status, v.version AS Version, v.product_text AS ProductText,
                           v.dose_value AS DoseValue, v.dose_unit AS DoseUnit, v.times_of_day AS TimesOfDay, v.interval_hours AS IntervalHours, v.as_needed AS AsNeeded,
                           v.max_doses_per_24h AS MaxDosesPer24h, v.starts_at AS StartsAt, v.ends_at AS EndsAt, v.recorded_at AS RecordedAt, p.high_risk AS HighRisk
                    FROM medication_order o JOIN medication_order_version v ON v.order_id = o.id AND v.version = o.current_version
                    LEFT JOIN medication_product p ON p.id = v.product_id
                    WHERE o.patient_id = @patient AND o.status = 'Active' AND o.origin = 'Prescribed' ORDER BY o.id
                    """, new { patient }));
            // The ward's one overdue dose: the latest past scheduled dose of its first scheduled ordination is left unrecorded.
            var overdue = orders.Where(o => !o.AsNeeded).SelectMany(o => AdministrationSchedule.Slots(o, now - AdministrationSchedule.Lookback, now - Window, time)
                .Select(s => (o.Id, Slot: s))).OrderByDescending(s => s.Slot).FirstOrDefault();
            foreach (var order in orders)
            {
                if (order.AsNeeded)
                {
                    if (random.Next(2) == 0) continue;
                    await InsertAsync(connection, nextId(), order, null, "Given", now.AddMinutes(-60 - random.Next(600)), Pick(random, AsNeededReasons),
                        staff, random, now);
                    written++;
                    continue;
                }
                // Doses whose window has passed are recorded; those within it are still to give.
                foreach (var slot in AdministrationSchedule.Slots(order, now - AdministrationSchedule.Lookback, now - Window, time))
                {
                    if (order.Id == overdue.Id && slot == overdue.Slot) continue;
                    var roll = random.Next(20);
                    var (outcome, givenAt, reason) = roll switch
                    {
                        0 => ("NotGiven", (DateTimeOffset?)null, (string?)Pick(random, NotGivenReasons)),
                        1 => ("GivenLate", (DateTimeOffset?)(slot + Window + TimeSpan.FromMinutes(5 + random.Next(60))), (string?)"Patienten var på undersökning"),
                        _ => ("Given", (DateTimeOffset?)(slot + TimeSpan.FromMinutes(random.Next(-20, 30))), (string?)null),
                    };
                    await InsertAsync(connection, nextId(), order, slot, outcome, givenAt, reason, staff, random, now);
                    written++;
                }
            }
        }
        return written;
    }

    private static readonly string[] AsNeededReasons = ["Smärta VAS 6", "Genombrottssmärta", "Orolig, svårt att somna", "Huvudvärk"];
    private static readonly string[] NotGivenReasons = ["Patienten sov", "Illamående, patienten avböjde", "Fastande inför undersökning"];

    private static string Pick(Random random, string[] from) => from[random.Next(from.Length)];

    private static Task InsertAsync(DbConnection connection, Guid id, DoseOrder order, DateTimeOffset? slot, string outcome, DateTimeOffset? givenAt,
        string? reason, IReadOnlyList<Guid> staff, Random random, DateTimeOffset now)
    {
        var givenBy = staff[random.Next(staff.Count)];
        var checkedBy = order.HighRisk && outcome != "NotGiven" ? staff.First(s => s != givenBy) : (Guid?)null;
        var recordedAt = givenAt ?? (slot ?? now);
        if (recordedAt > now) recordedAt = now;
        return connection.ExecuteAsync(
            """
            INSERT INTO medication_administration (id, patient_id, order_id, order_version, unit_id, scheduled_at, outcome, dose_value, dose_unit, given_at,
                reason, given_by, checked_by, checked_at, corrects_id, correction_reason, recorded_at)
            VALUES (@id, @PatientId, @Id2, @Version, @UnitId, @slot, @outcome, @dose, @DoseUnit, @givenAt, @reason, @givenBy, @checkedBy, @checkedAt, NULL, NULL, @recordedAt)
            """,
            new
            {
                id, order.PatientId, Id2 = order.Id, order.Version, order.UnitId, slot, outcome, dose = outcome == "NotGiven" ? null : order.DoseValue,
                order.DoseUnit, givenAt = givenAt > now ? now : givenAt, reason, givenBy, checkedBy, checkedAt = checkedBy is null ? null : givenAt, recordedAt,
            });
    }

    /// <summary>
    /// One ordination per ward whose dose is due at the seed's time: bensylpenicillin every 8 hours, started two doses ago
    /// (both recorded by the loop above), so the round has something to give when the demo opens.
    /// </summary>
    private static async Task DueNowAsync(DbConnection connection, Func<Guid> nextId, (Guid Patient, Guid Ward, DateTimeOffset Admitted) bed, DateTimeOffset now)
    {
        var product = (await connection.QueryAsync<(Guid Id, string Name, string Strength, string DoseForm, string Atc, string Route)>(
            "SELECT id, name, strength, dose_form, atc_code, route FROM medication_product WHERE name = 'Bensylpenicillin' AND strength = '1 g' ORDER BY sort_key LIMIT 1")).ToList();
        var physician = await connection.QuerySingleOrDefaultAsync<Guid?>(
            "SELECT staff_id FROM assignment WHERE role = 'Physician' AND unit_id = @Ward ORDER BY staff_id LIMIT 1", new { bed.Ward });
        if (product.Count == 0 || physician is null) return;
        var (productId, name, strength, form, atc, route) = product[0];
        var id = nextId();
        var started = now.AddHours(-16);
        await connection.ExecuteAsync(
            """
            INSERT INTO medication_order (id, patient_id, unit_id, origin, current_version, status, created_at, created_by)
            VALUES (@id, @Patient, @Ward, 'Prescribed', 1, 'Active', @started, @physician)
            """, new { id, bed.Patient, bed.Ward, started, physician });
        await connection.ExecuteAsync(
            """
            INSERT INTO medication_order_version (order_id, version, patient_id, action, status, product_id, product_text, atc_code, indication, dose_value,
                dose_unit, route, times_of_day, interval_hours, as_needed, max_doses_per_24h, duration_days, instructions, starts_at, ends_at,
                prescriber_id, prescriber_text, reason, check_findings, override_reason, recorded_at, recorded_by, recorded_role)
            VALUES (@id, 1, @Patient, 'Prescribe', 'Active', @productId, @display, @atc, 'Pneumoni', 1, 'g', @route, NULL, 8, @asNeeded,
                NULL, 5, NULL, @started, @ends, @physician, NULL, NULL, NULL, NULL, @started, @physician, 'Physician')
            """,
            new { id, bed.Patient, productId, display = $"{name} {strength} {form}", atc, route, asNeeded = false, started, ends = started.AddDays(5), physician });
    }
}
