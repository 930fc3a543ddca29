using System.Globalization;
using System.Text.Json.Nodes;
using Stadig.Patients;
using Stadig.Patients.Identifiers;

namespace Stadig.Fhir.Patients;

/// <summary>
/// A Patient resource and the registry row it stands for. The registry is the truth for what it
/// keeps — identity number, name, birth date, sex, address, phone, e-mail, death and protected
/// identity — and those are written from the registry over the stored resource on every read; the
/// stored resource keeps the rest of what the sender wrote (other identifiers, names, marital status…).
/// </summary>
public static class FhirPatientMapping
{
    public const string PersonnummerOid = "urn:oid:1.2.752.129.2.1.3.1";
    public const string SamordningsnummerOid = "urn:oid:1.2.752.129.2.1.3.3";
    public const string SamordningsnummerSystem = "http://electronichealth.se/identifier/samordningsnummer";
    public const string SecurityLabelSystem = "http://hl7.se/fhir/ig/base/CodeSystem/SecurityLabel";

    private static readonly HashSet<string> SwedishSystems = new(StringComparer.Ordinal)
    {
        PatientIdentifier.PersonnummerSystem, PersonnummerOid, SamordningsnummerSystem, SamordningsnummerOid, PatientIdentifier.ReservnummerSystem,
    };

    /// <summary>Whether an identifier system is one a Swedish identity number (personnummer, samordningsnummer, reservnummer) comes with.</summary>
    public static bool IsSwedishSystem(string system) => SwedishSystems.Contains(system);

    /// <summary>What the registry needs from a Patient resource: the identity number (null: none sent) and the details.</summary>
    public sealed record RegistryPart(string? Identifier, PatientDetails Details);

    public static RegistryPart FromFhir(JsonObject patient)
    {
        string? identifier = null;
        if (patient["identifier"] is JsonArray identifiers)
        {
            foreach (var item in identifiers.OfType<JsonObject>())
            {
                var system = FhirJson.String(item["system"]);
                if (system is not null && SwedishSystems.Contains(system)) { identifier = FhirJson.String(item["value"]); break; }
            }
        }

        // R4 requires no name: a newborn or an unconscious patient has none yet, and a name may be text alone.
        var (family, given) = RegistryName(patient);

        // The registry holds a Swedish address (five-digit postnummer); an address abroad stays in the stored resource only.
        var address = patient["address"] is JsonArray addresses ? addresses.OfType<JsonObject>().FirstOrDefault(IsSwedish) : null;
        var line = address?["line"] is JsonArray lines ? string.Join(", ", lines.Select(FhirJson.String).Where(l => l is not null)) : null;

        string? phone = null, email = null;
        if (patient["telecom"] is JsonArray telecoms)
        {
            foreach (var telecom in telecoms.OfType<JsonObject>())
            {
                var system = FhirJson.String(telecom["system"]);
                var value = FhirJson.String(telecom["value"]);
                if (system == "phone" && phone is null) phone = value;
                if (system == "email" && email is null) email = value;
            }
        }

        return new RegistryPart(identifier, new PatientDetails(
            FamilyName: family, GivenNames: given, NameUnknown: family.Length == 0 || given.Length == 0, AddressLine: NullIfEmpty(line), PostalCode: FhirJson.String(address?["postalCode"]),
            City: FhirJson.String(address?["city"]), Phone: phone, Email: email,
            ProtectedIdentity: ProtectedIdentityOf(patient), DeceasedDate: DateOf(patient["deceasedDateTime"]),
            BirthDate: DateOf(patient["birthDate"]), Sex: SexOf(FhirJson.String(patient["gender"]))));
    }

