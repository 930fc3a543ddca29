namespace Stadig.Access;

/// <summary>
/// Proof that the checkpoint allowed this caller to reach this patient's data and audited it. Only
/// the checkpoint can make one (internal constructor), and the code that reads patient data asks
/// for one: nothing reaches patient data around the checkpoint.
/// </summary>
public sealed class PatientAccessGrant
{
    internal PatientAccessGrant(PatientAccessContext context) => Context = context;

    public PatientAccessContext Context { get; }

    public Caller Caller => Context.Caller;

    public Guid PatientId => Context.PatientId;
}
