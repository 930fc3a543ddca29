using System.Data.Common;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Dapper;
using Stadig.LabResults;
using Stadig.Orders;

namespace Stadig.Fhir.Records;

/// <summary>
/// Filed lab results as FHIR: each result line (lab_result) an <c>Observation</c>, each report
/// (diagnostic_report, one per OBR of a message) a <c>DiagnosticReport</c> whose result lists them,
/// basedOn the <c>ServiceRequest</c> when Stadig placed the order, its narrative (report_text) as
/// conclusion, exactly. Owned by the unit the result rows name (the lab unit that filed them).
///
/// Corrections: one Observation per result line for its whole life. A later result for the same
/// observation (same patient, filler order number and code; lab_result.superseded_by) is published
/// as a new version of the first line's Observation, id = the first line's Guid, with the status the
/// lab sends (OBX-11 C: <c>corrected</c>); a line re-sent unchanged makes no new version. The earlier
/// values stay readable as earlier versions (vread, _history), and every DiagnosticReport that listed
/// the line points at the same, current Observation. Nothing is marked entered-in-error unless the
/// lab says so (OBX-11 D/W).
///
/// Quarantined messages have no rows until filed, so they are published when filed, on that transaction.
/// </summary>
public static partial class LabResultAsFhir
{
    public const string LabCodeSystem = "https://stadig.se/fhir/CodeSystem/lab-code";
    public const string FillerSystem = "https://stadig.se/fhir/NamingSystem/filler-order-number";
    public const string UcumSystem = "http://unitsofmeasure.org";

    public sealed class ReportRow
    {
        public Guid Id { get; init; }
        public Guid PatientId { get; init; }
        public Guid UnitId { get; init; }
        public string? PlacerOrderNumber { get; init; }
        public string? FillerOrderNumber { get; init; }
        public string ServiceCode { get; init; } = "";
        public string ServiceName { get; init; } = "";
        public string Status { get; init; } = "";
        public string? ReportText { get; init; }
        public DateTimeOffset? ObservedAt { get; init; }
        public DateTimeOffset CreatedAt { get; init; }
        public string? SendingFacility { get; init; }
        public string? Comment { get; init; }
    }

    private const string ReportSelect =
        """
        SELECT d.id AS Id, d.patient_id AS PatientId, d.unit_id AS UnitId, d.placer_order_number AS PlacerOrderNumber, d.filler_order_number AS FillerOrderNumber,
               d.service_code AS ServiceCode, d.service_name AS ServiceName, d.status AS Status, d.report_text AS ReportText, d.observed_at AS ObservedAt,
               d.created_at AS CreatedAt, m.sending_facility AS SendingFacility, d.comment AS Comment
        FROM diagnostic_report d JOIN hl7_message m ON m.id = d.message_id
        """;

    // ---- Mapping ----------------------------------------------------------------------------

    public static JsonObject Observation(ResultLineRow row, string patientReference, JsonObject? performer, Guid? orderId)
    {
        var resource = new JsonObject { ["resourceType"] = "Observation" };
        if (orderId is { } order) resource["basedOn"] = new JsonArray(new JsonObject { ["reference"] = $"ServiceRequest/{order}" });
        resource["status"] = ObservationStatus(row.Status);
        resource["category"] = new JsonArray(new JsonObject
        {
            ["coding"] = new JsonArray(new JsonObject
            {
                ["system"] = "http://terminology.hl7.org/CodeSystem/observation-category", ["code"] = "laboratory", ["display"] = "Laboratory",
            }),
        });
        resource["code"] = Code(row.AnalysisCode, row.AnalysisName, row.SendingFacility);
        resource["subject"] = new JsonObject { ["reference"] = patientReference };
        resource["effectiveDateTime"] = FhirJson.Instant(row.ObservedAt);
        if (performer is not null) resource["performer"] = new JsonArray(performer.DeepClone());
        var (quantity, text) = Value(row);
        if (quantity is not null) resource["valueQuantity"] = quantity;
        else if (text is not null) resource["valueString"] = text;
        else resource["dataAbsentReason"] = new JsonObject
        {
            ["coding"] = new JsonArray(new JsonObject { ["system"] = "http://terminology.hl7.org/CodeSystem/data-absent-reason", ["code"] = "unknown", ["display"] = "Unknown" }),
        };
        if (Interpretation(row.AbnormalFlag) is { } interpretation) resource["interpretation"] = new JsonArray(interpretation);
        if (ReferenceRange(row) is { } range) resource["referenceRange"] = new JsonArray(range);
        if (Notes(row) is { Count: > 0 } notes) resource["note"] = notes;
        return resource;
    }

