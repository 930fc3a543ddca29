using Stadig.Patients;

namespace Stadig.Access;

/// <summary>
/// The facts that decide what one caller may see of one patient, gathered once per request:
/// care relation, the caller's own and grouped units, blocks, consents and emergency access.
/// </summary>
public sealed class PatientAccessContext
{
    public required Caller Caller { get; init; }
    public required Guid PatientId { get; init; }
    public required ProtectedIdentity ProtectedIdentity { get; init; }
    public required bool HasCareRelation { get; init; }
    public required bool EmergencyOpen { get; init; }
    /// <summary>The caller's unit and the units the care provider grouped with it.</summary>
    public required IReadOnlySet<Guid> OwnUnits { get; init; }
    public required IReadOnlySet<Guid> BlockedUnits { get; init; }
    /// <summary>Source units whose records the patient consented to show the caller's unit; null entry = all.</summary>
    public required IReadOnlySet<Guid?> ConsentedSources { get; init; }

    public bool MayOpen => HasCareRelation || EmergencyOpen;

    /// <summary>Whether records written at <paramref name="unitId"/> may be shown to the caller.</summary>
    public bool MaySee(Guid unitId)
    {
        if (EmergencyOpen) return true;
        if (OwnUnits.Contains(unitId)) return HasCareRelation;
        var consented = ConsentedSources.Contains(null) || ConsentedSources.Contains(unitId);
        // A block hides the unit's records from everyone outside it; only the patient's consent lifts it.
        if (BlockedUnits.Contains(unitId)) return HasCareRelation && consented;
        return HasCareRelation && (Caller.Purpose == Organisation.Purpose.CareAndTreatment || consented);
    }

    /// <summary>
    /// <see cref="MaySee"/> as SQL over a column holding the writing unit (null read as no unit), for
    /// queries that must filter before they count or limit. <paramref name="addGuid"/> adds one
    /// parameter in the engine's form and gives its placeholder.
    /// </summary>
    public string VisibleUnitsSql(string column, Func<Guid, string> addGuid)
    {
        if (EmergencyOpen) return "1=1";
        if (!MayOpen) return "1=0";
        if (ConsentedSources.Contains(null)) return "1=1";
        string In(IEnumerable<Guid> units) => $"{column} IN ({string.Join(", ", units.Select(addGuid))})";
        var visible = new List<string> { In(OwnUnits) };
        var consented = ConsentedSources.OfType<Guid>().ToList();
        if (consented.Count > 0) visible.Add(In(consented));
        if (Caller.Purpose == Organisation.Purpose.CareAndTreatment)
        {
            var blocked = BlockedUnits.Where(u => !OwnUnits.Contains(u)).ToList();
            if (blocked.Count == 0) return "1=1";
            visible.Add($"({column} IS NULL OR NOT {In(blocked)})");
        }
        return "(" + string.Join(" OR ", visible) + ")";
    }

    /// <summary>Whether withheld records exist only because of a block (so the UI can say "blocked data exists").</summary>
    public bool IsBlockedFromCaller(Guid unitId) => !MaySee(unitId) && BlockedUnits.Contains(unitId) && !OwnUnits.Contains(unitId);
}
