namespace Stadig.Organisation;

public enum Role
{
    Physician,
    Nurse,
    MedicalSecretary,
    LabStaff,
    Administrator,
    LogAuditor,
    /// <summary>Vårdenhetschef: follows their unit's training (issue #21), never the record.</summary>
    UnitManager,
    /// <summary>Utbildningsansvarig: follows every unit's training, never the record.</summary>
    TrainingLead,
}

/// <summary>The purposes of processing in the national audit vocabulary (Patientdatalagen).</summary>
public enum Purpose
{
    CareAndTreatment,
    QualityAssurance,
    OtherDocumentationByLaw,
    Statistics,
    Administration,
    QualityRegistry,
}

public enum UnitKind
{
    Ward,
    OutpatientClinic,
    PrimaryCare,
    Lab,
}

public static class VocabularyText
{
    public static string Swedish(this Role role) => role switch
    {
        Role.Physician => "Läkare",
        Role.Nurse => "Sjuksköterska",
        Role.MedicalSecretary => "Medicinsk sekreterare",
        Role.LabStaff => "Laboratoriepersonal",
        Role.Administrator => "Administratör",
        Role.LogAuditor => "Logggranskare",
        Role.UnitManager => "Vårdenhetschef",
        Role.TrainingLead => "Utbildningsansvarig",
        _ => role.ToString(),
    };

    public static string Swedish(this Purpose purpose) => purpose switch
    {
        Purpose.CareAndTreatment => "Vård och behandling",
        Purpose.QualityAssurance => "Kvalitetssäkring",
        Purpose.OtherDocumentationByLaw => "Annan dokumentation enligt lag",
        Purpose.Statistics => "Statistik",
        Purpose.Administration => "Administration",
        Purpose.QualityRegistry => "Kvalitetsregister",
        _ => purpose.ToString(),
    };

    public static string Swedish(this UnitKind kind) => kind switch
    {
        UnitKind.Ward => "Vårdavdelning",
        UnitKind.OutpatientClinic => "Mottagning",
        UnitKind.PrimaryCare => "Vårdcentral",
        UnitKind.Lab => "Laboratorium",
        _ => kind.ToString(),
    };
}
