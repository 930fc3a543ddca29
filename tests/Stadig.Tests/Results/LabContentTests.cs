using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using Stadig.Common;
using Stadig.Fhir;
using Stadig.Fhir.Records;
using Stadig.Fhir.Validation;
using Stadig.Hl7;
using Stadig.Hl7.Mllp;
using Stadig.LabResults;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Storage;

namespace Stadig.Tests.Results;

/// <summary>What a lab sends besides values, kept faithfully on both engines: NTE comments, ED documents, and text in the lab's character set.</summary>
public class LabContentTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);

    /// <summary>A small but real PDF's first and last bytes, as a lab's report would start and end.</summary>
    internal static readonly byte[] Pdf = Encoding.ASCII.GetBytes("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n");

    internal static string Oru(string controlId, string number, string body, string msh18 = "UNICODE UTF-8") =>
        $"MSH|^~\\&|LABSYS|KLINKEM|STADIG|REGION|20261123075500+0100||ORU^R01^ORU_R01|{controlId}|P|2.5|||AL|NE|SWE|{msh18}\r" +
        $"PID|1||{number.Replace("-", "")}^^^^PN||Öberg^Lina\r" + body;

    internal const string Commented =
        "OBR|1|P1|F1|ELSTATUS^Elstatus^L|||20261123070000+0100\r" +
        "NTE|1|L|Provet anlände sent \\T\\ ljummet~andra raden\r" +
        "NTE|2|L|Remiss saknade frågeställning\r" +
        "OBX|1|NM|K^P-Kalium^L||5.9|mmol/L|3.5-4.4|H|||F\r" +
        "NTE|1|L|Hemolyserat prov, kalium kan vara falskt förhöjt\r" +
        "NTE|2|L|Nytt prov rekommenderas \\F\\ ring lab\r" +
        "OBX|2|NM|NA^P-Natrium^L||140|mmol/L|137-145|N|||F\r";

    internal const string KaliumComment = "Hemolyserat prov, kalium kan vara falskt förhöjt\nNytt prov rekommenderas | ring lab";
    internal const string ReportComment = "Provet anlände sent & ljummet\nandra raden\nRemiss saknade frågeställning";

    internal static string WithPdf(byte[] pdf) =>
        "OBR|1|P2|F2|PATOLOGI^Patologisvar^L|||20261123070000+0100\r" +
        $"OBX|1|ED|PDF^Patologisvar PDF^L||LAB^AP^PDF^Base64^{Convert.ToBase64String(pdf)}||||||F\r" +
        "OBX|2|TX|UTL^Utlåtande^L||Se bifogat svar.\\.br\\Inga tecken på malignitet i övre delen.||||||F\r";

    private static async Task<(TestRegion Region, IngestOruMessage Ingest, Guid PatientId, string Number)> LabAsync(DatabaseEngine engine)
    {
        var (region, ingest) = await ResultInboxTests.RegionWithLabAsync(engine, new FixedClock(Start));
        var number = TestNumbers.Personnummer(1950, 3, 14);
        var patientId = (await region.Patients.RegisterAsync(region.Physician, number, new PatientDetails("Öberg", "Lina"))).PatientId;
        return (region, ingest, patientId, number);
    }

    private static async Task<List<JsonObject>> PublishedAsync(Database database, Guid patientId, string type)
    {
        await using var c = await database.OpenUnscopedAsync();
        var contents = await c.QueryAsync<string>("SELECT content FROM fhir_resource WHERE patient_id = @patientId AND resource_type = @type", new { patientId, type });
        return contents.Select(json =>
        {
            var resource = FhirJson.Parse(json);
            var errors = FhirValidator.Validate(resource).Where(i => i.Severity is "error" or "fatal").ToList();
            Assert.True(errors.Count == 0, string.Join("; ", errors.Select(e => $"{e.Expression}: {e.Diagnostics}")));
            return resource;
        }).ToList();
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    [Hazard("H-04")]
    public async Task NTE_comments_are_kept_with_their_line_or_report_exactly_and_shown_and_published(DatabaseEngine engine)
    {
        var (region, ingest, patientId, number) = await LabAsync(engine);

        var outcome = await ingest.IngestAsync(Oru("nte-1", number, Commented));

        Assert.Equal(Hl7MessageState.Filed, outcome.State);
        await using (var c = await region.Database.OpenUnscopedAsync())
        {
            var lines = (await c.QueryAsync<(string Code, string? Comment)>(
                "SELECT analysis_code, comment FROM lab_result WHERE patient_id = @patientId ORDER BY analysis_code", new { patientId })).ToList();
            Assert.Equal([("K", KaliumComment), ("NA", null)], lines);
            Assert.Equal(ReportComment, await c.QuerySingleAsync<string>("SELECT comment FROM diagnostic_report WHERE patient_id = @patientId", new { patientId }));
        }

        var chart = await region.Services.Chart.OverviewAsync(region.Physician, patientId);
        var kalium = chart.Results.Single(r => r.AnalysisCode == "K");
        Assert.Equal((KaliumComment, ReportComment), (kalium.Comment, kalium.ReportComment));
        Assert.Equal(ReportComment, chart.Results.Single(r => r.AnalysisCode == "NA").ReportComment);
        var point = Assert.Single((await region.Services.Trends.TrendAsync(region.Physician, patientId, "K")).Points);
        Assert.Equal((KaliumComment, ReportComment), (point.Comment, point.ReportComment));
        var item = Assert.Single(await region.Services.Inbox.UnattestedAsync(region.Physician, TimeSpan.FromHours(24)), i => i.PatientId == patientId);
        Assert.Equal(ReportComment, item.Comment);
        Assert.Equal([("P-Kalium", KaliumComment)], item.Lines.Select(l => (l.AnalysisName, l.Comment)));

        var observations = await PublishedAsync(region.Database, patientId, "Observation");
        string[] Notes(string code) => observations.Single(o => o["code"]!["coding"]![0]!["code"]!.GetValue<string>() == code)["note"]!.AsArray()
            .Select(n => n!["text"]!.GetValue<string>()).ToArray();
        Assert.Equal([KaliumComment, ReportComment], Notes("K"));
        Assert.Equal([ReportComment], Notes("NA"));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_ED_document_is_kept_as_its_bytes_with_its_type_published_as_presentedForm_and_never_as_base64_text(DatabaseEngine engine)
    {
        var (region, ingest, patientId, number) = await LabAsync(engine);

        var outcome = await ingest.IngestAsync(Oru("ed-1", number, WithPdf(Pdf)));

        Assert.Equal(Hl7MessageState.Filed, outcome.State);
        Guid resultId;
        await using (var c = await region.Database.OpenUnscopedAsync())
        {
            var row = await c.QuerySingleAsync<(Guid Id, string? Text, string Type, byte[] Data)>(
                "SELECT id, value_text, attachment_type, attachment_data FROM lab_result WHERE patient_id = @patientId AND analysis_code = 'PDF'", new { patientId });
            Assert.Null(row.Text);
            Assert.Equal("application/pdf", row.Type);
            Assert.Equal(Pdf, row.Data);
            resultId = row.Id;
        }
        var chart = await region.Services.Chart.OverviewAsync(region.Physician, patientId);
        Assert.Equal("application/pdf", chart.Results.Single(r => r.AnalysisCode == "PDF").AttachmentType);
        Assert.DoesNotContain(chart.Results, r => r.ValueText?.Contains(Convert.ToBase64String(Pdf)[..12], StringComparison.Ordinal) == true);
        Assert.Equal("Se bifogat svar.\nInga tecken på malignitet i övre delen.", chart.Results.Single(r => r.AnalysisCode == "UTL").ValueText);
        var item = Assert.Single(await region.Services.Inbox.UnattestedAsync(region.Physician, TimeSpan.FromHours(24)), i => i.PatientId == patientId);
        Assert.Equal([(resultId, "application/pdf")], item.Lines.Select(l => (l.ResultId, l.AttachmentType)));

        var report = Assert.Single(await PublishedAsync(region.Database, patientId, "DiagnosticReport"));
        var form = Assert.Single(report["presentedForm"]!.AsArray())!;
        Assert.Equal("application/pdf", form["contentType"]!.GetValue<string>());
        Assert.Equal(Pdf, Convert.FromBase64String(form["data"]!.GetValue<string>()));
        Assert.Equal("Patologisvar PDF", form["title"]!.GetValue<string>());
        var observation = Assert.Single(await PublishedAsync(region.Database, patientId, "Observation"));
        Assert.Equal("UTL", observation["code"]!["coding"]![0]!["code"]!.GetValue<string>());
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task A_document_is_read_through_the_checkpoint_allowed_denied_and_audited(DatabaseEngine engine)
    {
        var (region, ingest, patientId, number) = await LabAsync(engine);
        await ingest.IngestAsync(Oru("ed-2", number, WithPdf(Pdf)));
        Guid resultId;
        await using (var c = await region.Database.OpenUnscopedAsync())
            resultId = await c.QuerySingleAsync<Guid>("SELECT id FROM lab_result WHERE patient_id = @patientId AND attachment_type IS NOT NULL", new { patientId });
        var elsewhere = await region.AddCallerAsync("annan", Role.Physician, region.Clinic);
        var allowed = await region.AuditCountAsync(patientId, "Read", "Allowed");
        var denied = await region.AuditCountAsync(patientId, "Read", "Denied");

        var document = await region.Services.Attachments.ReadAsync(region.Physician, resultId);

        Assert.Equal(Pdf, document.Data);
        Assert.Equal(("application/pdf", "Patologisvar PDF", patientId), (document.ContentType, document.Title, document.PatientId));
        Assert.True(document.MayShowInline);
        Assert.Equal(allowed + 1, await region.AuditCountAsync(patientId, "Read", "Allowed"));
        await Assert.ThrowsAsync<NotFoundException>(() => region.Services.Attachments.ReadAsync(elsewhere, resultId));
        Assert.Equal(denied + 1, await region.AuditCountAsync(patientId, "Read", "Denied"));
        await Assert.ThrowsAsync<NotFoundException>(() => region.Services.Attachments.ReadAsync(region.Physician, Guid.NewGuid()));
        await using var check = await region.Database.OpenUnscopedAsync();
        Assert.Equal(2, await check.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM audit_event WHERE patient_id = @patientId AND resource = @resource", new { patientId, resource = ResultAttachments.Resource }));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task An_ED_value_that_is_not_base64_rejects_the_message_naming_OBX_5_and_files_nothing(DatabaseEngine engine)
    {
        var (region, ingest, patientId, number) = await LabAsync(engine);
        var body = "OBR|1|P3|F3|PATOLOGI^Patologisvar^L\rOBX|1|NM|K^P-Kalium^L||4.1|mmol/L|3.5-4.4|N|||F\r" +
                   "OBX|2|ED|PDF^Patologisvar PDF^L||LAB^AP^PDF^Base64^JVBERi0x*inte!base64?||||||F\r";

        var outcome = await ingest.IngestAsync(Oru("ed-bad", number, body));

        Assert.Equal((Hl7MessageState.Rejected, AckCode.Error), (outcome.State, outcome.AckCode));
        var ack = Hl7Parser.Parse(outcome.AckText);
        Assert.Equal(Hl7ErrorCode.DataTypeError, ack.Get("ERR-3.1"));
        Assert.Contains("OBX-5", ack.Get("ERR-8"));
        Assert.Contains("Base64", ack.Get("ERR-8"));
        await using var c = await region.Database.OpenUnscopedAsync();
        Assert.Equal(0, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM lab_result WHERE patient_id = @patientId", new { patientId }));
        Assert.Equal(0, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM diagnostic_report WHERE patient_id = @patientId", new { patientId }));
        Assert.Contains("OBX-5", await c.QuerySingleAsync<string>(
            "SELECT s.reason FROM hl7_message_state s WHERE s.message_id = @MessageId AND s.state = 'Rejected'", new { outcome.MessageId }));
    }

    [Theory, MemberData(nameof(TestDatabases.Both), MemberType = typeof(TestDatabases))]
    public async Task Raw_8859_bytes_over_MLLP_are_filed_as_the_letters_the_lab_wrote_and_answered_in_its_character_set(DatabaseEngine engine)
    {
        var (region, ingest, patientId, number) = await LabAsync(engine);
        await using var listener = new MllpListener(ingest, new MllpOptions { Port = 0, Address = IPAddress.Loopback });
        listener.Start();
        var latin9 = CodePagesEncodingProvider.Instance.GetEncoding(28605)!;
        var filed = Oru("cs-1", number, "OBR|1|P4|F4|KOM^Kommentar^L\rOBX|1|TX|KOM^Kommentar^L||Avgift 100 € för hälsokontroll, ÅÄÖ åäö \\XE9\\||||||F\r", "8859/15");
        var refused = Oru("cs-2", number, "OBR|1|P5|F5|KOM^Kommentar^L\r", "8859/1");
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        async Task<byte[]> SendAsync(byte[] bytes)
        {
            await using var client = await MllpClient.ConnectAsync("127.0.0.1", listener.Port, patience.Token);
            await client.Stream.WriteAsync(MllpFraming.Frame(bytes), patience.Token);
            var frame = await new MllpReader(client.Stream, 1 << 20).ReadAsync(patience.Token);
            Assert.Equal(MllpReadOutcome.Message, frame.Outcome);
            return frame.Bytes;
        }

        var accepted = await SendAsync(latin9.GetBytes(filed));
        var error = await SendAsync(Encoding.Latin1.GetBytes(refused));

        Assert.Equal("AA", Hl7Parser.Parse(latin9.GetString(accepted)).Get("MSA-1"));
        await using (var c = await region.Database.OpenUnscopedAsync())
            Assert.Equal("Avgift 100 € för hälsokontroll, ÅÄÖ åäö é",
                await c.QuerySingleAsync<string>("SELECT value_text FROM lab_result WHERE patient_id = @patientId", new { patientId }));
        // The AE's text ("innehåller") goes back in 8859/1, as the lab reads it: one byte E5 for "å", not UTF-8's C3 A5.
        var ack = Hl7Parser.Parse(Encoding.Latin1.GetString(error));
        Assert.Equal("AE", ack.Get("MSA-1"));
        Assert.Equal("8859/1", ack.Get("MSH-18"));
        Assert.Contains("innehåller", ack.Get("ERR-8"));
    }
}
