using System.Data.Common;
using Dapper;

namespace Stadig.Seeding;

/// <summary>
/// The demo region's inpatients' medication lists: a few common ward ordinations each (scheduled,
/// as needed, a high-risk product), some the patient's own, and an ended course, prescribed by a
/// physician of the ward. Written straight as rows, as the rest of the seed; each ordination is one
/// version, as the use case writes a new prescription.
/// </summary>
internal static class MedicationSeed
{
    private sealed record Regimen(string Name, string Strength, double Dose, string Unit, string? Times, bool AsNeeded, double? Max, string Indication,
        string Origin = "Prescribed", bool Ended = false);

    private static readonly Regimen[] Regimens =
    [
        new("Alvedon", "500 mg", 2, "tablett", "08:00,14:00,20:00", false, null, "Smärta"),
        new("Omeprazol", "20 mg", 1, "kapsel", "08:00", false, null, "Ulcusprofylax"),
        new("Morfin", "5 mg", 1, "tablett", null, true, 4, "Genombrottssmärta"),
        new("Furosemid", "40 mg", 1, "tablett", "08:00", false, null, "Hjärtsvikt"),
        new("Metformin", "500 mg", 1, "tablett", "08:00,20:00", false, null, "Diabetes typ 2"),
        new("Fragmin", "5000 IE", 5000, "IE", "20:00", false, null, "Tromboprofylax"),
        new("Enalapril", "10 mg", 1, "tablett", "08:00", false, null, "Hypertoni", "PatientOwn"),
        new("Levaxin", "100 mikrog", 1, "tablett", "07:00", false, null, "Hypotyreos", "OtherSystem"),
        new("Zopiklon", "5 mg", 1, "tablett", null, true, 1, "Sömnsvårigheter"),
        new("Amoxicillin", "500 mg", 1, "tablett", "08:00,14:00,20:00", false, null, "Pneumoni", Ended: true),
    ];

    /// <summary>Three to five ordinations for each admitted patient, from the catalogue's products; none when the catalogue lacks them.</summary>
    public static async Task<int> WriteAsync(DbConnection connection, Random random, Func<Guid> nextId,
        IReadOnlyList<(Guid Patient, Guid Ward, DateTimeOffset Admitted)> inpatients, DateTimeOffset now)
    {
        var products = new Dictionary<Regimen, (Guid Id, string Display, string Atc, string Route)>();
        foreach (var r in Regimens)
        {
            var found = (await connection.QueryAsync<(Guid Id, string Name, string Strength, string DoseForm, string Atc, string Route)>(
                "SELECT id, name, strength, dose_form, atc_code, route FROM medication_product WHERE name = @Name AND strength = @Strength ORDER BY sort_key LIMIT 1",
                new { r.Name, r.Strength })).ToList();
            if (found.Count == 1) products[r] = (found[0].Id, $"{found[0].Name} {found[0].Strength} {found[0].DoseForm}", found[0].Atc, found[0].Route);
        }
        if (products.Count == 0) return 0;
        var physicians = (await connection.QueryAsync<(Guid Unit, Guid Staff)>(
            "SELECT unit_id, staff_id FROM assignment WHERE role = 'Physician' ORDER BY unit_id, staff_id")).GroupBy(a => a.Unit).ToDictionary(g => g.Key, g => g.First().Staff);
        var written = 0;
        foreach (var (patient, ward, admitted) in inpatients)
        {
            if (!physicians.TryGetValue(ward, out var physician)) continue;
            var chosen = Regimens.Where(products.ContainsKey).OrderBy(_ => random.Next()).Take(3 + random.Next(3)).ToList();
            foreach (var r in chosen)
            {
                var (productId, display, atc, route) = products[r];
                var id = nextId();
                var prescribed = r.Origin == "Prescribed";
                var started = prescribed ? admitted.AddMinutes(30 + random.Next(120)) : admitted.AddDays(-200 - random.Next(400));
                var ended = r.Ended ? now.AddHours(-2 - random.Next(10)) : (DateTimeOffset?)null;
                await connection.ExecuteAsync(
                    """
                    INSERT INTO medication_order (id, patient_id, unit_id, origin, current_version, status, created_at, created_by)
                    VALUES (@id, @patient, @ward, @Origin, @version, @status, @started, @physician)
                    """, new { id, patient, ward, r.Origin, version = r.Ended ? 2 : 1, status = r.Ended ? "Ended" : "Active", started = prescribed ? started : admitted, physician });
                for (var version = 1; version <= (r.Ended ? 2 : 1); version++)
                {
                    var stop = version == 2;
                    await connection.ExecuteAsync(
                        """
                        INSERT INTO medication_order_version (order_id, version, patient_id, action, status, product_id, product_text, atc_code, indication, dose_value,
                            dose_unit, route, times_of_day, interval_hours, as_needed, max_doses_per_24h, duration_days, instructions, starts_at, ends_at,
                            prescriber_id, prescriber_text, reason, check_findings, override_reason, recorded_at, recorded_by, recorded_role)
                        VALUES (@id, @version, @patient, @action, @status, @productId, @display, @atc, @Indication, @Dose, @Unit, @route, @Times, NULL, @AsNeeded,
                            @Max, NULL, NULL, @started, @ends, @prescriber, @prescriberText, @reason, NULL, NULL, @recordedAt, @physician, 'Physician')
                        """,
                        new
                        {
                            id, version, patient, action = stop ? "Stop" : prescribed ? "Prescribe" : "Record", status = stop ? "Ended" : "Active", productId, display, atc,
                            r.Indication, r.Dose, r.Unit, route, r.Times, r.AsNeeded, r.Max, started, ends = stop ? ended : null,
                            prescriber = prescribed ? physician : (Guid?)null,
                            prescriberText = prescribed ? null : r.Origin == "PatientOwn" ? "Vårdcentralen Björkhagen" : "Region Sörmland, Mälarsjukhuset",
                            reason = stop ? "Kuren avslutad" : null, recordedAt = stop ? ended!.Value : prescribed ? started : admitted, physician,
                        });
                }
                written++;
            }
        }
        return written;
    }
}
