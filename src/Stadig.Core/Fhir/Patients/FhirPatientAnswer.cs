using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Stadig.Fhir.Store;
using Stadig.Patients;
using Stadig.Patients.Identifiers;

namespace Stadig.Fhir.Patients;

/// <summary>
/// A Patient read's answer as JSON text, made with as little work as the case allows (issue 23). A
/// patient registered in Stadig (no resource stored through the API) is written straight from the
/// registry row, property by property, with no JSON tree in between; one stored through the API
/// keeps what its sender wrote, so the registry's facts are merged over the parsed resource
/// (<see cref="FhirPatientMapping.ToFhir"/>). Both give the same bytes for the same patient: the
/// straight writer follows the tree's order (resourceType, id, meta, then as ToFhir adds them), which
/// FhirPatientAnswerTests checks against the tree for every shape of registry row.
/// </summary>
public static class FhirPatientAnswer
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = false };

    /// <summary>The answer for a read: the registry's facts over <paramref name="stored"/> (null: registered in Stadig).</summary>
    public static string Text(Patient patient, FhirResourceRow? stored) =>
        stored is null ? Registered(patient) : FhirJson.Serialize(Resource(patient, stored));

    /// <summary>The merged resource as a tree (for vread, history, $everything and search bundles).</summary>
    public static System.Text.Json.Nodes.JsonObject Resource(Patient patient, FhirResourceRow? stored)
    {
        var resource = FhirPatientMapping.ToFhir(patient, stored is null ? null : FhirJson.Parse(stored.Content), stored?.Id ?? patient.Id.ToString());
        var meta = resource["meta"] as System.Text.Json.Nodes.JsonObject ?? new System.Text.Json.Nodes.JsonObject();
        meta["versionId"] = patient.Version.ToString(CultureInfo.InvariantCulture);
        meta["lastUpdated"] = FhirJson.Instant(patient.UpdatedAt);
        resource["meta"] = meta;
        return FhirJson.Ordered(resource);
    }

    /// <summary>A patient registered in Stadig, written as <see cref="Resource"/> would give it for no stored resource.</summary>
    public static string Registered(Patient patient)
    {
        var buffer = new ArrayBufferWriter<byte>(768);
        using (var json = new Utf8JsonWriter(buffer, WriterOptions))
        {
            json.WriteStartObject();
            json.WriteString("resourceType", "Patient");
            json.WriteString("id", patient.Id.ToString());
            json.WriteStartObject("meta");
            if (SecurityCode(patient.ProtectedIdentity) is { } code)
            {
                json.WriteStartArray("security");
                json.WriteStartObject();
                json.WriteString("system", FhirPatientMapping.SecurityLabelSystem);
                json.WriteString("code", code);
                json.WriteEndObject();
                json.WriteEndArray();
            }
            json.WriteString("versionId", patient.Version.ToString(CultureInfo.InvariantCulture));
            json.WriteString("lastUpdated", FhirJson.Instant(patient.UpdatedAt));
            json.WriteEndObject();

            json.WriteStartArray("identifier");
            json.WriteStartObject();
            json.WriteString("system", FhirPatientMapping.SystemOf(patient.IdentifierKind));
            json.WriteString("value", patient.Identifier);
            json.WriteEndObject();
            json.WriteEndArray();

            if (patient.FamilyName.Length > 0 || patient.GivenNames.Length > 0)
            {
                json.WriteStartArray("name");
                json.WriteStartObject();
                json.WriteString("use", "official");
                if (patient.FamilyName.Length > 0) json.WriteString("family", patient.FamilyName);
                if (patient.GivenNames.Length > 0)
                {
                    json.WriteStartArray("given");
                    foreach (var given in patient.GivenNames.Split(' ', StringSplitOptions.RemoveEmptyEntries)) json.WriteStringValue(given);
                    json.WriteEndArray();
                }
                json.WriteEndObject();
                json.WriteEndArray();
            }

            if (patient.Sex is Sex.Female or Sex.Male) json.WriteString("gender", patient.Sex == Sex.Female ? "female" : "male");
            if (patient.BirthDate is { } born) json.WriteString("birthDate", born.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
            if (patient.DeceasedDate is { } died) json.WriteString("deceasedDateTime", died.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));

            if (patient.AddressLine is not null || patient.City is not null || patient.PostalCode is not null)
            {
                json.WriteStartArray("address");
                json.WriteStartObject();
                if (patient.AddressLine is not null)
                {
                    json.WriteStartArray("line");
                    json.WriteStringValue(patient.AddressLine);
                    json.WriteEndArray();
                }
                if (patient.City is not null) json.WriteString("city", patient.City);
                if (patient.PostalCode is not null) json.WriteString("postalCode", patient.PostalCode);
                json.WriteEndObject();
                json.WriteEndArray();
            }

            if (patient.Phone is not null || patient.Email is not null)
            {
                json.WriteStartArray("telecom");
                if (patient.Phone is not null) Telecom(json, "phone", patient.Phone);
                if (patient.Email is not null) Telecom(json, "email", patient.Email);
                json.WriteEndArray();
            }

            if (patient.MergedIntoId is { } target)
            {
                json.WriteBoolean("active", false);
                json.WriteStartArray("link");
                json.WriteStartObject();
                json.WriteStartObject("other");
                json.WriteString("reference", $"Patient/{target}");
                json.WriteEndObject();
                json.WriteString("type", "replaced-by");
                json.WriteEndObject();
                json.WriteEndArray();
            }
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void Telecom(Utf8JsonWriter json, string system, string value)
    {
        json.WriteStartObject();
        json.WriteString("system", system);
        json.WriteString("value", value);
        json.WriteEndObject();
    }

    private static string? SecurityCode(ProtectedIdentity protectedIdentity) => protectedIdentity switch
    {
        ProtectedIdentity.Sekretessmarkering => "sekretessmarkering",
        ProtectedIdentity.SkyddadFolkbokforing => "skyddadFolkbokforing",
        _ => null,
    };
}
