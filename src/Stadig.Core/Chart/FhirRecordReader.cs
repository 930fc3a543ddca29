using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Stadig.Fhir;
using Stadig.Fhir.Store;

namespace Stadig.Chart;

/// <summary>
/// Reads a resource another system wrote into the record entry the chart shows: the clinical
/// words as sent (code text, else the first coding's display, else its code), status, time, who
/// and which system. It never invents what the resource does not say.
/// </summary>
public static class FhirRecordReader
{
    /// <summary>The FHIR types the chart shows, by kind. Billing (Claim, ExplanationOfBenefit, Coverage) is no part of the journal.</summary>
    public static readonly IReadOnlyDictionary<string, RecordKind> Kinds = new Dictionary<string, RecordKind>(StringComparer.Ordinal)
    {
        ["AllergyIntolerance"] = RecordKind.Allergy,
        ["Flag"] = RecordKind.Warning,
        ["Condition"] = RecordKind.Problem,
        ["Encounter"] = RecordKind.Encounter,
        ["Observation"] = RecordKind.Observation,
        ["MedicationRequest"] = RecordKind.Medication,
        ["MedicationStatement"] = RecordKind.Medication,
        ["MedicationAdministration"] = RecordKind.Medication,
        ["Immunization"] = RecordKind.Immunization,
        ["Procedure"] = RecordKind.Procedure,
        ["DocumentReference"] = RecordKind.Document,
        ["DiagnosticReport"] = RecordKind.Document,
        ["CarePlan"] = RecordKind.Other,
        ["Goal"] = RecordKind.Other,
        ["ImagingStudy"] = RecordKind.Other,
        ["ServiceRequest"] = RecordKind.Other,
    };

    /// <summary>The search parameter whose date is the resource's clinical time (the index already holds it).</summary>
    public static string DateParameter(string type) => type switch
    {
        "Condition" => "onset-date",
        "MedicationRequest" => "authoredon",
        _ => "date",
    };

    public static IEnumerable<string> TypesOf(RecordKind kind) => Kinds.Where(k => k.Value == kind).Select(k => k.Key);

    public static RecordEntry Read(FhirResourceRow row, string? unitName) => Read(FhirJson.Parse(row.Content), row, unitName);

