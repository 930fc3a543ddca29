using System.Globalization;
using Stadig.Access;
using Stadig.Audit;
using Stadig.LabResults;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Patients.Identifiers;

namespace Stadig.Training;

/// <summary>One exercise patient as set up for one attempt.</summary>
public sealed record TrainingPatient(string Key, Guid PatientId, string Identifier, string FamilyName, string GivenNames, string? QuarantineControlId);

/// <summary>
/// Builds a trainee's own copy of an exercise's patients through the same use cases staff use
/// (registration, the lab's ORU ingest, emergency access), so what the trainee then meets is what
/// Stadig really does. The copies get fresh test identity numbers, so trainees never share a patient.
/// </summary>
public sealed class ExerciseSetup(
    Storage.Database database, AuditLog audit, StaffDirectory staff, PatientRegistry registry, Notes.ClinicalNotes notes,
    AccessControl access, Chart.PatientChart chart, Warnings.PatientWarnings warnings, PatientIdentifierRules identifiers, TimeProvider clock)
{
    public const string SystemUsername = "ovningssystem";
    public const string ColleagueUsername = "ovningskollega";
    private const string OtherUnitHsaId = "SE2321000016-OVN1";
    private const string ColleagueUnitHsaId = "SE2321000016-OVN2";

    public async Task<IReadOnlyList<TrainingPatient>> SetUpAsync(Exercise exercise, Caller trainee, CancellationToken cancellationToken)
    {
        var list = new List<TrainingPatient>();
        foreach (var spec in exercise.Patients)
            list.Add(await SetUpAsync(spec, trainee, cancellationToken));
        return list;
    }

    private async Task<TrainingPatient> SetUpAsync(ExercisePatient spec, Caller trainee, CancellationToken ct)
    {
        var (other, colleagueUnit) = await OtherUnitsAsync(trainee, ct);
        var atTraineeUnit = spec.Setup is PatientSetup.AtTraineeUnit or PatientSetup.WithCriticalResult or PatientSetup.WithQuarantinedResult;
        var registrar = await ActorAsync(SystemUsername, "Övningsledaren", atTraineeUnit ? trainee.UnitId : other.Id, atTraineeUnit ? trainee.UnitHsaId : other.HsaId, ct);
        var sex = spec.Sex.Equals("male", StringComparison.OrdinalIgnoreCase) ? Sex.Male : Sex.Female;
        var (patientId, identifier) = await RegisterAsync(registrar, spec, sex, ct);
        string? controlId = null;
        if (spec.Hypersensitivity is { } agent)
            await warnings.AddAsync(registrar, patientId, new Warnings.NewWarning("Hypersensitivity", "", agent, "Astma", "Harmful", "Confirmed"), ct);
        switch (spec.Setup)
        {
            case PatientSetup.AtOtherUnit:
                // Data at the other unit, so emergency access has something to reveal.
                var note = await notes.CreateDraftAsync(registrar, patientId, "Daganteckning", cancellationToken: ct);
                note = await notes.SaveDraftAsync(registrar, note.Id, note.Version, [new("Aktuellt", "Övningsanteckning från annan enhet.")], ct);
                await notes.SignAsync(registrar, note.Id, note.Version, ct);
                break;
            case PatientSetup.WithCriticalResult:
                await IngestAsync(identifier, spec.FamilyName, spec.GivenNames, "6.9", "HH", ct);
                break;
            case PatientSetup.WithQuarantinedResult:
                // The lab misspells the family name: the number is right, the name is not, so it waits for a person.
                controlId = await IngestAsync(identifier, spec.LabFamilyName ?? spec.FamilyName + "h", spec.GivenNames, "5.1", "H", ct);
                break;
            case PatientSetup.ExplicitCareRelationByColleague:
                var colleague = await ActorAsync(ColleagueUsername, "Kim Kollega", colleagueUnit.Id, colleagueUnit.HsaId, ct);
                await access.RecordCareRelationAsync(colleague, patientId, "Tror att patienten ska komma hit", ct);
                await chart.OverviewAsync(colleague, patientId, ct);
                break;
            case PatientSetup.OpenedInEmergencyByColleague:
                var opener = await ActorAsync(ColleagueUsername, "Kim Kollega", colleagueUnit.Id, colleagueUnit.HsaId, ct);
                await access.RevealAsync(opener, patientId, ct);
                await access.OpenInEmergencyAsync(opener, patientId, "Medvetslös på akuten", ct);
                break;
        }
        return new TrainingPatient(spec.Key, patientId, identifier.Value, spec.FamilyName, spec.GivenNames, controlId);
    }

    private async Task<(Guid, PatientIdentifier)> RegisterAsync(Caller registrar, ExercisePatient spec, Sex sex, CancellationToken ct)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var number = TestPersonnummer(sex);
            var result = await registry.RegisterAsync(registrar, number, new PatientDetails(spec.FamilyName, spec.GivenNames), ct);
            // A number already taken (by another trainee's copy or the synthetic region) is drawn again.
            if (result.Created) return (result.PatientId, identifiers.Parse(number));
        }
        throw new InvalidOperationException("No free test identity number for an exercise patient.");
    }

    /// <summary>A personnummer whose serial is in 980–999, the range never given to real people (see IdentityNumbers).</summary>
    private static string TestPersonnummer(Sex sex)
    {
        var date = new DateOnly(1935, 1, 1).AddDays(Random.Shared.Next(0, 365 * 65));
        var serial = 980 + 2 * Random.Shared.Next(0, 10) + (sex == Sex.Male ? 1 : 0);
        var digits = string.Create(CultureInfo.InvariantCulture, $"{date:yyyyMMdd}{serial:D3}");
        return digits + Luhn.CheckDigit(digits[2..]).ToString(CultureInfo.InvariantCulture);
    }

    private async Task<string> IngestAsync(PatientIdentifier identifier, string family, string given, string value, string flag, CancellationToken ct)
    {
        var lab = await LabUnitAsync(ct);
        var labCaller = await LabIntegration.CallerAsync(staff, lab, ct);
        var ingest = new IngestOruMessage(database, audit, new PatientMatcher(identifiers), labCaller, clock);
        var controlId = "OVN" + Guid.NewGuid().ToString("N")[..16].ToUpperInvariant();
        var sent = clock.GetUtcNow().ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture) + "+0000";
        var message =
            $"MSH|^~\\&|OVNLAB|OVNING|STADIG|REGION|{sent}||ORU^R01^ORU_R01|{controlId}|P|2.5\r" +
            $"PID|1||{identifier.Value}^^^^PN||{family}^{given}\r" +
            $"OBR|1|P{controlId}|F{controlId}|K^Kalium^L|||{sent}\r" +
            $"OBX|1|NM|K^P-Kalium^L||{value}|mmol/L|3.5-4.4|{flag}|||F\r";
        await ingest.IngestAsync(message, cancellationToken: ct);
        return controlId;
    }

    private async Task<CareUnit> LabUnitAsync(CancellationToken ct)
    {
        var units = await staff.UnitsAsync(ct);
        return units.FirstOrDefault(u => u.Kind == UnitKind.Lab)
            ?? await staff.AddUnitAsync(units[0].ProviderId, "SE2321000016-OVNLAB", "Övningslaboratoriet", UnitKind.Lab, ct);
    }

    /// <summary>Two units other than the trainee's: where "another unit's" patients live, and where the colleague works.</summary>
    private async Task<(CareUnit Other, CareUnit Colleague)> OtherUnitsAsync(Caller trainee, CancellationToken ct)
    {
        var first = await UnitAsync(OtherUnitHsaId, "Övningsmottagningen", UnitKind.OutpatientClinic, ct);
        var second = await UnitAsync(ColleagueUnitHsaId, "Övningsavdelningen", UnitKind.Ward, ct);
        return trainee.UnitId == first.Id ? (second, first) : (first, second);
    }

    private async Task<CareUnit> UnitAsync(string hsaId, string name, UnitKind kind, CancellationToken ct)
    {
        var units = await staff.UnitsAsync(ct);
        if (units.FirstOrDefault(u => u.HsaId == hsaId) is { } found) return found;
        try
        {
            return await staff.AddUnitAsync(units[0].ProviderId, hsaId, name, kind, ct);
        }
        catch (Exception)
        {
            // Another trainee's set-up may have created it at the same moment; if not, this was a real failure.
            var raced = (await staff.UnitsAsync(ct)).FirstOrDefault(u => u.HsaId == hsaId);
            if (raced is null) throw;
            return raced;
        }
    }

    /// <summary>The exercise's own actors (never a trainee), created on first use; a physician at the unit given.</summary>
    private async Task<Caller> ActorAsync(string username, string displayName, Guid unitId, string unitHsaId, CancellationToken ct)
    {
        var member = await staff.FindByUsernameAsync(username, ct);
        if (member is null)
        {
            try
            {
                member = await staff.AddStaffAsync($"SE2321000016-{username.ToUpperInvariant()}", username, displayName, "Övning", passwordHash: null, isDemo: true, ct);
            }
            catch (Exception)
            {
                member = await staff.FindByUsernameAsync(username, ct);
                if (member is null) throw;
            }
        }
        if ((await staff.AssignmentsOfAsync(member.Id, ct)).All(a => a.UnitId != unitId))
        {
            try { await staff.AddAssignmentAsync(member.Id, unitId, Role.Physician, Purpose.CareAndTreatment, ct); }
            catch (Exception)
            {
                if ((await staff.AssignmentsOfAsync(member.Id, ct)).All(a => a.UnitId != unitId)) throw;
            }
        }
        return new Caller(member.Id, member.HsaId, member.DisplayName, Role.Physician, unitId, unitHsaId, Purpose.CareAndTreatment);
    }
}