    /// <summary>The registry's facts written over the stored resource (or onto a new one for a patient registered in Stadig).</summary>
    public static JsonObject ToFhir(Patient patient, JsonObject? stored, string id)
    {
        var resource = stored?.DeepClone() as JsonObject ?? new JsonObject { ["resourceType"] = "Patient" };
        resource["id"] = id;

        var identifiers = resource["identifier"] as JsonArray ?? [];
        var others = identifiers.OfType<JsonObject>()
            .Where(i => FhirJson.String(i["system"]) is not { } s || !SwedishSystems.Contains(s)).Select(i => i.DeepClone()).ToList();
        var swedish = identifiers.OfType<JsonObject>().FirstOrDefault(i => FhirJson.String(i["value"]) == patient.Identifier
            && FhirJson.String(i["system"]) is { } s && SwedishSystems.Contains(s))?.DeepClone()
            ?? new JsonObject { ["system"] = SystemOf(patient.IdentifierKind), ["value"] = patient.Identifier };
        resource["identifier"] = new JsonArray([swedish, .. others]);

        // The name is written over the stored one only when the registry's differs from what that one
        // gives: a name sent as text alone, or no name, comes back as it was sent.
        var names = resource["name"] as JsonArray;
        var name = stored is null ? null : OfficialName(resource);
        var registryHasName = patient.FamilyName.Length > 0 || patient.GivenNames.Length > 0;
        if (registryHasName && (stored is null || RegistryName(resource) != (patient.FamilyName, patient.GivenNames)))
        {
            var official = new JsonObject { ["use"] = "official" };
            if (patient.FamilyName.Length > 0) official["family"] = patient.FamilyName;
            if (patient.GivenNames.Length > 0)
                official["given"] = new JsonArray(patient.GivenNames.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(n => (JsonNode?)JsonValue.Create(n)).ToArray());
            if (names is null || name is null) resource["name"] = new JsonArray(official);
            else names[names.IndexOf(name)] = official;
        }

        // A sex the registry does not know is not invented as gender "unknown"; one it knows (from the
        // identity number, or set in Stadig) is written.
        var gender = patient.Sex switch { Sex.Female => "female", Sex.Male => "male", _ => "unknown" };
        var storedGender = FhirJson.String(resource["gender"]);
        if (patient.Sex == Sex.Unknown ? storedGender is "male" or "female" : storedGender != gender)
            resource["gender"] = gender;
        var birthDate = patient.BirthDate?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        if (birthDate is not null && FhirJson.String(resource["birthDate"]) != birthDate) resource["birthDate"] = birthDate;

        if (patient.DeceasedDate is { } died && DateOf(resource["deceasedDateTime"]) != died)
        {
            resource.Remove("deceasedBoolean");
            resource["deceasedDateTime"] = died.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        }

        var addresses = resource["address"] as JsonArray;
        var address = addresses?.OfType<JsonObject>().FirstOrDefault(IsSwedish);
        var storedLine = address?["line"] is JsonArray l ? string.Join(", ", l.Select(FhirJson.String)) : null;
        if (patient.AddressLine is not null || patient.City is not null || patient.PostalCode is not null)
        {
            if (address is null || NullIfEmpty(storedLine) != patient.AddressLine || FhirJson.String(address["city"]) != patient.City
                || FhirJson.String(address["postalCode"]) != patient.PostalCode)
            {
                var fresh = new JsonObject();
                if (patient.AddressLine is not null) fresh["line"] = new JsonArray(patient.AddressLine);
                if (patient.City is not null) fresh["city"] = patient.City;
                if (patient.PostalCode is not null) fresh["postalCode"] = patient.PostalCode;
                if (addresses is null) resource["address"] = new JsonArray(fresh);
                else if (address is null) addresses.Insert(0, fresh);
                else addresses[addresses.IndexOf(address)] = fresh;
            }
        }
        SetTelecom(resource, "phone", patient.Phone);
        SetTelecom(resource, "email", patient.Email);

        SetSecurityLabel(resource, patient.ProtectedIdentity);
        if (patient.MergedIntoId is { } target)
        {
            resource["active"] = false;
            resource["link"] = new JsonArray(new JsonObject
            {
                ["other"] = new JsonObject { ["reference"] = $"Patient/{target}" },
                ["type"] = "replaced-by",
            });
        }
        return FhirJson.Ordered(resource);
    }

    public static string SystemOf(IdentifierKind kind) => kind switch
    {
        IdentifierKind.Personnummer => PatientIdentifier.PersonnummerSystem,
        IdentifierKind.Samordningsnummer => SamordningsnummerSystem,
        _ => PatientIdentifier.ReservnummerSystem,
    };

    private static bool IsSwedish(JsonObject address)
    {
        var country = FhirJson.String(address["country"]);
        var postalCode = FhirJson.String(address["postalCode"])?.Replace(" ", "", StringComparison.Ordinal);
        return (country is null || country.Equals("SE", StringComparison.OrdinalIgnoreCase) || country.Equals("Sverige", StringComparison.OrdinalIgnoreCase)
                || country.Equals("Sweden", StringComparison.OrdinalIgnoreCase))
            && (postalCode is null || postalCode.Length == 5 && postalCode.All(char.IsAsciiDigit));
    }

