using Dapper;
using Stadig.Access;
using Stadig.Patients.Identifiers;

namespace Stadig.Patients;

public sealed record RegisterPatientResult(Patient Patient, bool Created);

public sealed partial class PatientRegistry
{
    /// <summary>
    /// Registers a patient, or leads to the one already registered with that number: a number is
    /// never registered twice, also when two requests race (the unique index decides).
    /// </summary>
    public async Task<RegisterPatientResult> RegisterAsync(Caller caller, string identifierInput, PatientDetails details, CancellationToken cancellationToken = default)
    {
        var identifier = identifiers.Parse(identifierInput);
        var valid = Validate(details, identifier);
        var now = clock.GetUtcNow();
        var id = Guid.NewGuid();

        await using var connection = await database.OpenAsync(cancellationToken);
        var inserted = await connection.ExecuteAsync(
            """
            INSERT INTO patient (id, identifier_kind, identifier, identifier_short, family_name, given_names,
                family_search, family_last_search, given_search, given_last_search, birth_date, sex, address_line, postal_code, city, phone, email,
                protected_identity, deceased_date, version, created_at, updated_at)
            VALUES (@id, @kind, @Value, @shortForm, @FamilyName, @GivenNames, @familySearch, @familyLastSearch, @givenSearch, @givenLastSearch,
                @BirthDate, @sex, @AddressLine, @PostalCode, @City, @Phone, @Email, @protectedIdentity,
                @DeceasedDate, 1, @now, @now)
            ON CONFLICT (identifier) DO NOTHING
            """,
            new
            {
                id, kind = identifier.Kind.ToString(), identifier.Value, shortForm = identifier.ShortForm,
                valid.FamilyName, valid.GivenNames, familySearch = NameSearch.Fold(valid.FamilyName), familyLastSearch = NameSearch.LastWord(valid.FamilyName),
                givenSearch = NameSearch.Fold(valid.GivenNames), givenLastSearch = NameSearch.LastWord(valid.GivenNames), valid.BirthDate, sex = (valid.Sex ?? Sex.Unknown).ToString(),
                valid.AddressLine, valid.PostalCode, valid.City, valid.Phone, valid.Email,
                protectedIdentity = valid.ProtectedIdentity.ToString(), valid.DeceasedDate, now,
            });

        var patient = await connection.QuerySingleAsync<Patient>(
            $"SELECT {PatientColumns} FROM patient WHERE identifier = @Value", new { identifier.Value });
        return new RegisterPatientResult(patient, Created: inserted == 1);
    }
}