    public static RecordEntry Read(JsonObject r, FhirResourceRow row, string? unitName)
    {
        var type = row.ResourceType;
        var kind = Kinds.GetValueOrDefault(type, RecordKind.Other);
        var entry = new RecordEntry
        {
            Kind = kind, Key = $"{type}/{row.Id}", UnitId = row.UnitId, UnitName = unitName,
            Source = FhirJson.String(r["meta"]?["source"]) is { Length: > 0 } source ? source : "FHIR",
            At = Time(r, type) ?? row.LastUpdated,
        };
        switch (type)
        {
            case "AllergyIntolerance":
                var reaction = r["reaction"]?[0];
                return entry with
                {
                    Title = Concept(r["code"]) ?? "", Code = FirstCode(r["code"]),
                    Detail = Concept(reaction?["manifestation"]?[0]) ?? Concept(reaction?["substance"]),
                    Severity = FhirJson.String(reaction?["severity"]), Criticality = FhirJson.String(r["criticality"]),
                    Verification = FirstCode(r["verificationStatus"]), Status = FirstCode(r["clinicalStatus"]),
                    Author = Who(r["recorder"]) ?? Who(r["asserter"]),
                };
            case "Flag":
                return entry with { Title = Concept(r["code"]) ?? "", Status = FhirJson.String(r["status"]), Author = Who(r["author"]), EndedAt = Instant(r["period"]?["end"]) };
            case "Condition":
                return entry with
                {
                    Title = Concept(r["code"]) ?? "", Code = FirstCode(r["code"]), Status = FirstCode(r["clinicalStatus"]),
                    Verification = FirstCode(r["verificationStatus"]), Author = Who(r["recorder"]) ?? Who(r["asserter"]),
                    EndedAt = Instant(r["abatementDateTime"]) ?? Instant(r["abatementPeriod"]?["end"]),
                };
            case "Encounter":
                return entry with
                {
                    Title = Concept(r["type"]?[0]) ?? Concept(r["serviceType"]) ?? FhirJson.String(r["class"]?["display"]) ?? FhirJson.String(r["class"]?["code"]) ?? "",
                    Detail = FhirJson.String(r["class"]?["code"]), Status = FhirJson.String(r["status"]),
                    Author = Who(r["participant"]?[0]?["individual"]) ?? Who(r["serviceProvider"]), EndedAt = Instant(r["period"]?["end"]),
                };
            case "Observation":
                var (number, unit, text) = Value(r);
                var laboratory = (r["category"] as JsonArray)?.Any(c => FirstCode(c) == "laboratory") == true;
                return entry with
                {
                    Kind = laboratory ? RecordKind.Result : RecordKind.Observation,
                    Title = Concept(r["code"]) ?? "", Code = FirstCode(r["code"]), Number = number, NumberUnit = unit, Detail = text,
                    Status = FhirJson.String(r["status"]), Author = Who(r["performer"]?[0]),
                };
            case "MedicationRequest" or "MedicationStatement" or "MedicationAdministration":
                return entry with
                {
                    Title = Concept(r["medicationCodeableConcept"]) ?? Who(r["medicationReference"]) ?? "",
                    Code = FirstCode(r["medicationCodeableConcept"]),
                    Detail = FhirJson.String(r["dosageInstruction"]?[0]?["text"]) ?? FhirJson.String(r["dosage"]?[0]?["text"]) ?? FhirJson.String(r["intent"]),
                    Status = FhirJson.String(r["status"]), Author = Who(r["requester"]) ?? Who(r["informationSource"]) ?? Who(r["performer"]?[0]?["actor"]),
                };
            case "Immunization":
                return entry with
                {
                    Title = Concept(r["vaccineCode"]) ?? "", Code = FirstCode(r["vaccineCode"]), Status = FhirJson.String(r["status"]),
                    Author = Who(r["performer"]?[0]?["actor"]),
                };
            case "Procedure":
                return entry with { Title = Concept(r["code"]) ?? "", Code = FirstCode(r["code"]), Status = FhirJson.String(r["status"]), Author = Who(r["performer"]?[0]?["actor"]) };
            case "DocumentReference":
                var attachment = r["content"]?[0]?["attachment"];
                return entry with
                {
                    Title = FhirJson.String(r["description"]) ?? Concept(r["type"]) ?? FhirJson.String(attachment?["title"]) ?? "",
                    Status = FhirJson.String(r["docStatus"]) ?? FhirJson.String(r["status"]), Author = Who(r["author"]?[0]) ?? Who(r["custodian"]),
                    DocumentText = Text(attachment),
                };
            case "DiagnosticReport":
                return entry with
                {
                    Title = Concept(r["code"]) ?? "", Code = FirstCode(r["code"]), Status = FhirJson.String(r["status"]),
                    Detail = FhirJson.String(r["conclusion"]), Author = Who(r["performer"]?[0]) ?? Who(r["resultsInterpreter"]?[0]),
                    DocumentText = Text(r["presentedForm"]?[0]),
                };
            default:
                return entry with
                {
                    Title = Concept(r["code"]) ?? Concept(r["category"]?[0]) ?? FhirJson.String(r["title"]) ?? FhirJson.String(r["description"]?["text"]) ?? type,
                    Status = FhirJson.String(r["status"]) ?? FhirJson.String(r["lifecycleStatus"]),
                };
        }
    }

    /// <summary>The clinical time the resource names, for the types the chart shows.</summary>
    public static DateTimeOffset? Time(JsonObject r, string type) => type switch
    {
        "AllergyIntolerance" => Instant(r["onsetDateTime"]) ?? Instant(r["recordedDate"]),
        "Flag" or "Encounter" or "CarePlan" => Instant(r["period"]?["start"]),
        "Condition" => Instant(r["onsetDateTime"]) ?? Instant(r["onsetPeriod"]?["start"]) ?? Instant(r["recordedDate"]),
        "Observation" or "DiagnosticReport" => Instant(r["effectiveDateTime"]) ?? Instant(r["effectivePeriod"]?["start"]) ?? Instant(r["effectiveInstant"]) ?? Instant(r["issued"]),
        "MedicationRequest" => Instant(r["authoredOn"]),
        "MedicationStatement" or "MedicationAdministration" => Instant(r["effectiveDateTime"]) ?? Instant(r["effectivePeriod"]?["start"]) ?? Instant(r["dateAsserted"]),
        "Immunization" => Instant(r["occurrenceDateTime"]) ?? Instant(r["recorded"]),
        "Procedure" => Instant(r["performedDateTime"]) ?? Instant(r["performedPeriod"]?["start"]),
        "DocumentReference" => Instant(r["date"]),
        "ImagingStudy" => Instant(r["started"]),
        "ServiceRequest" => Instant(r["authoredOn"]),
        "Goal" => Instant(r["startDate"]) ?? Instant(r["statusDate"]),
        _ => null,
    };