    /// <summary>
    /// The lab's NTE comments, exactly: the line's own, then its report's. R4's DiagnosticReport has
    /// no note (R5 added one), and a comment such as "hemolysed sample" is not a conclusion, so a
    /// report's comment goes with each of its values, where a reader of any one of them sees it.
    /// </summary>
    private static JsonArray? Notes(ResultLineRow row)
    {
        var notes = new JsonArray();
        foreach (var text in new[] { row.Comment, row.ReportComment })
            if (text is { Length: > 0 }) notes.Add(new JsonObject { ["text"] = text });
        return notes;
    }

    /// <summary>A document the lab sent (ED) as it was sent: its bytes, type, size and SHA-1, titled by its OBX-3 name.</summary>
    public static JsonObject PresentedForm(ResultLineRow row)
    {
        var data = row.AttachmentData ?? [];
        return new JsonObject
        {
            ["contentType"] = row.AttachmentType,
            ["data"] = Convert.ToBase64String(data),
            ["size"] = data.Length,
            ["hash"] = Convert.ToBase64String(System.Security.Cryptography.SHA1.HashData(data)),
            ["title"] = row.AnalysisName,
        };
    }

    public static JsonObject DiagnosticReport(ReportRow report, IReadOnlyList<Guid> observationIds, string patientReference, JsonObject? performer, Guid? orderId,
        IReadOnlyList<ResultLineRow>? documents = null)
    {
        var resource = new JsonObject { ["resourceType"] = "DiagnosticReport" };
        if (report.FillerOrderNumber is { Length: > 0 } filler)
        {
            resource["identifier"] = new JsonArray(new JsonObject
            {
                ["type"] = new JsonObject
                {
                    ["coding"] = new JsonArray(new JsonObject { ["system"] = "http://terminology.hl7.org/CodeSystem/v2-0203", ["code"] = "FILL", ["display"] = "Filler Identifier" }),
                },
                ["system"] = report.SendingFacility is { Length: > 0 } facility ? $"{FillerSystem}/{Uri.EscapeDataString(facility)}" : FillerSystem,
                ["value"] = filler,
            });
        }
        if (orderId is { } order) resource["basedOn"] = new JsonArray(new JsonObject { ["reference"] = $"ServiceRequest/{order}" });
        resource["status"] = ReportStatus(report.Status);
        resource["category"] = new JsonArray(new JsonObject
        {
            ["coding"] = new JsonArray(new JsonObject { ["system"] = "http://terminology.hl7.org/CodeSystem/v2-0074", ["code"] = "LAB", ["display"] = "Laboratory" }),
        });
        var name = report.ServiceName.Length > 0 ? report.ServiceName : report.ServiceCode.Length > 0 ? report.ServiceCode : "Laboratoriesvar";
        resource["code"] = report.ServiceCode.Length > 0 ? Code(report.ServiceCode, name, report.SendingFacility) : new JsonObject { ["text"] = name };
        resource["subject"] = new JsonObject { ["reference"] = patientReference };
        if (report.ObservedAt is { } observed) resource["effectiveDateTime"] = FhirJson.Instant(observed);
        resource["issued"] = FhirJson.Instant(report.CreatedAt);
        if (performer is not null) resource["performer"] = new JsonArray(performer.DeepClone());
        if (observationIds.Count > 0)
            resource["result"] = new JsonArray(observationIds.Select(id => (JsonNode)new JsonObject { ["reference"] = $"Observation/{id}" }).ToArray());
        if (report.ReportText is { Length: > 0 } conclusion) resource["conclusion"] = conclusion;
        if (documents is { Count: > 0 }) resource["presentedForm"] = new JsonArray(documents.Select(d => (JsonNode)PresentedForm(d)).ToArray());
        return resource;
    }

    public static string ObservationStatus(string status) => status switch
    {
        "Final" => "final",
        "Preliminary" => "preliminary",
        "Corrected" => "corrected",
        "Cancelled" => "cancelled",
        "Registered" => "registered",
        "EnteredInError" => "entered-in-error",
        _ => "unknown",
    };

    /// <summary>A report's status: the codes Stadig keeps mean the same in DiagnosticReport.status as in Observation.status.</summary>
    public static string ReportStatus(string status) => ObservationStatus(status);

