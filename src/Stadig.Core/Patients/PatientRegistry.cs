using System.Data.Common;
using Dapper;
using Stadig.Access;
using Stadig.Audit;
using Stadig.Common;
using Stadig.Patients.Identifiers;
using Stadig.Storage;

namespace Stadig.Patients;

/// <summary>
/// The patient registry: register, update, view, search and merge patients. The only code that
/// reads or writes the patient table; each use case lives in its own file (PatientRegistry.*.cs).
/// Every method takes the <see cref="Caller"/> so the access checkpoint can decide and audit here.
/// </summary>
public sealed partial class PatientRegistry(Database database, PatientIdentifierRules identifiers, PatientCheckpoint checkpoint, AuditLog audit, TimeProvider clock)
{
    internal const string PatientColumns =
        """
        id AS Id, identifier_kind AS IdentifierKind, identifier AS Identifier, family_name AS FamilyName,
        given_names AS GivenNames, birth_date AS BirthDate, sex AS Sex, address_line AS AddressLine,
        postal_code AS PostalCode, city AS City, phone AS Phone, email AS Email,
        protected_identity AS ProtectedIdentity, deceased_date AS DeceasedDate, merged_into_id AS MergedIntoId,
        version AS Version, created_at AS CreatedAt, updated_at AS UpdatedAt
        """;

    /// <summary>The patient's registry record, through the checkpoint: not found without a care relation.</summary>
    public async Task<Patient> GetAsync(Caller caller, Guid patientId, CancellationToken cancellationToken = default)
    {
        // The row is read with the checkpoint's facts, one round trip, and handed out only if allowed.
        var (_, patient) = await checkpoint.ReadWithAsync(caller, patientId, "Patient",
            $"SELECT {PatientColumns} FROM patient WHERE id = @patientId;", null, grid => grid.ReadSingleOrDefaultAsync<Patient>(), cancellationToken);
        return patient ?? throw new NotFoundException("Patienten finns inte.");
    }

    /// <summary>Which patient has this number, if any: a registry lookup that tells the id and nothing else.</summary>
    public async Task<Guid?> FindIdByIdentifierAsync(Caller caller, string identifierInput, CancellationToken cancellationToken = default)
    {
        var identifier = identifiers.Parse(identifierInput);
        await using var connection = await database.OpenUnscopedAsync(cancellationToken);
        var id = await connection.QuerySingleOrDefaultAsync<Guid?>("SELECT id FROM patient WHERE identifier = @Value", new { identifier.Value });
        await checkpoint.AuditRegistryAsync(caller, "PatientLookup", id is null ? "ingen träff" : "1 träff", cancellationToken: cancellationToken);
        return id;
    }

    /// <summary>The registry row inside a transaction the caller holds, with the checkpoint's grant for it.</summary>
    public static Task<Patient?> FindInAsync(PatientAccessGrant grant, DbConnection connection, DbTransaction? transaction) =>
        FindAsync(connection, transaction, grant.PatientId);

    private static Task<Patient?> FindAsync(DbConnection connection, DbTransaction? transaction, Guid patientId) =>
        connection.QuerySingleOrDefaultAsync<Patient>(FindSql, new { patientId }, transaction);

    /// <summary>The registry row by its id (parameter @patientId), merged or not.</summary>
    internal const string FindSql = $"SELECT {PatientColumns} FROM patient WHERE id = @patientId";

    private const int MaxNameLength = 100;

    /// <summary>Checks what a person typed; throws naming the first field that is wrong.</summary>
    private PatientDetails Validate(PatientDetails details, PatientIdentifier identifier)
    {
        string Required(string? value, string field, string label)
        {
            var text = (value ?? "").Trim().NormalizeText(System.Text.NormalizationForm.FormC);
            if (text.Length == 0 && !details.NameUnknown) throw new InvalidInputException(field, $"{label} saknas.");
            if (text.Length > MaxNameLength) throw new InvalidInputException(field, $"{label} är längre än {MaxNameLength} tecken.");
            if (text.Any(char.IsControl)) throw new InvalidInputException(field, $"{label} innehåller otillåtna tecken.");
            return text;
        }
        string? Optional(string? value, string field, string label, int max)
        {
            var text = value?.Trim().NormalizeText(System.Text.NormalizationForm.FormC);
            if (string.IsNullOrEmpty(text)) return null;
            if (text.Length > max) throw new InvalidInputException(field, $"{label} är längre än {max} tecken.");
            if (text.Any(char.IsControl)) throw new InvalidInputException(field, $"{label} innehåller otillåtna tecken.");
            return text;
        }

        var postalCode = Optional(details.PostalCode, "postalCode", "Postnummer", 6)?.Replace(" ", "", StringComparison.Ordinal);
        if (postalCode is not null && (postalCode.Length != 5 || !postalCode.All(char.IsAsciiDigit)))
            throw new InvalidInputException("postalCode", "Postnumret ska ha fem siffror (t.ex. 123 45).");
        var email = Optional(details.Email, "email", "E-post", 200);
        if (email is not null && (!email.Contains('@', StringComparison.Ordinal) || email.StartsWith('@') || email.EndsWith('@')))
            throw new InvalidInputException("email", "E-postadressen ser inte ut som en e-postadress.");
        var phone = Optional(details.Phone, "phone", "Telefon", 30);
        if (phone is not null && !phone.All(c => char.IsAsciiDigit(c) || c is '+' or '-' or ' ' or '(' or ')'))
            throw new InvalidInputException("phone", "Telefonnumret får bara innehålla siffror, mellanslag, '+', '-' och parenteser.");

        var today = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
        var birthDate = identifier.BirthDate ?? details.BirthDate;
        if (identifier.BirthDate is null && birthDate > today)
            throw new InvalidInputException("birthDate", "Födelsedatum ligger i framtiden.");
        if (details.DeceasedDate is { } died)
        {
            if (died > today) throw new InvalidInputException("deceasedDate", "Dödsdatum ligger i framtiden.");
            if (birthDate is { } born && died < born) throw new InvalidInputException("deceasedDate", "Dödsdatum ligger före födelsedatum.");
        }
        if (!Enum.IsDefined(details.ProtectedIdentity))
            throw new InvalidInputException("protectedIdentity", "Okänd skyddsnivå för identitet.");

        return details with
        {
            FamilyName = Required(details.FamilyName, "familyName", "Efternamn"),
            GivenNames = Required(details.GivenNames, "givenNames", "Förnamn"),
            AddressLine = Optional(details.AddressLine, "addressLine", "Adress", 200),
            PostalCode = postalCode,
            City = Optional(details.City, "city", "Ort", 100),
            Phone = phone,
            Email = email,
            BirthDate = birthDate,
            Sex = identifier.Kind == IdentifierKind.Reservnummer ? details.Sex ?? Sex.Unknown : identifier.Sex,
        };
    }
}
