using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Downtime;
using Stadig.Organisation;

namespace Stadig.Observations;

/// <summary>A kind of vital sign: its LOINC code, its Swedish name, its unit, and the values a human body can have (a typing guard, not a reference range).</summary>
public sealed record VitalSignKind(string Code, string Name, string Unit, double Lowest, double Highest);

/// <summary>One vital sign as stored: what, the value, when it was observed, and who recorded it.</summary>
public sealed record VitalSign
{
    public Guid Id { get; init; }
    public Guid PatientId { get; init; }
    public Guid UnitId { get; init; }
    public string Code { get; init; } = "";
    public string Name { get; init; } = "";
    public double Value { get; init; }
    public string Unit { get; init; } = "";
    public DateTimeOffset ObservedAt { get; init; }
    public DateTimeOffset RecordedAt { get; init; }
}

/// <summary>
/// Vital signs (vitalparametrar) in the chart: pulse, breathing, blood pressure, temperature,
/// saturation. Through the checkpoint and audited like every write. A value written on paper during
/// a downtime is entered afterwards with its observed time and marked as back-entered.
/// </summary>
public sealed class VitalSigns(PatientCheckpoint checkpoint, RegionTime time, TimeProvider clock)
{
    public static readonly IReadOnlyList<VitalSignKind> Kinds =
    [
        new("8867-4", "Puls", "/min", 20, 300),
        new("9279-1", "Andningsfrekvens", "/min", 3, 80),
        new("8480-6", "Systoliskt blodtryck", "mmHg", 40, 300),
        new("8462-4", "Diastoliskt blodtryck", "mmHg", 20, 200),
        new("8310-5", "Kroppstemperatur", "°C", 25, 45),
        new("59408-5", "Syremättnad", "%", 50, 100),
    ];

    public static bool MayRecord(Role role) => role is Role.Physician or Role.Nurse;

    /// <summary>
    /// Records one value. Without <paramref name="backEntry"/> it was observed now; with it, at the
    /// time on the paper, which must lie within a registered downtime period.
    /// </summary>
    public async Task<VitalSign> RecordAsync(Caller caller, Guid patientId, string code, double value, BackEntryClaim? backEntry = null,
        string? clientRequestId = null, CancellationToken cancellationToken = default)
    {
        if (!MayRecord(caller.Role)) throw new ForbiddenException("Din roll registrerar inte vitalparametrar.");
        var kind = Kinds.FirstOrDefault(k => k.Code == code) ?? throw new InvalidInputException("code", $"Okänd vitalparameter \"{code}\".");
        if (double.IsNaN(value) || value < kind.Lowest || value > kind.Highest)
            throw new InvalidInputException("value", $"{kind.Name} {value} {kind.Unit} är inte rimligt; ange ett värde mellan {kind.Lowest} och {kind.Highest} {kind.Unit}.");
        var id = Guid.CreateVersion7();
        return await checkpoint.WriteAsync(caller, patientId, "Observation", AuditActivity.Write, async (connection, transaction, _) =>
        {
            var now = clock.GetUtcNow();
            var observedAt = backEntry?.ClinicalAt ?? now;
            var inserted = await connection.ExecuteAsync(
                """
                INSERT INTO vital_sign (id, patient_id, unit_id, code, name, value_numeric, unit, observed_at, recorded_at, recorded_by, client_request_id)
                VALUES (@id, @patientId, @unitId, @Code, @Name, @value, @Unit, @observedAt, @now, @staffId, @clientRequestId)
                ON CONFLICT (client_request_id) DO NOTHING
                """,
                new { id, patientId, unitId = caller.UnitId, kind.Code, kind.Name, value, kind.Unit, observedAt, now, staffId = caller.StaffId, clientRequestId },
                transaction);
            if (inserted == 0)
                return await connection.QuerySingleAsync<VitalSign>($"{Select} WHERE client_request_id = @clientRequestId", new { clientRequestId }, transaction);
            if (backEntry is not null)
                await BackEntries.MarkAsync(connection, transaction, caller, patientId, BackEntryRecord.Observation, id, BackEntryEvent.Observation, backEntry, now, time);
            return new VitalSign
            {
                Id = id, PatientId = patientId, UnitId = caller.UnitId, Code = kind.Code, Name = kind.Name, Value = value, Unit = kind.Unit,
                ObservedAt = observedAt, RecordedAt = now,
            };
        }, cancellationToken);
    }

    private const string Select =
        """
        SELECT id AS Id, patient_id AS PatientId, unit_id AS UnitId, code AS Code, name AS Name, value_numeric AS Value, unit AS Unit,
               observed_at AS ObservedAt, recorded_at AS RecordedAt
        FROM vital_sign
        """;
}