    /// <summary>
    /// The registry's family and given names from the official (or first) name: its parts, or when it
    /// has only text, the last word of the text as family name and the rest as given names. Empty when
    /// there is no name.
    /// </summary>
    private static (string Family, string Given) RegistryName(JsonObject patient)
    {
        var name = OfficialName(patient);
        if (name is null) return ("", "");
        var family = (FhirJson.String(name["family"]) ?? "").Trim().NormalizeText(System.Text.NormalizationForm.FormC);
        var given = name["given"] is JsonArray givens ? string.Join(' ', givens.Select(FhirJson.String).Where(g => !string.IsNullOrWhiteSpace(g)).Select(g => g!.Trim())) : "";
        given = given.NormalizeText(System.Text.NormalizationForm.FormC);
        if (family.Length > 0 || given.Length > 0) return (family, given);
        var words = (FhirJson.String(name["text"]) ?? "").NormalizeText(System.Text.NormalizationForm.FormC).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        return words.Length == 0 ? ("", "") : (words[^1], string.Join(' ', words[..^1]));
    }

    private static JsonObject? OfficialName(JsonObject patient) =>
        patient["name"] is JsonArray names
            ? names.OfType<JsonObject>().FirstOrDefault(n => FhirJson.String(n["use"]) == "official") ?? names.OfType<JsonObject>().FirstOrDefault()
            : null;

    private static void SetTelecom(JsonObject resource, string system, string? value)
    {
        var telecoms = resource["telecom"] as JsonArray;
        var existing = telecoms?.OfType<JsonObject>().FirstOrDefault(t => FhirJson.String(t["system"]) == system);
        if (value is null || FhirJson.String(existing?["value"]) == value) return;
        var fresh = new JsonObject { ["system"] = system, ["value"] = value };
        if (telecoms is null) resource["telecom"] = new JsonArray(fresh);
        else if (existing is null) telecoms.Add(fresh);
        else telecoms[telecoms.IndexOf(existing)] = fresh;
    }

    private static void SetSecurityLabel(JsonObject resource, ProtectedIdentity protectedIdentity)
    {
        var code = protectedIdentity switch
        {
            ProtectedIdentity.Sekretessmarkering => "sekretessmarkering",
            ProtectedIdentity.SkyddadFolkbokforing => "skyddadFolkbokforing",
            _ => null,
        };
        var meta = resource["meta"] as JsonObject;
        var security = meta?["security"] as JsonArray;
        var current = security?.OfType<JsonObject>().FirstOrDefault(s => FhirJson.String(s["system"]) == SecurityLabelSystem);
        if (FhirJson.String(current?["code"]) == code) return;
        if (current is not null) security!.Remove(current);
        if (code is null)
        {
            if (security is { Count: 0 }) meta!.Remove("security");
            return;
        }
        meta ??= new JsonObject();
        resource["meta"] = meta;
        if (meta["security"] is not JsonArray labels) meta["security"] = labels = [];
        labels.Add(new JsonObject { ["system"] = SecurityLabelSystem, ["code"] = code });
    }

    private static ProtectedIdentity ProtectedIdentityOf(JsonObject patient)
    {
        if (patient["meta"]?["security"] is not JsonArray labels) return ProtectedIdentity.None;
        foreach (var label in labels.OfType<JsonObject>())
        {
            if (FhirJson.String(label["system"]) != SecurityLabelSystem) continue;
            switch (FhirJson.String(label["code"]))
            {
                case "sekretessmarkering": return ProtectedIdentity.Sekretessmarkering;
                case "skyddadFolkbokforing": return ProtectedIdentity.SkyddadFolkbokforing;
            }
        }
        return ProtectedIdentity.None;
    }

    private static Sex? SexOf(string? gender) => gender switch
    {
        "female" => Sex.Female,
        "male" => Sex.Male,
        null => null,
        _ => Sex.Unknown,
    };

    /// <summary>A full date (yyyy-MM-dd, or the date part of a dateTime); a year or year-month alone is not a registry date.</summary>
    private static DateOnly? DateOf(JsonNode? node) =>
        FhirJson.String(node) is { Length: >= 10 } text && DateOnly.TryParseExact(text[..10], "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date)
            ? date : null;

    private static string? NullIfEmpty(string? text) => string.IsNullOrWhiteSpace(text) ? null : text;
}
