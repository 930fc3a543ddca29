using Stadig.Access;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Storage;
using Stadig.Training;
using Stadig.Warnings;

namespace Stadig.Tests.Training;

/// <summary>
/// Each kind of check, done the right way and a common wrong way, by a real trainee through the real
/// use cases: an exercise passes only from what was recorded, and the wrong way fails (a wrong
/// patient is also counted as an error).
/// </summary>
public class ExerciseCheckTests
{
    /// <summary>What a trainee does in an exercise: given the world, the trainee and their patients.</summary>
    internal delegate Task Act(TrainingWorld world, Caller trainee, IReadOnlyDictionary<string, TrainingPatient> patients);

    internal sealed record Case(string Exercise, Role Role, Act Right, Act Wrong, bool WrongIsWrongPatient);

    private static async Task SignNoteAsync(TrainingWorld w, Caller t, Guid patient, string type, string keyword)
    {
        var note = await w.Region.Notes.CreateDraftAsync(t, patient, type);
        note = await w.Region.Notes.SaveDraftAsync(t, note.Id, note.Version, [new(keyword, "Stabil, fortsatt observation.")]);
        await w.Region.Notes.SignAsync(t, note.Id, note.Version);
    }

    /// <summary>The dose due on the trainee's round, recorded given or not given.</summary>
    private static async Task GiveDueDoseAsync(TrainingWorld w, Caller t, Guid patient, bool given)
    {
        var dose = (await w.Region.Services.Administration.WardAsync(t)).Single(b => b.Bed.Patient.Id == patient).Doses.Single(d => d.State == Stadig.Medication.DoseState.Due);
        await w.Region.Services.Administration.RecordAsync(t, dose.Order.Id,
            new Stadig.Medication.DoseInput { ScheduledAt = dose.ScheduledAt, Given = given, Reason = given ? null : "Patienten sov" });
    }

    private static async Task AttestAsync(TrainingWorld w, Caller t, Guid patient)
    {
        var reportId = await w.QueryOneAsync<Guid>("SELECT id FROM diagnostic_report WHERE patient_id = @patient", new { patient });
        var report = await w.Region.Services.Reports.OpenAsync(t, reportId);
        Assert.True(await w.Region.Services.Reports.AttestAsync(t, reportId, report.SeenVersion));
    }

    private static async Task FileQuarantineAsync(TrainingWorld w, Caller t, TrainingPatient quarantined, string identifier)
    {
        var item = (await w.Region.Services.Quarantine.ListOpenAsync(t)).Single(q => q.ControlId == quarantined.QuarantineControlId);
        await w.Region.Services.Quarantine.FileToPatientAsync(t, item.Id, identifier, "Kontrollerat mot personnumret");
    }

    private static async Task MergeReservnummerAsync(TrainingWorld w, Caller t, Guid target)
    {
        var number = "99" + Random.Shared.NextInt64(1_000_000_000, 9_999_999_999);
        var unknown = (await w.Region.Patients.RegisterAsync(t, number, new PatientDetails("Okänd", "Kvinna"))).PatientId;
        await w.Region.Patients.MergeAsync(t, unknown, target, "Identifierad med legitimation");
    }

    private static async Task ReviewAsync(TrainingWorld w, Caller t, Guid patient, string flag)
    {
        var eventId = await w.QueryOneAsync<Guid>(
            $"SELECT id FROM audit_event WHERE patient_id = @patient AND activity = @activity ORDER BY occurred_at LIMIT 1",
            new { patient, activity = flag == "Emergency" ? "EmergencyOpen" : "Write" });
        await w.AuditQueries.MarkReviewedAsync(t, eventId, "Granskad i övningen");
    }

