using System.Net;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Fhir;
using Stadig.Fhir.Records;
using Stadig.Fhir.Validation;
using Stadig.Hl7;
using Stadig.Hl7.Mllp;
using Stadig.LabResults;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Patients.Identifiers;
using Stadig.Storage;

namespace Stadig.Tests.Fhir.Records;

/// <summary>Lab orders and filed lab results as FHIR ServiceRequest, Observation and DiagnosticReport, on both engines.</summary>
public class LabRecordsFhirTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);
    private static CancellationToken Patience => new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;

    private const string Conclusion = "Blodutstryk: normala erytrocyter.\nInga blaster sedda. Åäö & <tecken>";

    private static string Digits(string number) => number.Replace("-", "", StringComparison.Ordinal);

    /// <summary>An ORU^R01 with a numeric report (Hb, CRP &lt;5, K) and a text report (the narrative in two OBX-5 repetitions).</summary>
    private static string Oru(string controlId, string personnummer, string placer = "P200", string filler = "L100", string hb = "128", string hbStatus = "F") =>
        $"MSH|^~\\&|LABSYS|KLINKEM|STADIG|REGION|20261123075500+0100||ORU^R01^ORU_R01|{controlId}|P|2.5|||AL|NE|SWE||UNICODE UTF-8\r" +
        $"PID|1||{Digits(personnummer)}^^^^PN||Öberg^Lina||{Digits(personnummer)[..8]}|F\r" +
        $"ORC|RE|{placer}|{filler}\r" +
        $"OBR|1|{placer}|{filler}|BLODSTATUS^Blodstatus^L|||20261123070000+0100|||||||||||||||20261123075000+0100|||{hbStatus}\r" +
        $"OBX|1|NM|NPU02319^B-Hemoglobin^NPU||{hb}|g/L|117-153|L|||{hbStatus}|||20261123070000+0100\r" +
        "OBX|2|SN|NPU19748^P-CRP^NPU||<^5|mg/L|<5|N|||F|||20261123070000+0100\r" +
        "OBX|3|NM|NPU03230^P-Kalium^NPU||6.1|mmol/L|3.5-4.4|HH|||F|||20261123070000+0100\r" +
        $"OBR|2|{placer}|{filler}-T|UTSTRYK^Blodutstryk^L|||20261123070000+0100|||||||||||||||20261123075000+0100|||F\r" +
        "OBX|1|TX|UTSTRYK^Utlåtande^L||Blodutstryk: normala erytrocyter.~Inga blaster sedda. Åäö \\T\\ <tecken>||||||F\r";

    private sealed class Lab : IAsyncDisposable
    {
        public required Database Database { get; init; }
        public required IngestOruMessage Ingest { get; init; }
        public required MllpListener Listener { get; init; }
        public required Caller Caller { get; init; }
        public required CareUnit Unit { get; init; }

        public static async Task<Lab> StartAsync(Database database, StaffDirectory staff, AuditLog audit, TimeProvider clock)
        {
            var units = await staff.UnitsAsync();
            var unit = await staff.AddUnitAsync(units[0].ProviderId, "SE2321000016-0099", "Klinisk kemi", UnitKind.Lab);
            var caller = await LabIntegration.CallerAsync(staff, unit);
            var ingest = new IngestOruMessage(database, audit, new PatientMatcher(new PatientIdentifierRules(clock)), caller, clock);
            var listener = new MllpListener(ingest, new MllpOptions { Port = 0, Address = IPAddress.Loopback });
            listener.Start();
            return new Lab { Database = database, Ingest = ingest, Listener = listener, Caller = caller, Unit = unit };
        }

        /// <summary>Sends over real MLLP and waits for the ACK (the message is filed, or not, when it arrives).</summary>
        public async Task<string> SendAsync(string message)
        {
            await using var client = await MllpClient.ConnectAsync("127.0.0.1", Listener.Port, Patience);
            return Hl7Parser.Parse(await client.SendAsync(message, Patience)).Get("MSA-1");
        }

        public async ValueTask DisposeAsync() => await Listener.DisposeAsync();
    }

    private static async Task<List<(string Type, string Id, int Version, string Content)>> PublishedAsync(Database database, string? type = null)
    {
        await using var c = await database.OpenUnscopedAsync();
        return (await c.QueryAsync<(string, string, int, string)>(
            "SELECT resource_type, id, version_id, content FROM fhir_resource WHERE (@all OR resource_type = @type) ORDER BY resource_type, id",
            new { all = type is null, type = type ?? "" })).ToList();
    }

    /// <summary>Every resource Stadig published validates against R4 without errors, and its references lead to stored resources or are identifier-only.</summary>
    private static async Task AssertPublishedValidAsync(Database database)
    {
        await using var c = await database.OpenUnscopedAsync();
        var published = (await PublishedAsync(database)).Where(r => FhirRecordPublisher.IsPublished(r.Content)).ToList();
        Assert.NotEmpty(published);
        foreach (var (type, id, _, content) in published)
        {
            var errors = FhirValidator.Validate(FhirJson.Parse(content)).Where(i => i.Severity is "error" or "fatal").ToList();
            Assert.True(errors.Count == 0, $"{type}/{id}: {string.Join("; ", errors.Select(e => $"{e.Expression}: {e.Diagnostics}"))}");
            foreach (var (_, _, reference) in FhirJson.References(FhirJson.Parse(content), type))
            {
                var parts = reference.Split('/');
                var exists = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM fhir_resource WHERE resource_type = @t AND id = @i", new { t = parts[0], i = parts[1] });
                if (exists == 0 && parts[0] == "Patient" && Guid.TryParse(parts[1], out var registryId))
                    exists = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM patient WHERE id = @registryId", new { registryId });
                Assert.True(exists == 1, $"{type}/{id} refers to {reference}, which does not exist");
            }
        }
    }

    private static IEnumerable<JsonObject> Entries(JsonObject bundle, string? type = null) =>
        (bundle["entry"] as JsonArray ?? []).Select(e => (JsonObject)e!["resource"]!).Where(r => type is null || r["resourceType"]!.GetValue<string>() == type);

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_result_filed_from_ORU_over_MLLP_is_readable_and_searchable_as_Observations_and_DiagnosticReports(DatabaseEngine engine)
    {
        await using var fhir = await FhirTestServer.StartAsync(engine);
        var server = fhir.Server;
        await using var lab = await Lab.StartAsync(server.Database, server.Staff, server.Services.GetRequiredService<AuditLog>(), TimeProvider.System);
        var client = fhir.Client();
        var (_, patient, _) = await client.PostFhirAsync("/fhir/Patient", FhirCalls.Patient("191212121212", "Öberg", "Lina"));
        var patientId = patient["id"]!.GetValue<string>();

        Assert.Equal("AA", await lab.SendAsync(Oru("fhir-1", "19121212-1212")));

        var (status, observations, _) = await client.GetFhirAsync($"/fhir/Observation?patient={patientId}");
        Assert.True(status == HttpStatusCode.OK, FhirCalls.Issues(observations));
        var all = Entries(observations, "Observation").ToList();
        Assert.Equal(4, all.Count);
        var hb = all.Single(o => o["code"]!["coding"]![0]!["code"]!.GetValue<string>() == "NPU02319");
        Assert.Equal("final", hb["status"]!.GetValue<string>());
        Assert.Equal("laboratory", hb["category"]![0]!["coding"]![0]!["code"]!.GetValue<string>());
        Assert.Equal(LabOrderAsFhir.NpuSystem, hb["code"]!["coding"]![0]!["system"]!.GetValue<string>());
        Assert.Equal(128d, hb["valueQuantity"]!["value"]!.GetValue<double>());
        Assert.Equal("g/L", hb["valueQuantity"]!["code"]!.GetValue<string>());
        Assert.Equal("http://unitsofmeasure.org", hb["valueQuantity"]!["system"]!.GetValue<string>());
        Assert.Equal("117-153", hb["referenceRange"]![0]!["text"]!.GetValue<string>());
        Assert.Equal(117d, hb["referenceRange"]![0]!["low"]!["value"]!.GetValue<double>());
        Assert.Equal("L", hb["interpretation"]![0]!["coding"]![0]!["code"]!.GetValue<string>());
        Assert.Equal($"Patient/{patientId}", hb["subject"]!["reference"]!.GetValue<string>());
        Assert.Equal($"Organization/{lab.Unit.Id}", hb["performer"]![0]!["reference"]!.GetValue<string>());
        Assert.StartsWith("2026-11-23T06:00:00", hb["effectiveDateTime"]!.GetValue<string>());
        var crp = all.Single(o => o["code"]!["coding"]![0]!["code"]!.GetValue<string>() == "NPU19748");
        Assert.Equal("<", crp["valueQuantity"]!["comparator"]!.GetValue<string>());
        Assert.Equal(5d, crp["valueQuantity"]!["value"]!.GetValue<double>());
        var text = all.Single(o => o["code"]!["coding"]![0]!["code"]!.GetValue<string>() == "UTSTRYK");
        Assert.Equal(Conclusion, text["valueString"]!.GetValue<string>());
        Assert.Equal(LabResultAsFhir.LabCodeSystem + "/KLINKEM", text["code"]!["coding"]![0]!["system"]!.GetValue<string>());

        // Search by code, category and date.
        var (_, byCode, _) = await client.GetFhirAsync($"/fhir/Observation?patient={patientId}&code={Uri.EscapeDataString(LabOrderAsFhir.NpuSystem)}|NPU03230");
        Assert.Equal("HH", Assert.Single(Entries(byCode))["interpretation"]![0]!["coding"]![0]!["code"]!.GetValue<string>());
        var (_, byCategory, _) = await client.GetFhirAsync($"/fhir/Observation?patient={patientId}&category=laboratory");
        Assert.Equal(4, Entries(byCategory).Count());
        var (_, inRange, _) = await client.GetFhirAsync($"/fhir/Observation?patient={patientId}&date=ge2026-11-23&date=lt2026-11-24");
        Assert.Equal(4, Entries(inRange).Count());
        var (_, outOfRange, _) = await client.GetFhirAsync($"/fhir/Observation?patient={patientId}&date=lt2026-11-22");
        Assert.Empty(Entries(outOfRange));

        // DiagnosticReports with their Observations (_include), and Observations with their reports (_revinclude).
        var (_, reports, _) = await client.GetFhirAsync($"/fhir/DiagnosticReport?patient={patientId}&category=LAB&_include=DiagnosticReport:result");
        var reportList = Entries(reports, "DiagnosticReport").ToList();
        Assert.Equal(2, reportList.Count);
        Assert.Equal(4, Entries(reports, "Observation").Count());
        var blood = reportList.Single(r => r["code"]!["coding"]![0]!["code"]!.GetValue<string>() == "BLODSTATUS");
        Assert.Equal(3, blood["result"]!.AsArray().Count);
        Assert.Equal("L100", blood["identifier"]![0]!["value"]!.GetValue<string>());
        Assert.Null(blood["basedOn"]);
        var smear = reportList.Single(r => r["code"]!["coding"]![0]!["code"]!.GetValue<string>() == "UTSTRYK");
        Assert.Equal(Conclusion, smear["conclusion"]!.GetValue<string>());
        var (_, withReports, _) = await client.GetFhirAsync($"/fhir/Observation?patient={patientId}&code=NPU02319&_revinclude=DiagnosticReport:result");
        Assert.Equal(blood["id"]!.GetValue<string>(), Assert.Single(Entries(withReports, "DiagnosticReport"))["id"]!.GetValue<string>());

        var hbId = hb["id"]!.GetValue<string>();
        var (_, read, _) = await client.GetFhirAsync($"/fhir/Observation/{hbId}");
        Assert.True(FhirRecordPublisher.IsPublished(read));

        // The chart is the master: a client may not change a published result.
        read["valueQuantity"]!["value"] = 99;
        var (put, outcome, _) = await client.PutFhirAsync($"/fhir/Observation/{hbId}", read);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, put);
        Assert.Equal("OperationOutcome", outcome["resourceType"]!.GetValue<string>());

        await AssertPublishedValidAsync(server.Database);
    }

    private static async Task<(TestRegion Region, Lab Lab)> RegionWithLabAsync(DatabaseEngine engine)
    {
        var clock = new FixedClock(Start);
        var region = await TestRegion.CreateAsync(engine, clock);
        return (region, await Lab.StartAsync(region.Database, region.Staff, region.Audit, clock));
    }

    private static async Task<Guid> RegisterAsync(TestRegion region, string number) =>
        (await region.Patients.RegisterAsync(region.Physician, number, new PatientDetails("Öberg", "Lina"))).PatientId;

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_quarantined_result_is_published_only_when_filed_to_a_patient(DatabaseEngine engine)
    {
        var (region, lab) = await RegionWithLabAsync(engine);
        await using var _ = lab;
        var known = await RegisterAsync(region, "19121212-1212");

        // 20121212-1212 is not in the registry: the result waits in quarantine, and nothing is published.
        Assert.Equal("AA", await lab.SendAsync(Oru("q-1", "20121212-1212")));
        Assert.Empty(await PublishedAsync(region.Database, "Observation"));
        Assert.Empty(await PublishedAsync(region.Database, "DiagnosticReport"));

        var labStaff = await region.AddCallerAsync("labbet", Role.LabStaff, lab.Unit);
        var item = Assert.Single(await region.Services.Quarantine.ListOpenAsync(labStaff));
        await region.Services.Quarantine.FileToPatientAsync(labStaff, item.Id, "19121212-1212", "Kontrollerat med remissen");

        var observations = await PublishedAsync(region.Database, "Observation");
        Assert.Equal(4, observations.Count);
        await using var c = await region.Database.OpenUnscopedAsync();
        var owners = (await c.QueryAsync<(Guid PatientId, Guid UnitId)>("SELECT patient_id, unit_id FROM fhir_resource WHERE resource_type IN ('Observation', 'DiagnosticReport')")).Distinct();
        Assert.Equal((known, lab.Unit.Id), Assert.Single(owners));
        Assert.Equal(2, (await PublishedAsync(region.Database, "DiagnosticReport")).Count);
        await AssertPublishedValidAsync(region.Database);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_correction_is_a_new_version_of_the_same_Observation_with_status_corrected(DatabaseEngine engine)
    {
        var (region, lab) = await RegionWithLabAsync(engine);
        await using var _ = lab;
        await RegisterAsync(region, "19121212-1212");

        Assert.Equal("AA", await lab.SendAsync(Oru("c-1", "19121212-1212")));
        var first = (await PublishedAsync(region.Database, "Observation")).Select(o => o.Id).ToHashSet();
        Assert.Equal("AA", await lab.SendAsync(Oru("c-2", "19121212-1212", hb: "112", hbStatus: "C")));

        var observations = await PublishedAsync(region.Database, "Observation");
        // The same four Observations: the corrected Hb is a new version, not a new resource; lines re-sent unchanged stay as they were.
        Assert.Equal(first, observations.Select(o => o.Id).ToHashSet());
        Assert.Equal([1, 1, 1, 2], observations.Select(o => o.Version).Order());
        var hb = observations.Select(o => FhirJson.Parse(o.Content)).Single(o => o["code"]!["coding"]![0]!["code"]!.GetValue<string>() == "NPU02319");
        Assert.Equal("corrected", hb["status"]!.GetValue<string>());
        Assert.Equal(112d, hb["valueQuantity"]!["value"]!.GetValue<double>());
        Assert.Equal("2", hb["meta"]!["versionId"]!.GetValue<string>());
        // The value first reported stays readable as version 1.
        await using var c = await region.Database.OpenUnscopedAsync();
        var v1 = FhirJson.Parse(await c.QuerySingleAsync<string>(
            "SELECT content FROM fhir_resource_version WHERE resource_type = 'Observation' AND id = @id AND version_id = 1", new { id = hb["id"]!.GetValue<string>() }));
        Assert.Equal(("final", 128d), (v1["status"]!.GetValue<string>(), v1["valueQuantity"]!["value"]!.GetValue<double>()));
        // Both messages' reports list the one current Hb Observation.
        var reports = (await PublishedAsync(region.Database, "DiagnosticReport")).Select(r => FhirJson.Parse(r.Content))
            .Where(r => r["code"]!["coding"]![0]!["code"]!.GetValue<string>() == "BLODSTATUS").ToList();
        Assert.Equal(2, reports.Count);
        Assert.All(reports, r => Assert.Contains(r["result"]!.AsArray(), x => x!["reference"]!.GetValue<string>() == $"Observation/{hb["id"]}"));
        Assert.Equal(["corrected", "final"], reports.Select(r => r["status"]!.GetValue<string>()).Order());
        await AssertPublishedValidAsync(region.Database);
    }

    /// <summary>A stand-in lab that acknowledges every order (AA).</summary>
    private sealed class AcceptingLab : IHl7MessageHandler
    {
        public Task<string> HandleAsync(ReceivedHl7Message message, CancellationToken cancellationToken) =>
            Task.FromResult(Hl7Writer.Write(Hl7Ack.Create(Hl7Parser.Parse(message.Text), "AA", DateTimeOffset.UtcNow, "LAB1", null, null)));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_order_is_a_ServiceRequest_each_state_change_a_new_version_and_its_result_is_based_on_it(DatabaseEngine engine)
    {
        var (region, lab) = await RegionWithLabAsync(engine);
        await using var _ = lab;
        var patientId = await RegisterAsync(region, "19121212-1212");
        var order = await region.Services.Orders.PlaceAsync(region.Physician, patientId, ["NPU28309"]);

        async Task<JsonObject> ServiceRequestAsync() =>
            FhirJson.Parse(Assert.Single(await PublishedAsync(region.Database, "ServiceRequest")).Content);

        var placed = await ServiceRequestAsync();
        Assert.Equal(order.Id.ToString(), placed["id"]!.GetValue<string>());
        Assert.Equal(("1", "active", "order"), (placed["meta"]!["versionId"]!.GetValue<string>(), placed["status"]!.GetValue<string>(), placed["intent"]!.GetValue<string>()));
        Assert.Equal(order.PlacerOrderNumber, placed["identifier"]![0]!["value"]!.GetValue<string>());
        Assert.Equal("NPU28309", placed["code"]!["coding"]![0]!["code"]!.GetValue<string>());
        Assert.Equal($"Practitioner/{region.Physician.StaffId}", placed["requester"]!["reference"]!.GetValue<string>());
        Assert.Equal($"Patient/{patientId}", placed["subject"]!["reference"]!.GetValue<string>());

        var acceptingLab = new AcceptingLab();
        await using (var listener = new MllpListener(acceptingLab, new MllpOptions { Port = 0, Address = IPAddress.Loopback }))
        {
            listener.Start();
            Assert.Equal(1, (await region.Services.Outbox.DeliverDueAsync("127.0.0.1", listener.Port, TimeSpan.FromSeconds(30))).Acknowledged);
        }
        var acknowledged = await ServiceRequestAsync();
        Assert.Equal("2", acknowledged["meta"]!["versionId"]!.GetValue<string>());
        Assert.Equal("Acknowledged", acknowledged["extension"]![0]!["valueCode"]!.GetValue<string>());

        Assert.Equal("AA", await lab.SendAsync(Oru("o-1", "19121212-1212", placer: order.PlacerOrderNumber)));
        var resulted = await ServiceRequestAsync();
        Assert.Equal(("3", "completed"), (resulted["meta"]!["versionId"]!.GetValue<string>(), resulted["status"]!.GetValue<string>()));
        var reports = (await PublishedAsync(region.Database, "DiagnosticReport")).Select(r => FhirJson.Parse(r.Content)).ToList();
        Assert.Equal(2, reports.Count);
        Assert.All(reports, r => Assert.Equal($"ServiceRequest/{order.Id}", r["basedOn"]![0]!["reference"]!.GetValue<string>()));

        // A multi-analysis order: the analyses in code.text and orderDetail.
        var second = await region.Services.Orders.PlaceAsync(region.Physician, patientId, ["NPU03230", "NPU03429"]);
        await using var c = await region.Database.OpenUnscopedAsync();
        var multi = FhirJson.Parse(await c.QuerySingleAsync<string>("SELECT content FROM fhir_resource WHERE resource_type = 'ServiceRequest' AND id = @id", new { id = second.Id.ToString() }));
        Assert.Equal("P-Kalium, P-Natrium", multi["code"]!["text"]!.GetValue<string>());
        Assert.Equal(["NPU03230", "NPU03429"], multi["orderDetail"]!.AsArray().Select(d => d!["coding"]![0]!["code"]!.GetValue<string>()));
        await AssertPublishedValidAsync(region.Database);
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_filing_rolled_back_leaves_no_FHIR_resource(DatabaseEngine engine)
    {
        var (region, lab) = await RegionWithLabAsync(engine);
        await using var _ = lab;
        var patientId = await RegisterAsync(region, "19121212-1212");
        var message = Hl7Parser.Parse(Oru("rb-1", "19121212-1212"));

        await using (var c = await region.Database.OpenUnscopedAsync())
        await using (var t = await region.Database.BeginAsync(c, TestContext.Current.CancellationToken))
        {
            var messageId = Guid.CreateVersion7();
            await c.ExecuteAsync(
                """
                INSERT INTO hl7_message (id, direction, control_id, sending_application, sending_facility, message_type, received_at, byte_count, raw_text, state, state_changed_at)
                VALUES (@messageId, 'Inbound', 'rb-1', 'LABSYS', 'KLINKEM', 'ORU^R01', @Start, 1, 'x', 'Received', @Start)
                """, new { messageId, Start }, t);
            await IngestOruMessage.FileAsync(c, t, messageId, OruObservations.Read(message), patientId, lab.Unit.Id, Start, null);
            // Published on the filing's own transaction…
            Assert.Equal(6, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM fhir_resource WHERE resource_type IN ('Observation', 'DiagnosticReport')", transaction: t));
            await t.RollbackAsync(TestContext.Current.CancellationToken);
        }
        // …so gone with it.
        Assert.Empty(await PublishedAsync(region.Database, "Observation"));
        Assert.Empty(await PublishedAsync(region.Database, "DiagnosticReport"));
        await using var check = await region.Database.OpenUnscopedAsync();
        Assert.Equal(0, await check.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM fhir_resource_version WHERE resource_type IN ('Observation', 'DiagnosticReport')"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task The_backfill_publishes_existing_orders_and_results_the_same_way_and_is_idempotent(DatabaseEngine engine)
    {
        var (region, lab) = await RegionWithLabAsync(engine);
        await using var _ = lab;
        var patientId = await RegisterAsync(region, "19121212-1212");
        var order = await region.Services.Orders.PlaceAsync(region.Physician, patientId, ["NPU28309"]);
        Assert.Equal("AA", await lab.SendAsync(Oru("b-1", "19121212-1212", placer: order.PlacerOrderNumber)));
        Assert.Equal("AA", await lab.SendAsync(Oru("b-2", "19121212-1212", placer: order.PlacerOrderNumber, hb: "112", hbStatus: "C")));
        // A result line from before reports existed (as seeded data has).
        await using (var c = await region.Database.OpenUnscopedAsync())
            await c.ExecuteAsync(
                """
                INSERT INTO lab_result (id, patient_id, unit_id, analysis_code, analysis_name, value_numeric, unit, reference_low, reference_high, status, observed_at)
                VALUES (@id, @patientId, @unitId, 'NPU22089', 'P-Glukos', 5.2, 'mmol/L', 4.0, 6.0, 'Final', @Start)
                """, new { id = Guid.CreateVersion7(), patientId, unitId = lab.Unit.Id, Start });

        string[] types = ["ServiceRequest", "Observation", "DiagnosticReport"];
        static string WithoutMeta(string content) { var r = FhirJson.Parse(content); r.Remove("meta"); return FhirJson.Serialize(r); }
        var live = (await PublishedAsync(region.Database)).Where(r => types.Contains(r.Type)).ToDictionary(r => (r.Type, r.Id), r => WithoutMeta(r.Content));

        // As on a database from before publishing: the lab records' FHIR view is gone.
        await KeysetBackfill.ForgetAsync(region.Database, "ServiceRequest", "Observation", "DiagnosticReport");

        Task<int> RunAsync(Func<System.Data.Common.DbConnection, System.Data.Common.DbTransaction, Guid?, Task<(int Rows, Guid? Next)>> batch) =>
            KeysetBackfill.RunAsync(region.Database, batch);
        async Task<(int Orders, int Reports, int Unreported)> BackfillAsync() => (
            await RunAsync((c, t, after) => LabOrderAsFhir.BackfillBatchAsync(c, t, after, 1, Start)),
            await RunAsync((c, t, after) => LabResultAsFhir.BackfillBatchAsync(c, t, after, 1, Start)),
            await RunAsync((c, t, after) => LabResultAsFhir.BackfillUnreportedBatchAsync(c, t, after, 1, Start)));

        // Three reports: b-2 resent the smear (OBR 2) unchanged, which is not filed a second time (LabResendTests).
        Assert.Equal((1, 3, 1), await BackfillAsync());
        var backfilled = (await PublishedAsync(region.Database)).Where(r => types.Contains(r.Type)).ToList();
        // The same resources as published live (the correction's earlier value is not re-created as history), plus the line without a report.
        var glucose = Assert.Single(backfilled, r => !live.ContainsKey((r.Type, r.Id)));
        Assert.Contains("NPU22089", glucose.Content);
        Assert.All(backfilled.Where(r => r != glucose), r => Assert.Equal(live[(r.Type, r.Id)], WithoutMeta(r.Content)));
        Assert.All(backfilled, r => Assert.Equal(1, r.Version));

        // Again: nothing changes, no new versions.
        Assert.Equal((1, 3, 1), await BackfillAsync());
        Assert.Equal(backfilled, (await PublishedAsync(region.Database)).Where(r => types.Contains(r.Type)).ToList());
        await AssertPublishedValidAsync(region.Database);
    }
}
