namespace Stadig.Auth;

/// <summary>Claim names in the session cookie and in bearer tokens.</summary>
public static class StadigClaims
{
    public const string StaffId = "staff_id";
    /// <summary>The person's HSA-id; in a bearer token also accepted as "sub".</summary>
    public const string HsaId = "hsa_id";
    public const string Name = "name";
    public const string AssignmentId = "assignment_id";
    public const string UnitId = "unit_id";
    /// <summary>In a bearer token: the HSA-id of the unit the caller works in (picks the assignment).</summary>
    public const string UnitHsaId = "unit_hsa_id";
    public const string UnitName = "unit_name";
    public const string Role = "role";
    public const string Purpose = "purpose";
    /// <summary>In the session: "idp" when the person signed in through the region's identity provider.</summary>
    public const string SignedInWith = "signed_in_with";
}

/// <summary>The fixed usernames of the demo region (password "demo"), one per role.</summary>
public static class DemoLogins
{
    public static readonly string[] Usernames = ["lakare", "sjukskoterska", "sekreterare", "labb", "admin", "granskare"];
    public const string Password = "demo";
}
