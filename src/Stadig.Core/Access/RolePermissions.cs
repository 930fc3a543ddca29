using System.Text;
using Stadig.Audit;
using Stadig.Organisation;

namespace Stadig.Access;

/// <summary>The parts of what Stadig keeps about a patient that the roles differ on.</summary>
public enum RecordPart
{
    /// <summary>Identity and demographics: search, register, update, merge, care relations.</summary>
    Registry,
    /// <summary>Clinical content: notes, results, orders, warnings, problems, encounters, the chart, FHIR clinical resources.</summary>
    Record,
    /// <summary>The patient's blocks (spärr) and consents (samtycke), set and lifted at the patient's request.</summary>
    BlocksAndConsents,
    /// <summary>Emergency access (nödöppning): reveal where data exists, then open it.</summary>
    EmergencyAccess,
    /// <summary>The care provider's grouping of units whose staff see each other's records.</summary>
    UnitGroups,
    /// <summary>The audit log: search it, review events.</summary>
    AuditLog,
    /// <summary>The patient's log extract (loggutdrag).</summary>
    LogExtract,
    /// <summary>Bulk export and import of whole records (a move to or from another system), never a view.</summary>
    BulkTransfer,
    /// <summary>Who has trained what (a training installation's report): people and exercises, no patient data.</summary>
    TrainingReport,
}

[Flags]
public enum RecordActions
{
    None = 0,
    Read = 1,
    Write = 2,
    Sign = 4,
    Attest = 8,
}

/// <summary>
/// What each role may do with each part of the patient's data, whatever the care relation: the one
/// permission matrix (Patientdatalagen: administrators do registry work and never read clinical
/// content; log auditors read logs, never the record). The checkpoint decides from it; finer rules
/// inside a part (only physicians attest, a nurse does not sign an epicrisis) stay with their use case.
/// </summary>
public static class RolePermissions
{
    private const RecordActions R = RecordActions.Read;
    private const RecordActions RW = RecordActions.Read | RecordActions.Write;

    /// <summary>Role × part → actions. docs/architecture.md prints it (<see cref="MarkdownTable"/>; a test keeps the two equal).</summary>
    public static IReadOnlyDictionary<(Role Role, RecordPart Part), RecordActions> Matrix { get; } = new Dictionary<(Role, RecordPart), RecordActions>
    {
        [(Role.Physician, RecordPart.Registry)] = RW,
        [(Role.Physician, RecordPart.Record)] = RW | RecordActions.Sign | RecordActions.Attest,
        [(Role.Physician, RecordPart.BlocksAndConsents)] = RW,
        [(Role.Physician, RecordPart.EmergencyAccess)] = RW,
        [(Role.Nurse, RecordPart.Registry)] = RW,
        [(Role.Nurse, RecordPart.Record)] = RW | RecordActions.Sign,
        [(Role.Nurse, RecordPart.BlocksAndConsents)] = RW,
        [(Role.Nurse, RecordPart.EmergencyAccess)] = RW,
        [(Role.MedicalSecretary, RecordPart.Registry)] = RW,
        [(Role.MedicalSecretary, RecordPart.Record)] = RW,
        [(Role.MedicalSecretary, RecordPart.BlocksAndConsents)] = RW,
        [(Role.LabStaff, RecordPart.Registry)] = RW,
        [(Role.LabStaff, RecordPart.Record)] = RW,
        [(Role.Administrator, RecordPart.Registry)] = RW,
        [(Role.Administrator, RecordPart.UnitGroups)] = RW,
        [(Role.Administrator, RecordPart.LogExtract)] = R,
        [(Role.Administrator, RecordPart.BulkTransfer)] = RW,
        [(Role.LogAuditor, RecordPart.AuditLog)] = RW,
        [(Role.LogAuditor, RecordPart.LogExtract)] = R,
        [(Role.UnitManager, RecordPart.TrainingReport)] = R,
        [(Role.TrainingLead, RecordPart.TrainingReport)] = R,
    };

    public static RecordActions ActionsOf(Role role, RecordPart part) => Matrix.GetValueOrDefault((role, part));

    public static bool Allows(Role role, RecordPart part, RecordActions action) => (ActionsOf(role, part) & action) == action && action != RecordActions.None;

    /// <summary>The action an audit activity needs: signing and attesting are their own; everything else that changes is a write.</summary>
    public static RecordActions ActionOf(AuditActivity activity) => activity switch
    {
        AuditActivity.Read or AuditActivity.Print => RecordActions.Read,
        AuditActivity.Sign => RecordActions.Sign,
        AuditActivity.Attest => RecordActions.Attest,
        _ => RecordActions.Write,
    };

    /// <summary>
    /// Which part a checkpoint resource name belongs to. Anything not named here is clinical
    /// content, so a new resource is closed to administrators until someone decides otherwise.
    /// </summary>
    public static RecordPart PartOf(string resource) => resource switch
    {
        "Patient" or "PatientLookup" or "PatientSearch" or "PatientMerge" or "PatientMerges" or "CareRelation"
            or "FHIR Patient" or "FHIR Patient search" => RecordPart.Registry,
        "Block" or "Consent" or "BlocksAndConsents" => RecordPart.BlocksAndConsents,
        "EmergencyReveal" or "EmergencyAccess" => RecordPart.EmergencyAccess,
        "UnitGroup" => RecordPart.UnitGroups,
        "LogExtract" => RecordPart.LogExtract,
        "TrainingReport" => RecordPart.TrainingReport,
        _ => RecordPart.Record,
    };

    /// <summary>Clinical roles read and write the record where they have a care relation.</summary>
    public static bool WorksWithRecords(Role role) => Allows(role, RecordPart.Record, RecordActions.Write);

    /// <summary>Registry work (search, register, demographics, merge).</summary>
    public static bool WorksWithRegistry(Role role) => Allows(role, RecordPart.Registry, RecordActions.Write);

    /// <summary>Log auditors read the audit log, never the record.</summary>
    public static bool ReviewsLogs(Role role) => Allows(role, RecordPart.AuditLog, RecordActions.Read);

    /// <summary>Emergency access is for those who treat the patient.</summary>
    public static bool MayOpenInEmergency(Role role) => Allows(role, RecordPart.EmergencyAccess, RecordActions.Write);

    /// <summary>Blocks and consents are recorded at the patient's request by the care unit's staff.</summary>
    public static bool MayRecordBlocksAndConsents(Role role) => Allows(role, RecordPart.BlocksAndConsents, RecordActions.Write);

    /// <summary>The training report: a unit manager sees their unit, the training lead every unit.</summary>
    public static bool FollowsTraining(Role role) => Allows(role, RecordPart.TrainingReport, RecordActions.Read);

    /// <summary>The matrix as the Markdown table docs/architecture.md prints.</summary>
    public static string MarkdownTable()
    {
        var roles = Enum.GetValues<Role>();
        var text = new StringBuilder();
        text.Append("| part |").AppendJoin("", roles.Select(r => $" {r} |")).Append('\n');
        text.Append("|---|").AppendJoin("", roles.Select(_ => "---|")).Append('\n');
        foreach (var part in Enum.GetValues<RecordPart>())
        {
            text.Append($"| {part} |");
            foreach (var role in roles)
            {
                var actions = ActionsOf(role, part);
                text.Append(' ').Append(actions == RecordActions.None ? "–" : actions.ToString().Replace(", ", " ", StringComparison.Ordinal)).Append(" |");
            }
            text.Append('\n');
        }
        return text.ToString();
    }
}
