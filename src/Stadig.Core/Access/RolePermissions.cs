using Stadig.Organisation;

namespace Stadig.Access;

/// <summary>What each role may do with patient data, whatever the care relation.</summary>
public static class RolePermissions
{
    /// <summary>Clinical roles read and write the record where they have a care relation.</summary>
    public static bool WorksWithRecords(Role role) => role is Role.Physician or Role.Nurse or Role.MedicalSecretary or Role.LabStaff;

    /// <summary>Registry work (search, register, demographics, merge) is also the administrators'.</summary>
    public static bool WorksWithRegistry(Role role) => WorksWithRecords(role) || role == Role.Administrator;

    /// <summary>Log auditors read the audit log, never the record.</summary>
    public static bool ReviewsLogs(Role role) => role == Role.LogAuditor;

    /// <summary>Emergency access is for those who treat the patient.</summary>
    public static bool MayOpenInEmergency(Role role) => role is Role.Physician or Role.Nurse;
}