    /// <summary>A CodeableConcept in words: its text, else the first coding's display, else its code.</summary>
    public static string? Concept(JsonNode? concept)
    {
        if (concept is not JsonObject o) return null;
        if (FhirJson.String(o["text"]) is { Length: > 0 } text) return text;
        var coding = o["coding"] as JsonArray;
        return coding?.Select(c => FhirJson.String(c?["display"])).FirstOrDefault(d => !string.IsNullOrEmpty(d))
            ?? coding?.Select(c => FhirJson.String(c?["code"])).FirstOrDefault(d => !string.IsNullOrEmpty(d));
    }

    public static string? FirstCode(JsonNode? concept) =>
        (concept?["coding"] as JsonArray)?.Select(c => FhirJson.String(c?["code"])).FirstOrDefault(c => !string.IsNullOrEmpty(c));

    /// <summary>Who a Reference names in words: its display, else its identifier's value (a bare id says nothing to a reader).</summary>
    private static string? Who(JsonNode? reference) =>
        reference is JsonObject o ? FhirJson.String(o["display"]) ?? FhirJson.String(o["identifier"]?["value"]) : null;

    private static DateTimeOffset? Instant(JsonNode? node) =>
        FhirJson.String(node) is { Length: >= 4 } text && DateTimeOffset.TryParse(text.Length == 4 ? text + "-01-01" : text.Length == 7 ? text + "-01" : text,
            CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at)
            ? at : null;

    /// <summary>An Observation's value: a quantity as number and unit, anything else (and blood pressure's components) as text.</summary>
    private static (double? Number, string? Unit, string? Text) Value(JsonObject r)
    {
        if (r["valueQuantity"] is JsonObject q && q["value"] is JsonValue v && v.TryGetValue<double>(out var number))
            return (number, FhirJson.String(q["unit"]) ?? FhirJson.String(q["code"]), null);
        if (FhirJson.String(r["valueString"]) is { } s) return (null, null, s);
        if (Concept(r["valueCodeableConcept"]) is { } c) return (null, null, c);
        if (r["component"] is JsonArray components)
        {
            var parts = components.OfType<JsonObject>().Select(component =>
                component["valueQuantity"] is JsonObject cq && cq["value"] is JsonValue cv && cv.TryGetValue<double>(out var n)
                    // Read in the reader's culture (the page's) and to two decimals: a device's 13 digits say nothing more.
                    ? (Name: Concept(component["code"]), Value: n.ToString("0.##", CultureInfo.CurrentCulture) + " " + (FhirJson.String(cq["unit"]) ?? ""))
                    : (Name: Concept(component["code"]), Value: Concept(component["valueCodeableConcept"]) ?? FhirJson.String(component["valueString"]) ?? ""))
                .Where(p => p.Value.Length > 0).Select(p => $"{p.Name}: {p.Value.Trim()}").ToList();
            if (parts.Count > 0) return (null, null, string.Join("; ", parts));
        }
        return (null, null, null);
    }

    /// <summary>An attachment's text when it is plain text held inline (a Synthea note, a discharge letter); otherwise its title.</summary>
    private static string? Text(JsonNode? attachment)
    {
        if (attachment is not JsonObject a) return null;
        var type = FhirJson.String(a["contentType"]) ?? "";
        if (FhirJson.String(a["data"]) is { Length: > 0 } data && type.StartsWith("text/", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                var text = Encoding.UTF8.GetString(Convert.FromBase64String(data));
                return text.Length > 4000 ? text[..4000] + " …" : text;
            }
            catch (FormatException) { }
        }
        return FhirJson.String(a["title"]);
    }
}