    /// <summary>NPU codes by their OID; any other code in the sending lab's own code system.</summary>
    private static JsonObject Code(string code, string name, string? facility)
    {
        var system = NpuCode().IsMatch(code) ? LabOrderAsFhir.NpuSystem
            : facility is { Length: > 0 } ? $"{LabCodeSystem}/{Uri.EscapeDataString(facility)}" : LabCodeSystem;
        var coding = new JsonObject { ["system"] = system, ["code"] = code };
        if (name.Length > 0) coding["display"] = name;
        var concept = new JsonObject { ["coding"] = new JsonArray(coding) };
        if (name.Length > 0) concept["text"] = name;
        return concept;
    }

    private static (JsonObject? Quantity, string? Text) Value(ResultLineRow row)
    {
        if (row.ValueType is "NM" or "SN" or null && row.ValueNumeric is { } number) return (Quantity(number, row.Unit), null);
        if (row.ValueType == "SN" && row.ValueText is { } sn && Comparison().Match(sn) is { Success: true } m
            && double.TryParse(m.Groups[2].Value.Replace(',', '.'), NumberStyles.Float, CultureInfo.InvariantCulture, out var limit))
        {
            var quantity = Quantity(limit, row.Unit);
            quantity["comparator"] = m.Groups[1].Value;
            return (quantity, null);
        }
        return (null, row.ValueText is { Length: > 0 } text ? text : null);
    }

    private static JsonObject Quantity(double value, string? unit)
    {
        var quantity = new JsonObject { ["value"] = value };
        if (unit is { Length: > 0 })
        {
            quantity["unit"] = unit;
            if (Ucum(unit) is { } code)
            {
                quantity["system"] = UcumSystem;
                quantity["code"] = code;
            }
        }
        return quantity;
    }

    /// <summary>The UCUM code for the unit forms Swedish labs send; null when not known (the unit is then kept as text only).</summary>
    public static string? Ucum(string unit)
    {
        var known = unit switch
        {
            "µmol/L" or "μmol/L" or "umol/L" => "umol/L",
            "µkat/L" or "μkat/L" or "ukat/L" => "ukat/L",
            "10^9/L" or "10E9/L" or "x10^9/L" => "10*9/L",
            "10^12/L" or "10E12/L" or "x10^12/L" => "10*12/L",
            "mIE/L" or "mIU/L" => "m[IU]/L",
            "IE/L" or "IU/L" => "[IU]/L",
            "E/L" or "U/L" => "U/L",
            "%" => "%",
            _ => null,
        };
        if (known is not null) return known;
        // Plain SI forms are already UCUM: g/L, mmol/L, mg/L, mmol/mol, nmol/L, pmol/L, fL, pg, mL/min, …
        return SimpleUcum().IsMatch(unit) ? unit : null;
    }

    private static readonly HashSet<string> InterpretationCodes = new(StringComparer.Ordinal)
    {
        "N", "A", "AA", "H", "HH", "L", "LL", "HU", "LU", "U", "D", "B", "W", "S", "R", "I", "NEG", "POS", "IND", "E", "NR", "<", ">",
    };