    internal static readonly Case[] Cases =
    [
        new("physician-admission-note", Role.Physician,
            (w, t, p) => SignNoteAsync(w, t, p["patient"].PatientId, "Inskrivningsanteckning", "Bedömning"),
            (w, t, p) => SignNoteAsync(w, t, p["distractor"].PatientId, "Inskrivningsanteckning", "Bedömning"), true),
        new("physician-attest-critical-potassium", Role.Physician,
            (w, t, p) => AttestAsync(w, t, p["patient"].PatientId),
            (w, t, p) => AttestAsync(w, t, p["distractor"].PatientId), true),
        new("physician-emergency-access", Role.Physician,
            async (w, t, p) => { await w.Region.Access.RevealAsync(t, p["patient"].PatientId); await w.Region.Access.OpenInEmergencyAsync(t, p["patient"].PatientId, "Medvetslös"); },
            // Only the first step: where data exists is seen, the record is never opened.
            async (w, t, p) => { await w.Region.Access.RevealAsync(t, p["patient"].PatientId); }, false),
        new("nurse-allergy-warning", Role.Nurse,
            async (w, t, p) => await w.Region.Services.Warnings.AddAsync(t, p["patient"].PatientId, new NewWarning("Hypersensitivity", "Penicillin: nässelutslag", "Penicillin", "Nässelutslag")),
            // Written as free text: the allergy checks never see it.
            async (w, t, p) => await w.Region.Services.Warnings.AddAsync(t, p["patient"].PatientId, new NewWarning("Unstructured", "Tål inte penicillin")), false),
        new("nurse-record-dose", Role.Nurse,
            (w, t, p) => GiveDueDoseAsync(w, t, p["patient"].PatientId, given: true),
            // Recorded, but as not given: the exercise asks for the dose given.
            (w, t, p) => GiveDueDoseAsync(w, t, p["patient"].PatientId, given: false), false),
        new("nurse-care-note", Role.Nurse,
            (w, t, p) => SignNoteAsync(w, t, p["patient"].PatientId, "Omvårdnadsanteckning", "Omvårdnadsstatus"),
            // The right patient, but the keyword the exercise asks for is left out.
            (w, t, p) => SignNoteAsync(w, t, p["patient"].PatientId, "Omvårdnadsanteckning", "Mål"), false),
        new("secretary-reservnummer-merge", Role.MedicalSecretary,
            (w, t, p) => MergeReservnummerAsync(w, t, p["patient"].PatientId),
            (w, t, p) => MergeReservnummerAsync(w, t, p["distractor"].PatientId), true),
        new("lab-quarantine-file", Role.LabStaff,
            (w, t, p) => FileQuarantineAsync(w, t, p["patient"], p["patient"].Identifier),
            // Filed to the patient whose name matches what the lab sent, not to the one its number names.
            (w, t, p) => FileQuarantineAsync(w, t, p["patient"], p["distractor"].Identifier), true),
        new("auditor-review-emergency", Role.LogAuditor,
            (w, t, p) => ReviewAsync(w, t, p["patient"].PatientId, "Emergency"),
            // The registration reviewed instead of the emergency opening.
            (w, t, p) => ReviewAsync(w, t, p["patient"].PatientId, "Registration"), false),
    ];

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Each_kind_of_check_passes_when_done_right_and_fails_the_common_wrong_way(DatabaseEngine engine)
    {
        var world = await TrainingWorld.CreateAsync(engine);
        var failures = new List<string>();
        foreach (var c in Cases)
        {
            var right = await world.TraineeAsync(c.Role);
            var (rightAttempt, rightPatients) = await world.StartAsync(right, c.Exercise);
            await c.Right(world, right, rightPatients);
            var passed = await world.Exercises.EvaluateAsync(rightAttempt.Id);
            if (!passed.Passed || passed.Errors != 0) failures.Add($"{c.Exercise}: done right, passed={passed.Passed}, errors={passed.Errors}");

            var wrong = await world.TraineeAsync(c.Role);
            var (wrongAttempt, wrongPatients) = await world.StartAsync(wrong, c.Exercise);
            await c.Wrong(world, wrong, wrongPatients);
            var failed = await world.Exercises.EvaluateAsync(wrongAttempt.Id);
            if (failed.Passed) failures.Add($"{c.Exercise}: the wrong way passed");
            if (c.WrongIsWrongPatient && failed.WrongPatient == 0)
                failures.Add($"{c.Exercise}: the wrong patient was not counted as an error");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void Every_role_that_trains_has_at_least_five_available_exercises_in_Swedish_and_English()
    {
        foreach (var role in new[] { Role.Physician, Role.Nurse, Role.MedicalSecretary, Role.LabStaff, Role.LogAuditor })
            Assert.True(ExerciseCatalogue.Of(role).Count(e => e.Available) >= 5, $"{role} has fewer than five available exercises.");
        Assert.All(ExerciseCatalogue.All, e => Assert.False(string.IsNullOrWhiteSpace(e.Goal.En) || string.IsNullOrWhiteSpace(e.Goal.Sv)));
        // Exercises for capabilities not built yet are written down but never required.
        Assert.Contains(ExerciseCatalogue.All, e => !e.Available);
        Assert.All(Enum.GetValues<Role>(), r => Assert.All(new TrainingOptions().RequiredFor(r), e => Assert.True(e.Available)));
    }

    [Fact]
    public void A_broken_exercise_definition_is_refused_naming_what_is_wrong()
    {
        var e = Assert.Throws<InvalidOperationException>(() => ExerciseCatalogue.Parse("broken.json",
            """{"id":"x","version":"1.0","role":"Nurse","title":{"sv":"a","en":"a"},"goal":{"sv":"a","en":"a"},"patients":[],"checks":[{"kind":"NoteSigned","patient":"nobody","noteType":"Daganteckning","keyword":"Aktuellt"}]}"""));
        Assert.Contains("nobody", e.Message);
    }
}
