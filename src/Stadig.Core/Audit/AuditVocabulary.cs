namespace Stadig.Audit;

/// <summary>The national audit activities (HSLF-FS 2016:40): Läsa, Skriva, Signera, Utskrift, Vidimera, Radera, Nödöppning.</summary>
public enum AuditActivity
{
    Read,
    Write,
    Sign,
    Print,
    Attest,
    Delete,
    EmergencyOpen,
}

public enum AuditOutcome
{
    Allowed,
    Denied,
}

/// <summary>What makes an event worth a reviewer's look.</summary>
[Flags]
public enum AuditFlags
{
    None = 0,
    /// <summary>Read or write without a care relation, or refused for lacking one.</summary>
    NoCareRelation = 1,
    Emergency = 2,
    ProtectedIdentity = 4,
    /// <summary>A care relation the person recorded themselves.</summary>
    ExplicitCareRelation = 8,
    /// <summary>Blocked (spärrad) data exists and was withheld.</summary>
    BlockedWithheld = 16,
    /// <summary>Another unit's records, seen through the patient's consent.</summary>
    Consent = 32,
}

public static class AuditText
{
    public static string Swedish(this AuditActivity activity) => activity switch
    {
        AuditActivity.Read => "Läsa",
        AuditActivity.Write => "Skriva",
        AuditActivity.Sign => "Signera",
        AuditActivity.Print => "Utskrift",
        AuditActivity.Attest => "Vidimera",
        AuditActivity.Delete => "Radera",
        AuditActivity.EmergencyOpen => "Nödöppning",
        _ => activity.ToString(),
    };
}