    private static JsonObject? Interpretation(string? flag)
    {
        if (string.IsNullOrWhiteSpace(flag)) return null;
        var code = flag.Trim();
        return InterpretationCodes.Contains(code)
            ? new JsonObject
            {
                ["coding"] = new JsonArray(new JsonObject { ["system"] = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", ["code"] = code }),
            }
            : new JsonObject { ["text"] = code };
    }

    private static JsonObject? ReferenceRange(ResultLineRow row)
    {
        var range = new JsonObject();
        if (row.ReferenceLow is { } low) range["low"] = Quantity(low, row.Unit);
        if (row.ReferenceHigh is { } high) range["high"] = Quantity(high, row.Unit);
        if (row.ReferenceRange is { Length: > 0 } text) range["text"] = text;
        return range.Count > 0 ? range : null;
    }

    [GeneratedRegex(@"^NPU[0-9]+$")]
    private static partial Regex NpuCode();

    [GeneratedRegex(@"^\s*(<=|>=|<|>)\s*([0-9]+(?:[.,][0-9]+)?)\s*$")]
    private static partial Regex Comparison();

    [GeneratedRegex(@"^(?:[kmunp]?(?:g|mol|L|kat)|mg|mmol|mol)(?:/(?:[kmunpfd]?(?:g|mol|L)|min|h|d|24h|mmol|mol))?$|^f?L$|^pg$")]
    private static partial Regex SimpleUcum();

    // ---- Publishing -------------------------------------------------------------------------

    /// <summary>The lab unit that filed a result as its performer, when the unit is published as an Organization.</summary>
    private static async Task<JsonObject?> PerformerOfAsync(DbConnection connection, DbTransaction transaction, Guid unitId)
    {
        var unit = await connection.QuerySingleOrDefaultAsync<(string HsaId, string Name)?>(
            "SELECT hsa_id, name FROM care_unit WHERE id = @unitId", new { unitId }, transaction);
        return unit is { } u ? await DirectoryAsFhir.ReferenceIfPublishedAsync(connection, transaction, "Organization", unitId, u.HsaId, u.Name) : null;
    }

    /// <summary>A report's result list: its values (not its documents) in a fixed order, so the same report always maps to the same resource.</summary>
    private static IEnumerable<ResultLineRow> Listed(IEnumerable<ResultLineRow> lines) =>
        lines.OrderBy(r => r.AnalysisCode, StringComparer.Ordinal).ThenBy(r => r.Id);

    /// <summary>
    /// Publishes what one message filed for one patient: an Observation per result line and a
    /// DiagnosticReport per report, and (re)publishes the ServiceRequests they are based on (the
    /// ingest marks them resulted). Called by the filing step, on its transaction.
    /// </summary>
    public static async Task PublishFiledAsync(DbConnection connection, DbTransaction transaction, Guid messageId, Guid patientId, DateTimeOffset now)
    {
        var reports = (await connection.QueryAsync<ReportRow>(ReportSelect + " WHERE d.patient_id = @patientId AND d.message_id = @messageId",
            new { patientId, messageId }, transaction)).AsList();
        var results = (await connection.QueryAsync<ResultLineRow>(ResultLineRows.Select(withDocument: true) + " WHERE r.patient_id = @patientId AND r.message_id = @messageId",
            new { patientId, messageId }, transaction)).AsList();
        await new Publisher(connection, transaction, now).ReportsAsync(reports, results);
    }

    /// <summary>
    /// Backfill of filed reports: up to <paramref name="batchSize"/> diagnostic reports after the
    /// cursor (keyset on the report id), each with its result lines; idempotent. Returns the reports
    /// read and the next cursor (null when done).
    /// </summary>
    public static async Task<(int Rows, Guid? Next)> BackfillBatchAsync(DbConnection connection, DbTransaction transaction, Guid? after, int batchSize, DateTimeOffset now)
    {
        var reports = (await connection.QueryAsync<ReportRow>(ReportSelect + " WHERE d.id > @after ORDER BY d.id LIMIT @batchSize",
            new { after = after ?? Guid.Empty, batchSize }, transaction)).AsList();
        var results = new List<ResultLineRow>();
        foreach (var report in reports)
            results.AddRange(await connection.QueryAsync<ResultLineRow>(ResultLineRows.Select(withDocument: true) + " WHERE r.patient_id = @PatientId AND r.report_id = @Id", new { report.PatientId, report.Id }, transaction));
        await new Publisher(connection, transaction, now).ReportsAsync(reports, results);
        return (reports.Count, reports.Count < batchSize ? null : reports[^1].Id);
    }

    /// <summary>
    /// Backfill of result lines that belong to no report (results stored before reports existed, or
    /// seeded): Observations only; keyset on the result id, idempotent.
    /// </summary>
    public static async Task<(int Rows, Guid? Next)> BackfillUnreportedBatchAsync(DbConnection connection, DbTransaction transaction, Guid? after, int batchSize, DateTimeOffset now)
    {
        var results = (await connection.QueryAsync<ResultLineRow>(ResultLineRows.Select(withDocument: true) + " WHERE r.report_id IS NULL AND r.id > @after ORDER BY r.id LIMIT @batchSize",
            new { after = after ?? Guid.Empty, batchSize }, transaction)).AsList();
        var publisher = new Publisher(connection, transaction, now);
        foreach (var row in results) await publisher.ObservationAsync(row, null);
        await publisher.FlushAsync();
        return (results.Count, results.Count < batchSize ? null : results[^1].Id);
    }

    /// <summary>
    /// One publishing run, caching per patient, unit, order and filler number what every resource of the
    /// run shares, and writing its resources together at the end (<see cref="FlushAsync"/>).
    /// </summary>
    private sealed class Publisher(DbConnection connection, DbTransaction transaction, DateTimeOffset now)
    {
        private readonly List<(JsonObject Resource, string Id, Guid? PatientId, Guid UnitId)> _pending = [];
        private readonly Dictionary<Guid, string> _patients = [];
        private readonly Dictionary<Guid, JsonObject?> _performers = [];
        private readonly Dictionary<string, Guid?> _orders = new(StringComparer.Ordinal);
        private readonly Dictionary<(Guid, string), Dictionary<Guid, Guid>> _chains = [];

        public async Task ReportsAsync(IReadOnlyList<ReportRow> reports, IReadOnlyList<ResultLineRow> results)
        {
            var byReport = results.ToLookup(r => r.ReportId);
            foreach (var report in reports)
            {
                var orderId = await OrderAsync(report.PlacerOrderNumber);
                var observations = new List<Guid>();
                var listed = new HashSet<Guid>();
                // A fixed order (the OBX order is not stored): the same report always maps to the same
                // resource, so a re-publish or the backfill adds no version for a mere reordering.
                var lines = Listed(byReport[report.Id]).ToList();
                // A document (ED) is the report as the lab presented it, not an observed value: presentedForm, no Observation.
                foreach (var row in lines.Where(r => r.AttachmentType is null))
                {
                    var id = await ObservationAsync(row, orderId);
                    if (listed.Add(id)) observations.Add(id);
                }
                var documents = lines.Where(r => r.AttachmentType is not null).ToList();
                var resource = DiagnosticReport(report, observations, await PatientAsync(report.PatientId), await PerformerAsync(report.UnitId), orderId, documents);
                _pending.Add((resource, report.Id.ToString(), report.PatientId, report.UnitId));
            }
            await FlushAsync();
        }

        public async Task FlushAsync()
        {
            await FhirRecordPublisher.PublishManyAsync(connection, transaction, _pending, now);
            _pending.Clear();
        }

        /// <summary>Publishes a result line if it is current (a superseded line lives on as an earlier version); returns its Observation id.</summary>
        public async Task<Guid> ObservationAsync(ResultLineRow row, Guid? orderId)
        {
            var resourceId = await FirstLineAsync(row);
            if (row.SupersededBy is null)
            {
                var resource = Observation(row, await PatientAsync(row.PatientId), await PerformerAsync(row.UnitId), orderId);
                _pending.Add((resource, resourceId.ToString(), row.PatientId, row.UnitId));
            }
            return resourceId;
        }

        /// <summary>The first line of the chain of corrections this line belongs to: its Observation's id.</summary>
        private async Task<Guid> FirstLineAsync(ResultLineRow row)
        {
            if (row.FillerOrderNumber is not { } filler) return row.Id;
            if (!_chains.TryGetValue((row.PatientId, filler), out var predecessors))
            {
                // The lines of this filler order that something superseded: successor → predecessor (the earliest, should a message have repeated a code).
                var superseded = await connection.QueryAsync<(Guid Id, Guid SupersededBy)>(
                    "SELECT id, superseded_by FROM lab_result WHERE patient_id = @PatientId AND filler_order_number = @filler AND superseded_by IS NOT NULL",
                    new { row.PatientId, filler }, transaction);
                predecessors = superseded.GroupBy(s => s.SupersededBy)
                    .ToDictionary(g => g.Key, g => g.Select(s => s.Id).OrderBy(id => id.ToString(), StringComparer.Ordinal).First());
                _chains[(row.PatientId, filler)] = predecessors;
            }
            var current = row.Id;
            for (var steps = 0; steps < 1000 && predecessors.TryGetValue(current, out var predecessor); steps++) current = predecessor;
            return current;
        }

        private async Task<string> PatientAsync(Guid patientId)
        {
            if (!_patients.TryGetValue(patientId, out var reference))
                _patients[patientId] = reference = await FhirRecordPublisher.PatientReferenceAsync(connection, transaction, patientId);
            return reference;
        }

        private async Task<JsonObject?> PerformerAsync(Guid unitId)
        {
            if (!_performers.TryGetValue(unitId, out var performer))
            {
                _performers[unitId] = performer = await PerformerOfAsync(connection, transaction, unitId);
            }
            return performer;
        }

        /// <summary>The order Stadig placed under this number, published as it now stands; null for other systems' numbers.</summary>
        private async Task<Guid?> OrderAsync(string? placer)
        {
            if (placer is null || !placer.StartsWith(LabOrders.PlacerPrefix, StringComparison.Ordinal)) return null;
            if (!_orders.TryGetValue(placer, out var orderId))
            {
                orderId = await connection.QuerySingleOrDefaultAsync<Guid?>("SELECT id FROM lab_order WHERE placer_order_number = @placer", new { placer }, transaction);
                if (orderId is { } id) await LabOrderAsFhir.PublishAsync(connection, transaction, id, now);
                _orders[placer] = orderId;
            }
            return orderId;
        }
    }
}
