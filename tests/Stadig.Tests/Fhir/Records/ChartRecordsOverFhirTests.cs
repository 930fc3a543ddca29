using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Access;
using Stadig.Common;
using Stadig.Encounters;
using Stadig.Fhir.Records;
using Stadig.Notes;
using Stadig.Organisation;
using Stadig.Problems;
using Stadig.Storage;
using Stadig.Warnings;

namespace Stadig.Tests.Fhir.Records;

/// <summary>Records written in the chart are served over /fhir as they are written, on both engines.</summary>
public class ChartRecordsOverFhirTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Warnings_are_flags_and_a_hypersensitivity_an_allergy_intolerance_and_inactivating_makes_a_new_version(DatabaseEngine engine)
    {
        await using var chart = await ChartFhir.StartAsync(engine);
        var warnings = chart.Get<PatientWarnings>();
        var pacemaker = await warnings.AddAsync(chart.Caller, chart.PatientId, new NewWarning("Treatment", "Pacemaker, ingen MR."), Ct);
        var penicillin = await warnings.AddAsync(chart.Caller, chart.PatientId,
            new NewWarning("Hypersensitivity", "Överkänslighet mot penicillin: anafylaxi.", "Penicillin", "Anafylaxi", "LifeThreatening", "Confirmed"), Ct);

        var flag = await chart.ReadAsync($"/fhir/Flag/{pacemaker.Id}");
        ChartFhir.AssertServedAsMapped(await chart.MappedAsync(WarningAsFhir.Instance, pacemaker.Id), flag, pacemaker.Id);
        Assert.Equal(("active", "Pacemaker, ingen MR.", chart.PatientReference), (flag["status"]!.GetValue<string>(), flag["code"]!["text"]!.GetValue<string>(), flag["subject"]!["reference"]!.GetValue<string>()));
        Assert.Equal("clinical", flag["category"]![0]!["coding"]![0]!["code"]!.GetValue<string>());
        Assert.Equal(chart.Fhir.Member.HsaId, flag["author"]!["identifier"]!["value"]!.GetValue<string>());

        var allergy = await chart.ReadAsync($"/fhir/AllergyIntolerance/{penicillin.Id}");
        ChartFhir.AssertServedAsMapped(await chart.MappedAsync(WarningAsFhir.Instance, penicillin.Id), allergy, penicillin.Id);
        Assert.Equal(("Penicillin", "high", "confirmed"), (allergy["code"]!["text"]!.GetValue<string>(), allergy["criticality"]!.GetValue<string>(),
            allergy["verificationStatus"]!["coding"]![0]!["code"]!.GetValue<string>()));
        Assert.Equal("severe", allergy["reaction"]![0]!["severity"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await chart.Client.GetFhirAsync($"/fhir/Flag/{penicillin.Id}")).Status);

        Assert.Equal([pacemaker.Id.ToString()], await chart.SearchIdsAsync($"/fhir/Flag?patient={chart.PatientReference}"));
        Assert.Equal([penicillin.Id.ToString()], await chart.SearchIdsAsync($"/fhir/AllergyIntolerance?patient={chart.PatientId}&clinical-status=active"));

        await warnings.InactivateAsync(chart.Caller, penicillin.Id, "Provokation utan reaktion.", Ct);
        await warnings.InactivateAsync(chart.Caller, pacemaker.Id, "Pacemakern är explanterad.", Ct);
        var inactive = await chart.ReadAsync($"/fhir/AllergyIntolerance/{penicillin.Id}");
        ChartFhir.AssertServedAsMapped(await chart.MappedAsync(WarningAsFhir.Instance, penicillin.Id), inactive, penicillin.Id);
        Assert.Equal("2", inactive["meta"]!["versionId"]!.GetValue<string>());
        Assert.Equal("inactive", inactive["clinicalStatus"]!["coding"]![0]!["code"]!.GetValue<string>());
        Assert.Empty(await chart.SearchIdsAsync($"/fhir/AllergyIntolerance?patient={chart.PatientId}&clinical-status=active"));
        Assert.Equal(2, await chart.VersionCountAsync("AllergyIntolerance", penicillin.Id));
        var ended = await chart.ReadAsync($"/fhir/Flag/{pacemaker.Id}");
        Assert.Equal("inactive", ended["status"]!.GetValue<string>());
        Assert.NotNull(ended["period"]!["end"]);
        Assert.Equal("active", (await chart.ReadAsync($"/fhir/Flag/{pacemaker.Id}/_history/1"))["status"]!.GetValue<string>());
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Problems_are_conditions_with_their_icd10se_code_found_by_code_and_status(DatabaseEngine engine)
    {
        await using var chart = await ChartFhir.StartAsync(engine);
        var problems = chart.Get<PatientProblems>();
        var pneumonia = await problems.AddAsync(chart.Caller, chart.PatientId, "j18,9", onsetDate: new DateOnly(2026, 1, 3), cancellationToken: Ct);
        var hypertension = await problems.AddAsync(chart.Caller, chart.PatientId, "I10", "Högt blodtryck sedan länge", cancellationToken: Ct);

        var condition = await chart.ReadAsync($"/fhir/Condition/{pneumonia.Id}");
        ChartFhir.AssertServedAsMapped(await chart.MappedAsync(ProblemAsFhir.Instance, pneumonia.Id), condition, pneumonia.Id);
        var coding = condition["code"]!["coding"]![0]!;
        Assert.Equal((ProblemAsFhir.Icd10SeSystem, "J18.9"), (coding["system"]!.GetValue<string>(), coding["code"]!.GetValue<string>()));
        Assert.Equal("2026-01-03", condition["onsetDateTime"]!.GetValue<string>());
        Assert.Equal("active", condition["clinicalStatus"]!["coding"]![0]!["code"]!.GetValue<string>());

        Assert.Equal([pneumonia.Id.ToString()], await chart.SearchIdsAsync($"/fhir/Condition?patient={chart.PatientId}&code={ProblemAsFhir.Icd10SeSystem}|J18.9"));
        Assert.Equal([hypertension.Id.ToString()], await chart.SearchIdsAsync($"/fhir/Condition?code=I10"));

        await problems.ResolveAsync(chart.Caller, pneumonia.Id, Ct);
        var resolved = await chart.ReadAsync($"/fhir/Condition/{pneumonia.Id}");
        ChartFhir.AssertServedAsMapped(await chart.MappedAsync(ProblemAsFhir.Instance, pneumonia.Id), resolved, pneumonia.Id);
        Assert.NotNull(resolved["abatementDateTime"]);
        Assert.Equal(2, await chart.VersionCountAsync("Condition", pneumonia.Id));
        Assert.Equal([pneumonia.Id.ToString()], await chart.SearchIdsAsync($"/fhir/Condition?patient={chart.PatientId}&clinical-status=resolved"));
        Assert.Equal([hypertension.Id.ToString()], await chart.SearchIdsAsync($"/fhir/Condition?patient={chart.PatientId}&clinical-status=active"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Encounters_follow_visit_admission_transfer_and_discharge(DatabaseEngine engine)
    {
        await using var chart = await ChartFhir.StartAsync(engine);
        var encounters = chart.Get<PatientEncounters>();
        var ward = chart.Fhir.Assignment.UnitId;
        var visit = await encounters.RegisterVisitAsync(chart.Caller, chart.PatientId, Ct);
        var admission = await encounters.AdmitAsync(chart.Caller, chart.PatientId, ward, "1", Ct);

        var served = await chart.ReadAsync($"/fhir/Encounter/{admission.Id}");
        ChartFhir.AssertServedAsMapped(await chart.MappedAsync(EncounterAsFhir.Instance, admission.Id), served, admission.Id);
        Assert.Equal(("in-progress", "IMP"), (served["status"]!.GetValue<string>(), served["class"]!["code"]!.GetValue<string>()));
        Assert.Equal(FhirRecordParts.HsaSystem, served["serviceProvider"]!["identifier"]!["system"]!.GetValue<string>());
        Assert.Equal(chart.Fhir.Assignment.UnitHsaId, served["serviceProvider"]!["identifier"]!["value"]!.GetValue<string>());
        Assert.Equal("AMB", (await chart.ReadAsync($"/fhir/Encounter/{visit.Id}"))["class"]!["code"]!.GetValue<string>());

        var moved = await encounters.TransferAsync(chart.Caller, chart.PatientId, ward, "2", Ct);
        await encounters.DischargeAsync(chart.Caller, chart.PatientId, Ct);

        var first = await chart.ReadAsync($"/fhir/Encounter/{admission.Id}");
        Assert.Equal("finished", first["status"]!.GetValue<string>());
        Assert.Equal(2, await chart.VersionCountAsync("Encounter", admission.Id));
        var second = await chart.ReadAsync($"/fhir/Encounter/{moved.Id}");
        ChartFhir.AssertServedAsMapped(await chart.MappedAsync(EncounterAsFhir.Instance, moved.Id), second, moved.Id);
        Assert.Equal(admission.Id.ToString(), second["identifier"]![0]!["value"]!.GetValue<string>());
        Assert.Equal(2, await chart.VersionCountAsync("Encounter", moved.Id));

        Assert.Equal(new[] { admission.Id.ToString(), moved.Id.ToString() }.Order(),
            (await chart.SearchIdsAsync($"/fhir/Encounter?patient={chart.PatientId}&status=finished")).Order());
        Assert.Equal([visit.Id.ToString()], await chart.SearchIdsAsync($"/fhir/Encounter?patient={chart.PatientId}&class={EncounterAsFhir.ActCodeSystem}|AMB"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Signed_notes_are_document_references_whose_text_round_trips_exactly_and_an_amendment_supersedes(DatabaseEngine engine)
    {
        await using var chart = await ChartFhir.StartAsync(engine);
        var notes = chart.Get<ClinicalNotes>();
        var draft = await notes.CreateDraftAsync(chart.Caller, chart.PatientId, "Besöksanteckning", cancellationToken: Ct);
        // Decomposed ä (a + U+0308) is stored as NFC; every other character, space and line break is kept.
        const string current = "  Åsa, 84 år, söker för yrsel.\n\n\tInga  dubbla   mellanslag försvinner.\u00A0 \nSista raden utan radbrytning";
        const string assessment = "Trolig ortostatism. Ö\u0308vrigt: inget.\n";
        draft = await notes.SaveDraftAsync(chart.Caller, draft.Id, draft.Version,
            [new NoteKeyword("Aktuellt", current), new NoteKeyword("Bedömning", assessment), new NoteKeyword("Status", "")], Ct);

        // A draft is not part of the record.
        Assert.Equal(HttpStatusCode.NotFound, (await chart.Client.GetFhirAsync($"/fhir/DocumentReference/{draft.Id}")).Status);

        await notes.SignAsync(chart.Caller, draft.Id, draft.Version, Ct);
        var document = await chart.ReadAsync($"/fhir/DocumentReference/{draft.Id}");
        ChartFhir.AssertServedAsMapped(await chart.MappedAsync(NoteAsFhir.Instance, draft.Id), document, draft.Id);
        Assert.Equal(("current", "final"), (document["status"]!.GetValue<string>(), document["docStatus"]!.GetValue<string>()));
        var stored = await notes.GetAsync(chart.Caller, draft.Id, Ct);
        var texts = Texts(document);
        Assert.Equal(stored.Keywords.Where(k => k.Text.Length > 0).Select(k => (k.Keyword, k.Text)), texts);
        Assert.Equal([("Aktuellt", current), ("Bedömning", assessment.Normalize(NormalizationForm.FormC))], texts);

        var amendment = await notes.AmendAsync(chart.Caller, draft.Id, cancellationToken: Ct);
        Assert.Equal(HttpStatusCode.NotFound, (await chart.Client.GetFhirAsync($"/fhir/DocumentReference/{amendment.Id}")).Status);
        amendment = await notes.SaveDraftAsync(chart.Caller, amendment.Id, amendment.Version,
            [new NoteKeyword("Aktuellt", current), new NoteKeyword("Bedömning", "Ortostatism bekräftad vid bordtippning.")], Ct);
        await notes.SignAsync(chart.Caller, amendment.Id, amendment.Version, Ct);

        var original = await chart.ReadAsync($"/fhir/DocumentReference/{draft.Id}");
        Assert.Equal("superseded", original["status"]!.GetValue<string>());
        Assert.Equal(2, await chart.VersionCountAsync("DocumentReference", draft.Id));
        Assert.Equal(texts, Texts(original));
        var amended = await chart.ReadAsync($"/fhir/DocumentReference/{amendment.Id}");
        ChartFhir.AssertServedAsMapped(await chart.MappedAsync(NoteAsFhir.Instance, amendment.Id), amended, amendment.Id);
        Assert.Equal(("current", "amended", "replaces", $"DocumentReference/{draft.Id}"), (amended["status"]!.GetValue<string>(), amended["docStatus"]!.GetValue<string>(),
            amended["relatesTo"]![0]!["code"]!.GetValue<string>(), amended["relatesTo"]![0]!["target"]!["reference"]!.GetValue<string>()));

        Assert.Equal([amendment.Id.ToString()], await chart.SearchIdsAsync($"/fhir/DocumentReference?patient={chart.PatientId}&status=current"));
        Assert.Equal(2, (await chart.SearchIdsAsync($"/fhir/DocumentReference?patient={chart.PatientId}&type={Uri.EscapeDataString(NoteAsFhir.LoincSystem + "|34108-1")}")).Count);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_signed_note_whose_stored_text_was_altered_is_republished_without_the_text_and_its_signed_words_stay_in_history(DatabaseEngine engine)
    {
        await using var chart = await ChartFhir.StartAsync(engine);
        var notes = chart.Get<ClinicalNotes>();
        var draft = await notes.CreateDraftAsync(chart.Caller, chart.PatientId, "Besöksanteckning", cancellationToken: Ct);
        draft = await notes.SaveDraftAsync(chart.Caller, draft.Id, draft.Version, [new NoteKeyword("Aktuellt", "Inga allergier mot penicillin.")], Ct);
        await notes.SignAsync(chart.Caller, draft.Id, draft.Version, Ct);

        // Someone edits the stored text behind the application's back (the mission's vanished words).
        await using (var connection = await chart.Server.Database.OpenUnscopedAsync(Ct))
            await connection.ExecuteAsync("UPDATE note_keyword SET text = 'Inga allergier.' WHERE note_id = @id", new { id = draft.Id });
        await FhirRecordBackfill.RunAsync(chart.Server.Database, TimeProvider.System, Ct);

        var document = await chart.ReadAsync($"/fhir/DocumentReference/{draft.Id}");
        var attachment = Assert.Single(document["content"]!.AsArray())!["attachment"]!;
        Assert.Equal(NoteAsFhir.IntegrityWithheldTitle, attachment["title"]!.GetValue<string>());
        Assert.Null(attachment["data"]);
        Assert.Equal("hash-mismatch", document["securityLabel"]![0]!["coding"]![0]!["code"]!.GetValue<string>());
        ChartFhir.AssertValid(document);
        // What was signed stays readable as the first version.
        var signed = await chart.ReadAsync($"/fhir/DocumentReference/{draft.Id}/_history/1");
        Assert.Equal([("Aktuellt", "Inga allergier mot penicillin.")], Texts(signed));
    }

    /// <summary>Each attachment's title and decoded text, after checking its size and SHA-1.</summary>
    private static List<(string Keyword, string Text)> Texts(JsonObject document) =>
        document["content"]!.AsArray().Select(c =>
        {
            var attachment = c!["attachment"]!;
            Assert.Equal(NoteAsFhir.ContentType, attachment["contentType"]!.GetValue<string>());
            var bytes = Convert.FromBase64String(attachment["data"]!.GetValue<string>());
            Assert.Equal(bytes.Length, attachment["size"]!.GetValue<int>());
            Assert.Equal(Convert.ToBase64String(SHA1.HashData(bytes)), attachment["hash"]!.GetValue<string>());
            return (attachment["title"]!.GetValue<string>(), new UTF8Encoding(false, true).GetString(bytes));
        }).ToList();

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Consents_are_published_with_the_viewer_unit_and_the_period_until_they_expire(DatabaseEngine engine)
    {
        await using var chart = await ChartFhir.StartAsync(engine);
        var expires = DateTimeOffset.UtcNow.AddDays(30);
        await chart.Get<AccessControl>().RecordConsentAsync(chart.Caller, chart.PatientId, chart.Caller.UnitId, null, expires, "Patienten samtycker", cancellationToken: Ct);

        var id = Assert.Single(await chart.SearchIdsAsync($"/fhir/Consent?patient={chart.PatientId}&status=active"));
        var consent = await chart.ReadAsync($"/fhir/Consent/{id}");
        ChartFhir.AssertServedAsMapped(await chart.MappedAsync(ConsentAsFhir.Instance, Guid.Parse(id)), consent, Guid.Parse(id));
        Assert.Equal("patient-privacy", consent["scope"]!["coding"]![0]!["code"]!.GetValue<string>());
        var provision = consent["provision"]!;
        Assert.Equal(FhirJsonInstant(expires), provision["period"]!["end"]!.GetValue<string>());
        Assert.Equal(chart.Caller.UnitHsaId, provision["actor"]![0]!["reference"]!["identifier"]!["value"]!.GetValue<string>());
    }

    private static string FhirJsonInstant(DateTimeOffset moment) => Stadig.Fhir.FhirJson.Instant(moment);

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_published_record_is_changed_only_in_the_chart_an_update_over_the_api_answers_422(DatabaseEngine engine)
    {
        await using var chart = await ChartFhir.StartAsync(engine);
        var warning = await chart.Get<PatientWarnings>().AddAsync(chart.Caller, chart.PatientId, new NewWarning("SeriousDisease", "Hemofili A."), Ct);
        var flag = await chart.ReadAsync($"/fhir/Flag/{warning.Id}");
        flag["status"] = "inactive";

        var (status, outcome, _) = await chart.Client.PutFhirAsync($"/fhir/Flag/{warning.Id}", flag);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Equal("OperationOutcome", outcome["resourceType"]!.GetValue<string>());
        Assert.Equal("active", (await chart.ReadAsync($"/fhir/Flag/{warning.Id}"))["status"]!.GetValue<string>());
        Assert.Equal(1, await chart.VersionCountAsync("Flag", warning.Id));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_chart_write_that_rolls_back_leaves_no_fhir_resource_behind(DatabaseEngine engine)
    {
        await using var chart = await ChartFhir.StartAsync(engine);
        var database = chart.Server.Database;
        var id = Guid.CreateVersion7();
        await Assert.ThrowsAsync<InvalidOperationException>(() => database.InUnscopedTransactionAsync<int>(async (connection, transaction) =>
        {
            await connection.ExecuteAsync(
                "INSERT INTO warning (id, patient_id, unit_id, category, text, created_at, created_by) VALUES (@id, @patientId, @unitId, 'Treatment', 'Dialys', @now, @staffId)",
                new { id, patientId = chart.PatientId, unitId = chart.Caller.UnitId, now = DateTimeOffset.UtcNow, staffId = chart.Caller.StaffId }, transaction);
            Assert.True(await WarningAsFhir.PublishAsync(connection, transaction, id, DateTimeOffset.UtcNow));
            throw new InvalidOperationException("the rest of the write failed");
        }, Ct));
        Assert.Equal(HttpStatusCode.NotFound, (await chart.Client.GetFhirAsync($"/fhir/Flag/{id}")).Status);

        // A transfer to an occupied bed is refused after the current admission was ended and published: both roll back.
        var encounters = chart.Get<PatientEncounters>();
        var ward = chart.Fhir.Assignment.UnitId;
        var other = await chart.RegisterAsync("19850515-2390", "Berg", "Bo");
        var admission = await encounters.AdmitAsync(chart.Caller, chart.PatientId, ward, "1", Ct);
        await encounters.AdmitAsync(chart.Caller, other, ward, "2", Ct);
        await Assert.ThrowsAsync<ConflictException>(() => encounters.TransferAsync(chart.Caller, chart.PatientId, ward, "2", Ct));

        var served = await chart.ReadAsync($"/fhir/Encounter/{admission.Id}");
        Assert.Equal(("in-progress", "1"), (served["status"]!.GetValue<string>(), served["meta"]!["versionId"]!.GetValue<string>()));
        Assert.Single(await chart.SearchIdsAsync($"/fhir/Encounter?patient={chart.PatientId}"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Reading_a_published_record_passes_the_checkpoint_a_stranger_and_a_blocked_unit_see_nothing(DatabaseEngine engine)
    {
        await using var chart = await ChartFhir.StartAsync(engine);
        var problem = await chart.Get<PatientProblems>().AddAsync(chart.Caller, chart.PatientId, "E11.9", cancellationToken: Ct);
        var path = $"/fhir/Condition/{problem.Id}";

        // Someone at another unit with no care relation: not found.
        var (member, assignments) = await chart.Server.AddUserAsync("annan", "x");
        var other = chart.Fhir.Client(assignment: assignments[0], member: member);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetFhirAsync(path)).Status);

        // With a care relation the other unit sees it, until the patient blocks the writing unit.
        var otherCaller = StadigServer.CallerFor(member, assignments[0]);
        await chart.Get<AccessControl>().RecordCareRelationAsync(otherCaller, chart.PatientId, "Remiss", Ct);
        Assert.Equal(HttpStatusCode.OK, (await other.GetFhirAsync(path)).Status);
        await chart.Get<AccessControl>().BlockAsync(chart.Caller, chart.PatientId, chart.Caller.UnitId, "Patienten begär spärr", cancellationToken: Ct);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetFhirAsync(path)).Status);
        Assert.Empty(await SearchAsync(other, $"/fhir/Condition?patient={chart.PatientId}"));
        Assert.Equal(HttpStatusCode.OK, (await chart.Client.GetFhirAsync(path)).Status);

        await using var connection = await chart.Server.Database.OpenUnscopedAsync(Ct);
        var denied = await connection.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM audit_event WHERE resource = 'FHIR Condition' AND activity = 'Read' AND outcome = 'Denied' AND staff_id = @staffId",
            new { staffId = member.Id });
        Assert.True(denied >= 2, $"{denied} refusals logged");
    }

    private static async Task<IReadOnlyList<string>> SearchAsync(HttpClient client, string path)
    {
        var (status, body, _) = await client.GetFhirAsync(path);
        Assert.Equal(HttpStatusCode.OK, status);
        return (body["entry"] as JsonArray ?? []).Select(e => e!["resource"]!["id"]!.GetValue<string>()).ToList();
    }
}
