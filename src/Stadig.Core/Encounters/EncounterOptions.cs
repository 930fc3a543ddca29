namespace Stadig.Encounters;

/// <summary>Settings of encounters (Stadig:Encounters).</summary>
public sealed class EncounterOptions
{
    /// <summary>
    /// How long after a discharge was recorded it may be undone (a discharge of the wrong patient, or
    /// one the patient did not leave on). Long enough to notice at the ward's next round; after it,
    /// the patient is admitted again as a new admission.
    /// </summary>
    public int UndoDischargeMinutes { get; set; } = 60;
}

/// <summary>Where a discharged patient went, as stored in <c>encounter.discharge_destination</c>.</summary>
public enum DischargeDestination
{
    Home,
    OtherUnit,
    OtherCareProvider,
    Deceased,
}
